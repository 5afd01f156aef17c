#include "core/lut_table.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "core/multiplier.h"
#include "core/number_text.h"
#include "core/npy.h"

namespace agnx {
namespace {

constexpr int64_t kSide = 256;

Result<std::vector<int32_t>> parse_bin(std::string_view bytes, const std::string& source) {
  if (bytes.size() != kTableSize * sizeof(int32_t)) {
    return Status::invalid_argument(source + ": " + std::to_string(bytes.size()) +
                                    " bytes, expected 262144 (256x256 little-endian int32)");
  }
  std::vector<int32_t> table(kTableSize);
  std::memcpy(table.data(), bytes.data(), bytes.size());
  return table;
}

bool fits_int32(int64_t value) {
  return value >= std::numeric_limits<int32_t>::min() && value <= std::numeric_limits<int32_t>::max();
}

Result<std::vector<int32_t>> parse_npy_table(std::string_view bytes, const std::string& source) {
  AGNX_ASSIGN_OR_RETURN(const NpyArray array, parse_npy(bytes, source));
  if (array.shape != std::vector<int64_t>{kSide, kSide}) {
    std::string shape;
    for (int64_t d : array.shape) (shape += shape.empty() ? "" : ", ") += std::to_string(d);
    return Status::invalid_argument(source + ": shape (" + shape + "), expected (256, 256)");
  }
  AGNX_ASSIGN_OR_RETURN(const std::vector<int64_t> values, array.to_int64(source));
  std::vector<int32_t> table(kTableSize);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!fits_int32(values[i])) {
      return Status::invalid_argument(source + ": entry [" + std::to_string(i / 256) + ", " +
                                      std::to_string(i % 256) + "] = " + std::to_string(values[i]) +
                                      " does not fit an int32");
    }
    table[i] = static_cast<int32_t>(values[i]);
  }
  return table;
}

// An integer written as an integer or as an integral decimal float
// ("1.6e+01"); nullopt with `why` set (naming the text) for anything else.
std::optional<int32_t> parse_integer(const std::string& text, std::string& why) {
  const std::optional<double> parsed = parse_decimal(text, why);
  if (!parsed) return std::nullopt;
  if (*parsed != std::floor(*parsed) || *parsed < std::numeric_limits<int32_t>::min() ||
      *parsed > std::numeric_limits<int32_t>::max()) {
    why = "'" + text + "' is not an int32 integer";
    return std::nullopt;
  }
  return static_cast<int32_t>(*parsed);
}

Result<std::vector<int32_t>> parse_text(std::string_view bytes, const std::string& source) {
  std::istringstream in{std::string(bytes)};
  std::vector<int32_t> table;
  table.reserve(kTableSize);
  std::string line;
  std::size_t rows = 0;
  for (std::size_t line_number = 1; std::getline(in, line); ++line_number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = source + ": line " + std::to_string(line_number);
    if (++rows > kSide) return Status::invalid_argument(where + ": more than 256 rows, expected 256");
    std::istringstream entries(line);
    std::string entry;
    std::size_t column = 0;
    for (; entries >> entry; ++column) {
      std::string why;
      const std::optional<int32_t> value = parse_integer(entry, why);
      if (!value) return Status::invalid_argument(where + ": entry " + std::to_string(column + 1) + " " + why);
      if (column < kSide) table.push_back(*value);
    }
    if (column != kSide) {
      return Status::invalid_argument(where + ": " + std::to_string(column) + " entries, expected 256");
    }
  }
  if (rows != kSide) {
    return Status::invalid_argument(source + ": " + std::to_string(rows) +
                                    " rows, expected 256 (one per first operand)");
  }
  return table;
}

}  // namespace

const char* lut_format_extension(LutFormat format) {
  switch (format) {
    case LutFormat::kBin: return ".bin";
    case LutFormat::kNpy: return ".npy";
    case LutFormat::kText: return ".txt";
  }
  return "";
}

Result<LutFormat> parse_lut_format(std::string_view name) {
  if (name.starts_with('.')) name.remove_prefix(1);
  if (name == "bin") return LutFormat::kBin;
  if (name == "npy") return LutFormat::kNpy;
  if (name == "txt") return LutFormat::kText;
  return Status::invalid_argument("unknown LUT format '" + std::string(name) + "', expected bin, npy or txt");
}

Result<std::vector<int32_t>> parse_lut_table(std::string_view bytes, LutFormat format, std::string_view source) {
  const std::string where(source);
  switch (format) {
    case LutFormat::kBin: return parse_bin(bytes, where);
    case LutFormat::kNpy: return parse_npy_table(bytes, where);
    case LutFormat::kText: return parse_text(bytes, where);
  }
  return Status::internal("unknown LUT format");
}

Result<std::vector<int32_t>> read_lut_table(const std::filesystem::path& path, LutFormat format) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found(path.string() + ": cannot open the product table");
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return Status::io_error(path.string() + ": cannot read the product table");
  return parse_lut_table(contents.str(), format, path.string());
}

Status write_lut_table(const std::filesystem::path& path, LutFormat format, std::span<const int32_t> table) {
  if (format == LutFormat::kNpy) {
    const std::vector<int64_t> values(table.begin(), table.end());
    return write_npy(path, NpyArray::from_int64(NpyDtype::kInt32, {kSide, kSide}, values));
  }
  std::ofstream out(path, std::ios::binary);
  if (format == LutFormat::kBin) {
    out.write(reinterpret_cast<const char*>(table.data()), static_cast<std::streamsize>(table.size_bytes()));
  } else {
    for (std::size_t row = 0; row < kTableSize / 256; ++row) {
      for (std::size_t column = 0; column < 256; ++column) out << (column ? " " : "") << table[row * 256 + column];
      out << '\n';
    }
  }
  if (!out) return Status::io_error(path.string() + ": cannot write the product table");
  return Status();
}

}  // namespace agnx
