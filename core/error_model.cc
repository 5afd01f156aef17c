#include "core/error_model.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <random>
#include <string>

namespace agnx {
namespace {

Status validate_fan_in(double fan_in) {
  if (!(fan_in > 0.0) || !std::isfinite(fan_in)) {
    return Status::invalid_argument("fan_in must be a positive number, got " + std::to_string(fan_in));
  }
  return {};
}

Status validate_operand_distributions(std::span<const double> x_dist, std::span<const double> w_dist) {
  if (x_dist.size() != kOperandValues) return Status::invalid_argument("x_dist must have 256 entries");
  if (w_dist.size() != kOperandValues) return Status::invalid_argument("w_dist must have 256 entries");
  AGNX_RETURN_IF_ERROR(validate_distribution(x_dist, "x_dist"));
  return validate_distribution(w_dist, "w_dist");
}

// Aggregates per-row means and variances (variance of ONE product, before the
// division by fan_in) as agnapprox's Eq. 15 and 16, without cancellation.
ErrorStats aggregate(std::span<const double> means, std::span<const double> variances, double fan_in) {
  const double n = static_cast<double>(means.size());
  double mean_sum = 0.0, variance_sum = 0.0;
  for (std::size_t i = 0; i < means.size(); ++i) {
    mean_sum += means[i];
    variance_sum += variances[i];
  }
  const double mean = mean_sum / n;
  double spread = 0.0;
  for (double m : means) spread += (m - mean) * (m - mean);
  return {mean, std::sqrt(spread / n + variance_sum / fan_in / n)};
}

// Inverse-CDF sampling of an index from a discrete distribution.
class DiscreteSampler {
 public:
  explicit DiscreteSampler(std::span<const double> probabilities) : cdf_(probabilities.size()) {
    double sum = 0.0;
    for (std::size_t i = 0; i < probabilities.size(); ++i) cdf_[i] = (sum += probabilities[i]);
    for (double& c : cdf_) c /= sum;
  }
  std::size_t operator()(std::mt19937_64& engine) const {
    const double u = static_cast<double>(engine() >> 11) * 0x1.0p-53;  // uniform in [0, 1)
    // The first entry whose CDF exceeds u: never a zero-probability entry. The
    // last CDF value is sum / sum == 1.0 exactly, so `it` is always in range.
    const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    return static_cast<std::size_t>(it - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

}  // namespace

ErrorMap::ErrorMap(std::vector<double> errors) : errors_(std::move(errors)) {
  assert(errors_.size() == kOperandValues * kOperandValues);
}

Result<ErrorStats> error_prediction(const ErrorMap& emap, std::span<const double> x_dist,
                                    std::span<const double> w_dist, double fan_in) {
  AGNX_RETURN_IF_ERROR(validate_fan_in(fan_in));
  AGNX_RETURN_IF_ERROR(validate_operand_distributions(x_dist, w_dist));
  double mean = 0.0;
  for (std::size_t x = 0; x < kOperandValues; ++x) {
    for (std::size_t w = 0; w < kOperandValues; ++w) mean += emap.at(x, w) * x_dist[x] * w_dist[w];
  }
  double variance = 0.0;
  for (std::size_t x = 0; x < kOperandValues; ++x) {
    for (std::size_t w = 0; w < kOperandValues; ++w) {
      const double d = emap.at(x, w) - mean;
      variance += d * d * x_dist[x] * w_dist[w];
    }
  }
  return ErrorStats{mean, std::sqrt(variance) / std::sqrt(fan_in)};
}

Result<ErrorStats> population_prediction(const ErrorMap& emap, std::span<const OperandDistribution> x_multidist,
                                         std::span<const double> w_dist, double fan_in) {
  AGNX_RETURN_IF_ERROR(validate_fan_in(fan_in));
  if (x_multidist.empty()) return Status::invalid_argument("x_multidist is empty");
  for (std::size_t i = 0; i < x_multidist.size(); ++i) {
    AGNX_RETURN_IF_ERROR(
        validate_operand_distributions(x_multidist[i], w_dist).with_context("x_multidist[" + std::to_string(i) + "]"));
  }
  const RowHistograms rows = RowHistograms::from_distributions(x_multidist);
  return population_prediction(ActivationErrorMoments(emap, w_dist, rows.support()), rows, fan_in);
}

Result<ErrorStats> single_dist_mc(const ErrorMap& emap, std::span<const double> x_dist,
                                  std::span<const double> w_dist, int64_t fan_in, int64_t num_samples,
                                  uint64_t seed) {
  if (fan_in < 1) return Status::invalid_argument("fan_in must be at least 1");
  if (num_samples < 1) return Status::invalid_argument("num_samples must be at least 1");
  AGNX_RETURN_IF_ERROR(validate_operand_distributions(x_dist, w_dist));
  const DiscreteSampler draw_x(x_dist), draw_w(w_dist);
  std::mt19937_64 engine(seed);
  std::vector<double> sums(static_cast<std::size_t>(num_samples));
  for (double& sum : sums) {
    sum = 0.0;
    for (int64_t k = 0; k < fan_in; ++k) {
      const std::size_t x = draw_x(engine);
      sum += emap.at(x, draw_w(engine));
    }
  }
  const double n = static_cast<double>(num_samples);
  double total = 0.0;
  for (double s : sums) total += s;
  const double mean = total / n;
  double spread = 0.0;
  for (double s : sums) spread += (s - mean) * (s - mean);
  const auto f = static_cast<double>(fan_in);
  return ErrorStats{mean / f, std::sqrt(spread / n) / f};
}

Result<ErrorStats> error_calculation(std::span<const double> accurate, std::span<const double> approximate,
                                     double fan_in) {
  AGNX_RETURN_IF_ERROR(validate_fan_in(fan_in));
  if (accurate.size() != approximate.size()) {
    return Status::invalid_argument("accurate has " + std::to_string(accurate.size()) + " values but approximate has " +
                                    std::to_string(approximate.size()));
  }
  if (accurate.empty()) return Status::invalid_argument("accurate and approximate are empty");
  double total = 0.0;
  for (std::size_t i = 0; i < accurate.size(); ++i) {
    if (!std::isfinite(accurate[i]) || !std::isfinite(approximate[i])) {
      return Status::invalid_argument("non-finite value at position " + std::to_string(i));
    }
    total += accurate[i] - approximate[i];
  }
  const double n = static_cast<double>(accurate.size());
  const double mean = total / n;
  double spread = 0.0;
  for (std::size_t i = 0; i < accurate.size(); ++i) {
    const double d = (accurate[i] - approximate[i]) - mean;
    spread += d * d;
  }
  return ErrorStats{mean / fan_in, std::sqrt(spread / n) / fan_in};
}

RowHistograms RowHistograms::from_rows(const Int8Matrix& rows) {
  assert(rows.rows > 0 && rows.cols > 0);
  RowHistograms histograms;
  const double weight = 1.0 / static_cast<double>(rows.cols);
  std::array<uint32_t, kOperandValues> counts{};
  std::vector<std::size_t> present;  // distinct values of the row, in order of appearance
  present.reserve(kOperandValues);
  for (std::size_t i = 0; i < rows.rows; ++i) {
    for (int8_t v : rows.row(i)) {
      if (counts[operand_index(v)]++ == 0) present.push_back(operand_index(v));
    }
    for (std::size_t x : present) {
      histograms.entries_.push_back({x, counts[x] * weight});
      histograms.support_[x] = true;
      counts[x] = 0;
    }
    present.clear();
    histograms.offsets_.push_back(histograms.entries_.size());
  }
  return histograms;
}

RowHistograms RowHistograms::from_distributions(std::span<const OperandDistribution> dists) {
  RowHistograms histograms;
  for (const auto& dist : dists) histograms.add_row(dist);
  return histograms;
}

void RowHistograms::add_row(std::span<const double> probabilities_by_index) {
  for (std::size_t x = 0; x < kOperandValues; ++x) {
    if (probabilities_by_index[x] != 0.0) {
      entries_.push_back({x, probabilities_by_index[x]});
      support_[x] = true;
    }
  }
  offsets_.push_back(entries_.size());
}

ActivationErrorMoments::ActivationErrorMoments(const ErrorMap& emap, std::span<const double> w_dist,
                                               const std::array<bool, kOperandValues>& x_support)
    : ActivationErrorMoments(
          from_errors([&emap](std::size_t x, std::size_t w) { return emap.at(x, w); }, w_dist, x_support)) {}

ActivationErrorMoments::PackedWeights ActivationErrorMoments::pack(std::span<const double> w_dist) {
  PackedWeights weights;
  for (std::size_t w = 0; w < kOperandValues; ++w) {
    if (w_dist[w] != 0.0) {
      weights.index.push_back(w);
      weights.probability.push_back(w_dist[w]);
    }
  }
  return weights;
}

void ActivationErrorMoments::set(std::size_t x_index, const PackedWeights& weights, std::span<const double> errors) {
  // Four partial sums break the dependency chain of the additions; their
  // order is fixed, so the results are reproducible.
  const std::span<const double> p = weights.probability;
  const std::size_t n = p.size(), blocked = n - n % 4;
  double m[4] = {0.0, 0.0, 0.0, 0.0};
  for (std::size_t k = 0; k < blocked; k += 4)
    for (std::size_t j = 0; j < 4; ++j) m[j] += p[k + j] * errors[k + j];
  for (std::size_t k = blocked; k < n; ++k) m[0] += p[k] * errors[k];
  const double mean = (m[0] + m[1]) + (m[2] + m[3]);
  double v[4] = {0.0, 0.0, 0.0, 0.0};
  for (std::size_t k = 0; k < blocked; k += 4)
    for (std::size_t j = 0; j < 4; ++j) v[j] += p[k + j] * (errors[k + j] - mean) * (errors[k + j] - mean);
  for (std::size_t k = blocked; k < n; ++k) v[0] += p[k] * (errors[k] - mean) * (errors[k] - mean);
  mean_[x_index] = mean;
  variance_[x_index] = (v[0] + v[1]) + (v[2] + v[3]);
}

ErrorStats population_prediction(const ActivationErrorMoments& moments, const RowHistograms& rows, double fan_in) {
  std::vector<double> means(rows.size()), variances(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    double mean = 0.0;
    for (const auto& [x, p] : rows.row(i)) mean += p * moments.mean(x);
    double variance = 0.0;
    for (const auto& [x, p] : rows.row(i)) {
      const double d = moments.mean(x) - mean;
      variance += p * (moments.variance(x) + d * d);
    }
    means[i] = mean;
    variances[i] = variance;
  }
  return aggregate(means, variances, fan_in);
}

}  // namespace agnx
