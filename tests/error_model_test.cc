#include "core/error_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/lut_directory.h"
#include "core/multiplier.h"
#include "tests/support/shared_data.h"

namespace agnx {
namespace {

using testing::matches_reference;

OperandDistribution as_distribution(const nlohmann::json& values) {
  OperandDistribution dist{};
  for (std::size_t i = 0; i < kOperandValues; ++i) dist[i] = values.at(i).get<double>();
  return dist;
}

const MultiplierLibrary& evoapprox(const std::filesystem::path& shared) {
  static const MultiplierLibrary library = *load_lut_directory(shared / "evoapprox");
  return library;
}

ErrorMap error_map_of(const std::filesystem::path& shared, const nlohmann::json& c) {
  const Multiplier* m = evoapprox(shared).find(c.at("multiplier").get<std::string>());
  EXPECT_NE(m, nullptr);
  return m->error_map();
}

// A random distribution over -128..127 concentrated on `support` values.
OperandDistribution random_distribution(std::mt19937_64& engine, int support) {
  OperandDistribution dist{};
  std::uniform_int_distribution<std::size_t> index(0, kOperandValues - 1);
  for (int i = 0; i < support; ++i) dist[index(engine)] += 1.0;
  for (double& p : dist) p /= support;
  return dist;
}

// Upstream's population_prediction, literally: error_prediction per
// distribution, then Eq. 15/16 with its plain sums.
ErrorStats upstream_population_prediction(const ErrorMap& emap, std::span<const OperandDistribution> dists,
                                          const OperandDistribution& w, double fan_in) {
  double sum = 0.0, sum_squares = 0.0;
  for (const auto& x : dists) {
    const ErrorStats s = *error_prediction(emap, x, w, fan_in);
    sum += s.mean;
    sum_squares += s.mean * s.mean + s.std * s.std;
  }
  const double n = static_cast<double>(dists.size());
  return {sum / n, std::sqrt((sum_squares - sum * sum / n) / n)};
}

TEST(ErrorModelParity, ToDistributionMatchesUpstream) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const auto cases = testing::read_json_file(shared / "reference/error_stats_cases.json");
  for (const auto& c : cases.at("to_distribution")) {
    const auto values = c.at("tensor").get<std::vector<int64_t>>();
    const auto dist = to_distribution(values, c.at("min_val").get<int64_t>(), c.at("max_val").get<int64_t>());
    ASSERT_TRUE(dist.ok()) << dist.status().to_string();
    const auto expected = c.at("dist").get<std::vector<double>>();
    ASSERT_EQ(dist->size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_TRUE(matches_reference((*dist)[i], expected[i])) << i;
  }
}

TEST(ErrorModelParity, ErrorPredictionMatchesUpstream) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const auto cases = testing::read_json_file(shared / "reference/error_stats_cases.json");
  ASSERT_FALSE(cases.at("error_prediction").empty());
  for (const auto& c : cases.at("error_prediction")) {
    const auto result = error_prediction(error_map_of(shared, c), as_distribution(c.at("x_dist")),
                                         as_distribution(c.at("w_dist")), c.at("fan_in").get<double>());
    ASSERT_TRUE(result.ok()) << result.status().to_string();
    EXPECT_TRUE(matches_reference(result->mean, c.at("mean").get<double>())) << c.at("multiplier") << result->mean;
    EXPECT_TRUE(matches_reference(result->std, c.at("std").get<double>())) << c.at("multiplier") << result->std;
  }
}

TEST(ErrorModelParity, PopulationPredictionMatchesUpstream) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const auto cases = testing::read_json_file(shared / "reference/error_stats_cases.json");
  ASSERT_FALSE(cases.at("population_prediction").empty());
  for (const auto& c : cases.at("population_prediction")) {
    std::vector<OperandDistribution> dists;
    for (const auto& d : c.at("x_multidist")) dists.push_back(as_distribution(d));
    const auto result =
        population_prediction(error_map_of(shared, c), dists, as_distribution(c.at("w_dist")), c.at("fan_in").get<double>());
    ASSERT_TRUE(result.ok()) << result.status().to_string();
    EXPECT_TRUE(matches_reference(result->mean, c.at("mean").get<double>())) << c.at("multiplier") << result->mean;
    EXPECT_TRUE(matches_reference(result->std, c.at("std").get<double>())) << c.at("multiplier") << result->std;
  }
}

TEST(ErrorModelParity, ErrorCalculationMatchesUpstream) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const auto cases = testing::read_json_file(shared / "reference/error_stats_cases.json");
  ASSERT_FALSE(cases.at("error_calculation").empty());
  for (const auto& c : cases.at("error_calculation")) {
    const auto accurate = c.at("accurate").get<std::vector<double>>();
    const auto approximate = c.at("approximate").get<std::vector<double>>();
    const auto result = error_calculation(accurate, approximate, c.at("fan_in").get<double>());
    ASSERT_TRUE(result.ok()) << result.status().to_string();
    EXPECT_TRUE(matches_reference(result->mean, c.at("mean").get<double>())) << result->mean;
    EXPECT_TRUE(matches_reference(result->std, c.at("std").get<double>())) << result->std;
  }
}

// Exact moments of the error of ONE product under px * pw.
struct ProductMoments {
  double mean, variance, kurtosis;
};

ProductMoments product_moments(const ErrorMap& emap, const OperandDistribution& x, const OperandDistribution& w) {
  double mean = 0.0;
  for (std::size_t i = 0; i < kOperandValues; ++i)
    for (std::size_t j = 0; j < kOperandValues; ++j) mean += x[i] * w[j] * emap.at(i, j);
  double m2 = 0.0, m4 = 0.0;
  for (std::size_t i = 0; i < kOperandValues; ++i) {
    for (std::size_t j = 0; j < kOperandValues; ++j) {
      const double d2 = (emap.at(i, j) - mean) * (emap.at(i, j) - mean);
      m2 += x[i] * w[j] * d2;
      m4 += x[i] * w[j] * d2 * d2;
    }
  }
  return {mean, m2, m2 > 0 ? m4 / (m2 * m2) : 3.0};
}

// A Monte Carlo estimate from `n` sums of `fan_in` draws agrees with the
// analytic prediction within 5 standard errors: the mean's standard error is
// std / sqrt(n) (std per product scaled as upstream), the std's is
// std * sqrt((kurtosis_of_sum - 1) / (4 n)).
void expect_consistent(const ErrorStats& mc, const ProductMoments& exact, double fan_in, double n) {
  const double predicted_std = std::sqrt(exact.variance / fan_in);
  const double sum_kurtosis = 3.0 + (exact.kurtosis - 3.0) / fan_in;
  EXPECT_LE(std::abs(mc.mean - exact.mean), 5.0 * predicted_std / std::sqrt(n) + 1e-12);
  EXPECT_LE(std::abs(mc.std - predicted_std), 5.0 * predicted_std * std::sqrt((sum_kurtosis - 1.0) / (4.0 * n)) + 1e-12);
}

TEST(ErrorModelParity, MonteCarloAgreesWithPredictionStatistically) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const auto cases = testing::read_json_file(shared / "reference/error_stats_cases.json");
  ASSERT_FALSE(cases.at("single_dist_mc").empty());
  for (const auto& c : cases.at("single_dist_mc")) {
    SCOPED_TRACE(c.at("multiplier").get<std::string>() + " fan_in " + std::to_string(c.at("fan_in").get<int>()));
    const ErrorMap emap = error_map_of(shared, c);
    const auto x = as_distribution(c.at("x_dist")), w = as_distribution(c.at("w_dist"));
    const auto fan_in = c.at("fan_in").get<int64_t>();
    const auto n = c.at("num_samples").get<int64_t>();
    const ProductMoments exact = product_moments(emap, x, w);
    // Upstream's own Monte Carlo run and ours both agree with the analytic model.
    expect_consistent({c.at("mc_mean").get<double>(), c.at("mc_std").get<double>()}, exact, double(fan_in), double(n));
    const auto ours = single_dist_mc(emap, x, w, fan_in, n, /*seed=*/42);
    ASSERT_TRUE(ours.ok()) << ours.status().to_string();
    expect_consistent(*ours, exact, double(fan_in), double(n));
  }
}

TEST(ErrorModel, SingleDistMcIsReproducibleAndSeeded) {
  std::vector<double> errors(kTableSize);
  for (std::size_t i = 0; i < errors.size(); ++i) errors[i] = double(i % 7) - 3.0;
  const ErrorMap emap(errors);
  std::mt19937_64 engine(1);
  const auto x = random_distribution(engine, 40), w = random_distribution(engine, 40);
  const auto a = *single_dist_mc(emap, x, w, 9, 1000, 5);
  const auto b = *single_dist_mc(emap, x, w, 9, 1000, 5);
  const auto c = *single_dist_mc(emap, x, w, 9, 1000, 6);
  EXPECT_EQ(a.mean, b.mean);
  EXPECT_EQ(a.std, b.std);
  EXPECT_NE(a.mean, c.mean);
}

TEST(ErrorModel, FastPopulationPredictionEqualsUpstreamFormulation) {
  std::mt19937_64 engine(7);
  std::uniform_int_distribution<int> error(-500, 500);
  std::vector<double> errors(kTableSize);
  for (double& e : errors) e = error(engine);
  const ErrorMap emap(errors);
  const auto w = random_distribution(engine, 300);
  for (int support : {1, 5, 25, 150}) {
    std::vector<OperandDistribution> dists;
    for (int i = 0; i < 64; ++i) dists.push_back(random_distribution(engine, support));
    const ErrorStats fast = *population_prediction(emap, dists, w, support);
    const ErrorStats naive = upstream_population_prediction(emap, dists, w, support);
    EXPECT_TRUE(matches_reference(fast.mean, naive.mean)) << fast.mean << " vs " << naive.mean;
    EXPECT_TRUE(matches_reference(fast.std, naive.std)) << fast.std << " vs " << naive.std;
  }
}

TEST(ErrorModel, RowHistogramsFromRowsEqualDistributions) {
  std::mt19937_64 engine(3);
  std::uniform_int_distribution<int> value(-128, 127);
  Int8Matrix rows{32, 25, std::vector<int8_t>(32 * 25)};
  for (int8_t& v : rows.values) v = static_cast<int8_t>(value(engine));
  std::vector<OperandDistribution> dists;
  for (std::size_t r = 0; r < rows.rows; ++r) dists.push_back(operand_distribution(rows.row(r)));
  std::vector<double> errors(kTableSize);
  for (double& e : errors) e = value(engine);
  const ErrorMap emap(errors);
  const auto w = random_distribution(engine, 100);
  const RowHistograms from_rows = RowHistograms::from_rows(rows);
  const ErrorStats a = population_prediction(ActivationErrorMoments(emap, w, from_rows.support()), from_rows, 25);
  const ErrorStats b = *population_prediction(emap, dists, w, 25);
  EXPECT_TRUE(matches_reference(a.mean, b.mean));
  EXPECT_TRUE(matches_reference(a.std, b.std));
}

TEST(ErrorModel, VarianceDoesNotCancelUnderALargeOffset) {
  // e = 1e9 + (x mod 2): one product's std is exactly 0.5 for uniform x over
  // an even count of values, whatever the offset. E[e^2] - E[e]^2 would lose
  // every digit here (1e18 against 0.25).
  std::vector<double> errors(kTableSize);
  for (std::size_t x = 0; x < kOperandValues; ++x)
    for (std::size_t w = 0; w < kOperandValues; ++w) errors[x * kOperandValues + w] = 1e9 + double(x % 2);
  const ErrorMap emap(errors);
  OperandDistribution uniform{};
  uniform.fill(1.0 / kOperandValues);
  std::vector<OperandDistribution> dists(8, uniform);
  const ErrorStats stats = *population_prediction(emap, dists, uniform, 1.0);
  EXPECT_DOUBLE_EQ(stats.mean, 1e9 + 0.5);
  EXPECT_NEAR(stats.std, 0.5, 1e-9);
}

TEST(ErrorModel, ExactMultiplierHasNoError) {
  const ErrorMap emap = Multiplier::exact("exact", {}).error_map();
  std::mt19937_64 engine(11);
  std::vector<OperandDistribution> dists{random_distribution(engine, 9), random_distribution(engine, 9)};
  const ErrorStats stats = *population_prediction(emap, dists, random_distribution(engine, 50), 9);
  EXPECT_EQ(stats.mean, 0.0);
  EXPECT_EQ(stats.std, 0.0);
}

TEST(ErrorModel, BadInputsAreNamedErrors) {
  const ErrorMap emap = Multiplier::exact("exact", {}).error_map();
  OperandDistribution good{};
  good[128] = 1.0;
  OperandDistribution nan_dist = good;
  nan_dist[3] = std::nan("");
  OperandDistribution unnormalized = good;
  unnormalized[0] = 0.5;

  auto message = [](const auto& result) { return result.status().message(); };
  EXPECT_NE(message(error_prediction(emap, good, good, 0)).find("fan_in"), std::string::npos);
  EXPECT_NE(message(error_prediction(emap, nan_dist, good, 1)).find("x_dist[3]"), std::string::npos);
  EXPECT_NE(message(error_prediction(emap, good, unnormalized, 1)).find("w_dist sums to"), std::string::npos);
  EXPECT_NE(message(population_prediction(emap, {}, good, 1)).find("x_multidist is empty"), std::string::npos);
  std::vector<OperandDistribution> with_bad{good, nan_dist};
  EXPECT_NE(message(population_prediction(emap, with_bad, good, 1)).find("x_multidist[1]"), std::string::npos);
  EXPECT_NE(message(single_dist_mc(emap, good, good, 0, 10, 1)).find("fan_in"), std::string::npos);
  EXPECT_NE(message(single_dist_mc(emap, good, good, 1, 0, 1)).find("num_samples"), std::string::npos);
  const std::vector<double> a{1, 2}, b{1};
  EXPECT_NE(message(error_calculation(a, b, 1)).find("approximate has 1"), std::string::npos);
  const std::vector<double> c{1, std::nan("")};
  EXPECT_NE(message(error_calculation(a, c, 1)).find("position 1"), std::string::npos);
  const std::vector<int64_t> out_of_range{1, 300};
  EXPECT_NE(message(to_distribution(out_of_range, -128, 127)).find("value 300 at position 1"), std::string::npos);
  EXPECT_FALSE(to_distribution({}, -128, 127).ok());
}

TEST(ErrorModel, ErrorCalculationUsesAccurateMinusApproximate) {
  const std::vector<double> accurate{10, 20, 30}, approximate{8, 20, 35};
  const ErrorStats stats = *error_calculation(accurate, approximate, 2.0);
  // differences 2, 0, -5: mean -1, squared deviations 9, 1, 16
  EXPECT_DOUBLE_EQ(stats.mean, -0.5);
  EXPECT_DOUBLE_EQ(stats.std, std::sqrt(26.0 / 3.0) / 2.0);
}

}  // namespace
}  // namespace agnx
