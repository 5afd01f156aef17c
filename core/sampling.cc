#include "core/sampling.h"

#include <algorithm>
#include <cassert>
#include <random>
#include <string>

namespace agnx {

std::vector<uint64_t> draw_sample_rows(uint64_t row_count, std::size_t num_samples, uint64_t seed,
                                       std::size_t layer_index) {
  assert(row_count > 0);
  std::mt19937_64 engine(seed + layer_index);
  std::vector<uint64_t> rows(num_samples);
  for (uint64_t& row : rows) row = engine() % row_count;
  return rows;
}

Result<Int8Matrix> gather_rows(const Int8Matrix& features, std::span<const uint64_t> indices) {
  Int8Matrix sample{indices.size(), features.cols, {}};
  sample.values.reserve(indices.size() * features.cols);
  for (std::size_t k = 0; k < indices.size(); ++k) {
    if (indices[k] >= features.rows) {
      return Status::invalid_argument("sample row " + std::to_string(indices[k]) + " at position " +
                                      std::to_string(k) + " is outside the " + std::to_string(features.rows) +
                                      " feature rows");
    }
    const auto row = features.row(indices[k]);
    sample.values.insert(sample.values.end(), row.begin(), row.end());
  }
  return sample;
}

}  // namespace agnx
