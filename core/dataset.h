// Calibration and test data: model inputs and class labels, read from NumPy
// `.npy` or from `.pt` files written by torch.save(tensor). The format is
// recognized from the content (the .npy magic or the zip container of
// torch.save), so uploads need no file name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace agnx {

// Inputs: a float32 or float64 tensor of at least one dimension (float64 is
// narrowed to float32). Errors name `source`: unknown format, a non-float or
// 0-d tensor, a malformed file, a non-finite value.
Result<FloatTensor> parse_inputs(std::string_view bytes, std::string_view source);
Result<FloatTensor> load_inputs(const std::filesystem::path& path);

// Labels: a 1-D integer tensor, returned as int64.
Result<std::vector<int64_t>> parse_labels(std::string_view bytes, std::string_view source);
Result<std::vector<int64_t>> load_labels(const std::filesystem::path& path);

}  // namespace agnx
