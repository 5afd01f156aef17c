// An 8x8 (possibly approximate) multiplier given by its product table.
//
// The table holds the product for every operand pair, 256x256 row-major,
// row = first operand (activation), column = second operand (weight).
// Signed multipliers index operands by value + 128 (row 0 is -128); unsigned
// ones by value 0..255 and are applied to signed operands in sign-magnitude
// form (../shared/spec/matching.md, "Unsigned multipliers"):
//   approx(x, w) = ((x < 0) != (w < 0)) ? -m(|x|, |w|) : m(|x|, |w|).
// A Multiplier is immutable once created and safe to share between threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error_model.h"
#include "core/operands.h"
#include "core/status.h"

namespace agnx {

inline constexpr std::size_t kTableSize = 256 * 256;

enum class Signedness { kSigned, kUnsigned };

// Named performance and error metrics of a multiplier, e.g. "PDK45_PWR".
using MetricMap = std::map<std::string, double>;

class Multiplier {
 public:
  // Errors: an empty name, a table that does not hold 65,536 products, or a
  // non-finite metric. `name` appears in every message.
  static Result<Multiplier> create(std::string name, Signedness signedness, std::vector<int32_t> table,
                                   MetricMap metrics);

  // The exact signed multiplier: table[(x+128)*256 + (w+128)] = x * w.
  static Multiplier exact(std::string name, MetricMap metrics);

  const std::string& name() const { return name_; }
  Signedness signedness() const { return signedness_; }
  bool is_signed() const { return signedness_ == Signedness::kSigned; }
  // The product table as it was given.
  std::span<const int32_t> table() const { return table_; }
  const MetricMap& metrics() const { return metrics_; }
  std::optional<double> metric(const std::string& key) const;

  // approx(x, w) for signed operands x, w in -128..127 (sign-magnitude form
  // for unsigned multipliers).
  int64_t product(int x, int w) const {
    if (is_signed()) return table_[operand_index(x) * 256 + operand_index(w)];
    const int64_t magnitude = table_[static_cast<std::size_t>(x < 0 ? -x : x) * 256 + static_cast<std::size_t>(w < 0 ? -w : w)];
    return ((x < 0) != (w < 0)) ? -magnitude : magnitude;
  }
  // product(x, w) - x*w for operand indices (value + 128), as a double.
  double error_at(std::size_t x_index, std::size_t w_index) const {
    const int x = static_cast<int>(x_index) + kOperandMin, w = static_cast<int>(w_index) + kOperandMin;
    return static_cast<double>(product(x, w) - static_cast<int64_t>(x) * w);
  }

  // e[x][w] = product(x, w) - x*w over all signed operand pairs.
  ErrorMap error_map() const;

 private:
  Multiplier(std::string name, Signedness signedness, std::vector<int32_t> table, MetricMap metrics)
      : name_(std::move(name)), signedness_(signedness), table_(std::move(table)), metrics_(std::move(metrics)) {}

  std::string name_;
  Signedness signedness_;
  std::vector<int32_t> table_;
  MetricMap metrics_;
};

}  // namespace agnx
