// TorchScript modules built in C++ for the LibTorch tests: every supported
// layer form without a Python snapshot. Include only from tests that link
// LibTorch (agnx_model_test).
#pragma once

#include <torch/script.h>

#include <functional>
#include <memory>
#include <string>

namespace agnx::testing {

// A module as Python's nn.Module makes it (with a `training` flag), in one
// compilation unit for all test modules, so that methods can call each other.
inline torch::jit::Module new_module(const std::string& type) {
  static const auto unit = std::make_shared<torch::jit::CompilationUnit>();
  torch::jit::Module m(type, unit, /*shouldMangle=*/true);
  m.register_attribute("training", c10::BoolType::get(), false);
  return m;
}

// Makes a layer module of `type` with `weight` whose forward returns `call`.
using LayerFactory =
    std::function<torch::jit::Module(const std::string& type, at::Tensor weight, const std::string& call)>;

// The block both test networks share: a grouped conv (groups 2, stride 2,
// 4 -> 8 channels), then a depthwise conv (dilation 2) in a residual add.
inline torch::jit::Module grouped_depthwise_block(const LayerFactory& layer) {
  torch::jit::Module block = new_module("Block");
  block.register_module("grouped", layer("Grouped", torch::randn({8, 4, 3, 3}),
                                         "torch.conv2d(x, self.weight, self.bias, [2, 2], [1, 1], [1, 1], 2)"));
  block.register_module("dw", layer("Depthwise", torch::randn({8, 1, 3, 3}),
                                    "torch.conv2d(x, self.weight, self.bias, [1, 1], [2, 2], [2, 2], 8)"));
  block.define(R"(
def forward(self, x):
    g = torch.relu(self.grouped.forward(x))
    return g + torch.relu(self.dw.forward(g))
)");
  return block;
}

}  // namespace agnx::testing
