// The matching pipeline: one request, validated once, then capture and
// selection (capture.h), exact multipliers for pinned layers (reselect),
// observed errors on the calibration data and, with test data, accuracies
// (deploy.h). agnx-worker (server/worker/work.cc) and `agnx match`
// (client/cli/match_run.cc) both run it, so the same inputs give the same
// MatchingInfo through the server and in-process.
//
// LibTorch stays behind model.h: this header and its callers see only core
// types. Not thread-safe per Model (model.h); separate Models may run
// pipelines concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/library.h"
#include "core/model.h"
#include "core/progress.h"
#include "core/selection.h"
#include "core/status.h"
#include "core/tensor.h"

namespace agnx {

// The most sampled feature rows per layer a request may ask for.
inline constexpr std::size_t kMaxMatchingSamples = 1'000'000;

// Test inputs [N, ...] with their N class labels.
struct MatchingTestData {
  FloatTensor x;
  std::vector<int64_t> y;
};

// What to match. Error messages name the member at fault as its field:
// "sigma", "num_samples", "pin_exact", and "test_x" / "test_y" for
// test->x / test->y.
struct MatchingPipelineRequest {
  // Tolerance per layer name; |sigma| is used (the spec's sigma_l = |stdev|).
  // Layers not listed use their submodule's stdev.
  std::map<std::string, double> sigma;
  std::size_t num_samples = 512;  // sampled feature rows per layer, 1..kMaxMatchingSamples
  uint64_t seed = 0;              // any value; layer i draws with std::mt19937_64(seed + i)
  std::vector<std::string> pin_exact;  // layers that must use an exact multiplier
  bool observe = true;                 // measure observed errors on the calibration data
  std::optional<MatchingTestData> test;  // with it, the accuracies
};

struct MatchingPipelineOptions {
  std::size_t num_threads = 1;  // LibTorch, selection and LUT GEMM threads
  ProgressCallback on_progress;  // stages of capture, selection and evaluation
};

// Checks everything about a run that can be checked before it starts:
// `calibration` holds at least one input and its first input runs through
// `model`; num_samples is 1..kMaxMatchingSamples; every sigma is finite and
// names a layer of `model`; every pinned layer exists; every layer without a
// sigma has a stdev; test data, when given, has at least one input and one
// label per input. Errors, in that order (the first one found):
//   INVALID_ARGUMENT "calibration: ..." (no inputs, or the model's complaint),
//   INVALID_ARGUMENT "num_samples: must be from 1 to 1000000, not 0",
//   INVALID_ARGUMENT "sigma[LAYER]: must be a finite number, not nan",
//   NOT_FOUND "sigma: the model has no layer LAYER",
//   NOT_FOUND "pin_exact: the model has no layer LAYER",
//   INVALID_ARGUMENT "sigma: layer LAYER: has no stdev ...",
//   INVALID_ARGUMENT "test_x: there are no test inputs",
//   INVALID_ARGUMENT "test_y: 2000 labels for 256 test inputs".
Status validate_matching_request(const Model& model, const FloatTensor& calibration,
                                 const MatchingPipelineRequest& request);

// `status` with the field its message starts with renamed by `names`, for
// callers that name request members otherwise: with {"sigma",
// "header.sigma"}, "sigma: the model has no layer conv9" becomes
// "header.sigma: the model has no layer conv9" and "sigma[conv1]: ..."
// becomes "header.sigma[conv1]: ...". A message that starts with no key of
// `names` (followed by ':' or '[') is kept as it is.
Status with_field_names(const Status& status, const std::map<std::string, std::string>& names);

// validate_matching_request, then the matching of `model` on `calibration`
// over `library`: capture and selection, pinned layers, observed errors
// (request.observe) and accuracies (request.test). Errors: those of
// validate_matching_request, then anything capture, selection or evaluation
// reports (e.g. no multiplier within a layer's tolerance, labels outside the
// model's classes).
Result<MatchingInfo> run_matching_pipeline(const Model& model, const FloatTensor& calibration,
                                           const MultiplierLibrary& library, const MatchingPipelineRequest& request,
                                           const MatchingPipelineOptions& options);

}  // namespace agnx
