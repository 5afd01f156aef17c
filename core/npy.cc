#include "core/npy.h"

#include <cctype>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

namespace agnx {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

struct DtypeInfo {
  NpyDtype dtype;
  const char* descr;
  std::size_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {NpyDtype::kInt8, "|i1", 1},    {NpyDtype::kUInt8, "|u1", 1},   {NpyDtype::kInt16, "<i2", 2},
    {NpyDtype::kInt32, "<i4", 4},
    {NpyDtype::kInt64, "<i8", 8},   {NpyDtype::kFloat32, "<f4", 4}, {NpyDtype::kFloat64, "<f8", 8},
};

std::optional<NpyDtype> dtype_from_descr(std::string_view descr) {
  if (descr == "<i1" || descr == "i1") return NpyDtype::kInt8;  // numpy writes '|i1'; accept the rest
  if (descr == "<u1" || descr == "u1") return NpyDtype::kUInt8;
  for (const auto& info : kDtypes) {
    if (descr == info.descr) return info.dtype;
  }
  return std::nullopt;
}

// A parser for the Python dict literal of a .npy header, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (256, 1, 28, 28), }
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  Status parse(std::string& descr, bool& fortran_order, std::vector<int64_t>& shape) {
    bool seen_descr = false, seen_order = false, seen_shape = false;
    if (!consume('{')) return error("expected '{'");
    while (true) {
      skip_space();
      if (consume('}')) break;
      std::string key;
      if (!read_string(key)) return error("expected a quoted key");
      if (!consume(':')) return error("expected ':' after '" + key + "'");
      if (key == "descr") {
        if (!read_string(descr)) return error("'descr' must be a string");
        seen_descr = true;
      } else if (key == "fortran_order") {
        if (!read_bool(fortran_order)) return error("'fortran_order' must be True or False");
        seen_order = true;
      } else if (key == "shape") {
        AGNX_RETURN_IF_ERROR(read_shape(shape));
        seen_shape = true;
      } else {
        return error("unexpected key '" + key + "'");
      }
      skip_space();
      if (consume('}')) break;
      if (!consume(',')) return error("expected ',' or '}'");
    }
    skip_space();
    if (pos_ != text_.size()) return error("unexpected text after the header dict");
    if (!seen_descr || !seen_order || !seen_shape) {
      return Status::invalid_argument("header lacks one of 'descr', 'fortran_order', 'shape'");
    }
    return {};
  }

 private:
  Status error(const std::string& what) const {
    return Status::invalid_argument("malformed header at offset " + std::to_string(pos_) + ": " + what);
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool consume_word(std::string_view word) {
    skip_space();
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  bool read_string(std::string& out) {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) return false;
    const char quote = text_[pos_++];
    const std::size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) return false;
    out = std::string(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return true;
  }
  bool read_bool(bool& out) {
    if (consume_word("True")) return (out = true, true);
    if (consume_word("False")) return (out = false, true);
    return false;
  }
  Status read_shape(std::vector<int64_t>& shape) {
    shape.clear();
    if (!consume('(')) return error("'shape' must be a tuple");
    bool trailing_comma = false;
    while (!consume(')')) {
      skip_space();
      int64_t dim = 0;
      const std::size_t start = pos_;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        if (dim > (std::numeric_limits<int64_t>::max() - 9) / 10) return error("dimension too large");
        dim = dim * 10 + (text_[pos_++] - '0');
      }
      if (pos_ == start) return error("expected a non-negative dimension in 'shape'");
      shape.push_back(dim);
      trailing_comma = consume(',');
      if (!trailing_comma && !(skip_space(), pos_ < text_.size() && text_[pos_] == ')')) {
        return error("expected ',' or ')' in 'shape'");
      }
    }
    if (shape.size() == 1 && !trailing_comma) {  // Python's (3) is the number 3
      const std::string dim = std::to_string(shape[0]);
      return error("'shape' (" + dim + ") is a number, not a tuple; a 1-d shape is written (" + dim + ",)");
    }
    return {};
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

template <typename T>
T load(const std::byte* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

template <typename T>
void store(std::byte* p, T value) {
  std::memcpy(p, &value, sizeof(T));
}

template <typename Source>
void fill(NpyArray& array, std::span<const Source> values) {
  const std::size_t size = npy_item_size(array.dtype);
  array.data.resize(values.size() * size);
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::byte* p = array.data.data() + i * size;
    switch (array.dtype) {
      case NpyDtype::kInt8: store(p, static_cast<int8_t>(values[i])); break;
      case NpyDtype::kUInt8: store(p, static_cast<uint8_t>(values[i])); break;
      case NpyDtype::kInt16: store(p, static_cast<int16_t>(values[i])); break;
      case NpyDtype::kInt32: store(p, static_cast<int32_t>(values[i])); break;
      case NpyDtype::kInt64: store(p, static_cast<int64_t>(values[i])); break;
      case NpyDtype::kFloat32: store(p, static_cast<float>(values[i])); break;
      case NpyDtype::kFloat64: store(p, static_cast<double>(values[i])); break;
    }
  }
}

// Reorders the elements of a Fortran-order (first index fastest) array into
// C order (last index fastest).
std::vector<std::byte> fortran_to_c_order(const std::vector<std::byte>& data, const std::vector<int64_t>& shape,
                                          std::size_t item) {
  const std::size_t rank = shape.size();
  std::vector<std::size_t> fortran_stride(rank, item);
  for (std::size_t d = 1; d < rank; ++d) fortran_stride[d] = fortran_stride[d - 1] * static_cast<std::size_t>(shape[d - 1]);
  std::vector<std::byte> out(data.size());
  std::vector<int64_t> index(rank, 0);
  for (std::size_t offset = 0; offset < out.size(); offset += item) {
    std::size_t source = 0;
    for (std::size_t d = 0; d < rank; ++d) source += static_cast<std::size_t>(index[d]) * fortran_stride[d];
    std::memcpy(out.data() + offset, data.data() + source, item);
    for (std::size_t d = rank; d-- > 0;) {  // advance the C-order index, last dimension fastest
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

// Every element of `array` converted to Out with static_cast.
template <typename Out>
std::vector<Out> converted(const NpyArray& array) {
  std::vector<Out> out(array.element_count());
  const std::size_t size = npy_item_size(array.dtype);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::byte* p = array.data.data() + i * size;
    switch (array.dtype) {
      case NpyDtype::kInt8: out[i] = static_cast<Out>(load<int8_t>(p)); break;
      case NpyDtype::kUInt8: out[i] = static_cast<Out>(load<uint8_t>(p)); break;
      case NpyDtype::kInt16: out[i] = static_cast<Out>(load<int16_t>(p)); break;
      case NpyDtype::kInt32: out[i] = static_cast<Out>(load<int32_t>(p)); break;
      case NpyDtype::kInt64: out[i] = static_cast<Out>(load<int64_t>(p)); break;
      case NpyDtype::kFloat32: out[i] = static_cast<Out>(load<float>(p)); break;
      case NpyDtype::kFloat64: out[i] = static_cast<Out>(load<double>(p)); break;
    }
  }
  return out;
}

}  // namespace

const char* npy_descr(NpyDtype dtype) {
  for (const auto& info : kDtypes) {
    if (info.dtype == dtype) return info.descr;
  }
  return "?";
}

std::size_t npy_item_size(NpyDtype dtype) {
  for (const auto& info : kDtypes) {
    if (info.dtype == dtype) return info.size;
  }
  return 0;
}

std::size_t NpyArray::element_count() const {
  std::size_t count = 1;
  for (int64_t dim : shape) count *= static_cast<std::size_t>(dim);
  return count;
}

bool NpyArray::is_integer() const {
  return dtype != NpyDtype::kFloat32 && dtype != NpyDtype::kFloat64;
}

Result<std::vector<int64_t>> NpyArray::to_int64(std::string_view source) const {
  if (!is_integer()) {
    return Status::invalid_argument(std::string(source) + ": expected an integer array, got dtype " +
                                    npy_descr(dtype));
  }
  return converted<int64_t>(*this);
}

std::vector<double> NpyArray::to_double() const { return converted<double>(*this); }

NpyArray NpyArray::from_int64(NpyDtype dtype, std::vector<int64_t> shape, std::span<const int64_t> values) {
  NpyArray array{dtype, std::move(shape), {}};
  fill(array, values);
  return array;
}

NpyArray NpyArray::from_double(NpyDtype dtype, std::vector<int64_t> shape, std::span<const double> values) {
  NpyArray array{dtype, std::move(shape), {}};
  fill(array, values);
  return array;
}

Result<NpyArray> parse_npy(std::string_view bytes, std::string_view source) {
  const std::string where(source);
  auto fail = [&where](const std::string& what) {
    return Status::invalid_argument(where + ": not a valid .npy file: " + what);
  };
  if (bytes.size() < 10 || bytes.substr(0, kMagic.size()) != kMagic) {
    return fail("missing the \\x93NUMPY magic");
  }
  const auto major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return fail("truncated header length");
    for (int i = 3; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[8 + i]);
    header_start = 12;
  } else {
    return fail("unsupported format version " + std::to_string(major));
  }
  if (header_len > bytes.size() - header_start) return fail("header runs past the end of the file");

  std::string descr;
  bool fortran_order = false;
  NpyArray array;
  const Status header =
      HeaderParser(bytes.substr(header_start, header_len)).parse(descr, fortran_order, array.shape);
  if (!header.ok()) return fail(header.message());
  const auto dtype = dtype_from_descr(descr);
  if (!dtype) {
    return fail("unsupported dtype '" + descr +
                "'; expected little-endian int8, int16, int32, int64, float32 or float64");
  }
  array.dtype = *dtype;

  const std::size_t item = npy_item_size(array.dtype);
  const std::size_t payload = bytes.size() - header_start - header_len;
  std::size_t needed = item;
  for (int64_t dim : array.shape) {
    if (__builtin_mul_overflow(needed, static_cast<std::size_t>(dim), &needed)) {
      return fail("shape overflows the address space");
    }
  }
  if (needed != payload) {
    return fail("payload is " + std::to_string(payload) + " bytes, the shape needs " + std::to_string(needed));
  }
  const auto* begin = reinterpret_cast<const std::byte*>(bytes.data() + header_start + header_len);
  array.data.assign(begin, begin + payload);
  if (fortran_order) array.data = fortran_to_c_order(array.data, array.shape, item);
  return array;
}

Result<NpyArray> read_npy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error(path.string() + ": cannot open for reading");
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return Status::io_error(path.string() + ": read failed");
  return parse_npy(contents.str(), path.string());
}

std::string serialize_npy(const NpyArray& array) {
  std::string shape;  // Python's tuple repr: "()", "(3,)", "(2, 3)"
  for (std::size_t d = 0; d < array.shape.size(); ++d) shape += (d ? ", " : "") + std::to_string(array.shape[d]);
  if (array.shape.size() == 1) shape += ",";
  std::string header = std::string("{'descr': '") + npy_descr(array.dtype) +
                       "', 'fortran_order': False, 'shape': (" + shape + "), }";
  // Pad with spaces so that the data starts on a 64-byte boundary; end with '\n'.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');

  std::string out(kMagic);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  out.append(reinterpret_cast<const char*>(array.data.data()), array.data.size());
  return out;
}

Status write_npy(const std::filesystem::path& path, const NpyArray& array) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const std::string bytes = serialize_npy(array);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return Status::io_error(path.string() + ": write failed");
  return {};
}

}  // namespace agnx
