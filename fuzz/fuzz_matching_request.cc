// read_submission and check_header on a SubmitMatching stream decoded from
// the input (a serialized agnx.fuzz.SubmitStream, submit_stream.proto):
// errors are INVALID_ARGUMENT or RESOURCE_EXHAUSTED; an assembled submission
// stays within the upload limit and holds each file's chunks in order.
#include <string>

#include "fuzz/fuzz_check.h"
#include "server/submission_stream.h"
#include "submit_stream.pb.h"

namespace agnx::server {
namespace {

namespace pb = agnapprox::v1;

// The concatenated chunks of the part `part` in the stream's file messages.
std::string chunks_of(const agnx::fuzz::SubmitStream& stream, pb::SubmitMatchingRequest::PartCase part) {
  std::string file;
  for (const auto& message : stream.messages()) {
    if (message.part_case() != part) continue;
    switch (part) {
      case pb::SubmitMatchingRequest::kModel: file += message.model(); break;
      case pb::SubmitMatchingRequest::kCalibration: file += message.calibration(); break;
      case pb::SubmitMatchingRequest::kTestX: file += message.test_x(); break;
      case pb::SubmitMatchingRequest::kTestY: file += message.test_y(); break;
      default: break;
    }
  }
  return file;
}

void check_submission(const agnx::fuzz::SubmitStream& stream, const Submission& submission) {
  AGNX_FUZZ_CHECK(submission.model.size() + submission.calibration.size() + submission.test_x.size() +
                      submission.test_y.size() <=
                  stream.upload_limit());
  AGNX_FUZZ_CHECK(submission.model == chunks_of(stream, pb::SubmitMatchingRequest::kModel));
  AGNX_FUZZ_CHECK(submission.calibration == chunks_of(stream, pb::SubmitMatchingRequest::kCalibration));
  AGNX_FUZZ_CHECK(submission.test_x == chunks_of(stream, pb::SubmitMatchingRequest::kTestX));
  AGNX_FUZZ_CHECK(submission.test_y == chunks_of(stream, pb::SubmitMatchingRequest::kTestY));
  const grpc::Status header = check_header(submission.header);
  AGNX_FUZZ_CHECK(header.ok() || (header.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
                                  header.error_message().starts_with("header.")));
}

}  // namespace
}  // namespace agnx::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace agnx::server;
  agnx::fuzz::SubmitStream stream;
  if (!stream.ParseFromArray(data, static_cast<int>(size))) return -1;  // not a stream: keep it out of the corpus
  int next_index = 0;
  const auto next = [&](agnapprox::v1::SubmitMatchingRequest& message) {
    if (next_index == stream.messages_size()) return false;
    message = stream.messages(next_index++);
    return true;
  };
  Submission submission;
  const grpc::Status read = read_submission(next, stream.upload_limit(), submission);
  if (read.ok()) {
    check_submission(stream, submission);
  } else {
    AGNX_FUZZ_CHECK(read.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
                    read.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  return 0;
}
