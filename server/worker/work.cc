#include "server/worker/work.h"

#include <map>
#include <optional>
#include <string>

#include "core/dataset.h"
#include "core/file_contents.h"
#include "core/model.h"
#include "core/pipeline.h"
#include "server/worker/protocol.h"
#include "server/worker/request.h"

namespace agnx::server::worker {
namespace {

Status field_error(const std::string& field, const Status& status) {
  return Status::invalid_argument(field + ": " + status.message());
}

// The pipeline names its request members ("sigma: ...", "sigma[conv1]: ...");
// those that come from the submission's header are named as header fields
// ("header.sigma: ..."). Calibration and test data are fields of their own.
Status as_submission_field(const Status& status) {
  static const std::map<std::string, std::string> kHeaderFields = {
      {"sigma", "header.sigma"}, {"num_samples", "header.num_samples"}, {"pin_exact", "header.pin_exact"}};
  return with_field_names(status, kHeaderFields);
}

struct LoadedInputs {
  MatchingRequest request;
  Model model;
  FloatTensor calibration;
  std::optional<MatchingTestData> test;
};

// How errors name the inputs: by their submission field while a submission
// is checked ("model: ..."), in words during a job.
struct InputNames {
  const char* model;
  const char* calibration;
  const char* test_x;
  const char* test_y;
  bool as_fields;
};
constexpr InputNames kSubmissionFields{"model", "calibration", "test_x", "test_y", true};
constexpr InputNames kJobInputs{"the uploaded model", "the calibration data", "the test inputs", "the test labels",
                                false};

Result<MatchingTestData> load_test_data(const std::filesystem::path& job_dir, const InputNames& names) {
  AGNX_ASSIGN_OR_RETURN(const std::string x_bytes, read_file(job_dir / kTestInputsFile));
  AGNX_ASSIGN_OR_RETURN(const std::string y_bytes, read_file(job_dir / kTestLabelsFile));
  auto x = parse_inputs(x_bytes, names.test_x);
  if (!x.ok()) return names.as_fields ? field_error("test_x", x.status()) : x.status();
  auto y = parse_labels(y_bytes, names.test_y);
  if (!y.ok()) return names.as_fields ? field_error("test_y", y.status()) : y.status();
  return MatchingTestData{std::move(*x), std::move(*y)};
}

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
  std::optional<MatchingTestData> test;
  if (request.has_test_data) {
    AGNX_ASSIGN_OR_RETURN(test, load_test_data(job_dir, names));
  }
  return LoadedInputs{std::move(request), std::move(*model), std::move(*calibration), std::move(test)};
}

// The pipeline's request for a job's inputs (their test data moves into it).
MatchingPipelineRequest pipeline_request(LoadedInputs& inputs) {
  MatchingPipelineRequest request;
  request.sigma = inputs.request.sigma;
  request.num_samples = inputs.request.num_samples;
  request.seed = inputs.request.seed;
  request.pin_exact = inputs.request.pin_exact;
  request.test = std::move(inputs.test);
  return request;
}

}  // namespace

Result<MatchingRequest> read_job_request(const std::filesystem::path& job_dir) {
  AGNX_ASSIGN_OR_RETURN(const std::string json, read_file(job_dir / kRequestFile));
  return matching_request_from_json(json);
}

Status validate_inputs(const std::filesystem::path& job_dir) {
  AGNX_ASSIGN_OR_RETURN(LoadedInputs inputs, load_inputs(job_dir, kSubmissionFields));
  return as_submission_field(validate_matching_request(inputs.model, inputs.calibration, pipeline_request(inputs)));
}

Result<MatchingInfo> compute_matching(const std::filesystem::path& job_dir, const MultiplierLibrary& library,
                                      std::size_t num_threads, const ProgressCallback& on_progress) {
  on_progress({"loading", 0, 1});
  AGNX_ASSIGN_OR_RETURN(LoadedInputs inputs, load_inputs(job_dir, kJobInputs));
  on_progress({"loading", 1, 1});
  auto info = run_matching_pipeline(inputs.model, inputs.calibration, library, pipeline_request(inputs),
                                    {.num_threads = num_threads, .on_progress = on_progress});
  if (!info.ok()) return as_submission_field(info.status());
  return info;
}

}  // namespace agnx::server::worker
