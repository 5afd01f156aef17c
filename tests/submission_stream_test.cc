#include "server/submission_stream.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace agnx::server {
namespace {

namespace pb = agnapprox::v1;

pb::SubmitMatchingRequest header_message(const std::string& experiment = "lenet") {
  pb::SubmitMatchingRequest message;
  message.mutable_header()->set_experiment(experiment);
  return message;
}

pb::SubmitMatchingRequest model_chunk(const std::string& data) {
  pb::SubmitMatchingRequest message;
  message.set_model(data);
  return message;
}

pb::SubmitMatchingRequest calibration_chunk(const std::string& data) {
  pb::SubmitMatchingRequest message;
  message.set_calibration(data);
  return message;
}

// Reads `messages` as a stream; `read` counts the messages taken from it.
grpc::Status read_all(const std::vector<pb::SubmitMatchingRequest>& messages, std::size_t limit,
                      Submission& submission, std::size_t* read = nullptr) {
  std::size_t next_index = 0;
  const auto next = [&](pb::SubmitMatchingRequest& message) {
    if (next_index == messages.size()) return false;
    message = messages[next_index++];
    return true;
  };
  const grpc::Status status = read_submission(next, limit, submission);
  if (read) *read = next_index;
  return status;
}

TEST(SubmissionStream, AppendsEachFilesChunksInOrder) {
  Submission submission;
  const auto status = read_all({header_message(), model_chunk("mo"), calibration_chunk("ca"), model_chunk("del"),
                                calibration_chunk("lib")},
                               100, submission);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(submission.header.experiment(), "lenet");
  EXPECT_EQ(submission.model, "model");
  EXPECT_EQ(submission.calibration, "calib");
  EXPECT_TRUE(submission.test_x.empty());
}

TEST(SubmissionStream, TheHeaderComesFirstAndOnlyFirst) {
  Submission submission;
  for (const auto& messages : {std::vector<pb::SubmitMatchingRequest>{},
                               std::vector<pb::SubmitMatchingRequest>{model_chunk("m"), header_message()}}) {
    const auto status = read_all(messages, 100, submission);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(), "header: the first message must be the matching header");
  }
  for (const auto& second : {header_message(), pb::SubmitMatchingRequest()}) {
    const auto status = read_all({header_message(), second}, 100, submission);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(), "header: only the first message may be the header");
  }
}

TEST(SubmissionStream, StopsReadingBeyondTheUploadLimit) {
  Submission submission;
  std::size_t read = 0;
  const auto status = read_all({header_message(), model_chunk("12345"), calibration_chunk("678"),
                                calibration_chunk("9"), model_chunk("never read")},
                               8, submission, &read);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(status.error_message(), "upload: the submission exceeds the server's limit of 8 bytes");
  EXPECT_EQ(read, 4u);
  EXPECT_TRUE(read_all({header_message(), model_chunk("12345"), calibration_chunk("678")}, 8, submission).ok());
}

TEST(SubmissionStream, HeaderChecksNameTheField) {
  const auto field_of = [](const pb::MatchingHeader& header) {
    const grpc::Status status = check_header(header);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    return status.error_message().substr(0, status.error_message().find(':'));
  };
  pb::MatchingHeader header = header_message().header();
  EXPECT_TRUE(check_header(header).ok());
  EXPECT_EQ(field_of(pb::MatchingHeader()), "header.experiment");
  pb::MatchingHeader bad = header;
  bad.set_lambda(std::numeric_limits<double>::infinity());
  EXPECT_EQ(field_of(bad), "header.lambda");
  bad = header;
  (*bad.mutable_sigma())["conv1"] = std::nan("");
  EXPECT_EQ(field_of(bad), "header.sigma[conv1]");
  bad = header;
  bad.set_num_samples(1'000'001);
  EXPECT_EQ(field_of(bad), "header.num_samples");
  bad = header;
  bad.set_idempotency_key("retry 1");
  EXPECT_EQ(field_of(bad), "header.idempotency_key");
  bad.set_idempotency_key(std::string(129, 'k'));
  EXPECT_EQ(field_of(bad), "header.idempotency_key");
  bad.set_idempotency_key(std::string(128, 'k'));
  EXPECT_TRUE(check_header(bad).ok());
}

}  // namespace
}  // namespace agnx::server
