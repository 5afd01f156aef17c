#include "server/matching_job.h"

#include <filesystem>
#include <utility>

#include "core/clock.h"
#include "core/matching_json.h"
#include "server/worker/protocol.h"

namespace agnx::server {
namespace {

// Each stage's share of a job, in order; progress within a stage is linear.
struct StageShare {
  const char* stage;
  double start;
  double share;
};
constexpr StageShare kStages[] = {{"loading", 0.00, 0.05},    {"scales", 0.05, 0.15},     {"features", 0.20, 0.30},
                                  {"selection", 0.50, 0.05},  {"validation", 0.55, 0.15}, {"evaluation", 0.70, 0.28},
                                  {"saving", 0.98, 0.02}};

double fraction_of(const Progress& progress) {
  for (const auto& s : kStages) {
    if (progress.stage == s.stage) {
      const double within = progress.total ? static_cast<double>(progress.done) / static_cast<double>(progress.total) : 0.0;
      return s.start + s.share * within;
    }
  }
  return 0.0;
}

void report_progress(const JobContext& context, const Progress& progress) {
  if (context.report) context.report({progress, fraction_of(progress)});
}

void report(const JobContext& context, const std::string& stage, std::size_t done, std::size_t total) {
  report_progress(context, {stage, done, total});
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

// The job's directory: its request, and its inputs linked from the run's
// artifacts (their bytes are not written again).
Result<JobDirectory> job_directory(const JobContext& context, const std::string& run_id,
                                   const MatchingRequest& request) {
  AGNX_ASSIGN_OR_RETURN(JobDirectory job, JobDirectory::create(context.work_dir));
  AGNX_RETURN_IF_ERROR(job.write(worker::kRequestFile, to_json(request)));
  const std::pair<const char*, const char*> inputs[] = {{kModelArtifact, worker::kModelFile},
                                                        {kCalibrationArtifact, worker::kCalibrationFile},
                                                        {kTestInputsArtifact, worker::kTestInputsFile},
                                                        {kTestLabelsArtifact, worker::kTestLabelsFile}};
  for (std::size_t i = 0; i < (request.has_test_data ? 4 : 2); ++i) {
    AGNX_ASSIGN_OR_RETURN(const std::filesystem::path file, context.store.artifact_file(run_id, inputs[i].first));
    AGNX_RETURN_IF_ERROR(job.link(inputs[i].second, file));
  }
  return job;
}

Result<MatchingInfo> compute(const JobContext& context, const std::string& run_id, const MatchingRequest& request) {
  report(context, "loading", 0, 1);
  AGNX_ASSIGN_OR_RETURN(const auto library, context.libraries.find(request.library));
  AGNX_ASSIGN_OR_RETURN(const JobDirectory job, job_directory(context, run_id, request));
  return match_in_worker(context.worker, job, *library,
                         [&context](const Progress& progress) { report_progress(context, progress); },
                         context.cancelled);
}

}  // namespace

Status run_matching_job(const JobContext& context, const store::Job& job) {
  if (!job.run_id) return Status::failed_precondition("job " + std::to_string(job.job_id) + " has no run");
  const std::string& run_id = *job.run_id;
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
  const Status logged = context.store.log_matching(run_id, {request.lambda, info}, batch, context.lease);
  if (!logged.ok() && logged.code() != StatusCode::kAlreadyExists) return logged.with_context("saving the result");
  report(context, "saving", 1, 1);
  return {};
}

}  // namespace agnx::server
