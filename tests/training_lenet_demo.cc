// The training acceptance on LeNet5 and the whole Fashion-MNIST (label
// `demo`, minutes): AGN search's sigma rises with lambda, and approximate
// retraining recovers the accuracy the chosen multipliers cost.
#include <gtest/gtest.h>

#include <cstdio>

#include "core/capture.h"
#include "core/deploy.h"
#include "core/lut_directory.h"
#include "core/training.h"
#include "tests/support/fashion_mnist.h"
#include "tests/support/shared_data.h"

namespace agnx {
namespace {

double op_weighted_sigma(const AgnSearchResult& result) {
  double weighted = 0.0, total = 0.0;
  for (const auto& [layer, sigma] : result.sigma) {
    weighted += static_cast<double>(result.opcount.at(layer)) * sigma;
    total += static_cast<double>(result.opcount.at(layer));
  }
  return weighted / total;
}

TEST(TrainingLenetDemo, SigmaRisesWithLambda) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  AGNX_SKIP_WITHOUT_FASHION_MNIST(data, 60000, 10000);
  double previous = -1.0;
  for (const double lambda : {0.1, 0.5, 2.0}) {
    Model model = *Model::load_file(shared / "models/lenet5_fmnist.pt");
    AgnSearchOptions options;
    options.lambda = lambda;
    options.training.num_threads = 2;
    const auto result = agn_search(model, data.train, options);
    ASSERT_TRUE(result.ok()) << result.status().to_string();
    const double sigma = op_weighted_sigma(*result);
    std::printf("lambda %.2f: op-weighted mean sigma %.4f\n", lambda, sigma);
    EXPECT_GT(sigma, previous) << "lambda " << lambda;
    previous = sigma;
  }
}

TEST(TrainingLenetDemo, RetrainingRecoversTheEvoApproxSelection) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  AGNX_SKIP_WITHOUT_FASHION_MNIST(data, 60000, 10000);
  Model model = *Model::load_file(shared / "models/lenet5_fmnist_stdev.pt");
  const FloatTensor calibration = *load_inputs(shared / "models/lenet5_fmnist_calib.npy");
  const auto library =
      load_lut_directory(shared / "evoapprox")->filtered("signed", [](const Multiplier& m) { return m.is_signed(); });
  CaptureOptions capture;
  capture.num_threads = 2;
  MatchingInfo info = *select_multipliers(model, calibration, library, capture);
  const EvaluationOptions evaluation{.batch_size = 256, .num_threads = 2, .on_progress = {}};
  const ModelAccuracy before = *evaluate_accuracy(model, info, library, data.test.inputs, data.test.labels, evaluation);
  const auto chosen = *chosen_multipliers(info, library);
  RetrainOptions options;
  options.training.epochs = 3;
  options.training.batch_size = 128;
  options.training.num_threads = 2;
  options.training.on_epoch = [](const EpochMetrics& m) {
    std::printf("epoch %zu: loss %.4f train top-1 %.4f\n", m.epoch, m.values.at("loss"), m.values.at("train_top1"));
  };
  ASSERT_TRUE(approximate_retrain(model, info, chosen, data.train, options).ok());
  const ModelAccuracy after = *evaluate_accuracy(model, info, library, data.test.inputs, data.test.labels, evaluation);
  std::printf("relative energy %.4f; top-1 quantized %.4f, approximate %.4f, retrained %.4f\n",
              info.relative_energy_consumption(), before.quantized_top1, before.approximate_top1,
              after.approximate_top1);
  EXPECT_GE(after.approximate_top1, before.quantized_top1 - 0.015);
  EXPECT_GE(after.approximate_top1, before.approximate_top1 + 0.10);
}

}  // namespace
}  // namespace agnx
