#include "core/layer_math.h"

#include <cstring>

namespace agnx {

ReceptiveFields::ReceptiveFields(const at::Tensor& quantized, const ConvGeometry& geometry, int64_t kernel_h,
                                 int64_t kernel_w, int64_t out_h, int64_t out_w)
    : padded_(at::constant_pad_nd(quantized.to(torch::kInt8),
                                  {geometry.padding[1], geometry.padding[1], geometry.padding[0], geometry.padding[0]},
                                  0)
                  .contiguous()),
      geometry_(geometry),
      samples_(quantized.size(0)),
      channels_(quantized.size(1) / geometry.groups),
      kernel_h_(kernel_h),
      kernel_w_(kernel_w),
      out_h_(out_h),
      out_w_(out_w) {}

at::Tensor ReceptiveFields::offset_view(int64_t i, int64_t j) const {
  const int64_t top = i * geometry_.dilation[0], left = j * geometry_.dilation[1];
  return padded_.slice(2, top, top + (out_h_ - 1) * geometry_.stride[0] + 1, geometry_.stride[0])
      .slice(3, left, left + (out_w_ - 1) * geometry_.stride[1] + 1, geometry_.stride[1]);
}

void ReceptiveFields::copy_row(int64_t row, int8_t* out) const {
  const int64_t per_group = out_h_ * out_w_, per_sample = geometry_.groups * per_group;
  const int64_t sample = row / per_sample, group = row % per_sample / per_group, position = row % per_group;
  const int64_t top = position / out_w_ * geometry_.stride[0], left = position % out_w_ * geometry_.stride[1];
  const auto p = padded_.accessor<int8_t, 4>();
  for (int64_t c = 0; c < channels_; ++c) {
    const auto plane = p[sample][group * channels_ + c];
    for (int64_t i = 0; i < kernel_h_; ++i) {
      const auto line = plane[top + i * geometry_.dilation[0]];
      for (int64_t j = 0; j < kernel_w_; ++j) *out++ = line[left + j * geometry_.dilation[1]];
    }
  }
}

std::vector<int8_t> ReceptiveFields::group_matrix(int64_t group) const {
  const int64_t per_group = out_h_ * out_w_;
  std::vector<int8_t> matrix(static_cast<std::size_t>(samples_ * per_group * fan_in()));
  int8_t* out = matrix.data();
  for (int64_t sample = 0; sample < samples_; ++sample) {
    const int64_t first = (sample * geometry_.groups + group) * per_group;
    for (int64_t position = 0; position < per_group; ++position, out += fan_in()) copy_row(first + position, out);
  }
  return matrix;
}

int64_t opcount_per_sample(const LayerCall& call, const at::Tensor& output) {
  const int64_t fan_in = call.weight[0].numel();
  if (call.conv) return output.size(1) * output.size(2) * output.size(3) * fan_in;
  return fan_in * call.weight.size(0) * (call.input.numel() / fan_in / call.input.size(0));
}

at::Tensor exact_outputs(const LayerCall& call, const at::Tensor& quantized_input, const at::Tensor& weight_q_double) {
  const at::Tensor x = quantized_input.to(torch::kFloat64);
  if (!call.conv) return at::matmul(x, weight_q_double.t());
  const ConvGeometry& g = *call.conv;
  return at::conv2d(x, weight_q_double, {}, g.stride, g.padding, g.dilation, g.groups);
}

LayerLut::LayerLut(const Multiplier& multiplier, const at::Tensor& weight_q, bool is_conv, int64_t groups)
    : out_per_group_(weight_q.size(0) / groups) {
  // b[k][n] for group g: k runs over the row order (channel, kernel row,
  // kernel column) = the flattened weight of output n of the group.
  const at::Tensor w = weight_q.to(torch::kInt8).reshape({weight_q.size(0), -1});
  for (int64_t g = 0; g < (is_conv ? groups : 1); ++g) {
    const at::Tensor b = w.narrow(0, g * out_per_group_, out_per_group_).t().contiguous();
    groups_.push_back(std::make_unique<LutGemm>(
        multiplier, std::span<const int8_t>(b.data_ptr<int8_t>(), static_cast<std::size_t>(b.numel())),
        static_cast<std::size_t>(b.size(0)), static_cast<std::size_t>(b.size(1))));
  }
}

at::Tensor LayerLut::outputs(const LayerCall& call, const at::Tensor& quantized_input, std::size_t num_threads) const {
  if (!call.conv) {
    const at::Tensor a = quantized_input.to(torch::kInt8).reshape({-1, call.weight.size(1)}).contiguous();
    at::Tensor out = at::empty({a.size(0), out_per_group_}, torch::kInt32);
    groups_[0]->multiply({a.data_ptr<int8_t>(), static_cast<std::size_t>(a.numel())},
                         static_cast<std::size_t>(a.size(0)),
                         {out.data_ptr<int32_t>(), static_cast<std::size_t>(out.numel())}, num_threads);
    std::vector<int64_t> shape = quantized_input.sizes().vec();
    shape.back() = out_per_group_;
    return out.reshape(shape);
  }
  const ConvGeometry& g = *call.conv;
  const int64_t kh = call.weight.size(2), kw = call.weight.size(3);
  const auto out_size = [&](int dim) {
    const int64_t in = quantized_input.size(2 + dim), k = dim == 0 ? kh : kw;
    return (in + 2 * g.padding[dim] - g.dilation[dim] * (k - 1) - 1) / g.stride[dim] + 1;
  };
  const int64_t out_h = out_size(0), out_w = out_size(1), samples = quantized_input.size(0);
  const ReceptiveFields fields(quantized_input, g, kh, kw, out_h, out_w);
  // Per group: [samples * positions, out_per_group], then into [N, C_out, H, W].
  at::Tensor result = at::empty({samples, g.groups * out_per_group_, out_h, out_w}, torch::kInt32);
  for (int64_t group = 0; group < g.groups; ++group) {
    const std::vector<int8_t> a = fields.group_matrix(group);
    at::Tensor out = at::empty({samples * out_h * out_w, out_per_group_}, torch::kInt32);
    groups_[static_cast<std::size_t>(group)]->multiply(a, static_cast<std::size_t>(samples * out_h * out_w),
                                                       {out.data_ptr<int32_t>(), static_cast<std::size_t>(out.numel())},
                                                       num_threads);
    result.narrow(1, group * out_per_group_, out_per_group_)
        .copy_(out.reshape({samples, out_h, out_w, out_per_group_}).permute({0, 3, 1, 2}));
  }
  return result;
}

}  // namespace agnx
