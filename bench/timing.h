// Timing for the benchmarks: the best of several runs of a body, in seconds.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>

namespace agnx::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The shortest wall time of `repetitions` (at least 1) runs of `body`.
inline double best_seconds(int repetitions, const std::function<void()>& body) {
  double best = 1e30;
  for (int r = 0; r < std::max(repetitions, 1); ++r) {
    const auto start = Clock::now();
    body();
    best = std::min(best, seconds_since(start));
  }
  return best;
}

}  // namespace agnx::bench
