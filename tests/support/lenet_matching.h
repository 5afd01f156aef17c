// The in-process reference run that a server's LeNet5 matching job must
// equal: the same pipeline through core/ calls (capture, selection, observed
// errors, accuracy), for tests that link agnx_model.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/capture.h"
#include "core/dataset.h"
#include "core/deploy.h"
#include "core/lut_directory.h"
#include "core/matching_json.h"

namespace agnx::testing {

// The result JSON of matching LeNet5 (lenet_inputs(shared) of
// matching_client.h) on the signed multipliers of `shared`/evoapprox with 128
// samples drawn from `seed` and 2 threads: what a server started with
// `--library-dir evoapprox=<shared>/evoapprox,signed` stores for a job of
// those inputs with library "evoapprox", num_samples 128 and `seed` (its
// lambda is only recorded beside the result).
inline std::string in_process_json(const std::filesystem::path& shared, uint64_t seed) {
  const Model model = *Model::load_file(shared / "models/lenet5_fmnist_stdev.pt");
  const FloatTensor calibration = *load_inputs(shared / "models/lenet5_fmnist_calib.npy");
  const MultiplierLibrary library = load_lut_directory(shared / "evoapprox")->filtered("evoapprox", [](const auto& m) {
    return m.is_signed();
  });
  CaptureOptions options;
  options.num_samples = 128;
  options.seed = seed;
  options.num_threads = 2;
  MatchingInfo info = *select_multipliers(model, calibration, library, options);
  const EvaluationOptions evaluation{.batch_size = 64, .num_threads = 2, .on_progress = {}};
  EXPECT_TRUE(observe_errors(model, info, library, calibration, evaluation).ok());
  info.accuracy = *evaluate_accuracy(model, info, library, *load_inputs(shared / "models/lenet5_fmnist_test_x.npy"),
                                     *load_labels(shared / "models/lenet5_fmnist_test_y.npy"), evaluation);
  return matching_info_to_json(info);
}

}  // namespace agnx::testing
