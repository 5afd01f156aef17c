// One multiplier's 256x256 product table in a file, in the formats users
// bring: row = first operand (activation), column = second operand (weight),
// index = value + 128 for a signed table (row 0 is -128), value for an
// unsigned one. The file holds no signedness; the caller knows it.
//   kBin   65,536 little-endian int32, row-major (EvoApprox's NAME.bin)
//   kNpy   a NumPy .npy array of shape (256, 256), any integer dtype
//   kText  256 non-empty lines of 256 whitespace-separated integers (the
//          text matrices ApproxTorch users keep; integral values written
//          as floats, e.g. 1.6e+01 by numpy.savetxt, are accepted); empty
//          lines are ignored
// Errors name the file and, where it applies, the line and entry at fault
// and what was expected; every value must fit an int32.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace agnx {

enum class LutFormat { kBin, kNpy, kText };

// The file extension of `format`: ".bin", ".npy" or ".txt".
const char* lut_format_extension(LutFormat format);

// "bin", "npy" or "txt" (with or without the dot); anything else is an
// InvalidArgument naming the accepted names.
Result<LutFormat> parse_lut_format(std::string_view name);

// Parses `bytes`, the contents of a table file in `format`, into its 65,536
// products, row-major. `source` names the file in error messages.
Result<std::vector<int32_t>> parse_lut_table(std::string_view bytes, LutFormat format, std::string_view source);

// Reads the 65,536 products of `path`, row-major: parse_lut_table of its
// contents. A file that cannot be opened is kNotFound naming it.
Result<std::vector<int32_t>> read_lut_table(const std::filesystem::path& path, LutFormat format);

// Writes `table` (REQUIRES: 65,536 entries) to `path`, replacing it: int32
// for .bin and .npy, decimal integers for text. IoError on failure.
Status write_lut_table(const std::filesystem::path& path, LutFormat format, std::span<const int32_t> table);

}  // namespace agnx
