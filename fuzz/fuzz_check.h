// Helpers of the fuzz targets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

// A promise of the code under test; a broken one aborts, which libFuzzer
// reports as a crash and saves the input that caused it.
#define AGNX_FUZZ_CHECK(condition)                                                                  \
  do {                                                                                              \
    if (!(condition)) {                                                                             \
      std::fprintf(stderr, "%s:%d: AGNX_FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                                 \
    }                                                                                               \
  } while (false)

namespace agnx::fuzz {

// libFuzzer's input as text.
inline std::string_view as_text(const uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace agnx::fuzz
