#include "core/pipeline.h"

#include <cmath>
#include <set>

#include "core/capture.h"
#include "core/deploy.h"

namespace agnx {
namespace {

// One input through the model catches a calibration shape it cannot take.
Status check_calibration(const Model& model, const FloatTensor& calibration) {
  if (calibration.batch() <= 0 || calibration.values.empty()) {
    return Status::invalid_argument("calibration: there are no calibration inputs");
  }
  FloatTensor first{calibration.shape, {}};
  first.shape[0] = 1;
  const auto per_input = static_cast<std::ptrdiff_t>(calibration.values.size() / calibration.batch());
  first.values.assign(calibration.values.begin(), calibration.values.begin() + per_input);
  if (const auto out = model.forward(first, 1); !out.ok()) return out.status().with_context("calibration");
  return {};
}

Status check_layers(const Model& model, const MatchingPipelineRequest& request) {
  std::set<std::string> layers;
  for (const auto& site : model.layers()) layers.insert(site.name);
  for (const auto& [name, sigma] : request.sigma) {
    if (!std::isfinite(sigma)) {
      return Status::invalid_argument("sigma[" + name + "]: must be a finite number, not " + std::to_string(sigma));
    }
    if (!layers.contains(name)) return Status::not_found("sigma: the model has no layer " + name);
  }
  for (const auto& name : request.pin_exact) {
    if (!layers.contains(name)) return Status::not_found("pin_exact: the model has no layer " + name);
  }
  for (const auto& name : layers) {
    if (request.sigma.contains(name)) continue;
    if (const auto stdev = model.stdev(name); !stdev.ok()) {
      return Status::invalid_argument("sigma: " + stdev.status().message());
    }
  }
  return {};
}

Status check_test_data(const MatchingTestData& test) {
  if (test.x.batch() <= 0) return Status::invalid_argument("test_x: there are no test inputs");
  if (test.x.batch() != static_cast<int64_t>(test.y.size())) {
    return Status::invalid_argument("test_y: " + std::to_string(test.y.size()) + " labels for " +
                                    std::to_string(test.x.batch()) + " test inputs");
  }
  return {};
}

}  // namespace

Status validate_matching_request(const Model& model, const FloatTensor& calibration,
                                 const MatchingPipelineRequest& request) {
  AGNX_RETURN_IF_ERROR(check_calibration(model, calibration));
  if (request.num_samples < 1 || request.num_samples > kMaxMatchingSamples) {
    return Status::invalid_argument("num_samples: must be from 1 to " + std::to_string(kMaxMatchingSamples) +
                                    ", not " + std::to_string(request.num_samples));
  }
  AGNX_RETURN_IF_ERROR(check_layers(model, request));
  if (request.test) AGNX_RETURN_IF_ERROR(check_test_data(*request.test));
  return {};
}

Status with_field_names(const Status& status, const std::map<std::string, std::string>& names) {
  const std::string& message = status.message();
  const std::size_t end = message.find_first_of(":[");
  if (status.ok() || end == std::string::npos) return status;
  const auto renamed = names.find(message.substr(0, end));
  if (renamed == names.end()) return status;
  return {status.code(), renamed->second + message.substr(end)};
}

Result<MatchingInfo> run_matching_pipeline(const Model& model, const FloatTensor& calibration,
                                           const MultiplierLibrary& library, const MatchingPipelineRequest& request,
                                           const MatchingPipelineOptions& options) {
  AGNX_RETURN_IF_ERROR(validate_matching_request(model, calibration, request));
  CaptureOptions capture;
  capture.num_samples = request.num_samples;
  capture.seed = request.seed;
  capture.num_threads = options.num_threads;
  capture.sigma = request.sigma;
  capture.on_progress = options.on_progress;
  AGNX_ASSIGN_OR_RETURN(MatchingInfo info, select_multipliers(model, calibration, library, capture));
  if (!request.pin_exact.empty()) {
    AGNX_ASSIGN_OR_RETURN(info, reselect(info, library, {.sigma_scale = 1.0, .pinned_exact = request.pin_exact}));
  }
  const EvaluationOptions evaluation{.batch_size = 64, .num_threads = options.num_threads,
                                     .on_progress = options.on_progress};
  if (request.observe) AGNX_RETURN_IF_ERROR(observe_errors(model, info, library, calibration, evaluation));
  if (request.test) {
    AGNX_ASSIGN_OR_RETURN(info.accuracy,
                          evaluate_accuracy(model, info, library, request.test->x, request.test->y, evaluation));
  }
  return info;
}

}  // namespace agnx
