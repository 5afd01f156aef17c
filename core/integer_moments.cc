#include "core/integer_moments.h"

#include <algorithm>
#include <cmath>

namespace agnx {

double IntegerMoments::mean() const {
  if (count_ == 0) return 0.0;
  return static_cast<double>(static_cast<long double>(sum_) / static_cast<long double>(count_));
}

double IntegerMoments::std() const {
  if (count_ == 0) return 0.0;
  // With q = floor(sum / n) and r = sum - q n (0 <= r < n):
  //   sum((y - q)^2) = sum(y^2) - 2 q sum(y) + n q^2   (exact, small magnitude)
  //   n * variance   = sum((y - q)^2) - r^2 / n
  const Int128 n = count_;
  Int128 q = sum_ / n;
  if (sum_ % n < 0) --q;  // floor, so that r >= 0
  const Int128 r = sum_ - q * n;
  const Int128 centered = sum_squares_ - 2 * q * sum_ + n * q * q;
  const auto as_real = [](Int128 v) { return static_cast<long double>(v); };
  const long double variance = (as_real(centered) - as_real(r) * as_real(r) / as_real(n)) / as_real(n);
  return static_cast<double>(std::sqrt(std::max(variance, 0.0L)));
}

}  // namespace agnx
