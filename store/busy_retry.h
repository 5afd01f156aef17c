// BusyRetry: a transaction that found the database locked by another
// connection (kUnavailable, after SQLite's own busy timeout) is tried again
// after a pause, until a deadline. Pauses double from 1 ms up to 100 ms.
//
//   BusyRetry retry(deadline);
//   Status status;
//   do status = attempt(); while (retry.again(status));
//
// Thread safety: one object per retry loop.
#pragma once

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include "core/status.h"

namespace agnx::store {

class BusyRetry {
 public:
  explicit BusyRetry(std::chrono::milliseconds deadline)
      : deadline_(deadline), give_up_at_(std::chrono::steady_clock::now() + deadline) {}

  // True after a pause when `failure` is kUnavailable and the deadline has not
  // passed: the caller tries again. False otherwise: the caller returns.
  bool again(const Status& failure) {
    if (failure.code() != StatusCode::kUnavailable) return false;
    if (std::chrono::steady_clock::now() + pause_ > give_up_at_) return false;
    std::this_thread::sleep_for(pause_);
    pause_ = std::min(pause_ * 2, kMaxPause);
    return true;
  }

  // `failure` of the last attempt, saying how long it was retried.
  Status given_up(const Status& failure) const {
    if (failure.code() != StatusCode::kUnavailable) return failure;
    return failure.with_context("the database stayed locked for " + std::to_string(deadline_.count()) + " ms");
  }

 private:
  static constexpr std::chrono::milliseconds kMaxPause{100};

  std::chrono::milliseconds deadline_;
  std::chrono::steady_clock::time_point give_up_at_;
  std::chrono::milliseconds pause_{1};
};

// The Status of a Status or of a Result<T>.
inline const Status& status_of(const Status& status) { return status; }
template <typename T>
Status status_of(const Result<T>& result) {
  return result.status();
}

}  // namespace agnx::store
