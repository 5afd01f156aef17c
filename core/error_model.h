// The probabilistic error model of agnapprox.utils.error_stats.
//
// A multiplier's error map e[x][w] = approx(x, w) - x*w is combined with
// operand distributions to predict the mean and standard deviation of the
// error of ONE product (see ../shared/spec/matching.md, "Error model").
//
// The upstream functions are here with their upstream semantics. On top of
// them, ActivationErrorMoments + RowHistograms make population_prediction
// cheap: for a fixed weight distribution, each activation value's first and
// second error moments are computed once per multiplier, after which each
// sampled row costs O(distinct values in the row) instead of 256x256.
// All arithmetic is float64. Everything here is stateless or immutable after
// construction and therefore safe to use from several threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "core/operands.h"
#include "core/status.h"

namespace agnx {

// e[x][w] for x, w in -128..127, row = activation, column = weight, both
// indexed by value + 128.
class ErrorMap {
 public:
  // REQUIRES: errors.size() == 256 * 256, row-major.
  explicit ErrorMap(std::vector<double> errors);

  double at(std::size_t x_index, std::size_t w_index) const { return errors_[x_index * kOperandValues + w_index]; }
  std::span<const double> row(std::size_t x_index) const {
    return {errors_.data() + x_index * kOperandValues, kOperandValues};
  }
  std::span<const double> values() const { return errors_; }

 private:
  std::vector<double> errors_;
};

// Mean and standard deviation of an error.
struct ErrorStats {
  double mean = 0.0;
  double std = 0.0;
};

// agnapprox error_prediction: mean = sum e*px*pw,
// std = sqrt(sum (e-mean)^2 * px * pw) / sqrt(fan_in).
// Errors: fan_in <= 0 or a distribution that is not one (named x_dist/w_dist).
Result<ErrorStats> error_prediction(const ErrorMap& emap, std::span<const double> x_dist,
                                    std::span<const double> w_dist, double fan_in);

// agnapprox population_prediction: error_prediction for each x_dist of
// `x_multidist`, aggregated as mean = avg(means) and
// std = sqrt((sum(means^2 + stds^2) - sum(means)^2 / n) / n), evaluated here
// in the equivalent cancellation-free form sqrt(var(means) + avg(stds^2)).
// Errors: fan_in <= 0, an empty population, or an invalid distribution.
Result<ErrorStats> population_prediction(const ErrorMap& emap, std::span<const OperandDistribution> x_multidist,
                                         std::span<const double> w_dist, double fan_in);

// agnapprox single_dist_mc: `num_samples` Monte Carlo runs, each the sum of
// `fan_in` errors drawn from the joint distribution px * pw; returns the mean
// and the population std of the sums, each divided by fan_in. Reproducible:
// the draws come from std::mt19937_64 seeded with `seed`.
// Errors: fan_in < 1, num_samples < 1, or an invalid distribution.
Result<ErrorStats> single_dist_mc(const ErrorMap& emap, std::span<const double> x_dist,
                                  std::span<const double> w_dist, int64_t fan_in, int64_t num_samples,
                                  uint64_t seed);

// agnapprox error_calculation: mean(accurate - approximate) / fan_in and
// std((accurate - approximate) / fan_in) with ddof 0.
// Errors: sizes differ, empty input, fan_in <= 0, or a non-finite value.
Result<ErrorStats> error_calculation(std::span<const double> accurate, std::span<const double> approximate,
                                     double fan_in);

// The sampled activation rows of one layer as sparse normalized histograms.
// Built once per layer and shared by the predictions of every multiplier.
class RowHistograms {
 public:
  // One histogram per row of `rows`, each normalized by the row length.
  // REQUIRES: rows.rows > 0 and rows.cols > 0.
  static RowHistograms from_rows(const Int8Matrix& rows);
  // The non-zero entries of each distribution.
  static RowHistograms from_distributions(std::span<const OperandDistribution> dists);

  std::size_t size() const { return offsets_.size() - 1; }
  // Which activation values occur (with non-zero probability) in any row.
  const std::array<bool, kOperandValues>& support() const { return support_; }

  struct Entry {
    std::size_t x_index;
    double probability;
  };
  std::span<const Entry> row(std::size_t i) const {
    return {entries_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]};
  }

 private:
  RowHistograms() = default;
  void add_row(std::span<const double> probabilities_by_index);

  std::vector<Entry> entries_;
  std::vector<std::size_t> offsets_{0};
  std::array<bool, kOperandValues> support_{};
};

// For a fixed weight distribution pw, the error moments of each activation
// value x: mean(x) = sum_w pw e[x][w] and variance(x) = sum_w pw (e[x][w] -
// mean(x))^2 (two-pass, so it never cancels). Computed only for the x values
// in `x_support`; the others read as 0.
class ActivationErrorMoments {
 public:
  ActivationErrorMoments(const ErrorMap& emap, std::span<const double> w_dist,
                         const std::array<bool, kOperandValues>& x_support);

  // The same from any source of errors: error_at(x_index, w_index) returns
  // e[x][w]. Lets a caller derive errors straight from a product table
  // without materializing a 256x256 map.
  template <typename ErrorAt>
  static ActivationErrorMoments from_errors(const ErrorAt& error_at, std::span<const double> w_dist,
                                            const std::array<bool, kOperandValues>& x_support);

  double mean(std::size_t x_index) const { return mean_[x_index]; }
  double variance(std::size_t x_index) const { return variance_[x_index]; }

 private:
  ActivationErrorMoments() = default;

  // The weight values that occur, packed: only they contribute.
  struct PackedWeights {
    std::vector<std::size_t> index;
    std::vector<double> probability;
  };
  static PackedWeights pack(std::span<const double> w_dist);
  // Sets the moments of x from errors[k] = e[x][weights.index[k]].
  void set(std::size_t x_index, const PackedWeights& weights, std::span<const double> errors);

  std::array<double, kOperandValues> mean_{};
  std::array<double, kOperandValues> variance_{};
};

template <typename ErrorAt>
ActivationErrorMoments ActivationErrorMoments::from_errors(const ErrorAt& error_at, std::span<const double> w_dist,
                                                           const std::array<bool, kOperandValues>& x_support) {
  ActivationErrorMoments moments;
  const PackedWeights weights = pack(w_dist);
  std::vector<double> errors(weights.index.size());
  for (std::size_t x = 0; x < kOperandValues; ++x) {
    if (!x_support[x]) continue;
    for (std::size_t k = 0; k < errors.size(); ++k) errors[k] = error_at(x, weights.index[k]);
    moments.set(x, weights, errors);
  }
  return moments;
}

// population_prediction from precomputed moments. Per row with probabilities
// px: mean_i = sum px mean(x); var_i = sum px (variance(x) + (mean(x) -
// mean_i)^2) (law of total variance: every term is non-negative), the same
// numbers as error_prediction's sum (e - mean_i)^2 px pw. Aggregated as in
// population_prediction. REQUIRES: rows.size() > 0, fan_in > 0, and
// `moments` built with a support covering rows.support().
ErrorStats population_prediction(const ActivationErrorMoments& moments, const RowHistograms& rows, double fan_in);

}  // namespace agnx
