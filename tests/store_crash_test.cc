#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "store/sqlite_store.h"
#include "tests/support/temp_dir.h"

namespace agnx::store {
namespace {

// Runs the writer until SIGKILL after `delay`; returns the iterations it reported committed.
std::vector<int64_t> run_and_kill(const std::filesystem::path& data_dir, const std::string& run_id, int64_t first,
                                  std::chrono::milliseconds delay) {
  int out[2];
  EXPECT_EQ(::pipe(out), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    const std::string first_text = std::to_string(first);
    ::execl(AGNX_CRASH_WRITER, AGNX_CRASH_WRITER, data_dir.c_str(), run_id.c_str(), first_text.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(out[1]);
  std::this_thread::sleep_for(delay);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the writer stopped on its own: " << status;
  std::string text;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(out[0], buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(n));
  ::close(out[0]);
  text.erase(text.find_last_of('\n') + 1);  // a line cut by the kill was never reported whole
  std::vector<int64_t> acknowledged;
  std::istringstream lines(text);
  for (int64_t i = 0; lines >> i;) acknowledged.push_back(i);
  return acknowledged;
}

std::string integrity_check(const std::filesystem::path& database) {
  auto connection = Connection::open(database, Connection::Mode::kReadWrite, 1000, true);
  if (!connection.ok()) return connection.status().to_string();
  auto check = (*connection)->prepare("PRAGMA integrity_check");
  if (!check.ok() || !check->step().ok()) return "integrity_check failed to run";
  return check->text(0);
}

TEST(StoreCrash, SigkillNeverLosesOrTearsAcknowledgedWrites) {
  constexpr int kKills = 20;
  testing::TempDir dir;
  std::string run_id;
  {
    SqliteStoreOptions options;
    options.data_dir = dir.path();
    auto store = std::move(*SqliteTrackingStore::open(options));
    run_id = store->create_run(*store->create_experiment("crash"), "r", "u", 0)->run_id;
  }
  std::mt19937 random(20261127);
  std::set<int64_t> acknowledged;
  for (int kill = 0; kill < kKills; ++kill) {
    const auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(40, 160)(random));
    for (int64_t i : run_and_kill(dir.path(), run_id, int64_t{kill} * 1000000, delay)) acknowledged.insert(i);

    ASSERT_EQ(integrity_check(SqliteTrackingStore::database_path(dir.path())), "ok") << "after kill " << kill;
    SqliteStoreOptions options;
    options.data_dir = dir.path();
    auto store = SqliteTrackingStore::open(options);
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    const auto history = (*store)->get_metric_history(run_id, "counter");
    ASSERT_TRUE(history.ok());
    std::map<int64_t, int> rows_per_iteration;
    for (const Metric& m : *history) ++rows_per_iteration[m.step];
    const store::Run run = *(*store)->get_run(run_id);
    for (const auto& [iteration, rows] : rows_per_iteration) {
      ASSERT_EQ(rows, 20) << "iteration " << iteration << " is torn";
      ASSERT_EQ(run.params.count(std::string("p").append(std::to_string(iteration))), 1u) << "iteration " << iteration;
    }
    for (const int64_t i : acknowledged) {
      ASSERT_TRUE(rows_per_iteration.contains(i)) << "acknowledged iteration " << i << " was lost (kill " << kill << ")";
    }
  }
  EXPECT_GT(acknowledged.size(), static_cast<std::size_t>(kKills)) << "the writer hardly wrote anything";
}

}  // namespace
}  // namespace agnx::store
