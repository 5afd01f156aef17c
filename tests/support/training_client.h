// A small client of the Training service for integration tests: streamed
// training submissions, and the runs, metrics, artifacts and sweeps they
// leave in Tracking; LeNet5's training files from ../shared.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agnapprox/v1/agnx.grpc.pb.h"
#include "tests/support/matching_client.h"

namespace agnx::testing {

// The files of a training submission; any may be empty (a retrain sends no
// model or calibration, a submission without test data evaluates nothing).
struct TrainingInputs {
  std::string model, train_x, train_y, calibration, test_x, test_y;
};

// LeNet5 on Fashion-MNIST from `shared`/models (`shared` = shared_dir()):
// `model`, the 2,000 labelled test images as training data and again as
// test data (small data), and the calibration images.
inline TrainingInputs lenet_training(const std::filesystem::path& shared,
                                     const std::string& model = "lenet5_fmnist.pt") {
  const auto models = shared / "models";
  return {read_file(models / model),
          read_file(models / "lenet5_fmnist_test_x.npy"),
          read_file(models / "lenet5_fmnist_test_y.npy"),
          read_file(models / "lenet5_fmnist_calib.npy"),
          read_file(models / "lenet5_fmnist_test_x.npy"),
          read_file(models / "lenet5_fmnist_test_y.npy")};
}

// Training and Tracking calls on one channel; matching() follows jobs. The
// reading calls record a failed call as a test failure and return nothing.
class TrainingClient {
 public:
  explicit TrainingClient(const std::string& address)
      : matching_(address), training_(pb::Training::NewStub(matching_.channel())),
        tracking_(pb::Tracking::NewStub(matching_.channel())) {}

  // Streams `header` and the inputs in 1 MiB chunks.
  grpc::Status submit(const pb::TrainingHeader& header, const TrainingInputs& inputs,
                      pb::SubmitMatchingResponse* reply) {
    grpc::ClientContext context;
    auto writer = training_->SubmitTraining(&context, reply);
    pb::SubmitTrainingRequest message;
    *message.mutable_header() = header;
    writer->Write(message);
    using Setter = void (pb::SubmitTrainingRequest::*)(const std::string&);
    const std::pair<Setter, const std::string*> parts[] = {
        {&pb::SubmitTrainingRequest::set_model, &inputs.model},
        {&pb::SubmitTrainingRequest::set_train_x, &inputs.train_x},
        {&pb::SubmitTrainingRequest::set_train_y, &inputs.train_y},
        {&pb::SubmitTrainingRequest::set_calibration, &inputs.calibration},
        {&pb::SubmitTrainingRequest::set_test_x, &inputs.test_x},
        {&pb::SubmitTrainingRequest::set_test_y, &inputs.test_y}};
    for (const auto& [setter, content] : parts) {
      for (std::size_t at = 0; at < content->size(); at += 1 << 20) {
        (message.*setter)(content->substr(at, 1 << 20));
        if (!writer->Write(message)) break;
      }
    }
    writer->WritesDone();
    return writer->Finish();
  }

  pb::Run run(const std::string& run_id) {
    grpc::ClientContext context;
    pb::GetRunRequest request;
    request.set_run_id(run_id);
    pb::Run run;
    EXPECT_TRUE(tracking_->GetRun(&context, request, &run).ok());
    return run;
  }

  // The bytes of artifact `path` of the run.
  std::string artifact(const std::string& run_id, const std::string& path) {
    grpc::ClientContext context;
    pb::DownloadArtifactRequest request;
    request.set_run_id(run_id);
    request.set_path(path);
    auto reader = tracking_->DownloadArtifact(&context, request);
    std::string bytes;
    for (pb::Chunk chunk; reader->Read(&chunk);) bytes += chunk.data();
    EXPECT_TRUE(reader->Finish().ok()) << path;
    return bytes;
  }

  // Every logged value of metric `key` of the run.
  std::vector<pb::Metric> history(const std::string& run_id, const std::string& key) {
    grpc::ClientContext context;
    pb::GetMetricHistoryRequest request;
    request.set_run_id(run_id);
    request.set_key(key);
    pb::GetMetricHistoryResponse response;
    EXPECT_TRUE(tracking_->GetMetricHistory(&context, request, &response).ok());
    return {response.metrics().begin(), response.metrics().end()};
  }

  // The runs of `experiment`; none if it does not exist.
  std::vector<pb::Run> runs(const std::string& experiment) {
    grpc::ClientContext by_name;
    pb::GetExperimentByNameRequest name;
    name.set_name(experiment);
    pb::Experiment found;
    if (!tracking_->GetExperimentByName(&by_name, name, &found).ok()) return {};
    grpc::ClientContext context;
    pb::SearchRunsRequest request;
    request.add_experiment_ids(found.experiment_id());
    pb::SearchRunsResponse response;
    EXPECT_TRUE(tracking_->SearchRuns(&context, request, &response).ok());
    return {response.runs().begin(), response.runs().end()};
  }

  // The sweep of sweep run `run_id`: its points and front.
  pb::Sweep sweep(const std::string& run_id) {
    grpc::ClientContext context;
    pb::GetSweepRequest request;
    request.set_run_id(run_id);
    pb::Sweep sweep;
    EXPECT_TRUE(training_->GetSweep(&context, request, &sweep).ok());
    return sweep;
  }

  MatchingClient& matching() { return matching_; }

 private:
  MatchingClient matching_;
  std::unique_ptr<pb::Training::Stub> training_;
  std::unique_ptr<pb::Tracking::Stub> tracking_;
};

}  // namespace agnx::testing
