// A double as text that reads back exactly: what run params, CSV cells and
// messages store or show when the number must survive a round trip.
#pragma once

#include <charconv>
#include <string>

namespace agnx {

// The shortest text that std::from_chars (and strtod) parse back to exactly
// `value`: "0.8" for 0.8, "1e-07" for 1e-7, "0.5" for 0.5, "nan" and "inf"
// for those. Never "0.000000" for a small number.
inline std::string round_trip_text(double value) {
  char text[32];  // the longest shortest form, "-2.2250738585072014e-308", takes 24
  return {text, std::to_chars(text, text + sizeof text, value).ptr};
}

}  // namespace agnx
