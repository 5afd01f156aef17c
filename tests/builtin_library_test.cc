#include "core/builtin_library.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "core/builtin_designs.h"

namespace agnx {
namespace {

TEST(BuiltinLibrary, HoldsEveryDesignWithItsCells) {
  const MultiplierLibrary& library = builtin_library();
  EXPECT_EQ(library.name(), "builtin");
  EXPECT_EQ(library.metric(), "cells");
  EXPECT_EQ(builtin_designs().size(), 93u);  // the README's count; a design added or lost changes it
  EXPECT_EQ(library.size(), builtin_designs().size());
  std::set<std::vector<int32_t>> tables;
  std::set<Signedness> signedness;
  for (const auto& m : library.multipliers()) {
    EXPECT_TRUE(tables.emplace(m->table().begin(), m->table().end()).second) << m->name() << " repeats a table";
    EXPECT_GT(library.metric_of(*m), 0.0) << m->name();
    signedness.insert(m->signedness());
  }
  EXPECT_EQ(signedness.size(), 2u);
}

TEST(BuiltinLibrary, SignedProductsFitTheirSixteenBits) {
  // A signed product beyond -2^15..2^15-1 would wrap around and show as an
  // error of 2^15 or more.
  for (const auto& m : builtin_library().multipliers()) {
    if (!m->is_signed()) continue;
    for (int x = -128; x <= 127; ++x)
      for (int w = -128; w <= 127; ++w) ASSERT_LT(std::abs(m->product(x, w) - x * w), 32768) << m->name();
  }
}

TEST(BuiltinLibrary, ExactMultiplier) {
  const MultiplierLibrary& library = builtin_library();
  const Multiplier* exact = library.find("exact");
  ASSERT_NE(exact, nullptr);
  EXPECT_TRUE(exact->is_signed());
  for (int x = -128; x <= 127; ++x)
    for (int w = -128; w <= 127; ++w) ASSERT_EQ(exact->product(x, w), x * w);
  // The Baugh-Wooley array as Yosys 0.23 synthesizes it (core/builtin_cells.inc,
  // the README): below EvoApprox's exact signed circuit (380 cells) and a
  // behavioural a*b (404 cells).
  EXPECT_EQ(library.metric_of(*exact), 322.0);
  EXPECT_EQ(exact->metric("relative_cells"), 1.0);
  const Multiplier* coarse = library.find("trunc_s_k8");
  ASSERT_NE(coarse, nullptr);
  EXPECT_DOUBLE_EQ(*coarse->metric("relative_cells"), library.metric_of(*coarse) / library.metric_of(*exact));
}

}  // namespace
}  // namespace agnx
