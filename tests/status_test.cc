#include "core/status.h"

#include <gtest/gtest.h>

namespace agnx {
namespace {

Result<int> parse_positive(int value) {
  if (value <= 0) return Status::invalid_argument("value must be positive");
  return value;
}

Result<int> doubled(int value) {
  AGNX_ASSIGN_OR_RETURN(const int checked, parse_positive(value));
  return 2 * checked;
}

Status check_both(int a, int b) {
  AGNX_RETURN_IF_ERROR(parse_positive(a).status());
  AGNX_RETURN_IF_ERROR(parse_positive(b).status().with_context("b"));
  return {};
}

TEST(Status, OkAndErrors) {
  EXPECT_TRUE(Status().ok());
  EXPECT_EQ(Status().to_string(), "OK");
  const Status error = Status::not_found("multiplier x");
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.code(), StatusCode::kNotFound);
  EXPECT_EQ(error.to_string(), "not_found: multiplier x");
  EXPECT_EQ(error.with_context("library y").message(), "library y: multiplier x");
  EXPECT_TRUE(Status().with_context("ignored").ok());
  EXPECT_EQ(Status::already_exists("experiment 'a'").to_string(), "already_exists: experiment 'a'");
  EXPECT_EQ(Status::unavailable("database locked").to_string(), "unavailable: database locked");
}

TEST(Status, MacrosPropagate) {
  EXPECT_EQ(*doubled(4), 8);
  EXPECT_EQ(doubled(-1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(check_both(1, 2).ok());
  EXPECT_EQ(check_both(1, -2).message(), "b: value must be positive");
}

}  // namespace
}  // namespace agnx
