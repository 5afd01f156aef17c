// Exact streaming mean and standard deviation of integer values, such as a
// layer's integer outputs y = sum(x_q * w_q) during capture.
//
// Sums are kept exactly in 128-bit integers, so the result does not depend on
// the order or batching of add() calls and never suffers cancellation.
// Not thread-safe: use one accumulator per thread and merge().
#pragma once

#include <cstdint>

namespace agnx {

__extension__ using Int128 = __int128;  // a GCC/Clang extension

class IntegerMoments {
 public:
  // REQUIRES: |value| < 2^40 and fewer than 2^40 values in total.
  void add(int64_t value) {
    ++count_;
    sum_ += value;
    sum_squares_ += static_cast<Int128>(value) * value;
  }
  void merge(const IntegerMoments& other) {
    count_ += other.count_;
    sum_ += other.sum_;
    sum_squares_ += other.sum_squares_;
  }

  int64_t count() const { return count_; }
  // 0 when empty.
  double mean() const;
  // Population standard deviation (ddof 0); 0 when empty.
  double std() const;

 private:
  int64_t count_ = 0;
  Int128 sum_ = 0;
  Int128 sum_squares_ = 0;
};

}  // namespace agnx
