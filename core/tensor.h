// A dense float32 tensor in C order: model inputs such as calibration and
// test images, and model outputs such as logits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace agnx {

struct FloatTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;  // product(shape) values

  // Size of the first dimension (0 for a 0-d tensor).
  int64_t batch() const { return shape.empty() ? 0 : shape.front(); }
};

}  // namespace agnx
