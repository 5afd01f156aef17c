// agnx-server's Tracking and Multipliers services, health checking and
// reflection, driven through real gRPC channels against the real binary.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <set>

#include "agnapprox/v1/agnx.grpc.pb.h"
#include "client/tests/subprocess.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/support/evoapprox_subset.h"
#include "tests/support/server_process.h"
#include "tests/support/shared_data.h"
#include "tests/support/temp_dir.h"

namespace agnx {
namespace {

namespace pb = ::agnapprox::v1;
using Stub = pb::Tracking::Stub;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = testing::ServerProcess::start(AGNX_SERVER_BINARY, data_.path() / "data", {"--max-upload-mb", "1"});
    ASSERT_TRUE(server.ok()) << server.status().to_string();
    server_ = std::move(*server);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    tracking_ = pb::Tracking::NewStub(channel_);
    multipliers_ = pb::Multipliers::NewStub(channel_);
  }

  pb::Experiment create_experiment(const std::string& name) {
    grpc::ClientContext context;
    pb::CreateExperimentRequest request;
    request.set_name(name);
    pb::Experiment experiment;
    EXPECT_TRUE(tracking_->CreateExperiment(&context, request, &experiment).ok());
    return experiment;
  }

  pb::Run create_run(int64_t experiment_id, const std::string& name) {
    grpc::ClientContext context;
    pb::CreateRunRequest request;
    request.set_experiment_id(experiment_id);
    request.set_run_name(name);
    pb::Run run;
    EXPECT_TRUE(tracking_->CreateRun(&context, request, &run).ok());
    return run;
  }

  // Calls the unary Tracking method `rpc`, e.g. &Stub::GetRun.
  template <typename Rpc, typename Request, typename Reply>
  grpc::Status call(Rpc rpc, const Request& request, Reply* reply) {
    grpc::ClientContext context;
    return (tracking_.get()->*rpc)(&context, request, reply);
  }

  testing::TempDir data_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Tracking::Stub> tracking_;
  std::unique_ptr<pb::Multipliers::Stub> multipliers_;
};

TEST_F(ServerTest, HealthCheckingAnswersServing) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(ServerTest, ReflectionListsTheServices) {
  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(channel_);
  grpc::ClientContext context;
  auto stream = reflection->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::set<std::string> names;
  for (const auto& service : response.list_services_response().service()) names.insert(service.name());
  for (const char* expected : {"agnapprox.v1.Tracking", "agnapprox.v1.Matching", "agnapprox.v1.Multipliers",
                               "grpc.health.v1.Health"}) {
    EXPECT_TRUE(names.contains(expected)) << expected;
  }
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ServerTest, ExperimentsAndRuns) {
  const pb::Experiment experiment = create_experiment("lenet");
  EXPECT_EQ(experiment.name(), "lenet");
  EXPECT_EQ(experiment.lifecycle(), "active");
  {
    grpc::ClientContext context;
    pb::CreateExperimentRequest request;
    request.set_name("lenet");
    pb::Experiment duplicate;
    const grpc::Status status = tracking_->CreateExperiment(&context, request, &duplicate);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS) << status.error_message();
  }
  const pb::Run run = create_run(experiment.experiment_id(), "first");
  EXPECT_EQ(run.info().status(), "RUNNING");
  EXPECT_EQ(run.info().run_name(), "first");
  {
    grpc::ClientContext context;
    pb::LogBatchRequest batch;
    batch.set_run_id(run.info().run_id());
    for (int step = 0; step < 3; ++step) {
      pb::Metric* m = batch.add_metrics();
      m->set_key("loss");
      m->set_value(1.0 / (step + 1));
      m->set_step(step);
    }
    (*batch.mutable_params())["lambda"] = "0.5";
    (*batch.mutable_tags())["team"] = "hw";
    pb::LogResponse response;
    ASSERT_TRUE(tracking_->LogBatch(&context, batch, &response).ok());
  }
  {
    grpc::ClientContext context;
    pb::LogParamRequest param;
    param.set_run_id(run.info().run_id());
    param.set_key("lambda");
    param.set_value("0.7");
    pb::LogResponse response;
    const grpc::Status status = tracking_->LogParam(&context, param, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "params are immutable";
  }
  {
    grpc::ClientContext context;
    pb::GetMetricHistoryRequest request;
    request.set_run_id(run.info().run_id());
    request.set_key("loss");
    pb::GetMetricHistoryResponse history;
    ASSERT_TRUE(tracking_->GetMetricHistory(&context, request, &history).ok());
    ASSERT_EQ(history.metrics_size(), 3);
    EXPECT_DOUBLE_EQ(history.metrics(2).value(), 1.0 / 3);
  }
  {
    grpc::ClientContext context;
    pb::UpdateRunRequest request;
    request.set_run_id(run.info().run_id());
    request.set_status("FINISHED");
    pb::Run updated;
    ASSERT_TRUE(tracking_->UpdateRun(&context, request, &updated).ok());
    EXPECT_EQ(updated.info().status(), "FINISHED");
    EXPECT_TRUE(updated.info().has_end_time());
    EXPECT_EQ(updated.params().at("lambda"), "0.5");
  }
  create_run(experiment.experiment_id(), "second");
  {
    grpc::ClientContext context;
    pb::SearchRunsRequest search;
    search.add_experiment_ids(experiment.experiment_id());
    search.set_filter("params.lambda = '0.5' AND attributes.status = 'FINISHED'");
    pb::SearchRunsResponse found;
    ASSERT_TRUE(tracking_->SearchRuns(&context, search, &found).ok());
    ASSERT_EQ(found.runs_size(), 1);
    EXPECT_EQ(found.runs(0).info().run_id(), run.info().run_id());
  }
  {
    grpc::ClientContext context;
    pb::SearchRunsRequest search;
    search.add_experiment_ids(experiment.experiment_id());
    search.set_filter("params.lambda ~ 3");
    pb::SearchRunsResponse found;
    const grpc::Status status = tracking_->SearchRuns(&context, search, &found);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("position"), std::string::npos) << status.error_message();
  }
}

// The runs a search finds by default, and the lifecycle each call shows.
TEST_F(ServerTest, DeletedRunsAndExperimentsLeaveDefaultViewsUntilRestored) {
  const pb::Experiment experiment = create_experiment("lifecycle");
  pb::GetExperimentRequest experiment_id;
  experiment_id.set_experiment_id(experiment.experiment_id());
  pb::Experiment found;
  ASSERT_TRUE(call(&Stub::GetExperiment, experiment_id, &found).ok());
  EXPECT_EQ(found.name(), "lifecycle");
  EXPECT_EQ(found.lifecycle(), "active");
  EXPECT_EQ(found.creation_time(), experiment.creation_time());

  const std::string kept = create_run(experiment.experiment_id(), "kept").info().run_id();
  const std::string deleted = create_run(experiment.experiment_id(), "deleted").info().run_id();
  const auto run_names = [&](pb::ViewType view) {
    pb::SearchRunsRequest search;
    search.add_experiment_ids(experiment.experiment_id());
    search.set_view(view);
    pb::SearchRunsResponse found_runs;
    EXPECT_TRUE(call(&Stub::SearchRuns, search, &found_runs).ok());
    std::set<std::string> names;
    for (const auto& run : found_runs.runs()) names.insert(run.info().run_name());
    return names;
  };
  pb::GetRunRequest run_id;
  run_id.set_run_id(deleted);
  pb::Run run;
  ASSERT_TRUE(call(&Stub::DeleteRun, run_id, &run).ok());
  EXPECT_EQ(run.info().lifecycle(), "deleted");
  EXPECT_EQ(run_names(pb::ACTIVE_ONLY), std::set<std::string>{"kept"});
  EXPECT_EQ(run_names(pb::DELETED_ONLY), std::set<std::string>{"deleted"});
  EXPECT_EQ(run_names(pb::ALL), (std::set<std::string>{"kept", "deleted"}));
  ASSERT_TRUE(call(&Stub::GetRun, run_id, &run).ok());  // still readable by id
  EXPECT_EQ(run.info().lifecycle(), "deleted");
  ASSERT_TRUE(call(&Stub::RestoreRun, run_id, &run).ok());
  EXPECT_EQ(run.info().lifecycle(), "active");
  EXPECT_EQ(run_names(pb::ACTIVE_ONLY), (std::set<std::string>{"kept", "deleted"}));

  // Deleting the experiment deletes its runs; restoring it brings both back.
  const auto experiment_names = [&](pb::ViewType view) {
    pb::ListExperimentsRequest list;
    list.set_view(view);
    pb::ListExperimentsResponse listed;
    EXPECT_TRUE(call(&Stub::ListExperiments, list, &listed).ok());
    std::set<std::string> names;
    for (const auto& e : listed.experiments()) names.insert(e.name());
    return names;
  };
  ASSERT_TRUE(call(&Stub::DeleteExperiment, experiment_id, &found).ok());
  EXPECT_EQ(found.lifecycle(), "deleted");
  EXPECT_FALSE(experiment_names(pb::ACTIVE_ONLY).contains("lifecycle"));
  EXPECT_TRUE(experiment_names(pb::DELETED_ONLY).contains("lifecycle"));
  run_id.set_run_id(kept);
  ASSERT_TRUE(call(&Stub::GetRun, run_id, &run).ok());
  EXPECT_EQ(run.info().lifecycle(), "deleted");
  EXPECT_TRUE(run_names(pb::ACTIVE_ONLY).empty());
  pb::CreateRunRequest new_run;
  new_run.set_experiment_id(experiment.experiment_id());
  const grpc::Status refused = call(&Stub::CreateRun, new_run, &run);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  ASSERT_TRUE(call(&Stub::RestoreExperiment, experiment_id, &found).ok());
  EXPECT_EQ(found.lifecycle(), "active");
  EXPECT_TRUE(experiment_names(pb::ACTIVE_ONLY).contains("lifecycle"));
  EXPECT_EQ(run_names(pb::ACTIVE_ONLY), (std::set<std::string>{"kept", "deleted"}));

  run_id.set_run_id("0123456789abcdef0123456789abcdef");
  EXPECT_EQ(call(&Stub::DeleteRun, run_id, &run).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(call(&Stub::RestoreRun, run_id, &run).error_code(), grpc::StatusCode::NOT_FOUND);
  experiment_id.set_experiment_id(999);
  EXPECT_EQ(call(&Stub::DeleteExperiment, experiment_id, &found).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(call(&Stub::RestoreExperiment, experiment_id, &found).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, RetriedWritesWithAnIdempotencyKeyHappenOnce) {

  pb::CreateExperimentRequest new_experiment;
  new_experiment.set_name("retried");
  new_experiment.set_idempotency_key("e-1");
  pb::Experiment experiment, experiment_again;
  ASSERT_TRUE(call(&Stub::CreateExperiment, new_experiment, &experiment).ok());
  ASSERT_TRUE(call(&Stub::CreateExperiment, new_experiment, &experiment_again).ok());
  EXPECT_EQ(experiment_again.experiment_id(), experiment.experiment_id());

  pb::CreateRunRequest new_run;
  new_run.set_experiment_id(experiment.experiment_id());
  new_run.set_run_name("once");
  new_run.set_idempotency_key("r-1");
  pb::Run run, run_again;
  ASSERT_TRUE(call(&Stub::CreateRun, new_run, &run).ok());
  ASSERT_TRUE(call(&Stub::CreateRun, new_run, &run_again).ok());
  EXPECT_EQ(run_again.info().run_id(), run.info().run_id());

  pb::LogResponse logged;
  pb::LogMetricRequest metric;
  metric.set_run_id(run.info().run_id());
  metric.mutable_metric()->set_key("loss");
  metric.set_idempotency_key("m-1");
  pb::LogBatchRequest batch;
  batch.set_run_id(run.info().run_id());
  batch.add_metrics()->set_key("loss");
  batch.set_idempotency_key("b-1");
  for (int attempt = 0; attempt < 3; ++attempt) {
    ASSERT_TRUE(call(&Stub::LogMetric, metric, &logged).ok());
    ASSERT_TRUE(call(&Stub::LogBatch, batch, &logged).ok());
  }
  pb::GetMetricHistoryRequest history_request;
  history_request.set_run_id(run.info().run_id());
  history_request.set_key("loss");
  pb::GetMetricHistoryResponse history;
  ASSERT_TRUE(call(&Stub::GetMetricHistory, history_request, &history).ok());
  EXPECT_EQ(history.metrics_size(), 2);

  pb::SearchRunsRequest search;
  search.add_experiment_ids(experiment.experiment_id());
  pb::SearchRunsResponse runs;
  ASSERT_TRUE(call(&Stub::SearchRuns, search, &runs).ok());
  EXPECT_EQ(runs.runs_size(), 1);

  new_run.set_idempotency_key("b-1");  // a batch's key on another kind of write
  const grpc::Status reused = call(&Stub::CreateRun, new_run, &run_again);
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << reused.error_message();
  EXPECT_NE(reused.error_message().find("'b-1' was used for log_batch"), std::string::npos) << reused.error_message();
  new_run.set_idempotency_key("no spaces allowed");
  const grpc::Status malformed = call(&Stub::CreateRun, new_run, &run_again);
  EXPECT_EQ(malformed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(malformed.error_message().find("idempotency key"), std::string::npos) << malformed.error_message();
}

TEST_F(ServerTest, UnknownIdsAreNotFound) {
  grpc::ClientContext c1, c2, c3;
  pb::GetRunRequest run;
  run.set_run_id("0123456789abcdef0123456789abcdef");
  pb::Run reply;
  const grpc::Status missing_run = tracking_->GetRun(&c1, run, &reply);
  EXPECT_EQ(missing_run.error_code(), grpc::StatusCode::NOT_FOUND);
  pb::GetExperimentRequest experiment;
  experiment.set_experiment_id(999);
  pb::Experiment e;
  EXPECT_EQ(tracking_->GetExperiment(&c2, experiment, &e).error_code(), grpc::StatusCode::NOT_FOUND);
  pb::GetMultiplierRequest multiplier;
  multiplier.set_library("builtin");
  multiplier.set_name("no_such_multiplier");
  pb::MultiplierDetail detail;
  const grpc::Status status = multipliers_->GetMultiplier(&c3, multiplier, &detail);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("no_such_multiplier"), std::string::npos);
}

TEST_F(ServerTest, ArtifactsUploadAndDownloadInChunks) {
  const pb::Run run = create_run(create_experiment("files").experiment_id(), "r");
  std::string content;
  for (int i = 0; i < 300000; ++i) content.push_back(static_cast<char>(i * 7));
  {
    grpc::ClientContext context;
    pb::ArtifactInfo info;
    auto writer = tracking_->UploadArtifact(&context, &info);
    pb::UploadArtifactRequest message;
    message.mutable_header()->set_run_id(run.info().run_id());
    message.mutable_header()->set_path("plots/data.bin");
    ASSERT_TRUE(writer->Write(message));
    for (std::size_t at = 0; at < content.size(); at += 65536) {
      message.set_data(content.substr(at, 65536));
      ASSERT_TRUE(writer->Write(message));
    }
    writer->WritesDone();
    ASSERT_TRUE(writer->Finish().ok());
    EXPECT_EQ(info.size(), static_cast<int64_t>(content.size()));
    EXPECT_EQ(info.sha256().size(), 64u);
  }
  {
    grpc::ClientContext context;
    pb::DownloadArtifactRequest request;
    request.set_run_id(run.info().run_id());
    request.set_path("plots/data.bin");
    auto reader = tracking_->DownloadArtifact(&context, request);
    std::string downloaded;
    pb::Chunk chunk;
    while (reader->Read(&chunk)) downloaded += chunk.data();
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(downloaded, content);
  }
  {
    grpc::ClientContext context;
    pb::GetRunRequest request;
    request.set_run_id(run.info().run_id());
    pb::ListArtifactsResponse listed;
    ASSERT_TRUE(tracking_->ListArtifacts(&context, request, &listed).ok());
    ASSERT_EQ(listed.artifacts_size(), 1);
    EXPECT_EQ(listed.artifacts(0).path(), "plots/data.bin");
    EXPECT_EQ(listed.artifacts(0).size(), static_cast<int64_t>(content.size()));
    EXPECT_EQ(listed.artifacts(0).sha256().size(), 64u);
  }
  {
    grpc::ClientContext context;
    pb::DownloadArtifactRequest request;
    request.set_run_id(run.info().run_id());
    request.set_path("plots/missing.bin");
    auto reader = tracking_->DownloadArtifact(&context, request);
    pb::Chunk chunk;
    EXPECT_FALSE(reader->Read(&chunk));
    const grpc::Status status = reader->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
    EXPECT_NE(status.error_message().find("plots/missing.bin"), std::string::npos) << status.error_message();
  }
  {
    grpc::ClientContext context;
    pb::ArtifactInfo info;
    auto writer = tracking_->UploadArtifact(&context, &info);
    pb::UploadArtifactRequest message;
    message.mutable_header()->set_run_id(run.info().run_id());
    message.mutable_header()->set_path("../escape");
    writer->Write(message);
    writer->WritesDone();
    EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext context;
    pb::ArtifactInfo info;
    auto writer = tracking_->UploadArtifact(&context, &info);
    pb::UploadArtifactRequest message;
    message.mutable_header()->set_run_id(run.info().run_id());
    message.mutable_header()->set_path("big.bin");
    writer->Write(message);
    message.set_data(std::string(600000, 'x'));
    writer->Write(message);
    writer->Write(message);  // 1.2 MB > --max-upload-mb 1
    writer->WritesDone();
    const grpc::Status status = writer->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  }
}

TEST_F(ServerTest, MultiplierLibraries) {
  grpc::ClientContext c1;
  pb::ListLibrariesResponse libraries;
  ASSERT_TRUE(multipliers_->ListLibraries(&c1, {}, &libraries).ok());
  ASSERT_GE(libraries.libraries_size(), 1);
  EXPECT_EQ(libraries.libraries(0).name(), "builtin");
  EXPECT_EQ(libraries.libraries(0).metric(), "cells");
  EXPECT_GE(libraries.libraries(0).size(), 60u);

  grpc::ClientContext c2;
  pb::GetMultiplierRequest request;
  request.set_library("builtin");
  request.set_name("exact");
  pb::MultiplierDetail exact;
  ASSERT_TRUE(multipliers_->GetMultiplier(&c2, request, &exact).ok());
  EXPECT_EQ(exact.characterization().mae(), 0.0);
  EXPECT_GT(exact.summary().metric(), 0.0);
}

TEST_F(ServerTest, ImportsALibrary) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  pb::Library library;
  const grpc::Status status = testing::import_library(
      *multipliers_, "two_evo", testing::evoapprox_subset(shared, {"mul8s_1KV8", "mul8s_1L2D"}), &library);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(library.name(), "two_evo");
  EXPECT_EQ(library.size(), 2u);
  EXPECT_EQ(library.metric(), "PDK45_PWR");

  pb::Library duplicate;
  const grpc::Status bad = testing::import_library(
      *multipliers_, "bad", {{"metrics.csv", "name,signed,PDK45_PWR\nm1,1,0.1\n"}, {"m1.bin", "short"}}, &duplicate);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("m1.bin"), std::string::npos) << bad.error_message();
}

}  // namespace
}  // namespace agnx

namespace agnx {
namespace {

TEST(ServerMaintenance, MigrateBackupAndGcSubcommands) {
  testing::TempDir dir;
  const std::string data = (dir.path() / "data").string();
  const auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), AGNX_SERVER_BINARY);
    args.insert(args.end(), {"--data-dir", data});
    return testing::run_process(args);
  };
  const auto pending = run({"migrate", "--dry-run"});
  EXPECT_EQ(pending.exit_code, 0) << pending.err;
  EXPECT_NE(pending.out.find("pending: 6 migration(s)"), std::string::npos) << pending.out;
  EXPECT_NE(pending.out.find("0006_job_leases"), std::string::npos);
  EXPECT_NE(run({"migrate"}).out.find("applied 6 migration(s)"), std::string::npos);
  EXPECT_NE(run({"migrate", "--dry-run"}).out.find("pending: 0 migration(s)"), std::string::npos);
  const std::string backup = (dir.path() / "copy.db").string();
  EXPECT_EQ(run({"backup", backup}).exit_code, 0);
  EXPECT_GT(std::filesystem::file_size(backup), 0u);
  EXPECT_NE(run({"gc"}).out.find("removed 0 artifact file(s)"), std::string::npos);
  EXPECT_EQ(testing::run_process({AGNX_SERVER_BINARY, "--no-such-flag"}).exit_code, 1);
}

}  // namespace
}  // namespace agnx
