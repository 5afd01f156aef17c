#include "server/submission_stream.h"

#include <cmath>

#include "server/grpc_status.h"

namespace agnx::server {
namespace {

namespace pb = agnapprox::v1;

constexpr uint32_t kMaxSamples = 1'000'000;
constexpr std::size_t kMaxIdempotencyKey = 128;

struct Chunk {
  std::string* file = nullptr;  // where in the submission it belongs
  const std::string* data = nullptr;
};

// The file chunk that `message` carries; {nullptr, nullptr} for a message
// without one (a header, or no part at all).
Chunk chunk_of(const pb::SubmitMatchingRequest& message, Submission& submission) {
  switch (message.part_case()) {
    case pb::SubmitMatchingRequest::kModel: return {&submission.model, &message.model()};
    case pb::SubmitMatchingRequest::kCalibration: return {&submission.calibration, &message.calibration()};
    case pb::SubmitMatchingRequest::kTestX: return {&submission.test_x, &message.test_x()};
    case pb::SubmitMatchingRequest::kTestY: return {&submission.test_y, &message.test_y()};
    default: return {};
  }
}

}  // namespace

grpc::Status read_submission(const NextSubmissionMessage& next, std::size_t upload_limit, Submission& submission) {
  pb::SubmitMatchingRequest message;
  if (!next(message) || !message.has_header()) {
    return invalid_field("header", "the first message must be the matching header");
  }
  submission.header = message.header();
  std::size_t total = 0;
  while (next(message)) {
    const Chunk chunk = chunk_of(message, submission);
    if (!chunk.file) return invalid_field("header", "only the first message may be the header");
    total += chunk.data->size();
    if (total > upload_limit) return upload_too_large("upload", "submission", upload_limit);
    chunk.file->append(*chunk.data);
  }
  return grpc::Status::OK;
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
  if (key.size() > kMaxIdempotencyKey ||
      key.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") !=
          std::string::npos) {
    return invalid_field("header.idempotency_key", "at most 128 letters, digits and . _ : -");
  }
  return grpc::Status::OK;
}

}  // namespace agnx::server
