// The training loop on LeNet5 and a cut of Fashion-MNIST (4,000 training,
// 2,000 test images), in the default test run: AGN search from the float
// snapshot, matching with the built-in library, one epoch of approximate
// retraining, each measured by the deployment code. The whole data set is
// the `demo` label's (training_lenet_demo.cc).
#include <gtest/gtest.h>

#include "core/builtin_library.h"
#include "core/capture.h"
#include "core/deploy.h"
#include "core/training.h"
#include "tests/support/fashion_mnist.h"
#include "tests/support/shared_data.h"

namespace agnx {
namespace {

TEST(TrainingLenet, SearchMatchRetrainOnACutOfFashionMnist) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  AGNX_SKIP_WITHOUT_FASHION_MNIST(data, 4000, 2000);
  Model model = *Model::load_file(shared / "models/lenet5_fmnist.pt");
  AgnSearchOptions search;
  search.lambda = 2.0;
  search.training.num_threads = 2;
  const auto searched = agn_search(model, data.train, search);
  ASSERT_TRUE(searched.ok()) << searched.status().to_string();
  double weighted = 0.0, total = 0.0;
  for (const auto& [layer, sigma] : searched->sigma) {
    weighted += static_cast<double>(searched->opcount.at(layer)) * sigma;
    total += static_cast<double>(searched->opcount.at(layer));
  }
  EXPECT_GT(weighted / total, 0.1) << "lambda 2 rewards noise: the op-weighted sigma grows from its start, 0.1";

  const MultiplierLibrary library = builtin_library();
  CaptureOptions capture;
  capture.num_threads = 2;
  MatchingInfo info = *select_multipliers(model, *load_inputs(shared / "models/lenet5_fmnist_calib.npy"), library,
                                          capture);
  const EvaluationOptions evaluation{.batch_size = 256, .num_threads = 2, .on_progress = {}};
  const ModelAccuracy before = *evaluate_accuracy(model, info, library, data.test.inputs, data.test.labels, evaluation);
  RetrainOptions retrain;
  retrain.training.batch_size = 128;
  retrain.training.num_threads = 2;
  retrain.test = &data.test;
  const auto retrained = approximate_retrain(model, info, *chosen_multipliers(info, library), data.train, retrain);
  ASSERT_TRUE(retrained.ok()) << retrained.status().to_string();
  const ModelAccuracy after = *evaluate_accuracy(model, info, library, data.test.inputs, data.test.labels, evaluation);
  std::printf("relative energy %.3f; top-1 quantized %.4f, approximate %.4f, retrained %.4f\n",
              info.relative_energy_consumption(), before.quantized_top1, before.approximate_top1,
              after.approximate_top1);
  EXPECT_LT(info.relative_energy_consumption(), 1.0);
  EXPECT_GT(after.approximate_top1, before.approximate_top1);
  EXPECT_GT(after.approximate_top1, 0.7);
  EXPECT_NEAR(retrained->epochs.back().values.at("test_top1"), after.approximate_top1, 0.02);
}

}  // namespace
}  // namespace agnx
