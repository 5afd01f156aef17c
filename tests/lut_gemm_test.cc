#include "core/lut_gemm.h"

#include <gtest/gtest.h>

#include <random>

namespace agnx {
namespace {

std::vector<int8_t> random_operands(std::mt19937_64& engine, std::size_t count) {
  std::uniform_int_distribution<int> value(-128, 127);
  std::vector<int8_t> out(count);
  for (int8_t& v : out) v = static_cast<int8_t>(value(engine));
  return out;
}

Multiplier random_multiplier(std::mt19937_64& engine, Signedness signedness, int32_t magnitude) {
  std::uniform_int_distribution<int32_t> value(-magnitude, magnitude);
  std::vector<int32_t> table(kTableSize);
  for (int32_t& v : table) v = value(engine);
  return *Multiplier::create("random", signedness, table, {});
}

void expect_matches_naive(const Multiplier& multiplier, std::size_t m, std::size_t k, std::size_t n,
                          std::size_t threads, std::mt19937_64& engine) {
  const auto a = random_operands(engine, m * k), b = random_operands(engine, k * n);
  std::vector<int32_t> expected(m * n), actual(m * n, -1);
  lut_gemm_naive(multiplier, a, b, m, k, n, expected);
  LutGemm(multiplier, b, k, n).multiply(a, m, actual, threads);
  EXPECT_EQ(actual, expected) << "m " << m << " k " << k << " n " << n << " threads " << threads;
}

TEST(LutGemm, ExactTableGivesTheIntegerProduct) {
  const Multiplier exact = Multiplier::exact("exact", {});
  const std::vector<int8_t> a{1, 2, -3, 4, -128, 127};  // [2, 3]
  const std::vector<int8_t> b{5, -6, 7, 8, -9, 10};     // [3, 2]
  std::vector<int32_t> out(4);
  LutGemm(exact, b, 3, 2).multiply(a, 2, out);
  EXPECT_EQ(out, (std::vector<int32_t>{1 * 5 + 2 * 7 - 3 * -9, 1 * -6 + 2 * 8 - 3 * 10,
                                       4 * 5 - 128 * 7 + 127 * -9, 4 * -6 - 128 * 8 + 127 * 10}));
}

TEST(LutGemm, BitIdenticalToTheNaiveLoopForEveryShapeAndThreadCount) {
  std::mt19937_64 engine(5);
  const Multiplier signed_table = random_multiplier(engine, Signedness::kSigned, 20000);
  const Multiplier unsigned_table = random_multiplier(engine, Signedness::kUnsigned, 20000);
  for (const Multiplier* multiplier : {&signed_table, &unsigned_table}) {
    // Shapes around the kernels' block sizes (16 k, 64 n) and the 512-row switch
    // (per thread: 1030 rows on 2 threads are 515 each).
    for (auto [m, k, n] : {std::tuple<std::size_t, std::size_t, std::size_t>{1, 1, 1}, {3, 25, 6}, {63, 17, 65},
                           {64, 16, 64}, {200, 150, 16}, {511, 33, 130}, {512, 17, 65}, {1030, 40, 20}}) {
      for (std::size_t threads : {1, 2, 3}) expect_matches_naive(*multiplier, m, k, n, threads, engine);
    }
  }
}

TEST(LutGemm, AccumulatesLikeAnInt32Register) {
  // Products of 2^30 summed 8 times wrap around modulo 2^32.
  std::vector<int32_t> table(kTableSize, 1 << 30);
  const Multiplier huge = *Multiplier::create("huge", Signedness::kSigned, table, {});
  std::mt19937_64 engine(9);
  for (std::size_t m : {4, 100}) {
    const auto a = random_operands(engine, m * 8), b = random_operands(engine, 8 * 3);
    std::vector<int32_t> out(m * 3);
    LutGemm(huge, b, 8, 3).multiply(a, m, out, 2);
    for (int32_t v : out) EXPECT_EQ(v, 0);  // 8 * 2^30 = 2^33 == 0 mod 2^32
  }
}

}  // namespace
}  // namespace agnx
