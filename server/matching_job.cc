#include "server/matching_job.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include "server/clock.h"
#include "core/dataset.h"
#include "core/deploy.h"
#include "core/matching_json.h"
#include "core/model.h"

namespace agnx::server {
namespace {

Status check_cancelled(const JobContext& context) {
  if (context.cancelled && context.cancelled->load()) return Status::failed_precondition("cancelled");
  return {};
}

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
  AGNX_ASSIGN_OR_RETURN(const std::string model_bytes, context.store.read_artifact(run_id, kModelArtifact));
  AGNX_ASSIGN_OR_RETURN(const Model model, Model::load_bytes(model_bytes, "the uploaded model"));
  AGNX_ASSIGN_OR_RETURN(const std::string calibration_bytes, context.store.read_artifact(run_id, kCalibrationArtifact));
  AGNX_ASSIGN_OR_RETURN(const FloatTensor calibration, parse_inputs(calibration_bytes, "the calibration data"));
  report(context, "loading", 1, 1);

  CaptureOptions capture;
  capture.num_samples = request.num_samples;
  capture.seed = request.seed;
  capture.num_threads = context.num_threads;
  capture.sigma = request.sigma;
  capture.on_progress = context.on_progress;
  AGNX_RETURN_IF_ERROR(check_cancelled(context));
  AGNX_ASSIGN_OR_RETURN(MatchingInfo info, select_multipliers(model, calibration, *library, capture));
  if (!request.pin_exact.empty()) {
    AGNX_ASSIGN_OR_RETURN(info, reselect(info, *library, {.sigma_scale = 1.0, .pinned_exact = request.pin_exact}));
  }

  const EvaluationOptions evaluation{.batch_size = 64, .num_threads = context.num_threads,
                                     .on_progress = context.on_progress};
  AGNX_RETURN_IF_ERROR(check_cancelled(context));
  AGNX_RETURN_IF_ERROR(observe_errors(model, info, *library, calibration, evaluation));
  if (request.has_test_data) {
    AGNX_RETURN_IF_ERROR(check_cancelled(context));
    AGNX_ASSIGN_OR_RETURN(const std::string x_bytes, context.store.read_artifact(run_id, kTestInputsArtifact));
    AGNX_ASSIGN_OR_RETURN(const std::string y_bytes, context.store.read_artifact(run_id, kTestLabelsArtifact));
    AGNX_ASSIGN_OR_RETURN(const FloatTensor test_x, parse_inputs(x_bytes, "the test inputs"));
    AGNX_ASSIGN_OR_RETURN(const std::vector<int64_t> test_y, parse_labels(y_bytes, "the test labels"));
    AGNX_ASSIGN_OR_RETURN(info.accuracy, evaluate_accuracy(model, info, *library, test_x, test_y, evaluation));
  }
  return info;
}

}  // namespace

std::string to_json(const MatchingRequest& request) {
  return nlohmann::json{{"lambda", request.lambda},           {"library", request.library},
                        {"sigma", request.sigma},             {"num_samples", request.num_samples},
                        {"seed", request.seed},               {"pin_exact", request.pin_exact},
                        {"has_test_data", request.has_test_data}}
      .dump();
}

Result<MatchingRequest> matching_request_from_json(std::string_view text) {
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return Status::invalid_argument("the stored matching request is not a JSON object");
  MatchingRequest request;
  try {
    request.lambda = json.at("lambda").get<double>();
    request.library = json.at("library").get<std::string>();
    request.sigma = json.at("sigma").get<std::map<std::string, double>>();
    request.num_samples = json.at("num_samples").get<std::size_t>();
    request.seed = json.at("seed").get<uint64_t>();
    request.pin_exact = json.at("pin_exact").get<std::vector<std::string>>();
    request.has_test_data = json.at("has_test_data").get<bool>();
  } catch (const nlohmann::json::exception& e) {
    return Status::invalid_argument(std::string("the stored matching request is malformed: ") + e.what());
  }
  return request;
}

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
