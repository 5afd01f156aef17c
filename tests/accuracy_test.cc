#include "core/accuracy.h"

#include <gtest/gtest.h>

#include <cmath>

namespace agnx {
namespace {

TEST(TopkAccuracy, CountsTargetsAmongTheHighestLogits) {
  // 3 samples, 4 classes.
  const std::vector<float> logits{0.1f, 0.9f, 0.5f, 0.2f,   // target 1: rank 0
                                  0.8f, 0.1f, 0.7f, 0.3f,   // target 2: rank 1
                                  0.4f, 0.3f, 0.2f, 0.1f};  // target 3: rank 3
  const std::vector<int64_t> targets{1, 2, 3};
  const std::vector<int> ks{1, 2, 4};
  const auto accuracy = topk_accuracy(logits, 4, targets, ks);
  ASSERT_TRUE(accuracy.ok()) << accuracy.status().to_string();
  EXPECT_DOUBLE_EQ((*accuracy)[0], 1.0 / 3.0);
  EXPECT_DOUBLE_EQ((*accuracy)[1], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ((*accuracy)[2], 1.0);
}

TEST(TopkAccuracy, TiesRankLowerIndicesFirst) {
  const std::vector<float> logits{0.5f, 0.5f, 0.5f};
  const std::vector<int> k1{1};
  EXPECT_DOUBLE_EQ((*topk_accuracy(logits, 3, std::vector<int64_t>{0}, k1))[0], 1.0);
  EXPECT_DOUBLE_EQ((*topk_accuracy(logits, 3, std::vector<int64_t>{2}, k1))[0], 0.0);
}

TEST(TopkAccuracy, BadInputsAreNamed) {
  const std::vector<float> logits{0.1f, 0.9f};
  const std::vector<int> k1{1};
  EXPECT_NE(topk_accuracy(logits, 2, std::vector<int64_t>{5}, k1).status().message().find("target 5 of sample 0"),
            std::string::npos);
  EXPECT_NE(topk_accuracy(logits, 3, std::vector<int64_t>{0}, k1).status().message().find("expected targets (1) x classes (3)"),
            std::string::npos);
  EXPECT_NE(topk_accuracy(logits, 2, std::vector<int64_t>{0}, std::vector<int>{0}).status().message().find("k must be"),
            std::string::npos);
  const std::vector<float> with_nan{NAN, 0.1f};
  EXPECT_NE(topk_accuracy(with_nan, 2, std::vector<int64_t>{1}, k1).status().message().find("logit 0 of sample 0"),
            std::string::npos);
  EXPECT_FALSE(topk_accuracy({}, 2, {}, k1).ok());
}

}  // namespace
}  // namespace agnx
