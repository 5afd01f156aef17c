// Integer arithmetic of one quantized conv/linear layer, shared by capture
// and deployment. Internal to core/'s LibTorch files (includes LibTorch).
//
// Feature rows follow ../shared/spec/matching.md: for a convolution, row r
// is (sample, group, output row, output column) in that order, and a row
// holds (input channel of the group, kernel row, kernel column), zero padding
// included; for a linear layer, a row is one input vector.
#pragma once

#include <memory>
#include <vector>

#include "core/lut_gemm.h"
#include "core/model_internal.h"

namespace agnx {

// The receptive fields of a convolution over one quantized batch.
class ReceptiveFields {
 public:
  // `quantized` is the layer input [N, C, H, W] holding integers in
  // -127..127; out_h/out_w the output size.
  ReceptiveFields(const at::Tensor& quantized, const ConvGeometry& geometry, int64_t kernel_h, int64_t kernel_w,
                  int64_t out_h, int64_t out_w);

  int64_t rows() const { return samples_ * geometry_.groups * out_h_ * out_w_; }
  int64_t fan_in() const { return channels_ * kernel_h_ * kernel_w_; }
  // The padded input as int8 [N, C, H + 2 pad, W + 2 pad].
  const at::Tensor& padded() const { return padded_; }
  // The strided view of padded() that kernel offset (i, j) sees: [N, C, out_h, out_w].
  at::Tensor offset_view(int64_t i, int64_t j) const;
  // Writes row `row` (fan_in() values) to `out`.
  void copy_row(int64_t row, int8_t* out) const;
  // The rows of `group` as a matrix [N * out_h * out_w, fan_in()].
  std::vector<int8_t> group_matrix(int64_t group) const;

 private:
  at::Tensor padded_;
  ConvGeometry geometry_;
  int64_t samples_, channels_, kernel_h_, kernel_w_, out_h_, out_w_;
};

// Multiplications of the layer for ONE input sample (spec "Layers":
// opcount), from a call and its output.
int64_t opcount_per_sample(const LayerCall& call, const at::Tensor& output);

// The layer's exact integer outputs sum(x_q * w_q), no bias, as float64
// (exact for any realistic fan_in), shaped like the layer's output.
at::Tensor exact_outputs(const LayerCall& call, const at::Tensor& quantized_input, const at::Tensor& weight_q_double);

// A layer's weights prepared for LUT products: one LutGemm per group.
class LayerLut {
 public:
  // `weight_q` holds the quantized weights (integers as float32).
  LayerLut(const Multiplier& multiplier, const at::Tensor& weight_q, bool is_conv, int64_t groups);

  // The integer outputs through the multiplier's table (int32, wrapping),
  // shaped like the layer's output.
  at::Tensor outputs(const LayerCall& call, const at::Tensor& quantized_input, std::size_t num_threads) const;

 private:
  std::vector<std::unique_ptr<LutGemm>> groups_;
  int64_t out_per_group_;
};

}  // namespace agnx
