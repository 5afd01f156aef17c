// Calibration and test data: model inputs and class labels, read from NumPy
// `.npy` or from `.pt` files written by torch.save(tensor). The format is
// recognized from the content (the .npy magic or the zip container of
// torch.save), so uploads need no file name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace agnx {

// Inputs: a float32 or float64 tensor of at least one dimension (float64 is
// narrowed to float32). Errors name `source`: unknown format, a non-float or
// 0-d tensor, a malformed file, a non-finite value.
Result<FloatTensor> parse_inputs(std::string_view bytes, std::string_view source);

// How uint8 images (pixels 0..255) become model inputs: (pixel * scale - mean) / std.
// For Fashion-MNIST as agnx's examples normalize it: {1/255, 0.2860, 0.3530}.
struct Uint8Normalization {
  double scale = 1.0 / 255.0;
  double mean = 0.0;
  double std = 1.0;
};

// As parse_inputs, and a uint8 .npy array normalized by `uint8` (47 MB
// instead of 188 MB for Fashion-MNIST's 60,000 training images). Errors: a
// uint8 array without `uint8` (naming the source), a normalization that is
// not finite or whose scale or std is not > 0, and those of parse_inputs.
Result<FloatTensor> parse_inputs(std::string_view bytes, std::string_view source,
                                 const std::optional<Uint8Normalization>& uint8);
Result<FloatTensor> load_inputs(const std::filesystem::path& path);

// Labels: a 1-D integer tensor, returned as int64.
Result<std::vector<int64_t>> parse_labels(std::string_view bytes, std::string_view source);
Result<std::vector<int64_t>> load_labels(const std::filesystem::path& path);

}  // namespace agnx
