#include "server/submission_stream.h"

#include <cmath>

#include "server/grpc_status.h"
#include "server/upload_stream.h"
#include "store/idempotency_key.h"

namespace agnx::server {
namespace {

namespace pb = agnapprox::v1;

constexpr uint32_t kMaxSamples = 1'000'000;

// Where the file chunk that `message` carries belongs in `submission`.
grpc::Status chunk_of(const pb::SubmitMatchingRequest& message, Submission& submission, UploadChunk& chunk) {
  switch (message.part_case()) {
    case pb::SubmitMatchingRequest::kModel: chunk = {&submission.model, &message.model()}; break;
    case pb::SubmitMatchingRequest::kCalibration: chunk = {&submission.calibration, &message.calibration()}; break;
    case pb::SubmitMatchingRequest::kTestX: chunk = {&submission.test_x, &message.test_x()}; break;
    case pb::SubmitMatchingRequest::kTestY: chunk = {&submission.test_y, &message.test_y()}; break;
    default: break;
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::Status read_submission(const NextSubmissionMessage& next, std::size_t upload_limit, Submission& submission) {
  return read_upload_stream<pb::SubmitMatchingRequest>(
      next, upload_limit, {"the matching header", "upload", "submission"}, submission.header,
      [&](const pb::SubmitMatchingRequest& message, UploadChunk& chunk) { return chunk_of(message, submission, chunk); });
}

grpc::Status check_header(const pb::MatchingHeader& header) {
  if (header.experiment().empty()) return invalid_field("header.experiment", "must name an experiment");
  if (!std::isfinite(header.lambda())) return invalid_field("header.lambda", "must be a finite number");
  for (const auto& [layer, sigma] : header.sigma()) {
    if (!std::isfinite(sigma)) return invalid_field("header.sigma[" + layer + "]", "must be a finite number");
  }
  if (header.num_samples() > kMaxSamples) {
    return invalid_field("header.num_samples", "at most " + std::to_string(kMaxSamples));
  }
  const std::string& key = header.idempotency_key();
  if (!key.empty() && !store::is_idempotency_key(key)) {
    return invalid_field("header.idempotency_key", "at most 128 letters, digits and . _ : -");
  }
  return grpc::Status::OK;
}

}  // namespace agnx::server
