// The server's supervision of model workers (server/model_worker.h), with
// small shell scripts standing in for agnx-worker: progress forwarding, the
// worker's own errors, crashes, the time limit, cancellation, and what a
// worker inherits. The real agnx-worker is exercised in server_isolation_test.
#include "server/model_worker.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "core/builtin_library.h"
#include "core/matching_json.h"
#include "tests/support/sample_matching.h"
#include "tests/support/temp_dir.h"

namespace agnx::server {
namespace {

namespace fs = std::filesystem;

class ModelWorkerTest : public ::testing::Test {
 protected:
  // A fake agnx-worker running `body` (sh); $3 is the job directory.
  WorkerOptions fake_worker(const std::string& body, std::chrono::seconds limit = std::chrono::seconds(30)) {
    const fs::path script = dir_.path() / ("worker-" + std::to_string(++scripts_) + ".sh");
    std::ofstream(script) << "#!/bin/sh\n" << body << "\n";
    ::chmod(script.c_str(), 0755);
    return {script, 2, limit, 64};
  }

  JobDirectory job() {
    auto created = JobDirectory::create(dir_.path() / "work", {request_, "model bytes", "calibration bytes", {}, {}});
    EXPECT_TRUE(created.ok()) << created.status().to_string();
    return std::move(*created);
  }

  Result<MatchingInfo> match(const WorkerOptions& options, std::vector<Progress>* progress = nullptr,
                             const std::atomic<bool>* cancelled = nullptr) {
    const JobDirectory directory = job();
    return match_in_worker(options, directory, builtin_library(),
                           [&](const Progress& p) { if (progress) progress->push_back(p); }, cancelled);
  }

  testing::TempDir dir_;
  MatchingRequest request_;
  int scripts_ = 0;
};

TEST_F(ModelWorkerTest, JobDirectoryHoldsTheInputsAndIsRemoved) {
  fs::path path;
  {
    const JobDirectory directory = job();
    path = directory.path();
    EXPECT_EQ(path.parent_path(), dir_.path() / "work");
    std::ifstream model(path / "model.pt");
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(model), {}), "model bytes");
    EXPECT_TRUE(fs::exists(path / "request.json"));
    EXPECT_TRUE(fs::exists(path / "calibration"));
    EXPECT_FALSE(fs::exists(path / "test_x"));
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(ModelWorkerTest, ForwardsProgressAndReadsTheResult) {
  const MatchingInfo expected = testing::sample_matching("builtin", 3.0);
  const fs::path result = dir_.path() / "result.json";
  std::ofstream(result) << matching_info_to_json(expected);
  std::vector<Progress> progress;
  const auto info = match(fake_worker("printf 'progress features 1 3\\nprogress features 2 3\\n' >&3\n"
                                      "cp " + result.string() + " \"$3/result.json\""),
                          &progress);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(matching_info_to_json(*info), matching_info_to_json(expected));
  ASSERT_EQ(progress.size(), 2u);
  EXPECT_EQ(progress[1].stage, "features");
  EXPECT_EQ(progress[1].done, 2u);
  EXPECT_EQ(progress[1].total, 3u);
}

TEST_F(ModelWorkerTest, PassesOnTheWorkersOwnError) {
  const auto info = match(fake_worker("printf 'error not_found header.sigma: the model has no layer fc9\\n' >&3\n"
                                      "exit 1"));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(info.status().message(), "header.sigma: the model has no layer fc9");
}

TEST_F(ModelWorkerTest, ACrashNamesTheSignalTheStageAndTheLastOutput) {
  const auto info = match(fake_worker("printf 'progress scales 0 5\\n' >&3\n"
                                      "echo 'loading weights' ; echo 'pickle: bad opcode' >&2\n"
                                      "kill -SEGV $$"));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kAborted);
  EXPECT_EQ(info.status().message(),
            "the model worker was killed by signal 11 (Segmentation fault) during stage 'scales'; "
            "its last output: pickle: bad opcode");
}

TEST_F(ModelWorkerTest, AnUnexpectedExitIsAFailureOfTheWorker) {
  const auto info = match(fake_worker("exit 1"));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kAborted);
  EXPECT_EQ(info.status().message(), "the model worker exited with status 1 during stage 'starting'");
}

TEST_F(ModelWorkerTest, AHangingWorkerIsKilledAtItsTimeLimit) {
  const auto start = std::chrono::steady_clock::now();
  const auto info = match(fake_worker("printf 'progress features 0 8\\n' >&3\nexec sleep 600", std::chrono::seconds(1)));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kAborted);
  EXPECT_EQ(info.status().message(), "the model worker exceeded its time limit of 1 s during stage 'features'");
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

TEST_F(ModelWorkerTest, CancellationKillsTheWorker) {
  std::atomic<bool> cancelled{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancelled = true;
  });
  const auto info = match(fake_worker("exec sleep 600"), nullptr, &cancelled);
  canceller.join();
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(info.status().message(), "cancelled");
}

TEST_F(ModelWorkerTest, TheWorkerGetsItsLimitsAndNoOtherDescriptors) {
  const fs::path seen = dir_.path() / "seen.txt";
  // The shell keeps descriptors of its own; the program it execs shows what a worker inherits.
  (void)match(fake_worker("echo \"$@\" > " + seen.string() + "\nexec ls /proc/self/fd >> " + seen.string()));
  std::ifstream in(seen);
  std::string args, fd;
  std::getline(in, args);
  EXPECT_NE(args.find("match --job-dir "), std::string::npos) << args;
  EXPECT_NE(args.find("--threads 2 --memory-mb 64"), std::string::npos) << args;
  EXPECT_NE(args.find("--parent-pid " + std::to_string(::getpid())), std::string::npos) << args;
  std::vector<std::string> fds;
  while (in >> fd) fds.push_back(fd);
  // stdin, stdout, stderr, the message pipe, and the directory ls reads.
  EXPECT_EQ(fds.size(), 5u);
  for (const auto& expected : {"0", "1", "2", "3"}) EXPECT_NE(std::find(fds.begin(), fds.end(), expected), fds.end());
}

TEST_F(ModelWorkerTest, AMissingWorkerIsAnError) {
  const auto info = match({dir_.path() / "no-such-worker", 1, std::chrono::seconds(5), 0});
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.status().message().find("no-such-worker"), std::string::npos) << info.status().message();
}

}  // namespace
}  // namespace agnx::server
