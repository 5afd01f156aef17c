#include "core/characterization.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace agnx {

ErrorCharacterization characterize(const Multiplier& multiplier) {
  const int offset = multiplier.is_signed() ? kOperandMin : 0;
  const std::span<const int32_t> table = multiplier.table();
  ErrorCharacterization c;
  double sum = 0.0, sum_abs = 0.0, sum_sq = 0.0, sum_rel = 0.0;
  std::size_t wrong = 0, nonzero = 0;
  for (int i = 0; i < 256; ++i) {
    for (int j = 0; j < 256; ++j) {
      const int64_t exact = static_cast<int64_t>(i + offset) * (j + offset);
      const auto error = static_cast<double>(table[static_cast<std::size_t>(i * 256 + j)] - exact);
      const double magnitude = std::abs(error);
      sum += error;
      sum_abs += magnitude;
      sum_sq += error * error;
      c.wce = std::max(c.wce, magnitude);
      wrong += error != 0.0;
      if (exact != 0) {
        const double relative = magnitude / static_cast<double>(std::llabs(exact));
        sum_rel += relative;
        c.wcre_pct = std::max(c.wcre_pct, 100.0 * relative);
        ++nonzero;
      }
    }
  }
  const auto n = static_cast<double>(kTableSize);
  c.mae = sum_abs / n;
  c.mse = sum_sq / n;
  c.error_mean = sum / n;
  c.error_std = std::sqrt(std::max(0.0, c.mse - c.error_mean * c.error_mean));
  c.mae_pct = 100.0 * c.mae / kOutputRange;
  c.wce_pct = 100.0 * c.wce / kOutputRange;
  c.error_mean_pct = 100.0 * c.error_mean / kOutputRange;
  c.error_std_pct = 100.0 * c.error_std / kOutputRange;
  c.mre_pct = 100.0 * sum_rel / static_cast<double>(nonzero);
  c.ep_pct = 100.0 * static_cast<double>(wrong) / n;
  return c;
}

}  // namespace agnx
