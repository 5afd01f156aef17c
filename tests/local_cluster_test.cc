// deploy/local-cluster.sh end to end, with the built binaries: `up 3` starts
// PostgreSQL and three agnx-server replicas on one database and one artifact
// root; each answers its health check; a metric and an artifact written
// through replica 1 are read back through replica 3; `restart 2` brings
// replica 2 back on its port with a new pid; `down` leaves no process of the
// cluster. Fails under CI=true and skips otherwise without PostgreSQL's
// binaries (AGNX_SKIP_WITHOUT_POSTGRES).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "client/client.h"
#include "tests/support/postgres_cluster.h"
#include "tests/support/temp_dir.h"

namespace agnx {
namespace {

const std::filesystem::path kScript = std::filesystem::path(AGNX_SOURCE_DIR) / "deploy/local-cluster.sh";

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `command` with sh; its stdout and (through a file in `dir`) stderr.
CommandResult run(const std::string& command, const std::filesystem::path& dir) {
  const auto err_file = dir / "command.err";
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>" + err_file.string()).c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  while (const std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) result.out.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.err = file_text(err_file);
  return result;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Whether `pid` is a live process (not a zombie). This test is the child
// subreaper of what the script starts, so its exited processes are reaped here.
bool running(pid_t pid) {
  ::waitpid(pid, nullptr, WNOHANG);
  const std::string stat = file_text("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

std::string cmdline(pid_t pid) {
  std::string text = file_text("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : text) c = c == '\0' ? ' ' : c;
  return text;
}

// Live processes whose command line names `dir`, and the live ones of `pids`.
std::vector<std::string> leftovers(const std::filesystem::path& dir, const std::set<pid_t>& pids) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = std::stoi(name);
    if (pid == ::getpid() || !running(pid)) continue;
    const std::string line = cmdline(pid);
    if (pids.count(pid) || line.find(dir.string()) != std::string::npos) {
      found.push_back(std::to_string(pid) + ": " + line);
    }
  }
  return found;
}

// The postmaster's children (checkpointer, backends, ...): their command lines do not name the directory.
std::set<pid_t> children_of(pid_t parent) {
  std::set<pid_t> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string status = file_text(entry.path() / "status");
    const auto at = status.find("\nPPid:\t");
    if (at != std::string::npos && std::stoi(status.substr(at + 7)) == parent) children.insert(std::stoi(name));
  }
  return children;
}

struct Replica {
  int number = 0;
  std::string address;
  pid_t pid = 0;
};

// "replica K 127.0.0.1:PORT pid PID"
std::optional<Replica> parse_replica(const std::string& line) {
  static const std::regex pattern(R"(replica ([0-9]+) (127\.0\.0\.1:[0-9]+) pid ([0-9]+))");
  std::smatch match;
  if (!std::regex_match(line, match, pattern)) return std::nullopt;
  return Replica{std::stoi(match[1]), match[2], static_cast<pid_t>(std::stol(match[3]))};
}

class LocalCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    // Processes the script leaves running become children of this one, which
    // reaps them (no zombies left behind, whatever init does).
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    // As root, PostgreSQL runs as postgres, which must reach the cluster's directory.
    ::chmod(tmp_.path().c_str(), 0755);
    dir_ = tmp_.path() / "cluster";
  }

  void TearDown() override {
    if (!down_) run(script("down"), tmp_.path());
    for (const pid_t pid : pids_) {
      if (running(pid)) ::kill(pid, SIGKILL);
    }
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }

  std::string script(const std::string& command, const std::string& argument = "") const {
    return "AGNX_BIN_DIR=" + std::filesystem::path(AGNX_SERVER_BINARY).parent_path().string() +
           " AGNX_SERVER_ARGS='--workers 1 --warm-worker off' AGNX_STOP_TIMEOUT=10 " + kScript.string() + " " +
           command + (argument.empty() ? "" : " " + argument) + " " + dir_.string();
  }

  CommandResult agnx(const std::string& address, const std::string& arguments) const {
    return run(std::string(AGNX_BINARY) + " --server " + address + " " + arguments, tmp_.path());
  }

  void expect_serving(const Replica& replica) const {
    const CommandResult probe = run(std::string(AGNX_HEALTH_BINARY) + " --timeout 10 " + replica.address, tmp_.path());
    EXPECT_EQ(probe.exit_code, 0) << "replica " << replica.number << ": " << probe.out << probe.err;
  }

  testing::TempDir tmp_;
  std::filesystem::path dir_;
  bool down_ = false;
  std::set<pid_t> pids_;  // every replica pid seen
};

TEST_F(LocalCluster, ThreeReplicasShareOneDatabaseAndArtifactRoot) {
  AGNX_SKIP_WITHOUT_POSTGRES();

  // up 3: one line per replica, then the store.
  const CommandResult up = run(script("up", "3"), tmp_.path());
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  const std::vector<std::string> lines = lines_of(up.out);
  ASSERT_EQ(lines.size(), 4u) << up.out;
  std::vector<Replica> replicas;
  std::set<std::string> addresses;
  for (int k = 1; k <= 3; ++k) {
    const auto replica = parse_replica(lines[k - 1]);
    ASSERT_TRUE(replica.has_value()) << lines[k - 1];
    EXPECT_EQ(replica->number, k);
    EXPECT_TRUE(running(replica->pid)) << lines[k - 1];
    EXPECT_NE(cmdline(replica->pid).find("agnx-server"), std::string::npos) << cmdline(replica->pid);
    pids_.insert(replica->pid);
    addresses.insert(replica->address);
    replicas.push_back(*replica);
  }
  EXPECT_EQ(addresses.size(), 3u) << up.out;
  const std::string store_prefix = "store postgresql://";
  ASSERT_EQ(lines[3].rfind(store_prefix, 0), 0u) << lines[3];
  EXPECT_NE(lines[3].find("host=" + (dir_ / "pg").string()), std::string::npos) << lines[3];
  EXPECT_NE(lines[3].find("data_dir=" + dir_.string()), std::string::npos) << lines[3];
  for (const Replica& replica : replicas) expect_serving(replica);

  // Written through replica 1, read through replica 3: one database.
  const CommandResult created = agnx(replicas[0].address, "experiments create local-cluster --json");
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err;
  const int64_t experiment_id = nlohmann::json::parse(created.out).at("experiment_id").get<int64_t>();
  client::ClientOptions options;
  options.address = replicas[0].address;
  auto client1 = client::Client::connect(options);
  ASSERT_TRUE(client1.ok()) << client1.status().to_string();
  const auto run_created = client1->create_run(experiment_id, "through-replica-1");
  ASSERT_TRUE(run_created.ok()) << run_created.status().to_string();
  const std::string run_id = run_created->info().run_id();
  const CommandResult logged = agnx(replicas[0].address, "log metric " + run_id + " accuracy 0.875 --step 2");
  ASSERT_EQ(logged.exit_code, 0) << logged.out << logged.err;
  const CommandResult shown = agnx(replicas[2].address, "runs show " + run_id + " --json");
  ASSERT_EQ(shown.exit_code, 0) << shown.out << shown.err;
  EXPECT_EQ(nlohmann::json::parse(shown.out).at("metrics").at("accuracy").get<double>(), 0.875) << shown.out;

  // ... and one artifact root: uploaded through replica 1, downloaded through replica 3.
  const std::string bytes = "weights of replica 1\n";
  ASSERT_TRUE(client1->upload_artifact(run_id, "notes/w.txt", client::UploadSource::memory(bytes, "w.txt")).ok());
  options.address = replicas[2].address;
  auto client3 = client::Client::connect(options);
  ASSERT_TRUE(client3.ok());
  std::string downloaded;
  const auto size = client3->download_artifact(run_id, "notes/w.txt", [&](std::string_view piece) { downloaded += piece; });
  ASSERT_TRUE(size.ok()) << size.status().to_string();
  EXPECT_EQ(downloaded, bytes);
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "artifacts"));

  // restart 2: SIGKILL, then the same port and a new pid, serving the same database.
  const CommandResult restarted = run(script("restart", "2"), tmp_.path());
  ASSERT_EQ(restarted.exit_code, 0) << restarted.out << restarted.err;
  const std::vector<std::string> restart_lines = lines_of(restarted.out);
  ASSERT_EQ(restart_lines.size(), 1u) << restarted.out;
  const auto again = parse_replica(restart_lines[0]);
  ASSERT_TRUE(again.has_value()) << restart_lines[0];
  pids_.insert(again->pid);
  EXPECT_EQ(again->number, 2);
  EXPECT_EQ(again->address, replicas[1].address);
  EXPECT_NE(again->pid, replicas[1].pid);
  EXPECT_FALSE(running(replicas[1].pid)) << "the old replica 2 still runs: " << cmdline(replicas[1].pid);
  EXPECT_TRUE(running(again->pid));
  expect_serving(*again);
  const CommandResult shown2 = agnx(again->address, "runs show " + run_id + " --json");
  ASSERT_EQ(shown2.exit_code, 0) << shown2.out << shown2.err;
  EXPECT_EQ(nlohmann::json::parse(shown2.out).at("metrics").at("accuracy").get<double>(), 0.875) << shown2.out;
  for (const Replica& replica : {replicas[0], replicas[2]}) EXPECT_TRUE(running(replica.pid));

  // down: no replica, no PostgreSQL process of this directory is left.
  const std::string postmaster_pid = file_text(dir_ / "pg/data/postmaster.pid");
  ASSERT_FALSE(postmaster_pid.empty());
  const pid_t postmaster = static_cast<pid_t>(std::stol(postmaster_pid));
  std::set<pid_t> watched = pids_;
  watched.insert(postmaster);
  for (const pid_t child : children_of(postmaster)) watched.insert(child);
  EXPECT_GE(watched.size(), pids_.size() + 2) << "the postmaster and its children";
  const CommandResult down = run(script("down"), tmp_.path());
  down_ = true;
  EXPECT_EQ(down.exit_code, 0) << down.out << down.err;
  const std::vector<std::string> left = leftovers(dir_, watched);
  EXPECT_TRUE(left.empty()) << "still running after down:\n" << [&] {
    std::string all;
    for (const auto& line : left) all += line + "\n";
    return all;
  }();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "pg/data/postmaster.pid"));
}

TEST_F(LocalCluster, RefusesBadUsage) {
  EXPECT_EQ(run(kScript.string() + " --help", tmp_.path()).exit_code, 0);
  for (const char* arguments : {"", "up", "up 0 /tmp/x", "up three /tmp/x", "frob /tmp/x", "restart 1"}) {
    const CommandResult result = run(kScript.string() + " " + std::string(arguments), tmp_.path());
    EXPECT_EQ(result.exit_code, 2) << arguments << ": " << result.out << result.err;
    EXPECT_NE(result.err.find("local-cluster.sh: "), std::string::npos) << arguments << ": " << result.err;
  }
  // No cluster in the directory, or no agnx-server where AGNX_BIN_DIR points: exit 1, saying so.
  const CommandResult no_cluster = run(kScript.string() + " down " + dir_.string(), tmp_.path());
  EXPECT_EQ(no_cluster.exit_code, 1);
  EXPECT_NE(no_cluster.err.find("holds no local cluster"), std::string::npos) << no_cluster.err;
  const CommandResult no_server =
      run("AGNX_BIN_DIR=" + (tmp_.path() / "nothing").string() + " " + kScript.string() + " up 1 " + dir_.string(),
          tmp_.path());
  EXPECT_EQ(no_server.exit_code, 1);
  EXPECT_NE(no_server.err.find("has no executable agnx-server"), std::string::npos) << no_server.err;
  EXPECT_FALSE(std::filesystem::exists(dir_));
}

}  // namespace
}  // namespace agnx
