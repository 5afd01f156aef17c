#include "tests/support/postgres_cluster.h"

#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

#include "store/postgres.h"

extern char** environ;

namespace agnx::testing {
namespace {

constexpr const char* kUser = "postgres";  // the cluster's superuser and, as root, its system user

bool running_as_root() { return ::geteuid() == 0; }

// Starts argv with `actions`; its pid, -1 if it could not be started.
pid_t spawn(std::vector<std::string> argv, posix_spawn_file_actions_t& actions) {
  std::vector<char*> args;
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return spawned == 0 ? pid : -1;
}

// Runs argv (prefixed with runuser as root) with its output appended to
// `log`; its exit status, -1 if it could not be started.
int run(std::vector<std::string> argv, const std::filesystem::path& log) {
  if (running_as_root()) argv.insert(argv.begin(), {"runuser", "-u", kUser, "--"});
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  const pid_t pid = spawn(std::move(argv), actions);
  if (pid < 0) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Hands the directory to the postgres user when running as root.
Status give_to_cluster_user(const std::filesystem::path& dir) {
  if (!running_as_root()) return {};
  const passwd* user = ::getpwnam(kUser);
  if (user == nullptr) return Status::failed_precondition("running as root needs the postgres system user");
  if (::chown(dir.c_str(), user->pw_uid, user->pw_gid) != 0) {
    return Status::io_error("chown " + dir.string() + " to postgres failed");
  }
  return {};
}

}  // namespace

std::filesystem::path PostgresCluster::bin_dir() {
  const char* dir = std::getenv("AGNX_POSTGRES_BIN");
  return dir != nullptr && *dir != '\0' ? std::filesystem::path(dir) : "/usr/lib/postgresql/15/bin";
}

std::string PostgresCluster::missing() {
  for (const char* tool : {"initdb", "pg_ctl", "postgres"}) {
    if (::access((bin_dir() / tool).c_str(), X_OK) != 0) {
      return (bin_dir() / tool).string() +
             " not found: install postgresql-15 (scripts/setup.sh) or set AGNX_POSTGRES_BIN";
    }
  }
  if (running_as_root() && ::getpwnam(kUser) == nullptr) {
    return "running as root, the tests need the postgres system user (from postgresql-15) to run the cluster";
  }
  return "";
}

Result<PostgresCluster*> PostgresCluster::shared() {
  static std::once_flag once;
  static Result<std::unique_ptr<PostgresCluster>> cluster = Status::internal("not started");
  std::call_once(once, [] { cluster = start(PostgresClusterOptions{}); });
  if (!cluster.ok()) return cluster.status();
  return cluster->get();
}

Result<std::unique_ptr<PostgresCluster>> PostgresCluster::start(const PostgresClusterOptions& options) {
  if (const std::string why = missing(); !why.empty()) return Status::failed_precondition(why);
  std::string pattern = (std::filesystem::temp_directory_path() / "agnx_pg_XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return Status::io_error("mkdtemp " + pattern + " failed");
  std::unique_ptr<PostgresCluster> cluster(new PostgresCluster(pattern, options));
  AGNX_RETURN_IF_ERROR(cluster->start_reaper());
  const auto began = std::chrono::steady_clock::now();
  AGNX_RETURN_IF_ERROR(cluster->run_initdb());
  AGNX_RETURN_IF_ERROR(cluster->start_server());
  AGNX_RETURN_IF_ERROR(cluster->create_password_role());
  cluster->start_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  return cluster;
}

// initdb, then kPasswordRole's pg_hba.conf line before initdb's trust lines
// (the first line that matches a connection decides).
Status PostgresCluster::run_initdb() {
  AGNX_RETURN_IF_ERROR(give_to_cluster_user(dir_));
  const std::filesystem::path data = dir_ / "data";
  const std::filesystem::path log = dir_ / "setup.log";
  const int initdb = run({(bin_dir() / "initdb").string(), "-D", data.string(), "--no-sync", "-A", "trust", "-U",
                          kUser, "-E", "UTF8", "--locale=C", "--no-instructions"},
                         log);
  if (initdb != 0) return Status::internal("initdb failed (" + std::to_string(initdb) + "): " + file_text(log));
  const std::filesystem::path hba = data / "pg_hba.conf";
  const std::string trust_lines = file_text(hba);
  std::ofstream out(hba, std::ios::trunc);  // the file keeps its owner
  out << "local all " << kPasswordRole << " scram-sha-256\n" << trust_lines;
  if (!out.flush()) return Status::io_error("writing " + hba.string() + " failed");
  return {};
}

Status PostgresCluster::start_server() {
  std::string options = "-c listen_addresses='' -k " + dir_.string();
  std::stringstream settings_list(settings());
  for (std::string setting; settings_list >> setting;) options += " -c " + setting;
  const std::filesystem::path log = dir_ / "setup.log";
  const int started = run({(bin_dir() / "pg_ctl").string(), "-D", (dir_ / "data").string(), "-w", "-t", "60", "-l",
                           (dir_ / "server.log").string(), "-o", options, "start"},
                          log);
  if (started != 0) {
    return Status::internal("pg_ctl start failed: " + file_text(log) + file_text(dir_ / "server.log"));
  }
  return {};
}

Status PostgresCluster::create_password_role() {
  AGNX_ASSIGN_OR_RETURN(auto admin, store::pg::Connection::open(conninfo("postgres"), "the test cluster"));
  return admin
      ->exec("CREATE ROLE " + std::string(kPasswordRole) + " LOGIN SUPERUSER PASSWORD '" + std::string(kPassword) +
             "'")
      .status();
}

Status PostgresCluster::stop(StopMode mode) {
  const std::filesystem::path log = dir_ / "setup.log";
  const int stopped = run({(bin_dir() / "pg_ctl").string(), "-D", (dir_ / "data").string(), "-w", "-t", "60", "-m",
                           mode == StopMode::kFast ? "fast" : "immediate", "stop"},
                          log);
  if (stopped != 0) return Status::internal("pg_ctl stop failed: " + file_text(log));
  return {};
}

Status PostgresCluster::start_again() { return start_server(); }

// A shell that reads its stdin, a pipe, to the end (this process closed it,
// or died), then stops the cluster and removes its directory.
Status PostgresCluster::start_reaper() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::io_error("pipe for the cluster's reaper failed");
  const std::string stop = (running_as_root() ? "runuser -u " + std::string(kUser) + " -- " : std::string()) +
                           "\"$0\" -D \"$1/data\" -m immediate -w stop >/dev/null 2>&1; rm -rf \"$1\"";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
  reaper_ = spawn({"sh", "-c", "cat >/dev/null; " + stop, (bin_dir() / "pg_ctl").string(), dir_.string()}, actions);
  ::close(fds[0]);
  reaper_pipe_ = fds[1];
  if (reaper_ < 0) return Status::internal("starting the cluster's reaper failed");
  return {};
}

PostgresCluster::~PostgresCluster() {
  ::close(reaper_pipe_);
  if (reaper_ > 0) {
    ::waitpid(reaper_, nullptr, 0);
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string PostgresCluster::settings() const {
  const char* value = options_.durable ? "on" : "off";
  return std::string("fsync=") + value + " synchronous_commit=" + value + " full_page_writes=" + value;
}

std::string PostgresCluster::conninfo(const std::string& database) const {
  return "host=" + dir_.string() + " dbname=" + database + " user=" + kUser + " connect_timeout=10";
}

std::string PostgresCluster::store_uri(const std::string& database, const std::filesystem::path& data_dir) const {
  return "postgresql://" + std::string(kUser) + "@/" + database + "?host=" + dir_.string() +
         "&data_dir=" + data_dir.string();
}

std::string PostgresCluster::password_store_uri(const std::string& database, const std::filesystem::path& data_dir,
                                                const std::string& password) const {
  return "postgresql://" + std::string(kPasswordRole) + ":" + password + "@/" + database + "?host=" + dir_.string() +
         "&data_dir=" + data_dir.string();
}

Result<std::string> PostgresCluster::create_database() {
  const std::string name = "t_" + std::to_string(++databases_);
  AGNX_ASSIGN_OR_RETURN(auto admin, store::pg::Connection::open(conninfo("postgres"), "the test cluster"));
  AGNX_RETURN_IF_ERROR(admin->exec("CREATE DATABASE " + name).status());
  return name;
}

}  // namespace agnx::testing
