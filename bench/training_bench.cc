// Benchmark: training throughput on LeNet5 (images/s of one forward+backward
// step at batch 128) with float layers, with AGN noise and with approximate
// layers (LUT forward through a real EvoApprox selection, straight-through
// backward), side by side in one run, and the approximate step's cost as a
// ratio of the float step's (goal: at most 2).
//
// Usage: training_bench [--threads N] [--repetitions R]
#include <algorithm>
#include <cstdio>
#include <string>

#include "bench/timing.h"
#include "core/capture.h"
#include "core/dataset.h"
#include "core/deploy.h"
#include "core/lut_directory.h"
#include "core/training.h"
#include "tests/support/command_line.h"
#include "tests/support/shared_data.h"

using namespace agnx;
using agnx::bench::best_seconds;

int main(int argc, char** argv) {
  std::size_t threads = 1;
  int repetitions = 10;
  CLI::App app{"training_bench: images/s of a LeNet5 training step (batch 128) with float, AGN-noise and "
               "approximate (LUT) layers, side by side (needs ../shared)"};
  app.add_option("--threads", threads, "LibTorch and LUT threads")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--repetitions", repetitions, "steps of each, the best one counts")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  if (const auto exit_status = agnx::testing::parse_command_line(app, argc, argv)) return *exit_status;
  const auto shared = testing::shared_dir();
  if (!shared) {
    std::puts("SKIP: the reference material (../shared) is missing");
    return 0;
  }
  Model model = *Model::load_file(*shared / "models/lenet5_fmnist_stdev.pt");
  const FloatTensor calibration = *load_inputs(*shared / "models/lenet5_fmnist_calib.npy");
  const auto library =
      load_lut_directory(*shared / "evoapprox")->filtered("signed", [](const Multiplier& m) { return m.is_signed(); });
  CaptureOptions capture;
  capture.num_threads = threads;
  const MatchingInfo info = *select_multipliers(model, calibration, library, capture);
  const auto chosen = *chosen_multipliers(info, library);

  constexpr int64_t kBatch = 128;
  LabelledData batch{calibration, std::vector<int64_t>(kBatch)};
  batch.inputs.shape[0] = kBatch;
  batch.inputs.values.resize(kBatch * 28 * 28);
  for (int64_t i = 0; i < kBatch; ++i) batch.labels[static_cast<std::size_t>(i)] = i % 10;

  std::printf("LeNet5 training step, batch %lld, %zu threads, best of %d\n", static_cast<long long>(kBatch), threads,
              repetitions);
  double float_seconds = 0.0;
  for (const auto& [name, mode] : {std::pair{"float", ForwardMode::kFloat}, {"AGN noise", ForwardMode::kAgnNoise},
                                   {"approximate (LUT)", ForwardMode::kApproximate}}) {
    const double seconds = best_seconds(repetitions, [&, m = mode] {
      const auto step = training_step(model, batch, m, &info, chosen, threads);
      if (!step.ok()) std::printf("error: %s\n", step.status().to_string().c_str());
    });
    if (mode == ForwardMode::kFloat) float_seconds = seconds;
    std::printf("%-18s %8.1f images/s  %.2fx the float step\n", name, kBatch / seconds, seconds / float_seconds);
  }
  return 0;
}
