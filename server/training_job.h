// Training jobs (kinds search, retrain and sweep): a run's stored inputs
// through AGN search, matching and approximate retraining in model workers,
// each epoch's figures logged to the run as they come.
//
// A training run's inputs are artifacts: inputs/training.json (the
// TrainingRequest), inputs/model.pt (search, sweep: the float model; retrain:
// none, the matched run's model is used), inputs/train_x, inputs/train_y and,
// for sweeps, inputs/calibration, plus inputs/test_x and inputs/test_y with
// test data. Uploads are content-addressed: the same training set sent twice
// is stored once.
//
// Results:
//  - search: model/trained.pt (the model with `stdev` buffers),
//    training.json (sigma, opcount), metrics search.* per epoch.
//  - retrain: model/trained.pt (retrained), training.json, metrics
//    retrain.* per epoch, and the run's matching result: the source run's
//    selection with the retrained weight scales and accuracies.
//  - sweep: one child run per lambda (tag mlflow.parentRunId = the sweep's
//    run, agnx.sweep_index), each searched, matched (its matching result is
//    the selection before retraining) and retrained (metric retrained_top1);
//    then sweep.json on the sweep's run (sweep_summary). A sweep run again
//    after a crash resumes at the first unfinished lambda: children are
//    created idempotently and a FINISHED child is never redone.
#pragma once

#include <string>

#include "core/status.h"
#include "server/job_context.h"
#include "server/worker/training_request.h"

namespace agnx::server {

inline constexpr const char* kTrainingRequestArtifact = "inputs/training.json";
inline constexpr const char* kTrainInputsArtifact = "inputs/train_x";
inline constexpr const char* kTrainLabelsArtifact = "inputs/train_y";
inline constexpr const char* kTrainedModelArtifact = "model/trained.pt";
inline constexpr const char* kTrainingResultArtifact = "training.json";
inline constexpr const char* kSweepArtifact = "sweep.json";
inline constexpr const char* kParentRunTag = "mlflow.parentRunId";
inline constexpr const char* kSweepIndexTag = "agnx.sweep_index";

// The handler of kSearchKind, kRetrainKind and kSweepKind.
Status run_training_job(const JobContext& context, const store::Job& job);

// A sweep's points as JSON: {"run_id", "points": [{"lambda", "run_id",
// "sigma": {LAYER: S}, "relative_energy", "top1": {"float", "quantized",
// "approximate", "retrained"}}], "pareto": [INDEX]}, points by lambda as
// requested, finished children only; pareto: the points that no other point
// beats in relative energy (lower) and retrained top-1 (higher).
// Errors: an unknown run or one that is not a sweep.
Result<std::string> sweep_summary(store::TrackingStore& store, const std::string& sweep_run_id);

}  // namespace agnx::server
