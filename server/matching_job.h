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
#include <filesystem>
#include <functional>
#include <string>

#include "core/progress.h"
#include "core/status.h"
#include "server/job_context.h"
#include "server/library_registry.h"
#include "server/model_worker.h"
#include "server/worker/request.h"
#include "store/tracking_store.h"

namespace agnx::server {

inline constexpr const char* kRequestArtifact = "inputs/request.json";
inline constexpr const char* kModelArtifact = "inputs/model.pt";
inline constexpr const char* kCalibrationArtifact = "inputs/calibration";
inline constexpr const char* kTestInputsArtifact = "inputs/test_x";
inline constexpr const char* kTestLabelsArtifact = "inputs/test_y";
inline constexpr const char* kResultArtifact = "gs_results.json";

inline constexpr const char* kMatchingKind = "matching";

// The handler of kMatchingKind: runs the matching of the job's run from its
// stored inputs in a model worker and writes the result: gs_results.json,
// then the MatchingInfo with params and metrics (relative energy,
// accuracies) in one transaction. Idempotent: when the run already has a
// result, nothing is written again. Errors: unreadable inputs, anything core
// rejects (named), a worker that crashed or ran out of time (kAborted, with
// the reason), a cancellation (kCancelled).
Status run_matching_job(const JobContext& context, const store::Job& job);

}  // namespace agnx::server
