// agnx-server under a full disk. A matching job whose result does not fit
// fails with the reason and leaves nothing half-written; a server whose file
// size limit (RLIMIT_FSIZE, set from outside with prlimit) is reached refuses
// the writes that do not fit with RESOURCE_EXHAUSTED, keeps serving the ones
// that do, and takes them all again once the limit is lifted, also after a
// restart.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include "client/client.h"
#include "server/library_registry.h"
#include "server/matching_job.h"
#include "store/sqlite_store.h"
#include "tests/support/data_dir_files.h"
#include "tests/support/file_size_limit.h"
#include "tests/support/matching_client.h"
#include "tests/support/server_process.h"
#include "tests/support/shared_data.h"
#include "tests/support/temp_dir.h"

namespace agnx {
namespace {

using testing::files_under;
using testing::largest_database_file;
using testing::read_file;

client::Client connect(const std::string& address) {
  client::ClientOptions options;
  options.address = address;
  return std::move(*client::Client::connect(options));
}

bool has_artifact(store::TrackingStore& store, const std::string& run_id, const std::string& path) {
  const auto artifacts = store.list_artifacts(run_id);
  return std::any_of(artifacts->begin(), artifacts->end(), [&](const auto& a) { return a.path == path; });
}

TEST(ServerFaults, AJobWhoseResultDoesNotFitFailsWithTheReasonAndLeavesNothing) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  testing::TempDir dir;
  store::SqliteStoreOptions options;
  options.data_dir = dir.path() / "data";
  options.synchronous_full = false;
  auto store = std::move(*store::SqliteTrackingStore::open(options));
  server::LibraryRegistry libraries(*store);
  const std::string run_id = store->create_run(*store->create_experiment("e"), "job", "u", 0)->run_id;
  server::MatchingRequest request;
  request.num_samples = 64;
  request.seed = 3;
  const std::pair<const char*, std::string> inputs[] = {
      {server::kRequestArtifact, server::to_json(request)},
      {server::kModelArtifact, read_file(shared / "models/lenet5_fmnist_stdev.pt")},
      {server::kCalibrationArtifact, read_file(shared / "models/lenet5_fmnist_calib.npy")}};
  for (const auto& [path, content] : inputs) ASSERT_TRUE(store->log_artifact(run_id, path, content).ok()) << path;
  const std::size_t input_files = files_under(options.data_dir / "artifacts");

  // The disk fills up when the job starts saving: its result file cannot be written.
  std::optional<testing::FileSizeLimit> disk_full;
  const server::WorkerOptions worker{AGNX_WORKER_BINARY, 2, std::chrono::seconds(600), 0};
  server::JobContext context{*store, libraries, worker, dir.path() / "work", [&](const server::JobReport& r) {
                               if (r.progress.stage == "saving" && r.progress.done == 0) disk_full.emplace(4096);
                             },
                             nullptr};
  store::Job job;
  job.kind = server::kMatchingKind;
  job.run_id = run_id;
  const Status failed = server::run_matching_job(context, job);
  disk_full.reset();
  EXPECT_EQ(failed.code(), StatusCode::kResourceExhausted) << failed.to_string();
  EXPECT_NE(failed.message().find("artifact 'gs_results.json'"), std::string::npos) << failed.message();
  EXPECT_NE(failed.message().find(std::strerror(EFBIG)), std::string::npos) << failed.message();
  EXPECT_EQ(files_under(options.data_dir / "artifacts"), input_files) << "a partial result file stayed behind";
  EXPECT_FALSE(has_artifact(*store, run_id, server::kResultArtifact));
  EXPECT_EQ(store->get_matching(run_id).status().code(), StatusCode::kNotFound);

  // Space is back: the job runs again and stores its result.
  context.report = {};
  const Status succeeded = server::run_matching_job(context, job);
  ASSERT_TRUE(succeeded.ok()) << succeeded.to_string();
  EXPECT_TRUE(has_artifact(*store, run_id, server::kResultArtifact));
  EXPECT_TRUE(store->get_matching(run_id).ok());
}

TEST(ServerFaults, WritesThatDoNotFitAreRefusedAndTheServerRecoversWhenSpaceReturns) {
  testing::TempDir dir;
  const auto data = dir.path() / "data";
  auto server = testing::ServerProcess::start(AGNX_SERVER_BINARY, data);
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  const client::Client client = connect((*server)->address());
  const int64_t experiment = client.create_experiment("faults")->experiment_id();
  const std::string run_id = client.create_run(experiment, "r")->info().run_id();
  const std::string content(4 << 20, 'a');
  client::pb::LogBatchRequest big_batch;
  big_batch.set_run_id(run_id);
  for (int i = 0; i < 100; ++i) (*big_batch.mutable_params())[std::to_string(1000 + i)] = std::string(40 << 10, 'p');

  // The files may grow by 1 MiB from here: room for small writes, not for 4 MiB.
  ASSERT_TRUE(testing::set_file_size_limit((*server)->pid(), largest_database_file(data) + (1 << 20)));
  const auto upload = client.upload_artifact(run_id, "big.bin", client::UploadSource::memory(content, "big.bin"));
  EXPECT_EQ(upload.status().code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << upload.status().to_string();
  EXPECT_NE(upload.status().message().find("artifact 'big.bin'"), std::string::npos) << upload.status().message();
  EXPECT_NE(upload.status().message().find(std::strerror(EFBIG)), std::string::npos) << upload.status().message();
  EXPECT_EQ(files_under(data / "artifacts"), 0u) << "a partial artifact file stayed behind";
  EXPECT_TRUE(client.list_artifacts(run_id)->empty());
  const client::Status batch = client.log_batch(big_batch);
  EXPECT_EQ(batch.code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << batch.to_string();
  EXPECT_NE(batch.message().find("out of space"), std::string::npos) << batch.message();
  EXPECT_TRUE(client.get_run(run_id)->params().empty());
  EXPECT_TRUE(client.log_metric(run_id, "small", 1.0).ok()) << "a write that fits must still succeed";

  ASSERT_TRUE(testing::set_file_size_limit((*server)->pid(), RLIM_INFINITY));
  const auto uploaded = client.upload_artifact(run_id, "big.bin", client::UploadSource::memory(content, "big.bin"));
  EXPECT_TRUE(uploaded.ok()) << uploaded.status().to_string();
  const client::Status logged = client.log_batch(big_batch);
  EXPECT_TRUE(logged.ok()) << logged.to_string();

  // Nothing is torn: a restarted server has every acknowledged write.
  (*server)->kill_and_wait(SIGKILL);
  server = testing::ServerProcess::start(AGNX_SERVER_BINARY, data);
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  const client::Client again = connect((*server)->address());
  const auto run = again.get_run(run_id);
  ASSERT_TRUE(run.ok()) << run.status().to_string();
  EXPECT_EQ(run->params_size(), 100);
  EXPECT_EQ(run->metrics_size(), 1);
  std::string downloaded;
  ASSERT_TRUE(again.download_artifact(run_id, "big.bin", [&](std::string_view piece) { downloaded += piece; }).ok());
  EXPECT_EQ(downloaded, content);
}

}  // namespace
}  // namespace agnx
