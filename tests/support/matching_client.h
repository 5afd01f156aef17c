// A small client of the Matching service for integration tests: streamed
// submissions, following a job to its end, and reading results; LeNet5's
// submission files from ../shared.
#pragma once

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "agnapprox/v1/agnx.grpc.pb.h"

namespace agnx::testing {

namespace pb = ::agnapprox::v1;

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The files of a submission; test inputs and labels may be empty.
struct MatchingInputs {
  std::string model, calibration, test_x, test_y;
};

// LeNet5 on Fashion-MNIST from `shared`/models (`shared` = shared_dir()): the
// model with its stdev buffers and the 256 calibration images, no test data
// (its job evaluates no accuracy).
inline MatchingInputs lenet_inputs_without_test_data(const std::filesystem::path& shared) {
  return {read_file(shared / "models/lenet5_fmnist_stdev.pt"), read_file(shared / "models/lenet5_fmnist_calib.npy"),
          "", ""};
}

// The same with the 2,000 test images and labels, whose evaluation keeps the
// job busy for a while.
inline MatchingInputs lenet_inputs(const std::filesystem::path& shared) {
  MatchingInputs inputs = lenet_inputs_without_test_data(shared);
  inputs.test_x = read_file(shared / "models/lenet5_fmnist_test_x.npy");
  inputs.test_y = read_file(shared / "models/lenet5_fmnist_test_y.npy");
  return inputs;
}

class MatchingClient {
 public:
  explicit MatchingClient(const std::string& address)
      : channel_(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())),
        matching_(pb::Matching::NewStub(channel_)) {}

  // Streams `header` and the inputs in 256 KiB chunks.
  grpc::Status submit(const pb::MatchingHeader& header, const MatchingInputs& inputs,
                      pb::SubmitMatchingResponse* reply) {
    grpc::ClientContext context;
    auto writer = matching_->SubmitMatching(&context, reply);
    pb::SubmitMatchingRequest message;
    *message.mutable_header() = header;
    writer->Write(message);
    const std::pair<void (pb::SubmitMatchingRequest::*)(const std::string&), const std::string*> parts[] = {
        {&pb::SubmitMatchingRequest::set_model, &inputs.model},
        {&pb::SubmitMatchingRequest::set_calibration, &inputs.calibration},
        {&pb::SubmitMatchingRequest::set_test_x, &inputs.test_x},
        {&pb::SubmitMatchingRequest::set_test_y, &inputs.test_y}};
    for (const auto& [setter, content] : parts) {
      for (std::size_t at = 0; at < content->size(); at += 256 << 10) {
        (message.*setter)(content->substr(at, 256 << 10));
        if (!writer->Write(message)) break;
      }
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // Follows the job until a final message; returns it (and the stages seen).
  pb::JobProgress watch(int64_t job_id, std::vector<std::string>* stages = nullptr) {
    grpc::ClientContext context;
    pb::GetJobRequest request;
    request.set_job_id(job_id);
    auto reader = matching_->WatchJob(&context, request);
    pb::JobProgress progress;
    while (reader->Read(&progress)) {
      if (stages && (stages->empty() || stages->back() != progress.stage())) stages->push_back(progress.stage());
      if (progress.final()) break;
    }
    context.TryCancel();
    return progress;
  }

  grpc::Status result(const std::string& run_id, pb::MatchingResult* reply) {
    grpc::ClientContext context;
    pb::GetMatchingResultRequest request;
    request.set_run_id(run_id);
    return matching_->GetMatchingResult(&context, request, reply);
  }

  pb::Matching::Stub& stub() { return *matching_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Matching::Stub> matching_;
};

}  // namespace agnx::testing
