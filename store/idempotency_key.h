// The form of an idempotency key (see "Idempotent writes" in
// tracking_store.h). Header-only, so that request parsers share it without
// linking the store.
#pragma once

#include <cstddef>
#include <string_view>

namespace agnx::store {

inline constexpr std::size_t kMaxIdempotencyKeyLength = 128;

// True when `key` is 1-128 letters, digits and . _ : -.
inline bool is_idempotency_key(std::string_view key) {
  constexpr std::string_view kAllowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-";
  return !key.empty() && key.size() <= kMaxIdempotencyKeyLength &&
         key.find_first_not_of(kAllowed) == std::string_view::npos;
}

}  // namespace agnx::store
