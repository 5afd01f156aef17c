#include "core/builtin_designs.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "core/characterization.h"

namespace agnx {
namespace {

// Every built-in design as a Multiplier, by name.
const std::map<std::string, Multiplier>& designs() {
  static const auto* all = [] {
    auto* map = new std::map<std::string, Multiplier>;
    for (const BuiltinDesign& d : builtin_designs()) {
      map->emplace(d.name, *Multiplier::create(d.name, d.circuit.signedness(), d.circuit.product_table(), {}));
    }
    return map;
  }();
  return *all;
}

const Multiplier& design(const std::string& name) { return designs().at(name); }

// The raw table entry for operands in the design's own domain.
int64_t raw(const Multiplier& m, int x, int w) {
  const int offset = m.is_signed() ? 128 : 0;
  return m.table()[static_cast<std::size_t>((x + offset) * 256 + w + offset)];
}

// Calls f(x, w) for every pair of the design's own operand domain.
void for_each_pair(const Multiplier& m, const std::function<void(int, int)>& f) {
  const int low = m.is_signed() ? -128 : 0;
  for (int x = low; x < low + 256; ++x)
    for (int w = low; w < low + 256; ++w) f(x, w);
}

// Sum of 2^(i+j) over the 8x8 partial products that `dropped` selects.
double dropped_weight(const std::function<bool(int, int)>& dropped) {
  double sum = 0.0;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) sum += dropped(i, j) ? std::ldexp(1.0, i + j) : 0.0;
  return sum;
}

// x without its leading one, `times` times.
int residue(int x, int times) {
  for (int t = 0; t < times && x > 0; ++t) x -= std::bit_floor(static_cast<unsigned>(x));
  return x;
}

TEST(BuiltinDesigns, NamesAreUniqueAndExactComesFirst) {
  const std::vector<BuiltinDesign> all = builtin_designs();
  EXPECT_EQ(all.front().name, "exact");
  std::set<std::string> names;
  for (const BuiltinDesign& d : all) EXPECT_TRUE(names.insert(d.name).second) << d.name;
}

TEST(BuiltinDesigns, EveryFamilyIsSignedAndUnsigned) {
  std::map<std::string, std::set<Signedness>> families;
  for (const BuiltinDesign& d : builtin_designs()) {
    families[d.family].insert(d.circuit.signedness());
    EXPECT_TRUE(d.name.starts_with(d.family)) << d.name;
  }
  EXPECT_EQ(families.size(), 9u);
  for (const auto& [family, signedness] : families) EXPECT_EQ(signedness.size(), 2u) << family;
}

TEST(BuiltinDesigns, ExactTablesAreTheProduct) {
  for (const char* name : {"exact", "exact_u"}) {
    const Multiplier& m = design(name);
    for_each_pair(m, [&](int x, int w) { ASSERT_EQ(raw(m, x, w), x * w) << name << " " << x << " " << w; });
  }
}

TEST(BuiltinDesigns, TruncationErrorBounds) {
  for (const char* s : {"s", "u"}) {
    for (int k = 1; k <= 7; ++k) {
      // Columns below k hold only plain AND terms (probability 1/4 each).
      const double bound = dropped_weight([k](int i, int j) { return i + j < k; });
      const Multiplier& m = design(std::string("trunc_") + s + "_k" + std::to_string(k));
      for_each_pair(m, [&](int x, int w) {
        const auto error = static_cast<double>(raw(m, x, w) - x * w);
        ASSERT_TRUE(error <= 0 && error >= -bound) << m.name() << " " << x << " " << w;
      });
      const ErrorCharacterization c = characterize(m);
      EXPECT_EQ(c.error_mean, -bound / 4) << m.name();
      if (std::string(s) == "u") {
        EXPECT_EQ(c.wce, bound) << m.name();  // all dropped bits set at 255 * 255
      }
    }
  }
}

TEST(BuiltinDesigns, ConstantCorrectionRemovesTheBias) {
  for (const char* s : {"s", "u"}) {
    for (int k : {2, 3, 4, 5, 6, 7, 8, 10, 12}) {
      const std::string suffix = std::string(s) + "_k" + std::to_string(k);
      const ErrorCharacterization compensated = characterize(design("trunc_comp_" + suffix));
      const ErrorCharacterization truncated = characterize(design("trunc_" + suffix));
      EXPECT_LE(std::abs(compensated.error_mean), 0.5) << suffix;  // the rounded expectation was added
      EXPECT_LE(compensated.mae, truncated.mae) << suffix;
    }
  }
}

TEST(BuiltinDesigns, BrokenArrayDropsOnlyPositiveBits) {
  for (const auto& [h, v] : {std::pair{1, 4}, {2, 6}, {3, 8}}) {
    const Multiplier& m = design("bam_u_h" + std::to_string(h) + "_v" + std::to_string(v));
    const double dropped = dropped_weight([h, v](int i, int j) { return i + j < v || j < h; });
    for_each_pair(m, [&](int x, int w) { ASSERT_LE(raw(m, x, w), x * w) << m.name(); });
    EXPECT_EQ(characterize(m).wce, dropped) << m.name();
  }
}

TEST(BuiltinDesigns, PerforationSkipsOperandBits) {
  for (const char* s : {"s", "u"}) {
    for (const auto& [first, count] : {std::pair{0, 1}, {0, 3}, {1, 2}, {2, 3}}) {
      const Multiplier& m =
          design(std::string("perf_") + s + "_j" + std::to_string(first) + "_p" + std::to_string(count));
      const int mask = ((1 << count) - 1) << first;
      for_each_pair(m, [&](int x, int w) { ASSERT_EQ(raw(m, x, w), x * (w & ~mask)) << m.name() << " " << x << " " << w; });
    }
  }
}

TEST(BuiltinDesigns, DrumIsExactOnSmallOperandsBoundedAndUnbiased) {
  for (int k = 2; k <= 6; ++k) {
    const Multiplier& m = design("drum_u_k" + std::to_string(k));
    for_each_pair(m, [&](int x, int w) {
      if (x < (1 << k) && w < (1 << k)) {
        ASSERT_EQ(raw(m, x, w), x * w) << m.name();
      }
    });
    // Each operand is off by less than 2^(1-k) of itself...
    EXPECT_LE(characterize(m).wcre_pct, 100 * (std::pow(1 + std::ldexp(1.0, 1 - k), 2) - 1) + 1e-9) << m.name();
    // ... and unbiased: with its leading one at t >= k, bit s = t-k+1 and the
    // bits below it are replaced by 2^s, so over each such octave the operand
    // (read as drum(x, 1)) is off by +1/2 on average and by 2^s at most.
    for (int t = k; t < 8; ++t) {
      double error = 0.0;
      for (int x = 1 << t; x < 2 << t; ++x) {
        error += static_cast<double>(raw(m, x, 1) - x);
        ASSERT_LE(std::abs(raw(m, x, 1) - x), 1 << (t - k + 1)) << m.name() << " " << x;
      }
      EXPECT_EQ(error / (1 << t), 0.5) << m.name() << " octave " << t;
    }
  }
}

TEST(BuiltinDesigns, MitchellUnderestimatesByAtMostOneNinth) {
  for (const char* name : {"mitchell_u_f7", "mitchell_s_f7"}) {
    const Multiplier& m = design(name);
    for_each_pair(m, [&](int x, int w) { ASSERT_LE(std::abs(raw(m, x, w)), std::abs(x * w)) << name; });
    EXPECT_NEAR(characterize(m).wcre_pct, 100.0 / 9, 1e-9) << name;  // at x = w = 3
    for (int p : {1, 2, 16, 64})
      for (int q : {1, 4, 64}) EXPECT_EQ(raw(m, p, q), p * q) << name;  // exact on powers of two
  }
  for (const char* name : {"mitchell_u_f5", "mitchell_u_f3", "mitchell_u_f0"}) {
    const Multiplier& m = design(name);
    for_each_pair(m, [&](int x, int w) { ASSERT_LE(raw(m, x, w), x * w) << name; });
  }
}

TEST(BuiltinDesigns, IterativeLogarithmicErrorIsTheResidueProduct) {
  for (int iterations : {1, 2}) {
    const Multiplier& m = design("ilm_u_i" + std::to_string(iterations));
    for_each_pair(m, [&](int x, int w) {
      ASSERT_EQ(raw(m, x, w), x * w - residue(x, iterations) * residue(w, iterations)) << m.name() << " " << x << " " << w;
    });
  }
}

TEST(BuiltinDesigns, RobaErrorIsTheRoundingProduct) {
  const auto nearest_power = [](int x) {
    const int floor = static_cast<int>(std::bit_floor(static_cast<unsigned>(x)));
    return x == 0 ? 0 : (x - floor >= floor / 2 && floor > 1 ? 2 * floor : floor);
  };
  const Multiplier& m = design("roba_u");
  for_each_pair(m, [&](int x, int w) {
    ASSERT_EQ(raw(m, x, w), x * w - (x - nearest_power(x)) * (w - nearest_power(w))) << x << " " << w;
  });
}

TEST(BuiltinDesigns, SignedMagnitudeFamiliesMatchTheirUnsignedCircuit) {
  const std::pair<std::string, std::string> designs_by_family[] = {
      {"drum", "_k3"}, {"drum", "_k6"}, {"mitchell", "_f7"}, {"mitchell", "_f3"}, {"ilm", "_i1"}, {"ilm", "_i2"}, {"roba", ""}};
  for (const auto& [family, parameters] : designs_by_family) {
    const Multiplier& s = design(family + "_s" + parameters);
    const Multiplier& u = design(family + "_u" + parameters);
    for_each_pair(s, [&](int x, int w) {
      const int64_t magnitude = raw(u, std::abs(x), std::abs(w));
      ASSERT_EQ(raw(s, x, w), (x < 0) != (w < 0) ? -magnitude : magnitude) << s.name() << " " << x << " " << w;
    });
  }
}

}  // namespace
}  // namespace agnx
