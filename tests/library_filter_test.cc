#include "core/library_filter.h"

#include <gtest/gtest.h>

#include "core/builtin_library.h"
#include "core/characterization.h"

namespace agnx {
namespace {

TEST(LibraryFilter, KeepsWhatPassesEveryCriterion) {
  const MultiplierLibrary& builtin = builtin_library();
  LibraryFilter filter;
  filter.signedness = Signedness::kSigned;
  filter.max_mae_pct = 0.1;
  filter.max_metric = 300;
  const auto filtered = filter_library(builtin, "cheap_signed", filter);
  ASSERT_TRUE(filtered.ok()) << filtered.status().to_string();
  const MultiplierLibrary& library = filtered->library;
  EXPECT_EQ(library.name(), "cheap_signed");
  EXPECT_EQ(library.metric(), "cells");
  ASSERT_FALSE(library.empty());
  std::size_t expected = 0;
  for (const auto& m : builtin.multipliers()) {
    expected += m->is_signed() && characterize(*m).mae_pct <= 0.1 && builtin.metric_of(*m) <= 300;
  }
  EXPECT_EQ(library.size(), expected);
  for (const auto& m : library.multipliers()) EXPECT_EQ(m.get(), builtin.find(m->name()));  // shared
  // exact (more than 300 cells) is gone, so the filter warns.
  ASSERT_EQ(filtered->warnings.size(), 1u);
  EXPECT_NE(filtered->warnings[0].find("keeps no error-free multiplier of builtin (exact, exact_u)"), std::string::npos);
}

TEST(LibraryFilter, PrefixAndMetricRange) {
  LibraryFilter filter;
  filter.name_prefix = "drum_";
  filter.min_metric = 0;
  filter.max_metric = 1e9;
  const auto drum = filter_library(builtin_library(), "drum", filter);
  ASSERT_TRUE(drum.ok());
  EXPECT_EQ(drum->library.size(), 9u);  // k = 2..6 unsigned, 3..6 signed
  for (const auto& m : drum->library.multipliers()) EXPECT_TRUE(m->name().starts_with("drum_"));
  filter.name_prefix = "exact";
  const auto exact = filter_library(builtin_library(), "exact_only", filter);
  ASSERT_TRUE(exact.ok());
  EXPECT_TRUE(exact->warnings.empty());
  filter.name_prefix = "nothing";
  const auto none = filter_library(builtin_library(), "none", filter);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->library.empty());
  ASSERT_EQ(none->warnings.size(), 2u);
  EXPECT_NE(none->warnings[1].find("library none is empty"), std::string::npos);
}

TEST(LibraryFilter, RejectsBadBounds) {
  LibraryFilter filter;
  filter.min_metric = 10;
  filter.max_metric = 5;
  EXPECT_NE(filter_library(builtin_library(), "f", filter).status().message().find("min_metric 10.000000 is above"),
            std::string::npos);
  filter = {};
  filter.max_mae_pct = -1;
  EXPECT_NE(filter_library(builtin_library(), "f", filter).status().message().find("max_mae_pct must be a finite"),
            std::string::npos);
  EXPECT_FALSE(filter_library(builtin_library(), "", {}).ok());
}

}  // namespace
}  // namespace agnx
