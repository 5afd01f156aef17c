// Wall-clock time as agnx records it (the tracking store, jobs, logs).
#pragma once

#include <chrono>
#include <cstdint>

namespace agnx {

// Milliseconds since the Unix epoch.
inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace agnx
