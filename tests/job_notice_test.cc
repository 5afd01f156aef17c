// What replicas tell each other about jobs (server/job_notice.h): each kind
// reads back as sent, a long message is cut to fit a notice, and anything
// that is not such a notice is ignored rather than misread.
#include "server/job_notice.h"

#include <gtest/gtest.h>

#include "store/notices.h"

namespace agnx::server {
namespace {

TEST(JobNotice, EachKindReadsBackAsSent) {
  JobProgressView progress;
  progress.state = store::JobState::kRunning;
  progress.stage = "search";
  progress.step = 7;
  progress.steps = 32;
  progress.epoch = 2;
  progress.epochs = 5;
  progress.point = 1;
  progress.points = 3;
  progress.fraction = 0.4375;
  progress.message = "naïve \"quoted\"\n";
  progress.version = 99;  // the receiver's own: not sent
  const JobNotice sent[] = {{JobNotice::Kind::kSubmitted, "r1", 0, {}},
                            {JobNotice::Kind::kCancel, "host:12:ab", 42, {}},
                            {JobNotice::Kind::kProgress, "r2", 43, progress}};
  for (const JobNotice& notice : sent) {
    const auto read = decode_job_notice(encode_job_notice(notice));
    ASSERT_TRUE(read) << encode_job_notice(notice);
    EXPECT_EQ(read->kind, notice.kind);
    EXPECT_EQ(read->sender, notice.sender);
    EXPECT_EQ(read->job_id, notice.job_id);
  }
  const JobProgressView read = decode_job_notice(encode_job_notice(sent[2]))->progress;
  EXPECT_EQ(read.state, progress.state);
  EXPECT_EQ(read.stage, progress.stage);
  EXPECT_EQ(read.step, 7u);
  EXPECT_EQ(read.steps, 32u);
  EXPECT_EQ(read.epoch, 2u);
  EXPECT_EQ(read.epochs, 5u);
  EXPECT_EQ(read.point, 1u);
  EXPECT_EQ(read.points, 3u);
  EXPECT_EQ(read.fraction, 0.4375);
  EXPECT_EQ(read.message, progress.message);
  EXPECT_EQ(read.version, 0u);
}

TEST(JobNotice, ALongMessageIsCutToFitANotice) {
  JobNotice notice{JobNotice::Kind::kProgress, "r1", 1, {}};
  notice.progress.state = store::JobState::kFailed;
  notice.progress.message = std::string(20000, '\x01');  // escaped as \u0001: six bytes each
  const std::string payload = encode_job_notice(notice);
  ASSERT_FALSE(payload.empty());
  EXPECT_LE(payload.size(), store::kMaxNoticeBytes);
  const auto read = decode_job_notice(payload);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->progress.message, std::string(1000, '\x01'));
}

TEST(JobNotice, AnythingElseIsIgnored) {
  const std::string not_notices[] = {
      "",
      "not json",
      "[1,2]",
      R"({"sender":"r1","job_id":1})",
      R"({"agnx_job_notice":"reboot","sender":"r1","job_id":1})",
      R"({"agnx_job_notice":"cancel","sender":7,"job_id":1})",
      R"({"agnx_job_notice":"cancel","sender":"r1"})",
      R"({"agnx_job_notice":"progress","sender":"r1","job_id":1})",
      R"({"agnx_job_notice":"progress","sender":"r1","job_id":1,"progress":{"state":"DONE","stage":"x",)"
      R"("step":0,"steps":0,"epoch":0,"epochs":0,"point":0,"points":0,"fraction":0,"message":""}})",
      R"({"agnx_job_notice":"progress","sender":"r1","job_id":1,"progress":{"state":"RUNNING","stage":"x",)"
      R"("step":-1,"steps":0,"epoch":0,"epochs":0,"point":0,"points":0,"fraction":0,"message":""}})",
  };
  for (const std::string& payload : not_notices) EXPECT_FALSE(decode_job_notice(payload)) << payload;
}

}  // namespace
}  // namespace agnx::server
