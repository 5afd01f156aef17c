// AGN gradient search and approximate retraining (core/training.h): the
// straight-through layer against a fake-quantized float model, a model with
// every supported layer form, determinism, and bad input.
#include "core/training.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "core/builtin_library.h"
#include "core/capture.h"
#include "core/dataset.h"
#include "core/deploy.h"
#include "core/model_internal.h"
#include "tests/support/shared_data.h"
#include "tests/support/test_modules.h"

namespace agnx {
namespace {

namespace jit = torch::jit;
using testing::new_module;

FloatTensor to_float_tensor(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  return {c.sizes().vec(), std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel())};
}

// ------------------------------------------------------------ a model with every layer form

jit::Module layer_module(const std::string& type, at::Tensor weight, const std::string& call) {
  jit::Module m = new_module(type);
  m.register_parameter("weight", weight * 0.3, false);
  m.register_parameter("bias", torch::zeros({weight.size(0)}), false);
  m.define("def forward(self, x):\n    return " + call + "\n");
  return m;
}

// `training_argument` is "self.training" for a trainable batch norm, or a
// constant as a snapshot traced in eval mode holds it.
jit::Module batch_norm_module(int64_t channels, const std::string& training_argument) {
  jit::Module m = new_module("Norm");
  m.register_parameter("weight", torch::ones({channels}), false);
  m.register_parameter("bias", torch::zeros({channels}), false);
  m.register_buffer("running_mean", torch::zeros({channels}));
  m.register_buffer("running_var", torch::ones({channels}));
  m.define("def forward(self, x):\n    return torch.batch_norm(x, self.weight, self.bias, self.running_mean, "
           "self.running_var, " + training_argument + ", 0.1, 1e-5, False)\n");
  return m;
}

// stem: plain conv + batch norm; grouped: groups 2, stride 2; dw: depthwise,
// dilation 2, in a residual add; pointwise: aten::_convolution; head: linear.
// Inputs [N, 4, 12, 12], 3 classes.
std::string make_net(const std::string& batch_norm_training = "self.training") {
  torch::manual_seed(1);
  jit::Module net = new_module("Net");
  net.register_module("stem", layer_module("Stem", torch::randn({8, 4, 3, 3}),
                                           "torch.conv2d(x, self.weight, self.bias, [1, 1], [1, 1], [1, 1], 1)"));
  net.register_module("norm", batch_norm_module(8, batch_norm_training));
  net.register_module("block", testing::grouped_depthwise_block(layer_module));
  net.register_module("pointwise", layer_module("Pointwise", torch::randn({4, 8, 1, 1}),
                                                "torch._convolution(x, self.weight, self.bias, [1, 1], [0, 0], [1, 1], "
                                                "False, [0, 0], 1, False, False, True, True)"));
  net.register_module("head", layer_module("Head", torch::randn({3, 144}), "torch.linear(x, self.weight, self.bias)"));
  net.define(R"(
def forward(self, x):
    s = torch.relu(self.norm.forward(self.stem.forward(x)))
    p = self.pointwise.forward(self.block.forward(s))
    return self.head.forward(p.reshape(p.size(0), 144))
)");
  std::ostringstream out;
  net.save(out);
  return out.str();
}

// Images whose class is the sign pattern of two pixel sums, so there is
// something to learn.
LabelledData random_data(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  const at::Tensor x = torch::randn({n, 4, 12, 12});
  const at::Tensor score = x.narrow(1, 0, 1).sum({1, 2, 3}) - x.narrow(1, 1, 1).sum({1, 2, 3});
  const at::Tensor y = (score > 3).to(torch::kInt64) + (score > -3).to(torch::kInt64);
  return {to_float_tensor(x), std::vector<int64_t>(y.data_ptr<int64_t>(), y.data_ptr<int64_t>() + n)};
}

AgnSearchOptions quick_search() {
  AgnSearchOptions options;
  options.training.epochs = 2;
  options.training.batch_size = 32;
  options.training.seed = 7;
  options.batchnorm_images = 128;
  return options;
}

struct Trained {
  AgnSearchResult search;
  MatchingInfo info;
  RetrainResult retrain;
  std::string model_bytes;
};

Trained search_match_retrain(const std::string& snapshot, const LabelledData& data) {
  Model model = *Model::load_bytes(snapshot, "net");
  auto search = agn_search(model, data, quick_search());
  EXPECT_TRUE(search.ok()) << search.status().to_string();
  const MultiplierLibrary library = builtin_library();
  CaptureOptions capture;
  capture.num_samples = 64;
  auto info = select_multipliers(model, data.inputs, library, capture);
  EXPECT_TRUE(info.ok()) << info.status().to_string();
  const auto chosen = *chosen_multipliers(*info, library);
  RetrainOptions retrain;
  retrain.training = quick_search().training;
  retrain.batchnorm_images = 128;
  auto retrained = approximate_retrain(model, *info, chosen, data, retrain);
  EXPECT_TRUE(retrained.ok()) << retrained.status().to_string();
  return {*search, *info, *retrained, *model.save_bytes()};
}

TEST(Training, AModelWithEveryLayerFormSearchesAndRetrains) {
  const LabelledData data = random_data(256, 3);
  const Trained trained = search_match_retrain(make_net(), data);
  ASSERT_EQ(trained.search.sigma.size(), 5u);
  for (const auto& [layer, sigma] : trained.search.sigma) {
    EXPECT_TRUE(std::isfinite(sigma) && sigma > 0.0) << layer << " " << sigma;
    EXPECT_NE(sigma, 0.1) << layer << ": s_l never moved";
  }
  ASSERT_EQ(trained.search.epochs.size(), 2u);
  EXPECT_TRUE(trained.search.epochs[1].values.contains("sigma.block.dw"));
  EXPECT_LT(trained.search.epochs[1].values.at("noise_term"), 0.0);
  ASSERT_EQ(trained.retrain.epochs.size(), 2u);
  EXPECT_GT(trained.retrain.epochs[1].values.at("train_top1"), 0.0);

  // The saved model loads again and carries the learned sigma as stdev.
  const Model reloaded = *Model::load_bytes(trained.model_bytes, "retrained");
  for (const auto& [layer, sigma] : trained.search.sigma) {
    EXPECT_NEAR(*reloaded.stdev(layer), sigma, 1e-6) << layer;
  }
}

TEST(Training, TheSameSeedGivesTheSameResult) {
  const LabelledData data = random_data(192, 4);
  const std::string snapshot = make_net();
  const Trained first = search_match_retrain(snapshot, data);
  const Trained second = search_match_retrain(snapshot, data);
  EXPECT_EQ(first.search.sigma, second.search.sigma);
  for (std::size_t e = 0; e < first.retrain.epochs.size(); ++e) {
    EXPECT_EQ(first.search.epochs[e].values, second.search.epochs[e].values);
    EXPECT_EQ(first.retrain.epochs[e].values, second.retrain.epochs[e].values);
  }
  for (std::size_t i = 0; i < first.info.layers.size(); ++i) {
    EXPECT_EQ(first.info.layers[i].multiplier_name, second.info.layers[i].multiplier_name);
    EXPECT_EQ(first.info.layers[i].weight_scale, second.info.layers[i].weight_scale);
  }
  EXPECT_EQ(first.model_bytes.size(), second.model_bytes.size());
}

TEST(Training, BadInputIsNamed) {
  const std::string snapshot = make_net();
  const LabelledData data = random_data(64, 5);
  const auto fails = [&](const LabelledData& d, const AgnSearchOptions& o, const std::string& snapshot_bytes) {
    Model model = *Model::load_bytes(snapshot_bytes, "net");
    return agn_search(model, d, o).status();
  };
  const auto expect_error = [&](const Status& status, const std::string& words) {
    EXPECT_FALSE(status.ok());
    EXPECT_NE(status.message().find(words), std::string::npos) << status.to_string();
  };
  for (const double lambda : {-1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    AgnSearchOptions o = quick_search();
    o.lambda = lambda;
    expect_error(fails(data, o, snapshot), "lambda");
  }
  for (const std::size_t epochs : {std::size_t{0}, std::size_t{1001}}) {
    AgnSearchOptions o = quick_search();
    o.training.epochs = epochs;
    expect_error(fails(data, o, snapshot), "epochs");
  }
  LabelledData short_labels = data;
  short_labels.labels.pop_back();
  expect_error(fails(short_labels, quick_search(), snapshot), "63 labels for 64 images");
  LabelledData out_of_range = data;
  out_of_range.labels[9] = 3;
  expect_error(fails(out_of_range, quick_search(), snapshot), "label 3 at index 9 is outside the model's 3 classes");
  LabelledData wrong_shape = data;
  wrong_shape.inputs.shape = {64, 2, 24, 12};
  expect_error(fails(wrong_shape, quick_search(), snapshot), "training inputs");
  expect_error(fails(data, quick_search(), make_net("False")), "the batch norm norm");
}

TEST(Training, ANonFiniteLossNamesTheEpochAndBatch) {
  LabelledData data = random_data(64, 6);
  std::fill_n(data.inputs.values.begin(), 4 * 144, std::nanf(""));
  Model model = *Model::load_bytes(make_net(), "net");
  AgnSearchOptions options = quick_search();
  std::vector<std::size_t> reported;
  options.training.on_epoch = [&](const EpochMetrics& m) { reported.push_back(m.epoch); };
  const Status status = agn_search(model, data, options).status();
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("the loss is not finite"), std::string::npos) << status.to_string();
  EXPECT_NE(status.message().find("at epoch 1, batch "), std::string::npos) << status.to_string();
  EXPECT_TRUE(reported.empty());
}

TEST(Training, CancelStopsAtTheNextBatch) {
  const LabelledData data = random_data(256, 8);
  Model model = *Model::load_bytes(make_net(), "net");
  std::atomic<bool> cancelled{false};
  AgnSearchOptions options = quick_search();
  options.training.cancelled = &cancelled;
  std::size_t batches = 0;
  options.training.on_progress = [&](const Progress& p) {
    batches = p.done;
    if (p.done == 3) cancelled = true;
  };
  const Status status = agn_search(model, data, options).status();
  EXPECT_EQ(status.code(), StatusCode::kCancelled) << status.to_string();
  EXPECT_EQ(batches, 3u);
  EXPECT_NE(status.message().find("epoch 1, batch 4"), std::string::npos) << status.to_string();
}

// ------------------------------------------------------------ the straight-through layer on LeNet5

// Fake-quantized float layers: the float op on q(x) * s_x and q(w) * s_w,
// rounding passed through by the gradient.
class FakeQuantizedFloat final : public LayerInterceptor {
 public:
  explicit FakeQuantizedFloat(const MatchingInfo& info) : info_(info) {}
  at::Tensor forward(const LayerCall& call) override {
    const auto input_scale = static_cast<float>(*info_.layers[call.layer].input_scale);
    const float weight_scale = quantization_scale(call.weight.detach().abs().max().item<float>());
    const auto fake = [](const at::Tensor& t, float s) { return t + (quantize(t.detach(), s) * s - t).detach(); };
    return float_forward({call.layer, fake(call.input, input_scale), fake(call.weight, weight_scale), call.bias,
                          call.conv});
  }

 private:
  const MatchingInfo& info_;
};

double max_abs(const std::vector<float>& values) {
  double m = 0.0;
  for (const float v : values) m = std::max(m, static_cast<double>(std::abs(v)));
  return m;
}

double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, static_cast<double>(std::abs(a[i] - b[i])));
  return m;
}

TEST(Training, ExactMultiplierStepEqualsTheFakeQuantizedFloatStep) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  Model model = *Model::load_file(shared / "models/lenet5_fmnist_stdev.pt");
  FloatTensor calibration = *load_inputs(shared / "models/lenet5_fmnist_calib.npy");
  const MultiplierLibrary library = builtin_library();
  const MatchingInfo info = *select_multipliers(model, calibration, library, CaptureOptions{});
  const Multiplier exact = Multiplier::exact("exact", {});
  const std::vector<const Multiplier*> all_exact(info.layers.size(), &exact);
  calibration.shape[0] = 64;
  calibration.values.resize(64 * 28 * 28);
  LabelledData batch{calibration, std::vector<int64_t>(64)};
  for (std::size_t i = 0; i < 64; ++i) batch.labels[i] = static_cast<int64_t>(i % 10);

  const auto step = training_step(model, batch, ForwardMode::kApproximate, &info, all_exact, 1);
  ASSERT_TRUE(step.ok()) << step.status().to_string();

  FakeQuantizedFloat reference_layers(info);
  std::vector<at::Tensor> parameters;
  for (const at::Tensor& p : model.impl().module.parameters()) parameters.push_back(p);
  model.impl().module.train(true);
  const at::Tensor logits = *model.impl().run(as_torch(batch.inputs), reference_layers, true);
  for (at::Tensor& p : parameters) p.mutable_grad() = at::Tensor();
  at::cross_entropy_loss(logits, torch::tensor(batch.labels)).backward();
  model.impl().module.train(false);

  const FloatTensor expected_logits = to_float_tensor(logits.detach());
  EXPECT_LE(max_difference(step->logits.values, expected_logits.values), 1e-5 * max_abs(expected_logits.values));
  ASSERT_EQ(step->gradients.size(), parameters.size());
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    const FloatTensor expected = to_float_tensor(parameters[i].grad());
    EXPECT_LE(max_difference(step->gradients[i].values, expected.values), 1e-4 * max_abs(expected.values) + 1e-9)
        << "parameter " << i;
  }
}

}  // namespace
}  // namespace agnx
