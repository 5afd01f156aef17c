// agnx-server's Matching service end to end: a real LeNet5 matching job
// through gRPC equals core's in-process result and `agnx match --json`
// (both run core/pipeline.h); a server killed during a job finishes it after
// a restart with the same result, and a submission cut by a kill leaves one
// run per idempotency key; bad submissions get the right status
// naming the field; params keep their doubles exactly.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <charconv>
#include <fstream>
#include <thread>

#include "agnapprox/v1/agnx.grpc.pb.h"
#include "client/tests/subprocess.h"
#include "core/npy.h"
#include "tests/support/lenet_matching.h"
#include "tests/support/matching_client.h"
#include "tests/support/server_process.h"
#include "tests/support/shared_data.h"
#include "tests/support/temp_dir.h"

namespace agnx {
namespace {

namespace pb = ::agnapprox::v1;

using testing::in_process_json;
using testing::lenet_inputs;
using testing::lenet_inputs_without_test_data;
using testing::MatchingClient;
using testing::read_file;
using Inputs = testing::MatchingInputs;

pb::MatchingHeader lenet_header(uint64_t seed) {
  pb::MatchingHeader header;
  header.set_experiment("lenet");
  header.set_run_name("lambda-0.5");
  header.set_lambda(0.5);
  header.set_library("evoapprox");
  header.set_num_samples(128);
  header.set_seed(seed);
  return header;
}

std::vector<std::string> server_args(const std::filesystem::path& shared) {
  return {"--library-dir", "evoapprox=" + (shared / "evoapprox").string() + ",signed", "--threads-per-job", "2"};
}

TEST(ServerMatching, LenetJobEqualsCoreInProcess) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  testing::TempDir data;
  std::vector<std::string> args = server_args(shared);
  args.insert(args.end(), {"--workers", "2"});  // two jobs at once: results must not depend on it
  auto server = testing::ServerProcess::start(AGNX_SERVER_BINARY, data.path(), args);
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  MatchingClient client((*server)->address());
  pb::SubmitMatchingResponse submitted, twin;
  const grpc::Status status = client.submit(lenet_header(5), lenet_inputs(shared), &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // Watched from the start (the twin's submission check takes a while), so every long stage shows.
  std::vector<std::string> stages;
  pb::JobProgress last;
  std::thread watcher([&] { last = client.watch(submitted.job_id(), &stages); });
  const grpc::Status twin_status = client.submit(lenet_header(5), lenet_inputs(shared), &twin);
  watcher.join();
  ASSERT_TRUE(twin_status.ok()) << twin_status.error_message();
  ASSERT_EQ(last.state(), "SUCCEEDED") << last.message();
  EXPECT_DOUBLE_EQ(last.percent(), 100.0);
  for (const char* stage : {"scales", "features", "evaluation"}) {
    EXPECT_NE(std::find(stages.begin(), stages.end(), stage), stages.end()) << stage;
  }
  ASSERT_EQ(client.watch(twin.job_id()).state(), "SUCCEEDED");
  pb::MatchingResult result, twin_result;
  ASSERT_TRUE(client.result(submitted.run_id(), &result).ok());
  ASSERT_TRUE(client.result(twin.run_id(), &twin_result).ok());
  EXPECT_EQ(result.json(), in_process_json(shared, 5));
  EXPECT_EQ(twin_result.json(), result.json());
  EXPECT_EQ(result.info().layers_size(), 5);
  EXPECT_EQ(result.lambda(), 0.5);
  EXPECT_TRUE(result.info().has_accuracy());

  // The energy table lists the finished run, on its Pareto front.
  grpc::ClientContext context;
  pb::QueryEnergyRequest energy_request;
  energy_request.set_experiment("lenet");
  pb::QueryEnergyResponse energy;
  ASSERT_TRUE(client.stub().QueryEnergy(&context, energy_request, &energy).ok());
  ASSERT_EQ(energy.points_size(), 2);  // the two identical runs: both on the front
  EXPECT_TRUE(energy.points(0).pareto());
  EXPECT_TRUE(energy.points(1).pareto());
  EXPECT_DOUBLE_EQ(energy.points(0).relative_energy(), result.info().relative_energy_consumption());

  // Re-selection with a smaller tolerance from the stored predictions.
  grpc::ClientContext reselect_context;
  pb::ReselectRequest reselect;
  reselect.set_run_id(submitted.run_id());
  reselect.set_sigma_scale(1e-9);
  pb::MatchingResult tighter;
  ASSERT_TRUE(client.stub().Reselect(&reselect_context, reselect, &tighter).ok());
  for (const auto& layer : tighter.info().layers()) EXPECT_EQ(layer.multiplier_name(), "mul8s_1KV8") << layer.name();
}

TEST(ServerMatching, KilledServerFinishesTheJobAfterRestart) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  testing::TempDir data;
  pb::SubmitMatchingResponse submitted;
  {
    auto server = testing::ServerProcess::start(AGNX_SERVER_BINARY, data.path(), server_args(shared));
    ASSERT_TRUE(server.ok()) << server.status().to_string();
    MatchingClient client((*server)->address());
    ASSERT_TRUE(client.submit(lenet_header(9), lenet_inputs(shared), &submitted).ok());
    // Kill it while the job computes features.
    grpc::ClientContext context;
    pb::GetJobRequest request;
    request.set_job_id(submitted.job_id());
    auto reader = client.stub().WatchJob(&context, request);
    pb::JobProgress progress;
    while (reader->Read(&progress) && progress.stage() != "features" && !progress.final()) {
    }
    ASSERT_FALSE(progress.final()) << "the job ended before it could be interrupted";
    (*server)->kill_and_wait(SIGKILL);
  }
  auto restarted = testing::ServerProcess::start(AGNX_SERVER_BINARY, data.path(), server_args(shared));
  ASSERT_TRUE(restarted.ok()) << restarted.status().to_string();
  MatchingClient client((*restarted)->address());
  const pb::JobProgress last = client.watch(submitted.job_id());
  ASSERT_EQ(last.state(), "SUCCEEDED") << last.message();
  pb::MatchingResult result;
  ASSERT_TRUE(client.result(submitted.run_id(), &result).ok());
  EXPECT_EQ(result.json(), in_process_json(shared, 9));
  grpc::ClientContext context;
  pb::GetJobRequest request;
  request.set_job_id(submitted.job_id());
  pb::Job job;
  ASSERT_TRUE(client.stub().GetJob(&context, request, &job).ok());
  EXPECT_EQ(job.attempts(), 2);
}

// Every run of experiment `name`, deleted ones too.
std::vector<pb::Run> runs_of(const std::shared_ptr<grpc::Channel>& channel, const std::string& name) {
  auto tracking = pb::Tracking::NewStub(channel);
  grpc::ClientContext by_name, search_context;
  pb::GetExperimentByNameRequest request;
  request.set_name(name);
  pb::Experiment experiment;
  if (!tracking->GetExperimentByName(&by_name, request, &experiment).ok()) return {};
  pb::SearchRunsRequest search;
  search.add_experiment_ids(experiment.experiment_id());
  search.set_view(pb::ALL);
  pb::SearchRunsResponse found;
  EXPECT_TRUE(tracking->SearchRuns(&search_context, search, &found).ok());
  return {found.runs().begin(), found.runs().end()};
}

// A server SIGKILLed at points spread over a submission (while the inputs
// stream in, while the worker checks them, around the store write), then a
// retry with the same key on the restarted server: each key ends with exactly
// one run, holding its job and its inputs.
TEST(ServerMatching, ASubmissionKilledMidwayLeavesOneRunPerKey) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  testing::TempDir data;
  const Inputs inputs = lenet_inputs_without_test_data(shared);  // no evaluation: the jobs themselves are not needed
  const int delays_ms[] = {0, 300, 700, 1200};
  for (std::size_t i = 0; i < std::size(delays_ms); ++i) {
    pb::MatchingHeader header = lenet_header(1);
    header.set_idempotency_key("killed-" + std::to_string(i));
    {
      auto server = testing::ServerProcess::start(AGNX_SERVER_BINARY, data.path(), server_args(shared));
      ASSERT_TRUE(server.ok()) << server.status().to_string();
      std::thread submitter([&, address = (*server)->address()] {
        MatchingClient client(address);
        pb::SubmitMatchingResponse ignored;
        (void)client.submit(header, inputs, &ignored);  // may succeed or be cut off
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(delays_ms[i]));
      (*server)->kill_and_wait(SIGKILL);
      submitter.join();
    }
    auto restarted = testing::ServerProcess::start(AGNX_SERVER_BINARY, data.path(), server_args(shared));
    ASSERT_TRUE(restarted.ok()) << restarted.status().to_string();
    MatchingClient client((*restarted)->address());
    pb::SubmitMatchingResponse retried;
    ASSERT_TRUE(client.submit(header, inputs, &retried).ok()) << "key " << header.idempotency_key();
    const std::vector<pb::Run> runs = runs_of(client.channel(), "lenet");
    ASSERT_EQ(runs.size(), i + 1) << "one run per key after a kill at " << delays_ms[i] << " ms";
    grpc::ClientContext context;
    pb::GetJobRequest request;
    request.set_job_id(retried.job_id());
    pb::Job job;
    ASSERT_TRUE(client.stub().GetJob(&context, request, &job).ok());
    EXPECT_EQ(job.run_id(), retried.run_id());
    for (const pb::Run& run : runs) {
      EXPECT_TRUE(run.tags().contains("agnx.job_id")) << run.info().run_id() << " lost its job";
    }
    (*restarted)->kill_and_wait(SIGKILL);  // its job is not needed
  }
}

// The stored gs_results.json of a run, downloaded through Tracking.
std::string gs_results(const std::shared_ptr<grpc::Channel>& channel, const std::string& run_id) {
  auto tracking = pb::Tracking::NewStub(channel);
  grpc::ClientContext context;
  pb::DownloadArtifactRequest request;
  request.set_run_id(run_id);
  request.set_path("gs_results.json");
  auto reader = tracking->DownloadArtifact(&context, request);
  std::string bytes;
  for (pb::Chunk chunk; reader->Read(&chunk);) bytes += chunk.data();
  EXPECT_TRUE(reader->Finish().ok());
  return bytes;
}

// Every step of the pipeline in play (a sigma given for one layer, the stdev
// buffers for the others, a pinned layer, observed errors, test accuracies):
// `agnx match --json` prints byte for byte the result the server stored.
TEST(ServerMatching, CliMatchJsonEqualsTheServersStoredResult) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  testing::TempDir data;
  auto server = testing::ServerProcess::start(AGNX_SERVER_BINARY, data.path(), server_args(shared));
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  MatchingClient client((*server)->address());
  pb::MatchingHeader header = lenet_header(11);
  (*header.mutable_sigma())["conv2.0"] = 0.05;
  header.add_pin_exact("linear3");
  pb::SubmitMatchingResponse submitted;
  const grpc::Status status = client.submit(header, lenet_inputs(shared), &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const pb::JobProgress last = client.watch(submitted.job_id());
  ASSERT_EQ(last.state(), "SUCCEEDED") << last.message();
  pb::MatchingResult result;
  ASSERT_TRUE(client.result(submitted.run_id(), &result).ok());

  const auto models = shared / "models";
  const testing::ProcessResult cli = testing::run_process(
      {AGNX_BINARY, "match", "--model", (models / "lenet5_fmnist_stdev.pt").string(), "--calib",
       (models / "lenet5_fmnist_calib.npy").string(), "--library-dir", (shared / "evoapprox").string(),
       "--signedness", "signed", "--sigma", "conv2.0=0.05", "--pin-exact", "linear3", "--test-x",
       (models / "lenet5_fmnist_test_x.npy").string(), "--test-y", (models / "lenet5_fmnist_test_y.npy").string(),
       "--samples", "128", "--seed", "11", "--threads", "2", "--json"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_EQ(cli.out, result.json() + "\n");
  EXPECT_EQ(cli.out, gs_results(client.channel(), submitted.run_id()) + "\n");
  // The request was in play: the pinned layer is exact, the given sigma recorded.
  ASSERT_EQ(result.info().layers_size(), 5);
  EXPECT_EQ(result.info().layers(4).multiplier_name(), "mul8s_1KV8");
  EXPECT_DOUBLE_EQ(result.info().layers(1).sigma(), 0.05);
  EXPECT_TRUE(result.info().has_accuracy());
}

// std::to_string wrote lambda 1e-7 as "0.000000": params are the shortest
// text that parses back to the same double.
TEST(ServerMatching, ParamsParseBackToTheSubmittedDoubles) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  testing::TempDir data;
  auto server = testing::ServerProcess::start(AGNX_SERVER_BINARY, data.path());
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  MatchingClient client((*server)->address());
  pb::MatchingHeader header = lenet_header(3);
  header.set_library("builtin");
  header.set_lambda(1e-7);
  (*header.mutable_sigma())["conv1.0"] = 0.8;
  pb::SubmitMatchingResponse submitted;
  const grpc::Status status = client.submit(header, lenet_inputs(shared), &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();

  auto tracking = pb::Tracking::NewStub(client.channel());
  grpc::ClientContext context;
  pb::GetRunRequest request;
  request.set_run_id(submitted.run_id());
  pb::Run run;
  ASSERT_TRUE(tracking->GetRun(&context, request, &run).ok());
  const auto parsed = [&](const std::string& key) {
    const std::string& text = run.params().at(key);
    double value = std::nan("");
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    EXPECT_TRUE(error == std::errc() && end == text.data() + text.size()) << key << " = " << text;
    return value;
  };
  EXPECT_EQ(parsed("lambda"), 1e-7) << run.params().at("lambda");
  EXPECT_EQ(parsed("sigma.conv1.0"), 0.8) << run.params().at("sigma.conv1.0");
  EXPECT_EQ(run.params().at("lambda"), "1e-07");
  EXPECT_EQ(run.params().at("sigma.conv1.0"), "0.8");
  EXPECT_EQ(run.params().at("num_samples"), "128");
  EXPECT_EQ(run.params().at("seed"), "3");
  grpc::ClientContext cancel_context;  // the job itself is not needed
  pb::GetJobRequest job;
  job.set_job_id(submitted.job_id());
  pb::Job cancelled;
  EXPECT_TRUE(client.stub().CancelJob(&cancel_context, job, &cancelled).ok());
}

TEST(ServerMatching, BadSubmissionsNameTheField) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  testing::TempDir data;
  auto server =
      testing::ServerProcess::start(AGNX_SERVER_BINARY, data.path(), {"--max-upload-mb", "4"});
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  MatchingClient client((*server)->address());
  const Inputs inputs = lenet_inputs_without_test_data(shared);
  auto expect = [&](const pb::MatchingHeader& header, const Inputs& in, grpc::StatusCode code, const std::string& text) {
    pb::SubmitMatchingResponse reply;
    const grpc::Status status = client.submit(header, in, &reply);
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    EXPECT_NE(status.error_message().find(text), std::string::npos) << status.error_message();
  };
  pb::MatchingHeader header = lenet_header(1);
  header.set_library("builtin");

  Inputs truncated = inputs;
  truncated.model.resize(truncated.model.size() / 2);
  expect(header, truncated, grpc::StatusCode::INVALID_ARGUMENT, "model:");

  Inputs wrong_shape = inputs;
  std::vector<float> values(4 * 3 * 28 * 28, 0.1f);
  wrong_shape.calibration = serialize_npy(NpyArray::from_double(NpyDtype::kFloat32, {4, 3, 28, 28},
                                                                std::vector<double>(values.begin(), values.end())));
  expect(header, wrong_shape, grpc::StatusCode::INVALID_ARGUMENT, "calibration:");

  pb::MatchingHeader unknown_library = header;
  unknown_library.set_library("nope");
  expect(unknown_library, inputs, grpc::StatusCode::NOT_FOUND, "header.library");

  pb::MatchingHeader unknown_layer = header;
  (*unknown_layer.mutable_sigma())["conv9"] = 0.1;
  expect(unknown_layer, inputs, grpc::StatusCode::NOT_FOUND, "header.sigma: the model has no layer conv9");

  pb::MatchingHeader unknown_pin = header;
  unknown_pin.add_pin_exact("linear9");
  expect(unknown_pin, inputs, grpc::StatusCode::NOT_FOUND, "header.pin_exact: the model has no layer linear9");

  pb::MatchingHeader nan_sigma = header;
  (*nan_sigma.mutable_sigma())["conv1.0"] = std::nan("");
  expect(nan_sigma, inputs, grpc::StatusCode::INVALID_ARGUMENT, "header.sigma[conv1.0]");

  Inputs too_big = inputs;
  too_big.test_x = read_file(shared / "models/lenet5_fmnist_test_x.npy");  // 6 MB more: over 4 MB
  too_big.test_y = read_file(shared / "models/lenet5_fmnist_test_y.npy");
  expect(header, too_big, grpc::StatusCode::RESOURCE_EXHAUSTED, "limit");

  Inputs mismatched = lenet_inputs(shared);
  mismatched.test_x = inputs.calibration;  // 256 inputs, 2000 labels
  expect(header, mismatched, grpc::StatusCode::INVALID_ARGUMENT, "test_y: 2000 labels for 256 test inputs");

  grpc::ClientContext context;
  pb::GetJobRequest job;
  job.set_job_id(12345);
  pb::Job reply;
  EXPECT_EQ(client.stub().GetJob(&context, job, &reply).error_code(), grpc::StatusCode::NOT_FOUND);
  pb::MatchingResult result;
  EXPECT_EQ(client.result("0123456789abcdef0123456789abcdef", &result).error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace agnx
