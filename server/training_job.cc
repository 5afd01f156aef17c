#include "server/training_job.h"

#include <charconv>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/builtin_library.h"
#include "core/number_text.h"
#include "core/file_contents.h"
#include "core/lut_directory.h"
#include "core/matching_json.h"
#include "core/clock.h"
#include "server/matching_job.h"
#include "server/worker/protocol.h"
#include "server/worker/training_work.h"

namespace agnx::server {
namespace {

using nlohmann::json;

// The share of the job that one worker step has done: its training stages
// by batch, the other stages keep the last figure.
class StepProgress {
 public:
  StepProgress(const JobContext& context, const std::string& step, std::size_t point, std::size_t points)
      : context_(context), step_(step), point_(point), points_(std::max<std::size_t>(points, 1)) {}

  void operator()(const Progress& progress) {
    const double in_epoch = progress.total ? static_cast<double>(progress.done) / static_cast<double>(progress.total) : 0.0;
    const double done = progress.epochs ? (static_cast<double>(progress.epoch - 1) + in_epoch) /
                                              static_cast<double>(progress.epochs)
                                        : in_epoch;
    const bool both = step_ == "point";
    if (progress.stage == "search") within_ = 0.05 + (both ? 0.45 : 0.9) * done;
    if (progress.stage == "retrain") within_ = (both ? 0.55 : 0.05) + (both ? 0.4 : 0.9) * done;
    if (progress.stage == "saving") within_ = std::max(within_, 0.98);
    const double fraction = (static_cast<double>(point_ == 0 ? 0 : point_ - 1) + within_) / static_cast<double>(points_);
    if (context_.report) context_.report({progress, fraction, point_, point_ == 0 ? 0 : points_});
  }

 private:
  const JobContext& context_;
  std::string step_;
  std::size_t point_, points_;
  double within_ = 0.0;
};

// The inputs of one worker step, from the artifacts of `inputs_run`.
Result<JobDirectory> step_directory(const JobContext& context, const std::string& inputs_run,
                                    const TrainingStep& step, const std::string& model,
                                    const std::optional<std::string>& matching) {
  AGNX_ASSIGN_OR_RETURN(JobDirectory job, JobDirectory::create(context.work_dir));
  AGNX_RETURN_IF_ERROR(job.write(worker::kStepFile, to_json(step)));
  AGNX_RETURN_IF_ERROR(job.write(worker::kModelFile, model));
  std::vector<std::pair<const char*, const char*>> files{{kTrainInputsArtifact, worker::kTrainInputsFile},
                                                         {kTrainLabelsArtifact, worker::kTrainLabelsFile}};
  if (step.step == "point") files.emplace_back(kCalibrationArtifact, worker::kCalibrationFile);
  if (step.request.has_test_data) {
    files.emplace_back(kTestInputsArtifact, worker::kTestInputsFile);
    files.emplace_back(kTestLabelsArtifact, worker::kTestLabelsFile);
  }
  for (const auto& [artifact, file] : files) {  // linked, not written again
    AGNX_ASSIGN_OR_RETURN(const std::filesystem::path stored, context.store.artifact_file(inputs_run, artifact));
    AGNX_RETURN_IF_ERROR(job.link(file, stored));
  }
  if (matching) AGNX_RETURN_IF_ERROR(job.write(worker::kMatchingFile, *matching));
  return job;
}

struct StepOutput {
  json result;
  std::string trained_model;
  std::string searched_model;  // "point" only
};

// Runs one step in a worker; its epoch figures go to `metrics_run` as they come.
Result<StepOutput> run_step(const JobContext& context, const JobDirectory& job, const TrainingStep& step,
                            const std::string& metrics_run, std::size_t point, std::size_t points) {
  AGNX_ASSIGN_OR_RETURN(const auto library, context.libraries.find(step.request.library));
  if (step.step != "search" && library->name() != kBuiltinLibraryName) {
    AGNX_RETURN_IF_ERROR(save_lut_directory(*library, job.path() / worker::kLibraryDir));
  }
  StepProgress progress(context, step.step, point, points);
  const WorkerCallbacks callbacks{[&](const Progress& p) { progress(p); },
                                  [&](const worker::MetricReport& m) {
                                    (void)context.store.log_metric(metrics_run, {m.key, m.value, now_ms(), m.step});
                                  },
                                  context.cancelled};
  AGNX_RETURN_IF_ERROR(run_in_worker(context.worker, "train", job, library->metric(), callbacks));
  StepOutput output;
  AGNX_ASSIGN_OR_RETURN(const std::string result, read_file(job.path() / worker::kResultFile));
  output.result = json::parse(result, nullptr, false);
  if (!output.result.is_object()) return Status::internal("the worker's training result is not a JSON object");
  AGNX_ASSIGN_OR_RETURN(output.trained_model, read_file(job.path() / worker::kTrainedModelFile));
  if (step.step == "point") {
    AGNX_ASSIGN_OR_RETURN(output.searched_model, read_file(job.path() / worker::kSearchedModelFile));
  }
  return output;
}

Status log_artifacts(store::TrackingStore& store, const std::string& run_id,
                     const std::vector<std::pair<const char*, const std::string*>>& artifacts) {
  for (const auto& [path, content] : artifacts) AGNX_RETURN_IF_ERROR(store.log_artifact(run_id, path, *content).status());
  return {};
}

// The metrics of a matching result: relative energy and its accuracies under `prefix`.
std::vector<store::Metric> matching_metrics(const MatchingInfo& info, const std::string& prefix) {
  const int64_t now = now_ms();
  std::vector<store::Metric> metrics{{"relative_energy", info.relative_energy_consumption(), now, 0}};
  if (!info.accuracy) return metrics;
  const ModelAccuracy& a = *info.accuracy;
  for (const auto& [key, value] : {std::pair{"float_top1", a.float_top1}, {"quantized_top1", a.quantized_top1},
                                   {"approximate_top1", a.approximate_top1}, {"approximate_top5", a.approximate_top5}}) {
    metrics.push_back({prefix + key, value, now, 0});
  }
  return metrics;
}

Result<MatchingInfo> matching_of(const json& value) { return matching_info_from_json(value.dump()); }

// ------------------------------------------------------------ search

Status run_search(const JobContext& context, const std::string& run_id, const TrainingRequest& request) {
  if (context.store.read_artifact(run_id, kTrainingResultArtifact).ok()) return {};  // written by an earlier attempt
  AGNX_ASSIGN_OR_RETURN(const std::string model, context.store.read_artifact(run_id, kModelArtifact));
  const TrainingStep step{"search", request.lambdas.at(0), request};
  AGNX_ASSIGN_OR_RETURN(const JobDirectory job, step_directory(context, run_id, step, model, std::nullopt));
  AGNX_ASSIGN_OR_RETURN(const StepOutput out, run_step(context, job, step, run_id, 0, 0));
  const std::string result = out.result.dump(2);
  return log_artifacts(context.store, run_id, {{kTrainedModelArtifact, &out.trained_model},
                                               {kTrainingResultArtifact, &result}});
}

// ------------------------------------------------------------ retrain

Status run_retrain(const JobContext& context, const std::string& run_id, const TrainingRequest& request) {
  if (context.store.get_matching(run_id).ok()) return {};  // written by an earlier attempt
  AGNX_ASSIGN_OR_RETURN(const store::MatchingRecord source, context.store.get_matching(request.source_run));
  AGNX_ASSIGN_OR_RETURN(const std::string model, context.store.read_artifact(request.source_run, kModelArtifact));
  const TrainingStep step{"retrain", source.lambda, request};
  AGNX_ASSIGN_OR_RETURN(const JobDirectory job, step_directory(context, run_id, step, model,
                                                               matching_info_to_json(source.info)));
  AGNX_ASSIGN_OR_RETURN(const StepOutput out, run_step(context, job, step, run_id, 0, 0));
  const json& retrained = out.result.at("retrained");
  AGNX_ASSIGN_OR_RETURN(MatchingInfo info, matching_of(retrained.at("matching")));
  if (retrained.contains("accuracy")) {
    const json& a = retrained.at("accuracy");
    info.accuracy = ModelAccuracy{a.at("float_top1"),     a.at("float_top5"),       a.at("quantized_top1"),
                                  a.at("quantized_top5"), a.at("approximate_top1"), a.at("approximate_top5")};
  }
  const std::string result = out.result.dump(2);
  AGNX_RETURN_IF_ERROR(log_artifacts(context.store, run_id, {{kTrainedModelArtifact, &out.trained_model},
                                                             {kTrainingResultArtifact, &result}}));
  store::RunBatch batch;
  batch.metrics = matching_metrics(info, "");
  const Status logged = context.store.log_matching(run_id, {source.lambda, info}, batch, context.lease);
  if (!logged.ok() && logged.code() != StatusCode::kAlreadyExists) return logged.with_context("saving the result");
  return {};
}

// ------------------------------------------------------------ sweep

// Child `index` of the sweep, created once whatever the attempts.
Result<store::Run> sweep_child(const JobContext& context, const store::Run& parent, std::size_t index,
                               const TrainingRequest& request) {
  const double lambda = request.lambdas[index];
  const store::WriteOptions once{"sweep:" + parent.info.run_id + ":" + std::to_string(index)};
  AGNX_ASSIGN_OR_RETURN(const store::RunInfo child,
                        context.store.create_run(parent.info.experiment_id,
                                                 parent.info.run_name + " lambda=" + round_trip_text(lambda),
                                                 parent.info.user_id, now_ms(), once));
  store::RunBatch batch;
  batch.tags = {{kParentRunTag, parent.info.run_id}, {kSweepIndexTag, std::to_string(index)},
                {"agnx.kind", "sweep_point"}};
  batch.params = {{"lambda", round_trip_text(lambda)},
                  {"library", request.library},
                  {"search_epochs", std::to_string(request.search_epochs)},
                  {"retrain_epochs", std::to_string(request.retrain_epochs)},
                  {"seed", std::to_string(request.seed)}};
  AGNX_RETURN_IF_ERROR(context.store.log_batch(child.run_id, batch));
  return context.store.get_run(child.run_id);
}

// Writes a finished point to its child run: the searched model as the
// matched model, the retrained one, the matching before retraining and the
// retrained accuracies, then FINISHED.
Status save_point(const JobContext& context, const store::Run& child, double lambda, const StepOutput& out) {
  const std::string result = out.result.dump(2);
  AGNX_RETURN_IF_ERROR(log_artifacts(context.store, child.info.run_id,
                                     {{kModelArtifact, &out.searched_model},
                                      {kTrainedModelArtifact, &out.trained_model},
                                      {kTrainingResultArtifact, &result}}));
  AGNX_ASSIGN_OR_RETURN(const MatchingInfo info, matching_of(out.result.at("matching")));
  store::RunBatch batch;
  batch.metrics = matching_metrics(info, "");
  for (const auto& [layer, sigma] : out.result.at("sigma").items()) {
    batch.params["sigma." + layer] = round_trip_text(sigma.get<double>());
  }
  if (const json& retrained = out.result.at("retrained"); retrained.contains("accuracy")) {
    batch.metrics.push_back({"retrained_top1", retrained.at("accuracy").at("approximate_top1"), now_ms(), 0});
    batch.metrics.push_back({"retrained_top5", retrained.at("accuracy").at("approximate_top5"), now_ms(), 0});
  }
  const Status logged = context.store.log_matching(child.info.run_id, {lambda, info}, batch, context.lease);
  if (!logged.ok() && logged.code() != StatusCode::kAlreadyExists) return logged;
  return context.store.update_run(child.info.run_id, store::RunStatus::kFinished, now_ms());
}

Status run_point(const JobContext& context, const store::Run& parent, const store::Run& child, std::size_t index,
                 const TrainingRequest& request, const std::string& model) {
  const TrainingStep step{"point", request.lambdas[index], request};
  AGNX_ASSIGN_OR_RETURN(const JobDirectory job, step_directory(context, parent.info.run_id, step, model, std::nullopt));
  auto out = run_step(context, job, step, child.info.run_id, index + 1, request.lambdas.size());
  if (!out.ok()) {
    const bool cancelled = out.status().code() == StatusCode::kCancelled;
    (void)context.store.update_run(child.info.run_id, cancelled ? store::RunStatus::kKilled : store::RunStatus::kFailed,
                                   now_ms());
    return out.status().with_context("lambda " + round_trip_text(request.lambdas[index]));
  }
  return save_point(context, child, request.lambdas[index], *out);
}

Status run_sweep(const JobContext& context, const std::string& run_id, const TrainingRequest& request) {
  AGNX_ASSIGN_OR_RETURN(const store::Run parent, context.store.get_run(run_id));
  AGNX_ASSIGN_OR_RETURN(const std::string model, context.store.read_artifact(run_id, kModelArtifact));
  for (std::size_t i = 0; i < request.lambdas.size(); ++i) {
    if (context.cancelled && context.cancelled->load()) return Status::cancelled("cancelled");
    AGNX_ASSIGN_OR_RETURN(const store::Run child, sweep_child(context, parent, i, request));
    if (child.info.status == store::RunStatus::kFinished) continue;  // done by an earlier attempt
    AGNX_RETURN_IF_ERROR(run_point(context, parent, child, i, request, model));
  }
  AGNX_ASSIGN_OR_RETURN(const std::string summary, sweep_summary(context.store, run_id));
  return context.store.log_artifact(run_id, kSweepArtifact, summary).status();
}

// ------------------------------------------------------------ summary

// The number a param or tag holds, or nullopt (users may set tags to anything).
template <typename T>
std::optional<T> number_in(const std::map<std::string, std::string>& values, const std::string& key) {
  const auto it = values.find(key);
  if (it == values.end()) return std::nullopt;
  T value{};
  const auto [end, error] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
  if (error != std::errc{} || end != it->second.data() + it->second.size()) return std::nullopt;
  return value;
}

json point_of(store::TrackingStore& store, const store::Run& child, double lambda) {
  json point{{"lambda", lambda}, {"run_id", child.info.run_id}};
  json sigma = json::object();
  for (const auto& [key, value] : child.params) {
    if (key.rfind("sigma.", 0) != 0) continue;
    if (const auto s = number_in<double>(child.params, key)) sigma[key.substr(6)] = *s;
  }
  point["sigma"] = sigma;
  const auto matching = store.get_matching(child.info.run_id);
  point["relative_energy"] = matching.ok() ? matching->info.relative_energy_consumption() : 0.0;
  json top1 = json::object();
  if (matching.ok() && matching->info.accuracy) {
    top1["float"] = matching->info.accuracy->float_top1;
    top1["quantized"] = matching->info.accuracy->quantized_top1;
    top1["approximate"] = matching->info.accuracy->approximate_top1;
  }
  if (const auto it = child.metrics.find("retrained_top1"); it != child.metrics.end()) top1["retrained"] = it->second.value;
  point["top1"] = top1;
  return point;
}

// Indices of the points that no other point dominates (energy lower or
// equal, retrained top-1 higher or equal, one strictly).
std::vector<std::size_t> pareto_indices(const json& points) {
  const auto accuracy = [](const json& p) { return p.at("top1").value("retrained", 0.0); };
  std::vector<std::size_t> front;
  for (std::size_t i = 0; i < points.size(); ++i) {
    bool dominated = false;
    for (std::size_t j = 0; j < points.size() && !dominated; ++j) {
      const double ei = points[i].at("relative_energy"), ej = points[j].at("relative_energy");
      const double ai = accuracy(points[i]), aj = accuracy(points[j]);
      dominated = ej <= ei && aj >= ai && (ej < ei || aj > ai);
    }
    if (!dominated) front.push_back(i);
  }
  return front;
}

}  // namespace

Status run_training_job(const JobContext& context, const store::Job& job) {
  if (!job.run_id) return Status::failed_precondition("job " + std::to_string(job.job_id) + " has no run");
  AGNX_ASSIGN_OR_RETURN(const std::string request_json,
                        context.store.read_artifact(*job.run_id, kTrainingRequestArtifact));
  AGNX_ASSIGN_OR_RETURN(const TrainingRequest request, training_request_from_json(request_json));
  if (request.kind == kSearchKind) return run_search(context, *job.run_id, request);
  if (request.kind == kRetrainKind) return run_retrain(context, *job.run_id, request);
  return run_sweep(context, *job.run_id, request);
}

Result<std::string> sweep_summary(store::TrackingStore& store, const std::string& sweep_run_id) {
  AGNX_ASSIGN_OR_RETURN(const store::Run parent, store.get_run(sweep_run_id));
  if (parent.tags.count("agnx.kind") == 0 || parent.tags.at("agnx.kind") != kSweepKind) {
    return Status::invalid_argument("run " + sweep_run_id + " is not a sweep");
  }
  store::SearchRunsRequest search;
  search.experiment_ids = {parent.info.experiment_id};
  search.filter = std::string("tags.") + kParentRunTag + " = '" + sweep_run_id + "'";
  search.max_results = 50000;
  AGNX_ASSIGN_OR_RETURN(const store::RunPage children, store.search_runs(search));
  // Finished children by their index; one whose tags or lambda were changed by hand is left out.
  std::map<int64_t, std::pair<const store::Run*, double>> by_index;
  for (const store::Run& child : children.runs) {
    const auto index = number_in<int64_t>(child.tags, kSweepIndexTag);
    const auto lambda = number_in<double>(child.params, "lambda");
    if (child.info.status == store::RunStatus::kFinished && index && lambda) by_index[*index] = {&child, *lambda};
  }
  json points = json::array();
  for (const auto& [index, child] : by_index) points.push_back(point_of(store, *child.first, child.second));
  return json{{"run_id", sweep_run_id}, {"points", points}, {"pareto", pareto_indices(points)}}.dump(2);
}

}  // namespace agnx::server
