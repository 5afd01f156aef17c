// The server <-> worker message lines (server/worker/protocol.h).
#include "server/worker/protocol.h"

#include <nlohmann/json.hpp>

#include "server/worker/training_request.h"

#include <gtest/gtest.h>

namespace agnx::server::worker {
namespace {

TEST(WorkerProtocol, ProgressRoundTrips) {
  const std::string line = progress_line({"features", 3, 12});
  EXPECT_EQ(line, "progress features 3 12\n");
  const auto message = parse_message(line.substr(0, line.size() - 1));
  ASSERT_TRUE(message.ok());
  const auto& progress = std::get<Progress>(*message);
  EXPECT_EQ(progress.stage, "features");
  EXPECT_EQ(progress.done, 3u);
  EXPECT_EQ(progress.total, 12u);
}

TEST(WorkerProtocol, AnErrorKeepsItsCodeAndAMultiLineMessageOnOneLine) {
  const std::string line = error_line(Status::not_found("header.sigma: no layer fc9\nsee the model"));
  EXPECT_EQ(line, "error not_found header.sigma: no layer fc9 see the model\n");
  const auto message = parse_message(line.substr(0, line.size() - 1));
  ASSERT_TRUE(message.ok());
  const auto& error = std::get<Status>(*message);
  EXPECT_EQ(error.code(), StatusCode::kNotFound);
  EXPECT_EQ(error.message(), "header.sigma: no layer fc9 see the model");
}

TEST(WorkerProtocol, TrainingProgressCarriesTheEpoch) {
  const std::string line = progress_line({"retrain", 40, 705, 1, 3});
  EXPECT_EQ(line, "progress retrain 40 705 1 3\n");
  const auto message = parse_message(line.substr(0, line.size() - 1));
  ASSERT_TRUE(message.ok());
  const auto& progress = std::get<Progress>(*message);
  EXPECT_EQ(progress.epoch, 1u);
  EXPECT_EQ(progress.epochs, 3u);
}

TEST(WorkerProtocol, MetricsRoundTripExactly) {
  const std::string line = metric_line({"search.sigma.conv 1", 2, 0.1 + 0.2});
  EXPECT_EQ(line, "metric 2 search.sigma.conv_1 0.30000000000000004\n");
  const auto message = parse_message(line.substr(0, line.size() - 1));
  ASSERT_TRUE(message.ok());
  const auto& metric = std::get<MetricReport>(*message);
  EXPECT_EQ(metric.key, "search.sigma.conv_1");
  EXPECT_EQ(metric.step, 2);
  EXPECT_EQ(metric.value, 0.1 + 0.2);
}

TEST(TrainingRequest, RoundTripsAndReadsRequestsStoredBeforeUint8Inputs) {
  TrainingRequest request;
  request.kind = kSweepKind;
  request.lambdas = {0.25, 1e-7};
  request.uint8_inputs = true;
  request.uint8_mean = 0.286;
  const auto again = training_request_from_json(to_json(request));
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->lambdas, request.lambdas);
  EXPECT_TRUE(again->uint8_inputs);
  EXPECT_EQ(again->uint8_mean, 0.286);

  auto old = nlohmann::json::parse(to_json(request));
  for (const char* key : {"uint8_inputs", "uint8_scale", "uint8_mean", "uint8_std"}) old.erase(key);
  const auto stored_before = training_request_from_json(old.dump());
  ASSERT_TRUE(stored_before.ok()) << stored_before.status().to_string();
  EXPECT_FALSE(stored_before->uint8_inputs);
  old.erase("lambdas");
  EXPECT_NE(training_request_from_json(old.dump()).status().message().find("lambdas"), std::string::npos);
}

TEST(WorkerProtocol, StagesWithSpacesStayOneWord) {
  EXPECT_EQ(progress_line({"two words", 0, 1}), "progress two_words 0 1\n");
}

TEST(WorkerProtocol, MalformedLinesAreRejected) {
  for (const char* line : {"", "progress", "progress features", "progress features 1", "progress features x 2",
                           "progress features 1 2 3", "progress features -1 2", "progress features 1 2 3 4 5",
                           "metric", "metric 1 key", "metric x key 1", "metric 1 key one", "metric 1 key 2 3", "error", "error ok fine",
                           "error no_such_code text", "hello world"}) {
    const auto message = parse_message(line);
    EXPECT_FALSE(message.ok()) << line;
    if (!message.ok()) {
      EXPECT_EQ(message.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace agnx::server::worker
