// The server <-> worker message lines (server/worker/protocol.h).
#include "server/worker/protocol.h"

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

TEST(WorkerProtocol, StagesWithSpacesStayOneWord) {
  EXPECT_EQ(progress_line({"two words", 0, 1}), "progress two_words 0 1\n");
}

TEST(WorkerProtocol, MalformedLinesAreRejected) {
  for (const char* line : {"", "progress", "progress features", "progress features 1", "progress features x 2",
                           "progress features 1 2 3", "progress features -1 2", "error", "error ok fine",
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
