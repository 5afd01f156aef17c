// Numbers as text. round_trip_text: a double as text that reads back
// exactly, what run params, CSV cells and messages store or show when the
// number must survive a round trip. parse_decimal: the one strict reading of
// a number that a user or a file gives.
#pragma once

#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>

namespace agnx {

// The shortest text that std::from_chars (and strtod) parse back to exactly
// `value`: "0.8" for 0.8, "1e-07" for 1e-7, "0.5" for 0.5, "nan" and "inf"
// for those. Never "0.000000" for a small number.
inline std::string round_trip_text(double value) {
  char text[32];  // the longest shortest form, "-2.2250738585072014e-308", takes 24
  return {text, std::to_chars(text, text + sizeof text, value).ptr};
}

// Reads all of `text` as a finite decimal number: an optional '-', digits
// with an optional fraction and exponent (std::from_chars, general format).
// Returns nullopt with `why` set (the text quoted) for anything else: an empty
// text, blanks, a '+', hexadecimal ("0x1p3"), "inf" or "nan", and a number
// beyond a double's range in either direction ("1e999", and "1e-400", which
// would otherwise read as 0).
inline std::optional<double> parse_decimal(std::string_view text, std::string& why) {
  double value = 0.0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  const std::string quoted = "'" + std::string(text) + "'";
  if (error == std::errc::result_out_of_range) {
    why = quoted + " is beyond the range of a double";
  } else if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    why = quoted + " is not a finite decimal number";
  } else {
    return value;
  }
  return std::nullopt;
}

}  // namespace agnx
