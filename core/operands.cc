#include "core/operands.h"

#include <cmath>
#include <string>

namespace agnx {

Result<std::vector<double>> to_distribution(std::span<const int64_t> values, int64_t min_val, int64_t max_val) {
  if (min_val > max_val) {
    return Status::invalid_argument("to_distribution: min_val " + std::to_string(min_val) + " exceeds max_val " +
                                    std::to_string(max_val));
  }
  if (values.empty()) return Status::invalid_argument("to_distribution: the tensor is empty");
  std::vector<double> counts(static_cast<std::size_t>(max_val - min_val + 1), 0.0);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i] < min_val || values[i] > max_val) {
      return Status::invalid_argument("to_distribution: value " + std::to_string(values[i]) + " at position " +
                                      std::to_string(i) + " is outside [" + std::to_string(min_val) + ", " +
                                      std::to_string(max_val) + "]");
    }
    counts[static_cast<std::size_t>(values[i] - min_val)] += 1.0;
  }
  const double total = static_cast<double>(values.size());
  for (double& c : counts) c /= total;
  return counts;
}

OperandDistribution operand_distribution(std::span<const int8_t> values) {
  std::array<std::size_t, kOperandValues> counts{};
  for (int8_t v : values) ++counts[operand_index(v)];
  OperandDistribution dist{};
  const double total = static_cast<double>(values.size());
  for (std::size_t i = 0; i < kOperandValues; ++i) dist[i] = static_cast<double>(counts[i]) / total;
  return dist;
}

Status validate_distribution(std::span<const double> dist, std::string_view name) {
  double sum = 0.0;
  for (std::size_t i = 0; i < dist.size(); ++i) {
    if (!std::isfinite(dist[i]) || dist[i] < 0.0) {
      return Status::invalid_argument(std::string(name) + "[" + std::to_string(i) +
                                      "] is not a finite non-negative probability");
    }
    sum += dist[i];
  }
  if (std::abs(sum - 1.0) > 1e-6) {
    return Status::invalid_argument(std::string(name) + " sums to " + std::to_string(sum) + ", not 1");
  }
  return {};
}

}  // namespace agnx
