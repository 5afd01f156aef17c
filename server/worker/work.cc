#include "server/worker/work.h"

#include <set>

#include "core/capture.h"
#include "core/dataset.h"
#include "core/deploy.h"
#include "core/file_contents.h"
#include "core/model.h"
#include "server/worker/protocol.h"
#include "server/worker/request.h"

namespace agnx::server::worker {
namespace {

Status field_error(const std::string& field, const Status& status) {
  return Status::invalid_argument(field + ": " + status.message());
}

Status check_layers(const Model& model, const MatchingRequest& request) {
  std::set<std::string> layers;
  for (const auto& site : model.layers()) layers.insert(site.name);
  for (const auto& [name, sigma] : request.sigma) {
    if (!layers.contains(name)) return Status::not_found("header.sigma: the model has no layer " + name);
  }
  for (const auto& name : request.pin_exact) {
    if (!layers.contains(name)) return Status::not_found("header.pin_exact: the model has no layer " + name);
  }
  for (const auto& name : layers) {
    if (request.sigma.contains(name)) continue;
    if (const auto stdev = model.stdev(name); !stdev.ok()) {
      return Status::invalid_argument("header.sigma: " + stdev.status().message());
    }
  }
  return {};
}

// One input through the model catches a calibration shape it cannot take.
Status check_first_input(const Model& model, const FloatTensor& calibration) {
  FloatTensor first{calibration.shape, {}};
  first.shape[0] = 1;
  const auto per_input = static_cast<std::ptrdiff_t>(calibration.values.size() / calibration.batch());
  first.values.assign(calibration.values.begin(), calibration.values.begin() + per_input);
  if (const auto out = model.forward(first, 1); !out.ok()) return field_error("calibration", out.status());
  return {};
}

Status check_test_data(const std::filesystem::path& job_dir) {
  AGNX_ASSIGN_OR_RETURN(const std::string x_bytes, read_file(job_dir / kTestInputsFile));
  AGNX_ASSIGN_OR_RETURN(const std::string y_bytes, read_file(job_dir / kTestLabelsFile));
  const auto x = parse_inputs(x_bytes, "test_x");
  if (!x.ok()) return field_error("test_x", x.status());
  const auto y = parse_labels(y_bytes, "test_y");
  if (!y.ok()) return field_error("test_y", y.status());
  if (x->batch() != static_cast<int64_t>(y->size())) {
    return Status::invalid_argument("test_y: " + std::to_string(y->size()) + " labels for " +
                                    std::to_string(x->batch()) + " test inputs");
  }
  return {};
}

struct LoadedInputs {
  MatchingRequest request;
  Model model;
  FloatTensor calibration;
};

// How errors name the inputs: by their submission field while a submission
// is checked ("model: ..."), in words during a job.
struct InputNames {
  const char* model;
  const char* calibration;
  bool as_fields;
};
constexpr InputNames kSubmissionFields{"model", "calibration", true};
constexpr InputNames kJobInputs{"the uploaded model", "the calibration data", false};

Result<LoadedInputs> load_inputs(const std::filesystem::path& job_dir, const InputNames& names) {
  const auto named = [&](const char* field, const Status& status) {
    return names.as_fields ? field_error(field, status) : status;
  };
  AGNX_ASSIGN_OR_RETURN(MatchingRequest request, read_job_request(job_dir));
  AGNX_ASSIGN_OR_RETURN(const std::string model_bytes, read_file(job_dir / kModelFile));
  auto model = Model::load_bytes(model_bytes, names.model);
  if (!model.ok()) return named("model", model.status());
  AGNX_ASSIGN_OR_RETURN(const std::string calibration_bytes, read_file(job_dir / kCalibrationFile));
  auto calibration = parse_inputs(calibration_bytes, names.calibration);
  if (!calibration.ok()) return named("calibration", calibration.status());
  return LoadedInputs{std::move(request), std::move(*model), std::move(*calibration)};
}

}  // namespace

Result<MatchingRequest> read_job_request(const std::filesystem::path& job_dir) {
  AGNX_ASSIGN_OR_RETURN(const std::string json, read_file(job_dir / kRequestFile));
  return matching_request_from_json(json);
}

Status validate_inputs(const std::filesystem::path& job_dir) {
  AGNX_ASSIGN_OR_RETURN(const LoadedInputs inputs, load_inputs(job_dir, kSubmissionFields));
  AGNX_RETURN_IF_ERROR(check_first_input(inputs.model, inputs.calibration));
  AGNX_RETURN_IF_ERROR(check_layers(inputs.model, inputs.request));
  if (inputs.request.has_test_data) AGNX_RETURN_IF_ERROR(check_test_data(job_dir));
  return {};
}

Result<MatchingInfo> compute_matching(const std::filesystem::path& job_dir, const MultiplierLibrary& library,
                                      std::size_t num_threads, const ProgressCallback& on_progress) {
  on_progress({"loading", 0, 1});
  AGNX_ASSIGN_OR_RETURN(const LoadedInputs inputs, load_inputs(job_dir, kJobInputs));
  const MatchingRequest& request = inputs.request;
  on_progress({"loading", 1, 1});

  CaptureOptions capture;
  capture.num_samples = request.num_samples;
  capture.seed = request.seed;
  capture.num_threads = num_threads;
  capture.sigma = request.sigma;
  capture.on_progress = on_progress;
  AGNX_ASSIGN_OR_RETURN(MatchingInfo info, select_multipliers(inputs.model, inputs.calibration, library, capture));
  if (!request.pin_exact.empty()) {
    AGNX_ASSIGN_OR_RETURN(info, reselect(info, library, {.sigma_scale = 1.0, .pinned_exact = request.pin_exact}));
  }

  const EvaluationOptions evaluation{.batch_size = 64, .num_threads = num_threads, .on_progress = on_progress};
  AGNX_RETURN_IF_ERROR(observe_errors(inputs.model, info, library, inputs.calibration, evaluation));
  if (request.has_test_data) {
    AGNX_ASSIGN_OR_RETURN(const std::string x_bytes, read_file(job_dir / kTestInputsFile));
    AGNX_ASSIGN_OR_RETURN(const std::string y_bytes, read_file(job_dir / kTestLabelsFile));
    AGNX_ASSIGN_OR_RETURN(const FloatTensor test_x, parse_inputs(x_bytes, "the test inputs"));
    AGNX_ASSIGN_OR_RETURN(const std::vector<int64_t> test_y, parse_labels(y_bytes, "the test labels"));
    AGNX_ASSIGN_OR_RETURN(info.accuracy,
                          evaluate_accuracy(inputs.model, info, library, test_x, test_y, evaluation));
  }
  return info;
}

}  // namespace agnx::server::worker
