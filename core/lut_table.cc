#include "core/lut_table.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "core/multiplier.h"
#include "core/npy.h"

namespace agnx {
namespace {

constexpr int64_t kSide = 256;

Result<std::vector<int32_t>> read_bin(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found(path.string() + ": cannot open the product table");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() != kTableSize * sizeof(int32_t)) {
    return Status::invalid_argument(path.string() + ": " + std::to_string(bytes.size()) +
                                    " bytes, expected 262144 (256x256 little-endian int32)");
  }
  std::vector<int32_t> table(kTableSize);
  std::memcpy(table.data(), bytes.data(), bytes.size());
  return table;
}

bool fits_int32(int64_t value) {
  return value >= std::numeric_limits<int32_t>::min() && value <= std::numeric_limits<int32_t>::max();
}

Result<std::vector<int32_t>> read_npy_table(const std::filesystem::path& path) {
  AGNX_ASSIGN_OR_RETURN(const NpyArray array, read_npy(path));
  if (array.shape != std::vector<int64_t>{kSide, kSide}) {
    std::string shape;
    for (int64_t d : array.shape) (shape += shape.empty() ? "" : ", ") += std::to_string(d);
    return Status::invalid_argument(path.string() + ": shape (" + shape + "), expected (256, 256)");
  }
  AGNX_ASSIGN_OR_RETURN(const std::vector<int64_t> values, array.to_int64(path.string()));
  std::vector<int32_t> table(kTableSize);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!fits_int32(values[i])) {
      return Status::invalid_argument(path.string() + ": entry [" + std::to_string(i / 256) + ", " +
                                      std::to_string(i % 256) + "] = " + std::to_string(values[i]) +
                                      " does not fit an int32");
    }
    table[i] = static_cast<int32_t>(values[i]);
  }
  return table;
}

// An integer written as an integer or as an integral float ("1.6e+01").
bool parse_integer(const std::string& text, int32_t& value) {
  char* end = nullptr;
  const double parsed = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || parsed != std::floor(parsed)) return false;
  if (!(parsed >= std::numeric_limits<int32_t>::min() && parsed <= std::numeric_limits<int32_t>::max())) return false;
  value = static_cast<int32_t>(parsed);
  return true;
}

Result<std::vector<int32_t>> read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Status::not_found(path.string() + ": cannot open the product table");
  std::vector<int32_t> table;
  table.reserve(kTableSize);
  std::string line;
  std::size_t rows = 0;
  for (std::size_t line_number = 1; std::getline(in, line); ++line_number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path.string() + ": line " + std::to_string(line_number);
    if (++rows > kSide) return Status::invalid_argument(where + ": more than 256 rows, expected 256");
    std::istringstream entries(line);
    std::string entry;
    std::size_t column = 0;
    for (; entries >> entry; ++column) {
      int32_t value = 0;
      if (!parse_integer(entry, value)) {
        return Status::invalid_argument(where + ": entry " + std::to_string(column + 1) + " '" + entry +
                                        "' is not an int32 integer");
      }
      if (column < kSide) table.push_back(value);
    }
    if (column != kSide) {
      return Status::invalid_argument(where + ": " + std::to_string(column) + " entries, expected 256");
    }
  }
  if (rows != kSide) {
    return Status::invalid_argument(path.string() + ": " + std::to_string(rows) +
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

Result<std::vector<int32_t>> read_lut_table(const std::filesystem::path& path, LutFormat format) {
  switch (format) {
    case LutFormat::kBin: return read_bin(path);
    case LutFormat::kNpy: return read_npy_table(path);
    case LutFormat::kText: return read_text(path);
  }
  return Status::internal("unknown LUT format");
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
