// The model work of a matching job, done inside agnx-worker: every step that
// runs the untrusted snapshot through LibTorch. Inputs come from a job
// directory (server/worker/protocol.h).
#pragma once

#include <cstddef>
#include <filesystem>

#include "core/library.h"
#include "core/progress.h"
#include "core/selection.h"
#include "core/status.h"
#include "server/worker/request.h"

namespace agnx::server::worker {

// The request in `job_dir`. Errors: a missing or malformed request file.
Result<MatchingRequest> read_job_request(const std::filesystem::path& job_dir);

// Checks a submission before it is accepted: the snapshot loads, the
// calibration and test data parse, then core's validate_matching_request
// (core/pipeline.h): one calibration input runs through the model, the sigma
// and pinned layers exist, layers without a sigma have stdev buffers, the
// test inputs and labels agree. Errors name the field at fault ("model: ...",
// "calibration: ...", "header.sigma: ...", "header.pin_exact: ...",
// "test_y: ...").
Status validate_inputs(const std::filesystem::path& job_dir);

// The matching of the job in `job_dir` with `library`: core's
// run_matching_pipeline (capture and selection, pinned layers, observed
// errors on the calibration data and, with test data, the accuracies), its
// errors on header fields named as validate_inputs names them.
Result<MatchingInfo> compute_matching(const std::filesystem::path& job_dir, const MultiplierLibrary& library,
                                      std::size_t num_threads, const ProgressCallback& on_progress);

}  // namespace agnx::server::worker
