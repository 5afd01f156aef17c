// The warm worker (server/worker_pool.h) with the real agnx-worker: job steps
// run in its fork children with a fresh worker's messages, errors and
// limits; it stays one thread; a killed warm worker fails only the step it
// was running, the next step still runs, and it is started again. A step
// that blocks reads its model from a FIFO nobody writes.
#include "server/worker_pool.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <thread>

#include "server/model_worker.h"
#include "server/worker/protocol.h"
#include "tests/support/temp_dir.h"

namespace agnx::server {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A field of /proc/PID/status ("Threads", "PPid"), or -1.
long proc_status(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// Waits up to 10 s for `condition`.
template <typename Condition>
bool eventually(Condition condition) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!condition() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return condition();
}

class WorkerPoolTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(eventually([&] { return pool_.warm_worker_pid() != 0; })); }

  WorkerOptions options(std::chrono::seconds limit = std::chrono::seconds(30)) {
    return {AGNX_WORKER_BINARY, 1, limit, 0, &pool_};
  }

  // A job whose model is not a snapshot, or (blocking) a FIFO.
  JobDirectory job(bool blocking = false) {
    auto created = JobDirectory::create(dir_.path() / "work", {request_, "not a model", "not npy", {}, {}});
    EXPECT_TRUE(created.ok()) << created.status().to_string();
    if (blocking) {
      fs::remove(created->path() / worker::kModelFile);
      EXPECT_EQ(::mkfifo((created->path() / worker::kModelFile).c_str(), 0600), 0);
    }
    return std::move(*created);
  }

  std::vector<std::string> validate_args(const JobDirectory& directory) {
    return {"validate", "--job-dir", directory.path().string()};
  }

  testing::TempDir dir_;
  MatchingRequest request_;
  WorkerPool pool_{AGNX_WORKER_BINARY};
};

TEST_F(WorkerPoolTest, AForkedStepReportsItsErrorLikeAFreshWorker) {
  const JobDirectory directory = job();
  const Status forked = validate_in_worker(options(), directory);
  WorkerOptions fresh = options();
  fresh.pool = nullptr;
  const Status spawned = validate_in_worker(fresh, directory);
  EXPECT_EQ(forked.code(), StatusCode::kInvalidArgument) << forked.to_string();
  EXPECT_TRUE(forked.message().starts_with("model: ")) << forked.message();
  EXPECT_EQ(forked.to_string(), spawned.to_string());
  EXPECT_EQ(pool_.starts(), 1u);
  EXPECT_EQ(pool_.running(), 0u);
  EXPECT_EQ(proc_status(pool_.warm_worker_pid(), "Threads"), 1);  // fork copies only one thread
}

TEST_F(WorkerPoolTest, StepsAreChildrenOfTheWarmWorkerWithTheMessagePipeAndLog) {
  const JobDirectory directory = job(/*blocking=*/true);
  auto child = pool_.spawn(validate_args(directory), directory.path() / worker::kLogFile);
  ASSERT_TRUE(child.ok()) << child.status().to_string();
  EXPECT_EQ(proc_status((*child)->pid(), "PPid"), pool_.warm_worker_pid());
  // The child redirects its output right after the fork, maybe after spawn() returned.
  const fs::path output = "/proc/" + std::to_string((*child)->pid()) + "/fd/1";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::error_code error;
  while (fs::read_symlink(output, error) != directory.path() / worker::kLogFile &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(fs::read_symlink(output, error), directory.path() / worker::kLogFile);
  EXPECT_FALSE((*child)->try_wait().has_value());
  EXPECT_EQ(pool_.running(), 1u);
  (*child)->kill();
  const int status = (*child)->wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

TEST_F(WorkerPoolTest, TheTimeLimitAndCancellationKillForkedSteps) {
  const JobDirectory directory = job(/*blocking=*/true);
  const Status late = validate_in_worker(options(std::chrono::seconds(1)), directory);
  EXPECT_EQ(late.code(), StatusCode::kAborted);
  EXPECT_NE(late.message().find("time limit of 1 s"), std::string::npos) << late.message();

  std::atomic<bool> cancelled{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancelled = true;
  });
  const Status stopped = run_in_worker(options(), "validate", directory, "cells", {nullptr, nullptr, &cancelled});
  canceller.join();
  EXPECT_EQ(stopped.code(), StatusCode::kCancelled);
  EXPECT_EQ(pool_.running(), 0u);
  EXPECT_EQ(proc_status(pool_.warm_worker_pid(), "Threads"), 1);
}

TEST_F(WorkerPoolTest, AKilledWarmWorkerFailsItsStepAndTheNextStepStillRuns) {
  const JobDirectory blocked = job(/*blocking=*/true);
  auto child = pool_.spawn(validate_args(blocked), blocked.path() / worker::kLogFile);
  ASSERT_TRUE(child.ok()) << child.status().to_string();
  const pid_t first = pool_.warm_worker_pid();
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  const int status = (*child)->wait();  // its child dies with it
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;

  const JobDirectory next = job();
  const Status checked = validate_in_worker(options(), next);  // forked again, or a fresh worker meanwhile
  EXPECT_EQ(checked.code(), StatusCode::kInvalidArgument) << checked.to_string();
  ASSERT_TRUE(eventually([&] { return pool_.starts() == 2 && pool_.warm_worker_pid() != 0; }));
  EXPECT_NE(pool_.warm_worker_pid(), first);
  auto again = pool_.spawn(validate_args(next), next.path() / worker::kLogFile);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ((*again)->wait(), worker::kExitReportedError << 8);
}

TEST(WorkerPool, StoppingItEndsTheWarmWorkerAndItsSteps) {
  testing::TempDir dir;
  pid_t warm = 0, step = 0;
  auto directory = JobDirectory::create(dir.path(), {MatchingRequest{}, "", "", {}, {}});
  ASSERT_TRUE(directory.ok());
  fs::remove(directory->path() / worker::kModelFile);
  ASSERT_EQ(::mkfifo((directory->path() / worker::kModelFile).c_str(), 0600), 0);
  {
    WorkerPool pool(AGNX_WORKER_BINARY);
    ASSERT_TRUE(eventually([&] { return pool.warm_worker_pid() != 0; }));
    warm = pool.warm_worker_pid();
    auto child = pool.spawn({"validate", "--job-dir", directory->path().string()}, dir.path() / "log");
    ASSERT_TRUE(child.ok()) << child.status().to_string();
    step = (*child)->pid();
    child->reset();  // a step dropped while it runs is killed
  }
  EXPECT_TRUE(eventually([&] { return ::kill(warm, 0) != 0 && ::kill(step, 0) != 0; }));
}

}  // namespace
}  // namespace agnx::server
