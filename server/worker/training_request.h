// A training job's request (kinds search, retrain and sweep): what a client
// asked for, once validated. Stored with the job's run
// (inputs/training.json) and handed to the model worker, one step at a time,
// in its job directory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/builtin_library.h"
#include "core/status.h"

namespace agnx::server {

inline constexpr const char* kSearchKind = "search";
inline constexpr const char* kRetrainKind = "retrain";
inline constexpr const char* kSweepKind = "sweep";

struct TrainingRequest {
  std::string kind;              // kSearchKind, kRetrainKind or kSweepKind
  std::vector<double> lambdas;   // search: one; sweep: one per point; retrain: none
  std::string library = kBuiltinLibraryName;
  double sigma_max = 0.5;
  std::size_t search_epochs = 1;
  std::size_t retrain_epochs = 3;
  std::size_t search_batch_size = 256;
  std::size_t retrain_batch_size = 128;
  double search_learning_rate = 5e-4;   // weights, Adam
  double sigma_learning_rate = 1e-2;    // s_l, Adam
  double retrain_learning_rate = 1e-3;  // SGD, momentum 0.9
  std::size_t num_samples = 512;        // matching's sample population
  uint64_t seed = 0;
  bool has_test_data = false;
  std::string source_run;               // retrain: the matched run
  // train_x and test_x may be uint8 .npy images: (pixel * scale - mean) / std.
  bool uint8_inputs = false;
  double uint8_scale = 1.0 / 255.0, uint8_mean = 0.0, uint8_std = 1.0;
};

std::string to_json(const TrainingRequest& request);

// Parses what to_json wrote. Errors: not a JSON object, a missing or
// mistyped field (named).
Result<TrainingRequest> training_request_from_json(std::string_view text);

// The request's own checks (no model needed): a known kind, lambdas finite
// and >= 0 (one for search, 1..64 for a sweep), epochs 1..1000, batch sizes
// 2..65536, learning rates and sigma_max finite and > 0, samples 1..1000000,
// a uint8 normalization finite with scale and std > 0.
// kInvalidArgument naming the field otherwise.
Status check_training_request(const TrainingRequest& request);

// One step of a training job, as the worker runs it: "check" (a
// submission's model and training data, nothing trained), "search" (AGN
// search at `lambda`), "retrain" (retrain a matched model) or "point"
// (search, match, retrain: one point of a sweep).
struct TrainingStep {
  std::string step;
  double lambda = 0.0;
  TrainingRequest request;
};

std::string to_json(const TrainingStep& step);
Result<TrainingStep> training_step_from_json(std::string_view text);

}  // namespace agnx::server
