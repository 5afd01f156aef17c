// Several agnx-server replicas on one PostgreSQL store share its jobs through
// leases (server/job_runner.h): every job is claimed and run once across the
// replicas; a job whose replica is SIGKILLed finishes on another with the
// in-process result; a replica paused (SIGSTOP) past its lease and resumed
// cannot write its stale result or end; a cancel through one replica stops
// the job where another runs it; a library imported through one replica is
// offered by the others; a job's live progress and its cancel reach any
// replica at once, through the replicas' notices (LISTEN/NOTIFY).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <thread>

#include "agnapprox/v1/agnx.grpc.pb.h"
#include "store/open_store.h"
#include "tests/support/evoapprox_subset.h"
#include "tests/support/lenet_matching.h"
#include "tests/support/matching_client.h"
#include "tests/support/postgres_cluster.h"
#include "tests/support/server_process.h"
#include "tests/support/shared_data.h"
#include "tests/support/temp_dir.h"
#include "tests/support/training_client.h"

namespace agnx {
namespace {

namespace pb = ::agnapprox::v1;
using testing::MatchingClient;
using testing::read_file;

constexpr const char* kLeaseSeconds = "1.5";

pb::MatchingHeader lenet_header() {
  pb::MatchingHeader header;
  header.set_experiment("lenet");
  header.set_run_name("replicated");
  header.set_lambda(0.5);
  header.set_library("evoapprox");
  header.set_num_samples(128);
  header.set_seed(11);
  return header;
}

// Follows job `job_id` until it reaches stage `stage` (in the worker) or ends; false if it ended.
bool reached(MatchingClient& client, int64_t job_id, const std::string& stage) {
  grpc::ClientContext context;
  pb::GetJobRequest request;
  request.set_job_id(job_id);
  auto reader = client.stub().WatchJob(&context, request);
  pb::JobProgress progress;
  while (reader->Read(&progress)) {
    if (progress.final()) return false;
    if (progress.stage() == stage) {
      context.TryCancel();
      return true;
    }
  }
  return false;
}

class Replicas : public ::testing::Test {
 protected:
  void SetUp() override {
    AGNX_SKIP_WITHOUT_POSTGRES();
    auto cluster = testing::PostgresCluster::shared();
    ASSERT_TRUE(cluster.ok()) << cluster.status().to_string();
    const auto database = (*cluster)->create_database();
    ASSERT_TRUE(database.ok()) << database.status().to_string();
    store_uri_ = (*cluster)->store_uri(*database, dir_.path() / "shared");
  }

  // Replica `name` of the store, with `args` and job leases of
  // `lease_seconds`; its stderr goes to log(name).
  std::unique_ptr<testing::ServerProcess> start(const std::string& name, std::vector<std::string> args = {},
                                                const char* lease_seconds = kLeaseSeconds) {
    args.insert(args.end(), {"--store", store_uri_, "--replica-id", name, "--job-lease-seconds", lease_seconds,
                             "--threads-per-job", "2"});
    auto server = testing::ServerProcess::start(AGNX_SERVER_BINARY, dir_.path() / name, args, log(name));
    EXPECT_TRUE(server.ok()) << server.status().to_string();
    return server.ok() ? std::move(*server) : nullptr;
  }

  // Replica `name` offering the signed multipliers of `shared`/evoapprox as library "evoapprox".
  std::unique_ptr<testing::ServerProcess> start_with_library(const std::string& name,
                                                             const std::filesystem::path& shared) {
    return start(name, {"--library-dir", "evoapprox=" + (shared / "evoapprox").string() + ",signed"});
  }

  // Submits lenet_header() with lenet_inputs(shared) through `replica` (one
  // started with the library) into `submitted`, then follows the job until
  // it computes features in the worker, long before its end: the moment to
  // interrupt it. Fails if the submission is refused or the job ends first.
  static ::testing::AssertionResult submit_until_features(const testing::ServerProcess& replica,
                                                          const std::filesystem::path& shared,
                                                          pb::SubmitMatchingResponse* submitted) {
    MatchingClient client(replica.address());
    const grpc::Status status = client.submit(lenet_header(), testing::lenet_inputs(shared), submitted);
    if (!status.ok()) return ::testing::AssertionFailure() << "the submission was refused: " << status.error_message();
    if (!reached(client, submitted->job_id(), "features")) {
      return ::testing::AssertionFailure() << "the job ended before it computed features";
    }
    return ::testing::AssertionSuccess();
  }

  std::filesystem::path log(const std::string& name) const { return dir_.path() / (name + ".log"); }

  testing::TempDir dir_;
  std::string store_uri_;
};

pb::Job get_job(MatchingClient& client, int64_t job_id) {
  grpc::ClientContext context;
  pb::GetJobRequest request;
  request.set_job_id(job_id);
  pb::Job job;
  EXPECT_TRUE(client.stub().GetJob(&context, request, &job).ok());
  return job;
}

// Jobs of a kind no replica knows end FAILED at their first claim: enough to
// count claims without model work. Such jobs end at once, so one replica may
// well claim them all; what must hold is that none is claimed twice.
TEST_F(Replicas, AHundredJobsQueuedAcrossThreeReplicasAreEachRunOnce) {
  std::vector<std::unique_ptr<testing::ServerProcess>> replicas;
  for (const char* name : {"r1", "r2", "r3"}) replicas.push_back(start(name, {"--workers", "2"}));
  for (const auto& replica : replicas) ASSERT_TRUE(replica);
  auto store = store::open_store(store_uri_);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  constexpr int kJobs = 100;
  for (int i = 0; i < kJobs; ++i) ASSERT_TRUE((*store)->create_job("no-such-kind", std::nullopt).ok());

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::vector<store::Job> ended;
  while (std::chrono::steady_clock::now() < deadline) {
    ended = *(*store)->list_jobs(store::JobState::kFailed);
    if (ended.size() == kJobs) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(ended.size(), static_cast<std::size_t>(kJobs));
  std::map<std::string, int> by_owner;
  for (const store::Job& job : ended) {
    EXPECT_EQ(job.attempts, 1) << "job " << job.job_id << " was claimed more than once";
    EXPECT_NE(job.error.find("unknown kind 'no-such-kind'"), std::string::npos) << job.error;
    ++by_owner[job.owner.value_or("")];
  }
  for (const auto& [owner, count] : by_owner) std::printf("%s ran %d jobs\n", owner.c_str(), count);
}

TEST_F(Replicas, ALibraryImportedThroughOneReplicaIsOfferedByAll) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  auto first = start("r1");
  auto second = start("r2");
  ASSERT_TRUE(first && second);
  const auto channel = [](const testing::ServerProcess& server) {
    return pb::Multipliers::NewStub(grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));
  };
  const auto through_second = channel(*second);
  {
    grpc::ClientContext context;
    pb::ListLibrariesResponse libraries;
    ASSERT_TRUE(through_second->ListLibraries(&context, {}, &libraries).ok());
    EXPECT_EQ(libraries.libraries_size(), 1) << "only the built-in library yet";
  }
  pb::Library imported;
  const grpc::Status status = testing::import_library(
      *channel(*first), "team_evo", testing::evoapprox_subset(shared, {"mul8s_1KV8", "mul8s_1L2D"}), &imported);
  ASSERT_TRUE(status.ok()) << status.error_message();
  grpc::ClientContext list_context, multipliers_context;
  pb::ListMultipliersRequest request;  // found by name first, then listed
  request.set_library("team_evo");
  pb::ListMultipliersResponse multipliers;
  ASSERT_TRUE(through_second->ListMultipliers(&multipliers_context, request, &multipliers).ok());
  EXPECT_EQ(multipliers.multipliers_size(), 2);
  pb::ListLibrariesResponse libraries;
  ASSERT_TRUE(through_second->ListLibraries(&list_context, {}, &libraries).ok());
  ASSERT_EQ(libraries.libraries_size(), 2);
  EXPECT_EQ(libraries.libraries(1).name(), "team_evo");
}

TEST_F(Replicas, AJobWhoseReplicaIsKilledFinishesOnAnotherWithTheInProcessResult) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  auto first = start_with_library("r1", shared);
  ASSERT_TRUE(first);
  pb::SubmitMatchingResponse submitted;
  ASSERT_TRUE(submit_until_features(*first, shared, &submitted));
  auto second = start_with_library("r2", shared);
  ASSERT_TRUE(second);
  first->kill_and_wait(SIGKILL);

  MatchingClient other(second->address());
  const pb::JobProgress last = other.watch(submitted.job_id());
  ASSERT_EQ(last.state(), "SUCCEEDED") << last.message();
  const pb::Job job = get_job(other, submitted.job_id());
  EXPECT_EQ(job.attempts(), 2);
  EXPECT_EQ(job.owner(), "r2");
  pb::MatchingResult result;
  ASSERT_TRUE(other.result(submitted.run_id(), &result).ok());
  EXPECT_EQ(result.json(), testing::in_process_json(shared, lenet_header().seed()));
}

TEST_F(Replicas, AReplicaPausedPastItsLeaseCannotWriteItsStaleAttempt) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  auto paused = start_with_library("r1", shared);
  ASSERT_TRUE(paused);
  pb::SubmitMatchingResponse submitted;
  ASSERT_TRUE(submit_until_features(*paused, shared, &submitted));
  paused->send_signal(SIGSTOP);
  auto second = start_with_library("r2", shared);
  ASSERT_TRUE(second);
  MatchingClient other(second->address());
  const pb::JobProgress last = other.watch(submitted.job_id());
  ASSERT_EQ(last.state(), "SUCCEEDED") << last.message();
  const pb::Job finished = get_job(other, submitted.job_id());
  EXPECT_EQ(finished.owner(), "r2");
  EXPECT_EQ(finished.attempts(), 2);

  paused->send_signal(SIGCONT);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (read_file(log("r1")).find("job lease lost") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(read_file(log("r1")).find("job lease lost"), std::string::npos) << read_file(log("r1"));
  const pb::Job after = get_job(other, submitted.job_id());
  EXPECT_EQ(after.state(), "SUCCEEDED");
  EXPECT_EQ(after.owner(), "r2");
  EXPECT_EQ(after.update_time(), finished.update_time()) << "the stale attempt wrote to the job";
  pb::MatchingResult result;
  ASSERT_TRUE(other.result(submitted.run_id(), &result).ok());
  EXPECT_EQ(result.json(), testing::in_process_json(shared, lenet_header().seed()));
}

TEST_F(Replicas, CancelThroughAnyReplicaStopsTheJobWhereItRuns) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  auto running = start_with_library("r1", shared);
  ASSERT_TRUE(running);
  pb::SubmitMatchingResponse submitted;
  ASSERT_TRUE(submit_until_features(*running, shared, &submitted));
  auto other = start_with_library("r2", shared);
  ASSERT_TRUE(other);
  MatchingClient through(other->address());
  grpc::ClientContext context;
  pb::GetJobRequest request;
  request.set_job_id(submitted.job_id());
  pb::Job cancelled;
  ASSERT_TRUE(through.stub().CancelJob(&context, request, &cancelled).ok());
  EXPECT_EQ(cancelled.state(), "CANCELLED") << "answered before r1 stopped it";
  EXPECT_EQ(cancelled.owner(), "r1");
  EXPECT_EQ(cancelled.attempts(), 1);
  EXPECT_EQ(through.watch(submitted.job_id()).state(), "CANCELLED");
}

// A 30 s lease is renewed every 10 s: the store alone would show another
// replica the job's state only, and its replica would learn of a cancel up
// to 10 s late. Notices bring both at once.
TEST_F(Replicas, ATrainingJobIsFollowedStepByStepAndCancelledAtOnceThroughAnotherReplica) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  constexpr const char* kLongLease = "30";
  auto running = start("r1", {}, kLongLease);
  ASSERT_TRUE(running);
  testing::TrainingClient client(running->address());
  pb::TrainingHeader header;
  header.set_kind("search");
  header.set_experiment("training");
  header.set_run_name("followed");
  header.add_lambdas(0.5);
  header.set_search_epochs(50);
  header.set_num_samples(64);
  header.set_seed(5);
  pb::SubmitMatchingResponse submitted;
  ASSERT_TRUE(client.submit(header, testing::lenet_training(shared), &submitted).ok());
  ASSERT_TRUE(reached(client.matching(), submitted.job_id(), "search")) << "the search ended at once";
  auto other = start("r2", {}, kLongLease);
  ASSERT_TRUE(other);

  MatchingClient through(other->address());
  grpc::ClientContext watching;
  watching.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  pb::GetJobRequest request;
  request.set_job_id(submitted.job_id());
  auto reader = through.stub().WatchJob(&watching, request);
  pb::JobProgress progress;
  while (reader->Read(&progress) && !progress.final() && !(progress.stage() == "search" && progress.steps() > 0)) {
  }
  watching.TryCancel();
  EXPECT_EQ(progress.stage(), "search") << "r2 did not see r1's progress: " << progress.ShortDebugString();
  EXPECT_GT(progress.steps(), 0u);

  grpc::ClientContext cancelling;
  pb::Job cancelled;
  const auto asked = std::chrono::steady_clock::now();
  ASSERT_TRUE(through.stub().CancelJob(&cancelling, request, &cancelled).ok());
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count();
  EXPECT_EQ(cancelled.state(), "CANCELLED") << "r1 did not stop the job within CancelJob's wait";
  EXPECT_EQ(cancelled.owner(), "r1");
  std::printf("cancel through r2 answered CANCELLED after %.2f s\n", waited);
}

}  // namespace
}  // namespace agnx
