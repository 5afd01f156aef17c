// Capture on a model with every supported layer form, checked against a
// direct computation with LibTorch's unfold (im2col).
#include <gtest/gtest.h>
#include <torch/csrc/jit/passes/freeze_module.h>

#include <sstream>

#include "core/capture.h"
#include "core/deploy.h"
#include "core/model_internal.h"
#include "tests/support/shared_data.h"
#include "tests/support/test_modules.h"

namespace agnx {
namespace {

namespace jit = torch::jit;
using testing::new_module;

jit::Module layer_module(const std::string& type, at::Tensor weight, const std::string& call) {
  jit::Module m = new_module(type);
  m.register_parameter("weight", weight, false);
  m.register_parameter("bias", torch::randn({weight.size(0)}), false);
  m.register_buffer("stdev", torch::tensor(0.25));
  m.define("def forward(self, x):\n    return " + call + "\n");
  return m;
}

// stem: plain conv; grouped: groups 2, stride 2; depthwise: dilation 2 with a
// residual add; pointwise: aten::_convolution; seq: linear on a 3-D input.
jit::Module make_net() {
  torch::manual_seed(1);
  jit::Module net = new_module("Net");
  net.register_module("stem", layer_module("Stem", torch::randn({8, 4, 3, 3}),
                                           "torch.conv2d(x, self.weight, self.bias, [1, 1], [1, 1], [1, 1], 1)"));
  net.register_module("block", testing::grouped_depthwise_block(layer_module));
  net.register_module("pointwise", layer_module("Pointwise", torch::randn({4, 8, 1, 1}),
                                                "torch._convolution(x, self.weight, self.bias, [1, 1], [0, 0], [1, 1], "
                                                "False, [0, 0], 1, False, False, True, True)"));
  net.register_module("seq", layer_module("Seq", torch::randn({5, 24}),
                                          "torch.linear(x, self.weight, self.bias)"));
  net.register_module("head", layer_module("Head", torch::randn({3, 30}),
                                           "torch.linear(x, self.weight, self.bias)"));
  net.define(R"(
def forward(self, x):
    s = torch.relu(self.stem.forward(x))
    r = self.block.forward(s)
    p = self.pointwise.forward(r)
    u = torch.relu(self.seq.forward(p.reshape(p.size(0), 6, 24)))
    return self.head.forward(u.reshape(u.size(0), 30))
)");
  return net;
}

std::string saved(const jit::Module& module) {
  std::ostringstream out;
  module.save(out);
  return out.str();
}

FloatTensor random_inputs(int64_t n) {
  const at::Tensor x = torch::randn({n, 4, 12, 12});
  return {x.sizes().vec(), std::vector<float>(x.data_ptr<float>(), x.data_ptr<float>() + x.numel())};
}

// The layer inputs of make_net's forward, computed by hand.
std::vector<at::Tensor> layer_inputs(const jit::Module& net, const at::Tensor& x) {
  auto w = [&](const std::string& path) { return net.attr(path).toModule().attr("weight").toTensor(); };
  auto b = [&](const std::string& path) { return net.attr(path).toModule().attr("bias").toTensor(); };
  const jit::Module block = net.attr("block").toModule();
  const at::Tensor s = at::relu(at::conv2d(x, w("stem"), b("stem"), 1, 1, 1, 1));
  const at::Tensor g = at::relu(at::conv2d(s, block.attr("grouped").toModule().attr("weight").toTensor(),
                                           block.attr("grouped").toModule().attr("bias").toTensor(), 2, 1, 1, 2));
  const at::Tensor d = at::conv2d(g, block.attr("dw").toModule().attr("weight").toTensor(),
                                  block.attr("dw").toModule().attr("bias").toTensor(), 1, 2, 2, 8);
  const at::Tensor r = g + at::relu(d);
  const at::Tensor p = at::conv2d(r, w("pointwise"), b("pointwise"));
  const at::Tensor t = p.reshape({p.size(0), 6, 24});
  const at::Tensor u = at::relu(at::linear(t, w("seq"), b("seq")));
  return {x, s, g, r, t, u.reshape({u.size(0), 30})};
}

struct Expected {
  int64_t fan_in, opcount;
  at::Tensor rows;    // all feature rows in spec order, int64 [rows, fan_in]
  at::Tensor w_q;     // quantized weights as int64, [groups, fan_in, out_per_group]
};

Expected direct(const at::Tensor& input, const at::Tensor& weight, const std::optional<ConvGeometry>& conv) {
  const float x_scale = quantization_scale(input.abs().max().item<float>());
  const float w_scale = quantization_scale(weight.abs().max().item<float>());
  const at::Tensor xq = quantize(input, x_scale), wq = quantize(weight, w_scale);
  if (!conv) {
    const int64_t vectors = input.numel() / input.size(0) / weight.size(1);
    return {weight.size(1), weight.numel() * vectors, xq.reshape({-1, weight.size(1)}).to(torch::kLong),
            wq.t().unsqueeze(0).to(torch::kLong)};
  }
  const int64_t groups = conv->groups, cg = weight.size(1), og = weight.size(0) / groups;
  std::vector<at::Tensor> per_group, w_groups;
  for (int64_t g = 0; g < groups; ++g) {
    const at::Tensor cols = at::im2col(xq.narrow(1, g * cg, cg), {weight.size(2), weight.size(3)}, conv->dilation,
                                       conv->padding, conv->stride);  // [N, fan_in, L]
    per_group.push_back(cols.permute({0, 2, 1}));                    // [N, L, fan_in]
    w_groups.push_back(wq.narrow(0, g * og, og).reshape({og, -1}).t());
  }
  const at::Tensor rows = at::stack(per_group, 1).reshape({-1, cg * weight.size(2) * weight.size(3)});
  const int64_t positions = per_group[0].size(1);
  return {rows.size(1), weight.size(0) * positions * rows.size(1), rows.to(torch::kLong),
          at::stack(w_groups).to(torch::kLong)};
}

TEST(ModelShapes, FindsEveryLayerForm) {
  const auto model = Model::load_bytes(saved(make_net()), "net.pt");
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  std::vector<std::string> names;
  for (const auto& layer : model->layers()) names.push_back(layer.name);
  EXPECT_EQ(names, (std::vector<std::string>{"stem", "block.grouped", "block.dw", "pointwise", "seq", "head"}));
}

TEST(ModelShapes, CaptureEqualsTheDirectComputation) {
  const jit::Module net = make_net();
  const auto model = Model::load_bytes(saved(net), "net.pt");
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const FloatTensor calibration = random_inputs(5);
  CaptureOptions options;
  options.batch_size = 2;  // batches must not change anything
  options.num_samples = 40;
  options.seed = 11;
  const auto captures = capture_layers(*model, calibration, options);
  ASSERT_TRUE(captures.ok()) << captures.status().to_string();

  const std::vector<at::Tensor> inputs = layer_inputs(net, as_torch(calibration));
  const std::vector<std::optional<ConvGeometry>> geometry{
      ConvGeometry{{1, 1}, {1, 1}, {1, 1}, 1}, ConvGeometry{{2, 2}, {1, 1}, {1, 1}, 2},
      ConvGeometry{{1, 1}, {2, 2}, {2, 2}, 8}, ConvGeometry{{1, 1}, {0, 0}, {1, 1}, 1}, std::nullopt, std::nullopt};
  for (std::size_t l = 0; l < captures->size(); ++l) {
    const LayerCapture& c = (*captures)[l];
    SCOPED_TRACE(c.stats.name);
    const at::Tensor weight = model->impl().submodule(c.stats.name).attr("weight").toTensor();
    const Expected e = direct(inputs[l], weight, geometry[l]);
    EXPECT_EQ(c.stats.fan_in, e.fan_in);
    EXPECT_EQ(c.stats.opcount, e.opcount);
    EXPECT_EQ(c.rows, e.rows.size(0));
    // Sampled rows are the rows at the drawn indices.
    for (std::size_t k = 0; k < c.stats.sample_rows.size(); ++k) {
      const at::Tensor row = e.rows[static_cast<int64_t>(c.stats.sample_rows[k])];
      for (int64_t j = 0; j < e.fan_in; ++j) {
        ASSERT_EQ(c.stats.sample_features.row(k)[static_cast<std::size_t>(j)], row[j].item<int64_t>()) << k << "," << j;
      }
    }
    // The global histogram counts every element of every row.
    const at::Tensor counts = at::bincount(e.rows.reshape({-1}) + 128, {}, 256).to(torch::kDouble) /
                              static_cast<double>(e.rows.numel());
    for (int64_t v = 0; v < 256; ++v) EXPECT_DOUBLE_EQ(c.x_dist_global[static_cast<std::size_t>(v)], counts[v].item<double>());
    // out_std over every exact integer output: rows of group g times its weights.
    const int64_t groups = e.w_q.size(0);
    at::Tensor outputs;
    if (geometry[l]) {
      std::vector<at::Tensor> y;
      const at::Tensor by_group = e.rows.reshape({5, groups, -1, e.fan_in});
      for (int64_t g = 0; g < groups; ++g) y.push_back(at::matmul(by_group.select(1, g), e.w_q[g]));
      outputs = at::stack(y).to(torch::kDouble);
    } else {
      outputs = at::matmul(e.rows, e.w_q[0]).to(torch::kDouble);
    }
    EXPECT_TRUE(testing::matches_reference(c.stats.out_std, outputs.std(/*unbiased=*/false).item<double>()))
        << c.stats.out_std << " vs " << outputs.std(false).item<double>();
    EXPECT_DOUBLE_EQ(c.stats.sigma, 0.25);
  }
}

TEST(ModelShapes, ExactDeploymentMatchesTheFloatModelClosely) {
  const auto model = Model::load_bytes(saved(make_net()), "net.pt");
  ASSERT_TRUE(model.ok());
  const FloatTensor data = random_inputs(6);
  const Multiplier exact = Multiplier::exact("exact", {{"cells", 1}});
  const MultiplierLibrary library =
      *MultiplierLibrary::create("only_exact", "cells", {std::make_shared<const Multiplier>(exact)});
  CaptureOptions options;
  options.num_samples = 8;
  const auto info = select_multipliers(*model, data, library, options);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  const std::vector<const Multiplier*> all_exact(info->layers.size(), &exact);
  const auto quantized = approximate_forward(*model, *info, all_exact, data, {});
  const auto reference = model->forward(data, 4);
  ASSERT_TRUE(quantized.ok() && reference.ok()) << quantized.status().to_string();
  const at::Tensor q = as_torch(*quantized), f = as_torch(*reference);
  // 8-bit quantization of six layers: close to, not equal to, the float model.
  EXPECT_LT((q - f).abs().max().item<float>(), 0.1f * f.abs().max().item<float>());
}

TEST(ModelShapes, UnsupportedFormsAreNamedErrors) {
  jit::Module twice = new_module("Twice");
  twice.register_module("fc", layer_module("Fc", torch::randn({4, 4}), "torch.linear(x, self.weight, self.bias)"));
  twice.define("def forward(self, x):\n    return self.fc.forward(self.fc.forward(x))\n");
  EXPECT_NE(Model::load_bytes(saved(twice), "twice.pt").status().message().find("submodule fc is applied more than once"),
            std::string::npos);

  jit::Module net = make_net();
  net.eval();
  const jit::Module frozen = jit::freeze_module(net);
  EXPECT_NE(Model::load_bytes(saved(frozen), "frozen.pt").status().message().find("frozen snapshot"), std::string::npos);

  jit::Module none = new_module("NoLayers");
  none.define("def forward(self, x):\n    return torch.relu(x)\n");
  EXPECT_NE(Model::load_bytes(saved(none), "none.pt").status().message().find("no conv2d or linear layer"),
            std::string::npos);
}

TEST(ModelShapes, SetAllChangesEveryStdev) {
  auto model = Model::load_bytes(saved(make_net()), "net.pt");
  ASSERT_TRUE(model.ok());
  const auto changed = model->set_all("stdev", 0.5);
  ASSERT_TRUE(changed.ok()) << changed.status().to_string();
  EXPECT_EQ(*changed, 6u);
  for (const auto& layer : model->layers()) EXPECT_DOUBLE_EQ(*model->stdev(layer.name), 0.5);
  EXPECT_EQ(*model->set_all("no_such_attribute", 1.0), 0u);
}

}  // namespace
}  // namespace agnx
