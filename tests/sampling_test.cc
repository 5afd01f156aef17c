#include "core/sampling.h"

#include <gtest/gtest.h>

#include <random>

namespace agnx {
namespace {

TEST(Sampling, FollowsTheSpecDraw) {
  // Layer i draws with std::mt19937_64 seeded seed + i, row engine() % rows.
  std::mt19937_64 engine(100 + 3);
  const auto rows = draw_sample_rows(50176, 512, 100, 3);
  ASSERT_EQ(rows.size(), 512u);
  for (uint64_t row : rows) EXPECT_EQ(row, engine() % 50176);
}

TEST(Sampling, IsReproducibleAndDiffersPerLayer) {
  EXPECT_EQ(draw_sample_rows(1000, 64, 7, 0), draw_sample_rows(1000, 64, 7, 0));
  EXPECT_NE(draw_sample_rows(1000, 64, 7, 0), draw_sample_rows(1000, 64, 7, 1));
  for (uint64_t row : draw_sample_rows(3, 100, 1, 0)) EXPECT_LT(row, 3u);
}

TEST(Sampling, DrawsWithReplacement) {
  const auto rows = draw_sample_rows(4, 64, 9, 0);
  std::vector<int> seen(4, 0);
  for (uint64_t row : rows) ++seen[row];
  for (int count : seen) EXPECT_GT(count, 1);  // 64 draws from 4 rows repeat rows
}

TEST(Sampling, GathersRowsInOrder) {
  const Int8Matrix features{3, 2, {1, 2, 3, 4, 5, 6}};
  const std::vector<uint64_t> indices{2, 0, 2};
  const auto sample = gather_rows(features, indices);
  ASSERT_TRUE(sample.ok());
  EXPECT_EQ(sample->rows, 3u);
  EXPECT_EQ(sample->values, (std::vector<int8_t>{5, 6, 1, 2, 5, 6}));
}

TEST(Sampling, RejectsRowsOutsideTheMatrix) {
  const Int8Matrix features{3, 2, {1, 2, 3, 4, 5, 6}};
  const std::vector<uint64_t> indices{0, 3};
  const auto sample = gather_rows(features, indices);
  ASSERT_FALSE(sample.ok());
  EXPECT_NE(sample.status().message().find("sample row 3 at position 1"), std::string::npos);
}

}  // namespace
}  // namespace agnx
