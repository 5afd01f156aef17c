// The model work of a training job step, done inside agnx-worker
// (`agnx-worker train`): AGN search, matching and approximate retraining of
// an untrusted snapshot. Inputs come from a job directory:
//   step.json            the TrainingStep
//   model.pt             the snapshot to train (search, point: float; retrain: matched)
//   train_x, train_y     training inputs and labels (.npy or torch.save)
//   calibration          retrain and point: calibration inputs
//   matching.json        retrain: the MatchingInfo of the matched run
//   test_x, test_y       with test data
//   library/             as for matching (absent: the built-in library)
// and the step writes
//   trained.pt           the model after the step, with `stdev` buffers
//   searched.pt          point: the model after search (the one matched)
//   result.json          {"sigma", "opcount"} (search, point), "matching"
//                        (point: the MatchingInfo before retraining, with
//                        accuracies), "retrained" (retrain, point: the
//                        accuracies after retraining, and the MatchingInfo's
//                        weight scales as retrained)
// Progress goes out as it happens, and each epoch's figures as metrics
// "search.KEY" / "retrain.KEY" with the epoch as step.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>

#include "core/library.h"
#include "core/progress.h"
#include "core/status.h"
#include "server/worker/protocol.h"

namespace agnx::server::worker {

inline constexpr const char* kStepFile = "step.json";
inline constexpr const char* kTrainInputsFile = "train_x";
inline constexpr const char* kTrainLabelsFile = "train_y";
inline constexpr const char* kMatchingFile = "matching.json";
inline constexpr const char* kTrainedModelFile = "trained.pt";
inline constexpr const char* kSearchedModelFile = "searched.pt";  // point: the model after search, as matched

struct TrainingReporter {
  ProgressCallback on_progress;
  std::function<void(const MetricReport&)> on_metric;
};

// Runs the step in `job_dir` with `library` and writes its outputs there
// ("check" writes nothing).
// Errors name the input at fault; a loss that is not finite names the
// epoch and batch.
Status run_training_step(const std::filesystem::path& job_dir, const MultiplierLibrary& library,
                         std::size_t num_threads, const TrainingReporter& reporter);

}  // namespace agnx::server::worker
