#include "server/matching_job.h"

#include <iterator>

#include "core/matching_json.h"
#include "server/clock.h"

namespace agnx::server {
namespace {

void report(const JobContext& context, const std::string& stage, std::size_t done, std::size_t total) {
  if (context.on_progress) context.on_progress({stage, done, total});
}

// The job's metrics: relative energy and, with test data, the accuracies.
std::vector<store::Metric> result_metrics(const MatchingInfo& info) {
  const int64_t now = now_ms();
  std::vector<store::Metric> metrics{{"relative_energy", info.relative_energy_consumption(), now, 0}};
  if (info.accuracy) {
    const ModelAccuracy& a = *info.accuracy;
    for (const auto& [key, value] : {std::pair{"float_top1", a.float_top1}, {"float_top5", a.float_top5},
                                     {"quantized_top1", a.quantized_top1}, {"quantized_top5", a.quantized_top5},
                                     {"approximate_top1", a.approximate_top1},
                                     {"approximate_top5", a.approximate_top5}}) {
      metrics.push_back({key, value, now, 0});
    }
  }
  return metrics;
}

Result<MatchingInfo> compute(const JobContext& context, const std::string& run_id, const MatchingRequest& request) {
  report(context, "loading", 0, 1);
  AGNX_ASSIGN_OR_RETURN(const auto library, context.libraries.find(request.library));
  const char* const artifacts[] = {kModelArtifact, kCalibrationArtifact, kTestInputsArtifact, kTestLabelsArtifact};
  std::string inputs[std::size(artifacts)];
  for (std::size_t i = 0; i < (request.has_test_data ? 4 : 2); ++i) {
    AGNX_ASSIGN_OR_RETURN(inputs[i], context.store.read_artifact(run_id, artifacts[i]));
  }
  AGNX_ASSIGN_OR_RETURN(const JobDirectory job,
                        JobDirectory::create(context.work_dir, {request, inputs[0], inputs[1], inputs[2], inputs[3]}));
  return match_in_worker(context.worker, job, *library, context.on_progress, context.cancelled);
}

}  // namespace

Status run_matching_job(const JobContext& context, const std::string& run_id) {
  if (context.store.get_matching(run_id).ok()) return {};  // a retry after the result was written
  AGNX_ASSIGN_OR_RETURN(const std::string request_json, context.store.read_artifact(run_id, kRequestArtifact));
  AGNX_ASSIGN_OR_RETURN(const MatchingRequest request, matching_request_from_json(request_json));
  AGNX_ASSIGN_OR_RETURN(const MatchingInfo info, compute(context, run_id, request));

  report(context, "saving", 0, 1);
  AGNX_ASSIGN_OR_RETURN(const auto ignored, context.store.log_artifact(run_id, kResultArtifact,
                                                                       matching_info_to_json(info)));
  (void)ignored;
  store::RunBatch batch;
  batch.metrics = result_metrics(info);
  const Status logged = context.store.log_matching(run_id, {request.lambda, info}, batch);
  if (!logged.ok() && logged.code() != StatusCode::kAlreadyExists) return logged.with_context("saving the result");
  report(context, "saving", 1, 1);
  return {};
}

}  // namespace agnx::server
