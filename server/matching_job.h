// One matching job: what a client asked for, stored with its run, and the
// work that turns a run's uploaded inputs into its matching result.
//
// A job's inputs live as artifacts of its run: inputs/request.json (the
// MatchingRequest), inputs/model.pt, inputs/calibration and, with test data,
// inputs/test_x and inputs/test_y. They are durable before the job is
// queued, so a job can run (again) after a restart.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/capture.h"
#include "core/status.h"
#include "server/library_registry.h"
#include "store/tracking_store.h"

namespace agnx::server {

struct MatchingRequest {
  double lambda = 0.0;
  std::string library = "builtin";
  std::map<std::string, double> sigma;  // per layer; the others use stdev buffers
  std::size_t num_samples = 512;
  uint64_t seed = 0;
  std::vector<std::string> pin_exact;
  bool has_test_data = false;
};

std::string to_json(const MatchingRequest& request);
Result<MatchingRequest> matching_request_from_json(std::string_view text);

inline constexpr const char* kRequestArtifact = "inputs/request.json";
inline constexpr const char* kModelArtifact = "inputs/model.pt";
inline constexpr const char* kCalibrationArtifact = "inputs/calibration";
inline constexpr const char* kTestInputsArtifact = "inputs/test_x";
inline constexpr const char* kTestLabelsArtifact = "inputs/test_y";
inline constexpr const char* kResultArtifact = "gs_results.json";

struct JobContext {
  store::TrackingStore& store;
  const LibraryRegistry& libraries;
  std::size_t num_threads = 1;
  ProgressCallback on_progress;           // stage progress, from the job's thread
  const std::atomic<bool>* cancelled = nullptr;  // checked between stages
};

// Runs the matching of run `run_id` from its stored inputs and writes the
// result: gs_results.json, then the MatchingInfo with params and metrics
// (relative energy, accuracies) in one transaction. Idempotent: when the run
// already has a result, nothing is written again. Errors: unreadable inputs,
// anything core rejects (named), a cancellation (kFailedPrecondition
// "cancelled").
Status run_matching_job(const JobContext& context, const std::string& run_id);

}  // namespace agnx::server
