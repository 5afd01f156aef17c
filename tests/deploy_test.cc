#include "core/deploy.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/dataset.h"
#include "core/lut_directory.h"
#include "core/model_internal.h"
#include "tests/support/shared_data.h"

namespace agnx {
namespace {

struct Lenet {
  Model model;
  FloatTensor calibration;
  FloatTensor test_x;
  std::vector<int64_t> test_y;
  MultiplierLibrary library;
  MatchingInfo info;  // with the reference's sample rows: the reference's selection
};

Lenet load_lenet(const std::filesystem::path& shared) {
  const auto reference = testing::read_json_file(shared / "reference/lenet5_fmnist/lenet5_fmnist.matching.json");
  CaptureOptions options;
  options.num_threads = 2;
  for (const auto& layer : reference.at("layers")) {
    options.sample_rows[layer.at("name").get<std::string>()] = layer.at("sample_rows").get<std::vector<uint64_t>>();
  }
  auto model = *Model::load_file(shared / "models/lenet5_fmnist_stdev.pt");
  FloatTensor calibration = *load_inputs(shared / "models/lenet5_fmnist_calib.npy");
  calibration.shape[0] = 64;
  calibration.values.resize(64 * 28 * 28);
  auto library = load_lut_directory(shared / "evoapprox")->filtered("signed", [](const auto& m) { return m.is_signed(); });
  auto info = *select_multipliers(model, calibration, library, options);
  return {std::move(model), std::move(calibration), *load_inputs(shared / "models/lenet5_fmnist_test_x.npy"),
          *load_labels(shared / "models/lenet5_fmnist_test_y.npy"), std::move(library), std::move(info)};
}

// The quantized model computed directly with LibTorch: float convolutions of
// the integer tensors, dequantized, plus bias.
class DirectQuantized final : public LayerInterceptor {
 public:
  explicit DirectQuantized(const MatchingInfo& info) : info_(info) {}
  at::Tensor forward(const LayerCall& call) override {
    const LayerInfo& layer = info_.layers[call.layer];
    const auto input_scale = static_cast<float>(*layer.input_scale);
    const auto weight_scale = static_cast<float>(*layer.weight_scale);
    const at::Tensor x = quantize(call.input, input_scale), w = quantize(call.weight, weight_scale);
    const c10::optional<at::Tensor> no_bias;
    const LayerCall integer{call.layer, x, w, no_bias, call.conv};
    at::Tensor y = float_forward(integer) * (input_scale * weight_scale);
    if (!call.bias || !call.bias->defined()) return y;  // LeNet's convolutions have no bias
    return call.conv ? y + call.bias->reshape({1, -1, 1, 1}) : y + *call.bias;
  }

 private:
  const MatchingInfo& info_;
};

TEST(Deploy, ExactMultipliersReproduceTheQuantizedModel) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const Lenet lenet = load_lenet(shared);
  FloatTensor input = lenet.test_x;
  input.shape[0] = 100;
  input.values.resize(100 * 28 * 28);
  const Multiplier exact = Multiplier::exact("exact", {});
  const std::vector<const Multiplier*> all_exact(lenet.info.layers.size(), &exact);
  const auto through_tables = approximate_forward(lenet.model, lenet.info, all_exact, input, {.batch_size = 32, .num_threads = 1, .on_progress = {}});
  ASSERT_TRUE(through_tables.ok()) << through_tables.status().to_string();
  DirectQuantized direct(lenet.info);
  const auto expected = lenet.model.impl().run(as_torch(input), direct);
  ASSERT_TRUE(expected.ok()) << expected.status().to_string();
  const at::Tensor actual = as_torch(*through_tables);
  EXPECT_EQ(actual.sizes(), expected->sizes());
  EXPECT_TRUE(at::allclose(actual, *expected, 1e-4, 1e-4)) << (actual - *expected).abs().max().item<float>();
}

TEST(Deploy, LenetAccuracies) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  Lenet lenet = load_lenet(shared);
  std::vector<double> fractions;
  const auto accuracy = evaluate_accuracy(
      lenet.model, lenet.info, lenet.library, lenet.test_x, lenet.test_y,
      {.batch_size = 250, .num_threads = 2, .on_progress = [&](const Progress& p) {
         EXPECT_EQ(p.stage, "evaluation");
         fractions.push_back(static_cast<double>(p.done) / static_cast<double>(p.total));
       }});
  ASSERT_TRUE(accuracy.ok()) << accuracy.status().to_string();
  ASSERT_EQ(fractions.size(), 16u);  // 2 passes x 2,000 images / 250
  EXPECT_TRUE(std::is_sorted(fractions.begin(), fractions.end())) << "progress never goes back";
  EXPECT_DOUBLE_EQ(fractions.back(), 1.0);
  const double float_reference = testing::read_json_file(shared / "models/lenet5_fmnist.json").at("float_top1_test");
  EXPECT_NEAR(accuracy->float_top1, float_reference, 0.0025);  // 5 of 2,000 images: BLAS rounding flips near-ties
  EXPECT_NEAR(accuracy->quantized_top1, accuracy->float_top1, 0.01);
  EXPECT_GE(accuracy->float_top5, accuracy->float_top1);
  EXPECT_GT(accuracy->approximate_top1, 0.5);  // a working classifier, not noise
  std::printf("float top1 %.4f top5 %.4f | quantized top1 %.4f top5 %.4f | approximate top1 %.4f top5 %.4f\n",
              accuracy->float_top1, accuracy->float_top5, accuracy->quantized_top1, accuracy->quantized_top5,
              accuracy->approximate_top1, accuracy->approximate_top5);
}

TEST(Deploy, ObservedErrorsSitNextToThePrediction) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  Lenet lenet = load_lenet(shared);
  ASSERT_TRUE(observe_errors(lenet.model, lenet.info, lenet.library, lenet.calibration, {.batch_size = 64, .num_threads = 1, .on_progress = {}}).ok());
  for (const LayerInfo& layer : lenet.info.layers) {
    ASSERT_TRUE(layer.observed_mean && layer.observed_std) << layer.name;
    std::printf("%-8s %-11s predicted mul_std %10.3f observed %10.3f | mean/product predicted %8.4f observed %8.4f\n",
                layer.name.c_str(), layer.multiplier_name.c_str(), layer.mul_std, *layer.observed_std,
                std::find_if(layer.candidates.begin(), layer.candidates.end(),
                             [&](const auto& c) { return c.name == layer.multiplier_name; })->mean,
                *layer.observed_mean);
    if (layer.mul_std == 0.0) {
      EXPECT_EQ(*layer.observed_std, 0.0) << layer.name;  // an exact multiplier makes no error
    } else {
      EXPECT_GT(*layer.observed_std, 0.0) << layer.name;
    }
  }
}

TEST(Deploy, BadInputsAreNamed) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  Lenet lenet = load_lenet(shared);
  std::vector<int64_t> too_few(lenet.test_y.begin(), lenet.test_y.begin() + 10);
  EXPECT_EQ(evaluate_accuracy(lenet.model, lenet.info, lenet.library, lenet.test_x, too_few, {}).status().message(),
            "test data holds 2000 inputs but 10 labels");
  MatchingInfo unknown = lenet.info;
  unknown.layers[1].multiplier_name = "mul8s_nope";
  EXPECT_NE(chosen_multipliers(unknown, lenet.library).status().message().find("layer conv2.0: multiplier mul8s_nope"),
            std::string::npos);
  MatchingInfo no_scales = lenet.info;
  no_scales.layers[0].input_scale.reset();
  const Multiplier exact = Multiplier::exact("exact", {});
  const std::vector<const Multiplier*> all_exact(5, &exact);
  EXPECT_NE(approximate_forward(lenet.model, no_scales, all_exact, lenet.calibration, {}).status().message().find(
                "layer conv1.0 has no quantization scales"),
            std::string::npos);
  std::vector<int64_t> bad_label(lenet.test_y);
  bad_label[7] = 10;
  EXPECT_NE(evaluate_accuracy(lenet.model, lenet.info, lenet.library, lenet.test_x, bad_label, {})
                .status().message().find("target 10 of sample 7"),
            std::string::npos);
}

}  // namespace
}  // namespace agnx
