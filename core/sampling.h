// The reproducible sample population of a layer's feature rows.
//
// ../shared/spec/matching.md, "Sample population": for layer index i (in
// execution order, from 0), rows are drawn uniformly WITH replacement by
// std::mt19937_64 seeded with seed + i, draw k being row engine() % rows.
// The same seed gives the same rows on every machine and thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/operands.h"
#include "core/status.h"

namespace agnx {

inline constexpr std::size_t kDefaultNumSamples = 512;

// The indices of `num_samples` rows drawn from `row_count` rows.
// REQUIRES: row_count > 0.
std::vector<uint64_t> draw_sample_rows(uint64_t row_count, std::size_t num_samples, uint64_t seed,
                                       std::size_t layer_index);

// The rows of `features` at `indices`, in that order.
// Errors: an index outside the matrix (named with its position).
Result<Int8Matrix> gather_rows(const Int8Matrix& features, std::span<const uint64_t> indices);

}  // namespace agnx
