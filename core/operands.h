// Integer operands of 8-bit multipliers and their distributions.
//
// Operands are the int8 values -128..127. A distribution over them is an
// array of 256 relative frequencies indexed by value + 128 (the layout of
// agnapprox's to_distribution(t, -128, 127) and of the fixtures' w_dist).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace agnx {

inline constexpr int kOperandMin = -128;
inline constexpr int kOperandMax = 127;
inline constexpr std::size_t kOperandValues = 256;

// Index of operand value `v` in a distribution or an error map row/column.
constexpr std::size_t operand_index(int v) { return static_cast<std::size_t>(v - kOperandMin); }

using OperandDistribution = std::array<double, kOperandValues>;

// agnapprox's to_distribution: the relative frequency of each integer in
// [min_val, max_val] among `values` (result size max_val - min_val + 1).
// Errors: empty `values`, min_val > max_val, or a value outside the range
// (the message names the first such value and its position).
Result<std::vector<double>> to_distribution(std::span<const int64_t> values, int64_t min_val, int64_t max_val);

// The distribution of int8 `values` over -128..127.
// REQUIRES: !values.empty().
OperandDistribution operand_distribution(std::span<const int8_t> values);

// Checks that `dist` is a probability distribution: finite, non-negative
// entries summing to 1 within 1e-6. `name` labels the error message.
Status validate_distribution(std::span<const double> dist, std::string_view name);

// A dense row-major matrix of int8 operands, e.g. feature rows [rows, fan_in].
struct Int8Matrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<int8_t> values;  // rows * cols, row-major

  std::span<const int8_t> row(std::size_t i) const { return {values.data() + i * cols, cols}; }
};

}  // namespace agnx
