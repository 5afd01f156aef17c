// agnx-server's job promises on the real binary: CancelJob ends a queued job
// at once and a running one (its run KILLED, its worker gone) and answers its
// final state; an ended job cannot be cancelled; a submission's idempotency
// key gives the first job back, also to a concurrent twin; a job runs on an
// imported library, and Reselect selects with another library, pinned layers
// and a sigma scale while storing nothing; a job interrupted max-attempts
// times fails at the next start; SIGTERM lets a running job finish; a job
// end that does not fit on a full disk is written once space returns; a
// submission's inputs are written to disk once.
#include <google/protobuf/text_format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "agnapprox/v1/agnx.grpc.pb.h"
#include "tests/support/evoapprox_subset.h"
#include "tests/support/matching_client.h"
#include "tests/support/private_tmpfs.h"
#include "tests/support/server_process.h"
#include "tests/support/shared_data.h"
#include "tests/support/temp_dir.h"

namespace agnx {
namespace {

namespace pb = ::agnapprox::v1;
using testing::lenet_inputs;
using testing::lenet_inputs_without_test_data;
using testing::MatchingClient;
using testing::ServerProcess;

pb::MatchingHeader lenet_header(const std::string& library) {
  pb::MatchingHeader header;
  header.set_experiment("jobs");
  header.set_lambda(0.5);
  header.set_library(library);
  header.set_num_samples(128);
  return header;
}

std::unique_ptr<ServerProcess> start_server(const std::filesystem::path& data) {
  auto server = ServerProcess::start(AGNX_SERVER_BINARY, data, {"--threads-per-job", "2"});
  EXPECT_TRUE(server.ok()) << server.status().to_string();
  return server.ok() ? std::move(*server) : nullptr;
}

pb::SubmitMatchingResponse submit(MatchingClient& client, const pb::MatchingHeader& header,
                                  const std::filesystem::path& shared) {
  pb::SubmitMatchingResponse submitted;
  const grpc::Status status = client.submit(header, lenet_inputs_without_test_data(shared), &submitted);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return submitted;
}

// Follows job `job_id` until it reaches one of `stages` or ends; returns that message.
pb::JobProgress wait_for_stage(MatchingClient& client, int64_t job_id, const std::set<std::string>& stages) {
  grpc::ClientContext context;
  pb::GetJobRequest request;
  request.set_job_id(job_id);
  auto reader = client.stub().WatchJob(&context, request);
  pb::JobProgress progress;
  while (reader->Read(&progress) && !stages.contains(progress.stage()) && !progress.final()) {
  }
  context.TryCancel();
  return progress;
}

grpc::Status get_job(MatchingClient& client, int64_t job_id, pb::Job* job) {
  grpc::ClientContext context;
  pb::GetJobRequest request;
  request.set_job_id(job_id);
  return client.stub().GetJob(&context, request, job);
}

grpc::Status cancel_job(MatchingClient& client, int64_t job_id, pb::Job* job) {
  grpc::ClientContext context;
  pb::GetJobRequest request;
  request.set_job_id(job_id);
  return client.stub().CancelJob(&context, request, job);
}

pb::Run get_run(MatchingClient& client, const std::string& run_id) {
  grpc::ClientContext context;
  pb::GetRunRequest request;
  request.set_run_id(run_id);
  pb::Run run;
  EXPECT_TRUE(pb::Tracking::NewStub(client.channel())->GetRun(&context, request, &run).ok());
  return run;
}

// The processes descending from `pid` (children, theirs, ...), zombies
// included, from the ppid field of /proc/PID/stat.
std::set<pid_t> descendants_of(pid_t pid) {
  std::multimap<pid_t, pid_t> children;  // parent -> child
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    pid_t process = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), process).ptr != name.data() + name.size()) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    const auto name_end = stat.rfind(')');
    if (name_end == std::string::npos) continue;
    std::istringstream fields(stat.substr(name_end + 1));
    char state = 0;
    pid_t parent = 0;
    if (fields >> state >> parent) children.emplace(parent, process);
  }
  std::set<pid_t> found;
  std::vector<pid_t> pending{pid};
  while (!pending.empty()) {
    const pid_t next = pending.back();
    pending.pop_back();
    for (auto [it, end] = children.equal_range(next); it != end; ++it) {
      if (found.insert(it->second).second) pending.push_back(it->second);
    }
  }
  return found;
}

// The job processes of `server`: its descendants but for those in `idle`
// (taken before any job, e.g. a warm agnx-worker kept running).
std::set<pid_t> job_processes(const ServerProcess& server, const std::set<pid_t>& idle) {
  std::set<pid_t> processes;
  for (const pid_t pid : descendants_of(server.pid())) {
    if (!idle.contains(pid)) processes.insert(pid);
  }
  return processes;
}

// Whether every process of `pids` has ended and been reaped within 2 s.
bool all_gone(const std::set<pid_t>& pids) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  const auto gone = [&] {
    return std::none_of(pids.begin(), pids.end(),
                        [](pid_t pid) { return std::filesystem::exists("/proc/" + std::to_string(pid)); });
  };
  while (!gone() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return gone();
}

const std::set<std::string> kInWorker = {"scales", "features", "selection", "validation", "evaluation"};

// Job A runs (one worker at a time, the default); job B waits behind it.
TEST(ServerJobs, CancelEndsAQueuedAndARunningJobTheirRunsAndTheWorker) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  testing::TempDir data;
  const auto server = start_server(data.path());
  ASSERT_TRUE(server);
  const std::set<pid_t> idle = descendants_of(server->pid());
  MatchingClient client(server->address());
  pb::SubmitMatchingResponse a;
  ASSERT_TRUE(client.submit(lenet_header("builtin"), lenet_inputs(shared), &a).ok());
  const pb::SubmitMatchingResponse b = submit(client, lenet_header("builtin"), shared);

  pb::Job cancelled;
  const auto asked = std::chrono::steady_clock::now();
  ASSERT_TRUE(cancel_job(client, b.job_id(), &cancelled).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(2)) << "a queued job ends at once";
  EXPECT_EQ(cancelled.state(), "CANCELLED");
  EXPECT_EQ(cancelled.attempts(), 0) << "it never ran";
  EXPECT_EQ(get_run(client, b.run_id()).info().status(), "KILLED");

  ASSERT_FALSE(wait_for_stage(client, a.job_id(), kInWorker).final()) << "job A ended before the cancel";
  const std::set<pid_t> workers = job_processes(*server, idle);
  ASSERT_FALSE(workers.empty()) << "job A's worker";
  const grpc::Status status = cancel_job(client, a.job_id(), &cancelled);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(cancelled.state(), "CANCELLED") << "the reply is the job's final state";
  EXPECT_EQ(cancelled.error(), "cancelled");
  EXPECT_TRUE(all_gone(workers)) << "the worker was killed and reaped";
  const pb::Run run = get_run(client, a.run_id());
  EXPECT_EQ(run.info().status(), "KILLED");
  EXPECT_TRUE(run.info().has_end_time());
  EXPECT_EQ(client.watch(a.job_id()).state(), "CANCELLED");
  pb::MatchingResult result;
  EXPECT_EQ(client.result(a.run_id(), &result).error_code(), grpc::StatusCode::NOT_FOUND);

  pb::Job again;
  const grpc::Status ended = cancel_job(client, a.job_id(), &again);
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << ended.error_message();
  EXPECT_EQ(ended.error_message(), "job " + std::to_string(a.job_id()) + " already ended CANCELLED");
  EXPECT_EQ(cancel_job(client, 12345, &again).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(ServerJobs, AnIdempotencyKeyGivesTheFirstJobBack) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  testing::TempDir data;
  const auto server = start_server(data.path());
  ASSERT_TRUE(server);
  MatchingClient client(server->address());
  pb::MatchingHeader header = lenet_header("builtin");
  header.set_idempotency_key("retried-1");
  const pb::SubmitMatchingResponse first = submit(client, header, shared);
  const pb::SubmitMatchingResponse retried = submit(client, header, shared);
  EXPECT_EQ(retried.run_id(), first.run_id());
  EXPECT_EQ(retried.job_id(), first.job_id());

  // Two submissions with one key at once, each on its own connection.
  header.set_idempotency_key("concurrent-1");
  pb::SubmitMatchingResponse twins[2];
  std::thread senders[2];
  for (int i = 0; i < 2; ++i) {
    senders[i] = std::thread([&, i] {
      MatchingClient own(server->address());
      twins[i] = submit(own, header, shared);
    });
  }
  for (auto& sender : senders) sender.join();
  EXPECT_EQ(twins[0].job_id(), twins[1].job_id());
  EXPECT_EQ(twins[0].run_id(), twins[1].run_id());

  auto tracking = pb::Tracking::NewStub(client.channel());
  grpc::ClientContext by_name, context;
  pb::GetExperimentByNameRequest name;
  name.set_name("jobs");
  pb::Experiment experiment;
  ASSERT_TRUE(tracking->GetExperimentByName(&by_name, name, &experiment).ok());
  pb::SearchRunsRequest search;
  search.add_experiment_ids(experiment.experiment_id());
  search.set_view(pb::ALL);
  pb::SearchRunsResponse runs;
  ASSERT_TRUE(tracking->SearchRuns(&context, search, &runs).ok());
  EXPECT_EQ(runs.runs_size(), 2) << "one run per key";
  for (const int64_t job : {first.job_id(), twins[0].job_id()}) {
    pb::Job ignored;
    (void)cancel_job(client, job, &ignored);  // the jobs themselves are not needed
  }
}

grpc::Status reselect(MatchingClient& client, const pb::ReselectRequest& request, pb::MatchingResult* reply) {
  grpc::ClientContext context;
  return client.stub().Reselect(&context, request, reply);
}

// What a run has stored: the run, its artifacts and its matching result.
std::string stored_state(MatchingClient& client, const std::string& run_id) {
  auto tracking = pb::Tracking::NewStub(client.channel());
  grpc::ClientContext context;
  pb::GetRunRequest request;
  request.set_run_id(run_id);
  pb::ListArtifactsResponse artifacts;
  EXPECT_TRUE(tracking->ListArtifacts(&context, request, &artifacts).ok());
  pb::MatchingResult result;
  EXPECT_TRUE(client.result(run_id, &result).ok());
  std::string text;
  google::protobuf::TextFormat::PrintToString(get_run(client, run_id), &text);
  return text + artifacts.DebugString() + result.json();
}

// A job on an imported two-multiplier library (exact mul8s_1KV8, mul8s_1L2D at
// 0.2 of its power), then re-selections of its result.
TEST(ServerJobs, AJobOnAnImportedLibraryAndReselectionsThatStoreNothing) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  testing::TempDir data;
  const auto server = start_server(data.path());
  ASSERT_TRUE(server);
  MatchingClient client(server->address());
  auto multipliers = pb::Multipliers::NewStub(client.channel());
  pb::Library library;
  for (const auto& [name, tables] : {std::pair<std::string, std::vector<std::string>>{"two_evo", {"mul8s_1KV8", "mul8s_1L2D"}},
                                     {"exact_evo", {"mul8s_1KV8"}}}) {
    const grpc::Status imported =
        testing::import_library(*multipliers, name, testing::evoapprox_subset(shared, tables), &library);
    ASSERT_TRUE(imported.ok()) << name << ": " << imported.error_message();
  }
  const pb::SubmitMatchingResponse submitted = submit(client, lenet_header("two_evo"), shared);
  ASSERT_EQ(client.watch(submitted.job_id()).state(), "SUCCEEDED");
  pb::MatchingResult matched;
  ASSERT_TRUE(client.result(submitted.run_id(), &matched).ok());
  EXPECT_EQ(matched.info().library(), "two_evo");
  ASSERT_EQ(matched.info().layers_size(), 5);
  for (const auto& layer : matched.info().layers()) {
    EXPECT_EQ(layer.candidates_size(), 2) << layer.name();
    EXPECT_TRUE(layer.multiplier_name() == "mul8s_1KV8" || layer.multiplier_name() == "mul8s_1L2D") << layer.name();
  }
  const std::string before = stored_state(client, submitted.run_id());

  pb::ReselectRequest request;
  request.set_run_id(submitted.run_id());
  request.set_library("exact_evo");  // another library: its one multiplier everywhere
  pb::MatchingResult exact;
  ASSERT_TRUE(reselect(client, request, &exact).ok());
  EXPECT_EQ(exact.info().library(), "exact_evo");
  for (const auto& layer : exact.info().layers()) EXPECT_EQ(layer.multiplier_name(), "mul8s_1KV8") << layer.name();
  EXPECT_DOUBLE_EQ(exact.info().relative_energy_consumption(), 1.0);

  request.set_library("");
  request.set_sigma_scale(1e6);  // every layer tolerates anything: the cheap one everywhere ...
  request.add_pin_exact("conv2.0");  // ... but where pinned
  pb::MatchingResult loose;
  ASSERT_TRUE(reselect(client, request, &loose).ok());
  EXPECT_EQ(loose.info().library(), "two_evo");
  for (const auto& layer : loose.info().layers()) {
    EXPECT_EQ(layer.multiplier_name(), layer.name() == "conv2.0" ? "mul8s_1KV8" : "mul8s_1L2D") << layer.name();
  }

  const auto refused = [&](const pb::ReselectRequest& bad, grpc::StatusCode code, const std::string& text) {
    pb::MatchingResult ignored;
    const grpc::Status status = reselect(client, bad, &ignored);
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    EXPECT_NE(status.error_message().find(text), std::string::npos) << status.error_message();
  };
  pb::ReselectRequest bad = request;
  bad.set_sigma_scale(-1.0);
  refused(bad, grpc::StatusCode::INVALID_ARGUMENT, "sigma_scale");
  bad = request;
  bad.set_library("no_such_library");
  refused(bad, grpc::StatusCode::NOT_FOUND, "no_such_library");
  bad.set_library("builtin");  // no stored predictions for its designs
  refused(bad, grpc::StatusCode::FAILED_PRECONDITION, "no stored prediction");
  bad = request;
  bad.add_pin_exact("conv9");
  refused(bad, grpc::StatusCode::NOT_FOUND, "conv9");
  bad = request;
  bad.set_run_id("0123456789abcdef0123456789abcdef");
  refused(bad, grpc::StatusCode::NOT_FOUND, "0123456789abcdef0123456789abcdef");

  EXPECT_EQ(stored_state(client, submitted.run_id()), before) << "Reselect stores nothing";
}

TEST(ServerJobs, AJobInterruptedMaxAttemptsTimesFailsAtTheNextStart) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  testing::TempDir data;
  pb::SubmitMatchingResponse submitted;
  for (int64_t attempt = 1; attempt <= 3; ++attempt) {
    const auto server = start_server(data.path());
    ASSERT_TRUE(server);
    MatchingClient client(server->address());
    if (attempt == 1) submitted = submit(client, lenet_header("builtin"), shared);
    pb::Job job;
    while (get_job(client, submitted.job_id(), &job).ok() && job.attempts() < attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_EQ(job.state(), "RUNNING");
    ASSERT_EQ(job.attempts(), attempt);
    server->kill_and_wait(SIGKILL);
  }
  const auto server = start_server(data.path());
  ASSERT_TRUE(server);
  MatchingClient client(server->address());
  pb::Job job;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);  // claimed after the start
  while (get_job(client, submitted.job_id(), &job).ok() && job.state() == "RUNNING" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(job.state(), "FAILED");
  EXPECT_EQ(job.attempts(), 3);
  EXPECT_EQ(job.error(), "interrupted 3 times (the server stopped during the job); giving up");
  EXPECT_EQ(get_run(client, submitted.run_id()).info().status(), "FAILED");
}

TEST(ServerJobs, SigtermLetsARunningJobFinish) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  testing::TempDir data;
  pb::SubmitMatchingResponse submitted;
  {
    const auto server = start_server(data.path());
    ASSERT_TRUE(server);
    {
      // Closed before the SIGTERM: gRPC's shutdown waits (up to 5 s) for open
      // connections, which could outlast the job on an idle machine.
      MatchingClient client(server->address());
      submitted = submit(client, lenet_header("builtin"), shared);
      ASSERT_FALSE(wait_for_stage(client, submitted.job_id(), {"scales"}).final()) << "the job ended before SIGTERM";
    }
    const int status = server->kill_and_wait(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  const auto server = start_server(data.path());
  ASSERT_TRUE(server);
  MatchingClient client(server->address());
  pb::Job job;
  ASSERT_TRUE(get_job(client, submitted.job_id(), &job).ok());
  EXPECT_EQ(job.state(), "SUCCEEDED") << job.error();
  EXPECT_EQ(job.attempts(), 1) << "finished before the server stopped, not resumed";
  pb::MatchingResult result;
  EXPECT_TRUE(client.result(submitted.run_id(), &result).ok());
  EXPECT_EQ(get_run(client, submitted.run_id()).info().status(), "FINISHED");
}

struct Unmount {
  std::filesystem::path dir;
  ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
};

// The disk fills up while a job runs: the job fails, its end does not fit
// and it stays RUNNING in the store; once space returns the server writes the
// end by itself, without a restart.
TEST(ServerJobs, AJobEndThatDidNotFitIsWrittenOnceSpaceReturns) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  testing::TempDir dir;
  if (const std::string refused = testing::mount_private_tmpfs(dir.path(), 64); !refused.empty()) {
    GTEST_SKIP() << "a private tmpfs needs root (CAP_SYS_ADMIN); " << refused;
  }
  const Unmount unmount{dir.path()};  // after the server has stopped
  const auto server = start_server(dir.path() / "data");
  ASSERT_TRUE(server);
  MatchingClient client(server->address());
  pb::SubmitMatchingResponse submitted;
  ASSERT_TRUE(client.submit(lenet_header("builtin"), lenet_inputs(shared), &submitted).ok());
  ASSERT_FALSE(wait_for_stage(client, submitted.job_id(), kInWorker).final()) << "the job ended before the disk filled";

  const auto filler = dir.path() / "filler";
  ASSERT_EQ(testing::fill_up(filler), "");
  const pb::JobProgress ended = wait_for_stage(client, submitted.job_id(), {});
  ASSERT_EQ(ended.state(), "FAILED") << ended.message();
  pb::Job job;
  ASSERT_TRUE(get_job(client, submitted.job_id(), &job).ok());
  EXPECT_EQ(job.state(), "RUNNING") << "its end fitted after all; the test proves nothing";

  std::filesystem::remove(filler);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (get_job(client, submitted.job_id(), &job).ok() && job.state() == "RUNNING" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(job.state(), "FAILED");
  EXPECT_EQ(job.error(), ended.message());
  EXPECT_NE(job.error().find(std::strerror(ENOSPC)), std::string::npos) << job.error();
  EXPECT_EQ(get_run(client, submitted.run_id()).info().status(), "FAILED");
}

// The bytes process `pid` has passed to write(2) and its kin so far (wchar
// of /proc/PID/io); -1 if unreadable.
int64_t bytes_written(pid_t pid) {
  std::ifstream io("/proc/" + std::to_string(pid) + "/io");
  std::string field;
  int64_t value = 0;
  while (io >> field >> value) {
    if (field == "wchar:") return value;
  }
  return -1;
}

// Once to the job directory the submission's check reads, which the store
// then links in as the run's artifacts; the job links them from the store.
TEST(ServerJobs, ASubmissionsInputsAreWrittenOnce) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  testing::TempDir data;
  const auto server = start_server(data.path());
  ASSERT_TRUE(server);
  MatchingClient client(server->address());
  const testing::MatchingInputs inputs = lenet_inputs_without_test_data(shared);
  const auto size = static_cast<int64_t>(inputs.model.size() + inputs.calibration.size());
  const int64_t before = bytes_written(server->pid());
  ASSERT_GE(before, 0) << "/proc/PID/io is unreadable";
  pb::SubmitMatchingResponse submitted;
  ASSERT_TRUE(client.submit(lenet_header("builtin"), inputs, &submitted).ok());
  const pb::JobProgress ended = wait_for_stage(client, submitted.job_id(), {});
  ASSERT_EQ(ended.state(), "SUCCEEDED") << ended.message();
  const int64_t written = bytes_written(server->pid()) - before;
  EXPECT_GE(written, size) << "the inputs were stored";
  EXPECT_LT(written, size + size / 2) << "the server wrote the inputs' bytes more than once";
}

}  // namespace
}  // namespace agnx
