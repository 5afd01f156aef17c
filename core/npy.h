// NumPy .npy arrays: reading and writing the format of numpy.save.
//
// Supported: format versions 1.0, 2.0 and 3.0; arrays of little-endian int8,
// uint8, int16, int32, int64, float32 and float64 (descr '|i1', '|u1', '<i2',
// '<i4', '<i8', '<f4', '<f8'). Fortran-order arrays are reordered to C order on reading.
// Anything else (big-endian, other dtypes, a malformed header, a payload whose
// size does not match the shape) is an InvalidArgument error naming the
// source and what was expected. Nothing here throws or aborts on bad input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace agnx {

enum class NpyDtype { kInt8, kUInt8, kInt16, kInt32, kInt64, kFloat32, kFloat64 };

// The numpy descr of `dtype`, e.g. "<i4".
const char* npy_descr(NpyDtype dtype);
std::size_t npy_item_size(NpyDtype dtype);

// An n-dimensional array as stored in a .npy file.
struct NpyArray {
  NpyDtype dtype = NpyDtype::kFloat64;
  std::vector<int64_t> shape;   // empty for a 0-d (scalar) array
  std::vector<std::byte> data;  // element_count() * item size bytes, C order

  std::size_t element_count() const;
  bool is_integer() const;

  // Every element widened to int64. Fails (naming `source`) for float arrays.
  Result<std::vector<int64_t>> to_int64(std::string_view source) const;
  // Every element converted to double (exact for all but huge int64).
  std::vector<double> to_double() const;

  // Builds an array of `dtype` from `values` (C order), converting each value
  // with static_cast. REQUIRES: values.size() equals the product of `shape`.
  static NpyArray from_int64(NpyDtype dtype, std::vector<int64_t> shape, std::span<const int64_t> values);
  static NpyArray from_double(NpyDtype dtype, std::vector<int64_t> shape, std::span<const double> values);
};

// Parses the bytes of a .npy file. `source` names it in error messages.
Result<NpyArray> parse_npy(std::string_view bytes, std::string_view source);

// Reads and parses a .npy file; an unreadable file is an IoError naming it.
Result<NpyArray> read_npy(const std::filesystem::path& path);

// The bytes of `array` in .npy format version 1.0.
std::string serialize_npy(const NpyArray& array);

// Writes `array` to `path` (replacing it); IoError on failure.
Status write_npy(const std::filesystem::path& path, const NpyArray& array);

}  // namespace agnx
