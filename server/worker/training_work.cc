#include "server/worker/training_work.h"


#include <nlohmann/json.hpp>

#include "core/capture.h"
#include "core/dataset.h"
#include "core/deploy.h"
#include "core/file_contents.h"
#include "core/matching_json.h"
#include "core/model.h"
#include "core/training.h"
#include "server/worker/training_request.h"

namespace agnx::server::worker {
namespace {

namespace fs = std::filesystem;

std::optional<Uint8Normalization> uint8_normalization(const TrainingRequest& request) {
  if (!request.uint8_inputs) return std::nullopt;
  return Uint8Normalization{request.uint8_scale, request.uint8_mean, request.uint8_std};
}

Result<LabelledData> load_labelled(const fs::path& job_dir, const char* inputs, const char* labels,
                                   const std::string& what, const TrainingRequest& request) {
  AGNX_ASSIGN_OR_RETURN(const std::string x_bytes, read_file(job_dir / inputs));
  AGNX_ASSIGN_OR_RETURN(const std::string y_bytes, read_file(job_dir / labels));
  LabelledData data;
  AGNX_ASSIGN_OR_RETURN(data.inputs, parse_inputs(x_bytes, what + "_x", uint8_normalization(request)));
  AGNX_ASSIGN_OR_RETURN(data.labels, parse_labels(y_bytes, what + "_y"));
  if (data.labels.size() != static_cast<std::size_t>(data.inputs.batch())) {
    return Status::invalid_argument(what + "_y: " + std::to_string(data.labels.size()) + " labels for " +
                                    std::to_string(data.inputs.batch()) + " images in " + what + "_x");
  }
  return data;
}


nlohmann::json accuracy_json(const ModelAccuracy& a) {
  return {{"float_top1", a.float_top1},         {"float_top5", a.float_top5},
          {"quantized_top1", a.quantized_top1}, {"quantized_top5", a.quantized_top5},
          {"approximate_top1", a.approximate_top1}, {"approximate_top5", a.approximate_top5}};
}

// What one step works with.
struct StepContext {
  const TrainingStep& step;
  const MultiplierLibrary& library;
  std::size_t num_threads;
  const TrainingReporter& reporter;
  const std::optional<LabelledData>& test;

  TrainingOptions training(const std::string& stage, std::size_t epochs, std::size_t batch_size) const {
    TrainingOptions options;
    options.epochs = epochs;
    options.batch_size = batch_size;
    options.seed = step.request.seed;
    options.num_threads = num_threads;
    options.on_progress = reporter.on_progress;
    options.on_epoch = [this, stage](const EpochMetrics& metrics) {
      for (const auto& [key, value] : metrics.values) {
        reporter.on_metric({stage + "." + key, static_cast<int64_t>(metrics.epoch), value});
      }
    };
    return options;
  }
};

Status search(Model& model, const LabelledData& train, const StepContext& context, nlohmann::json& result) {
  const TrainingRequest& r = context.step.request;
  AgnSearchOptions options;
  options.lambda = context.step.lambda;
  options.sigma_max = r.sigma_max;
  options.weight_learning_rate = r.search_learning_rate;
  options.sigma_learning_rate = r.sigma_learning_rate;
  options.training = context.training("search", r.search_epochs, r.search_batch_size);
  AGNX_ASSIGN_OR_RETURN(const AgnSearchResult searched, agn_search(model, train, options));
  result["sigma"] = searched.sigma;
  result["opcount"] = searched.opcount;
  return {};
}

// Capture, selection, observed errors and, with test data, accuracies.
Result<MatchingInfo> match(const Model& model, const FloatTensor& calibration, const StepContext& context) {
  CaptureOptions capture;
  capture.num_samples = context.step.request.num_samples;
  capture.seed = context.step.request.seed;
  capture.num_threads = context.num_threads;
  capture.on_progress = context.reporter.on_progress;
  AGNX_ASSIGN_OR_RETURN(MatchingInfo info, select_multipliers(model, calibration, context.library, capture));
  const EvaluationOptions evaluation{.batch_size = 256, .num_threads = context.num_threads,
                                     .on_progress = context.reporter.on_progress};
  AGNX_RETURN_IF_ERROR(observe_errors(model, info, context.library, calibration, evaluation));
  if (context.test) {
    AGNX_ASSIGN_OR_RETURN(info.accuracy, evaluate_accuracy(model, info, context.library, context.test->inputs,
                                                           context.test->labels, evaluation));
  }
  return info;
}

Status retrain(Model& model, MatchingInfo info, const LabelledData& train, const StepContext& context,
               nlohmann::json& result) {
  const TrainingRequest& r = context.step.request;
  AGNX_ASSIGN_OR_RETURN(const std::vector<const Multiplier*> chosen, chosen_multipliers(info, context.library));
  RetrainOptions options;
  options.learning_rate = r.retrain_learning_rate;
  options.training = context.training("retrain", r.retrain_epochs, r.retrain_batch_size);
  options.test = context.test ? &*context.test : nullptr;
  AGNX_RETURN_IF_ERROR(approximate_retrain(model, info, chosen, train, options).status());
  nlohmann::json retrained{{"matching", nlohmann::json::parse(matching_info_to_json(info))}};
  if (context.test) {
    const EvaluationOptions evaluation{.batch_size = 256, .num_threads = context.num_threads,
                                       .on_progress = context.reporter.on_progress};
    AGNX_ASSIGN_OR_RETURN(const ModelAccuracy after, evaluate_accuracy(model, info, context.library,
                                                                       context.test->inputs, context.test->labels,
                                                                       evaluation));
    retrained["accuracy"] = accuracy_json(after);
  }
  result["retrained"] = retrained;
  return {};
}

Result<MatchingInfo> stored_matching(const fs::path& job_dir) {
  AGNX_ASSIGN_OR_RETURN(const std::string json, read_file(job_dir / kMatchingFile));
  return matching_info_from_json(json);
}

}  // namespace

Status run_training_step(const fs::path& job_dir, const MultiplierLibrary& library, std::size_t num_threads,
                         const TrainingReporter& reporter) {
  reporter.on_progress({"loading", 0, 1});
  AGNX_ASSIGN_OR_RETURN(const std::string step_json, read_file(job_dir / kStepFile));
  AGNX_ASSIGN_OR_RETURN(const TrainingStep step, training_step_from_json(step_json));
  if (step.step != "check" && step.step != "search" && step.step != "retrain" && step.step != "point") {
    return Status::invalid_argument("unknown training step '" + step.step + "'");
  }
  AGNX_ASSIGN_OR_RETURN(const std::string model_bytes, read_file(job_dir / kModelFile));
  AGNX_ASSIGN_OR_RETURN(Model model, Model::load_bytes(model_bytes, "the uploaded model"));
  AGNX_ASSIGN_OR_RETURN(const LabelledData train, load_labelled(job_dir, kTrainInputsFile, kTrainLabelsFile, "train", step.request));
  std::optional<LabelledData> test;
  if (step.request.has_test_data) {
    AGNX_ASSIGN_OR_RETURN(test, load_labelled(job_dir, kTestInputsFile, kTestLabelsFile, "test", step.request));
  }
  reporter.on_progress({"loading", 1, 1});
  if (step.step == "check") return check_training_data(model, train);
  const StepContext context{step, library, num_threads, reporter, test};

  nlohmann::json result = nlohmann::json::object();
  if (step.step == "search" || step.step == "point") AGNX_RETURN_IF_ERROR(search(model, train, context, result));
  if (step.step == "point") {
    AGNX_ASSIGN_OR_RETURN(const std::string searched, model.save_bytes());
    AGNX_RETURN_IF_ERROR(write_file(job_dir / kSearchedModelFile, searched));
  }
  if (step.step == "retrain" || step.step == "point") {
    MatchingInfo info;
    if (step.step == "point") {
      AGNX_ASSIGN_OR_RETURN(const std::string calibration_bytes, read_file(job_dir / kCalibrationFile));
      AGNX_ASSIGN_OR_RETURN(const FloatTensor calibration, parse_inputs(calibration_bytes, "calibration"));
      AGNX_ASSIGN_OR_RETURN(info, match(model, calibration, context));
      result["matching"] = nlohmann::json::parse(matching_info_to_json(info));
    } else {
      AGNX_ASSIGN_OR_RETURN(info, stored_matching(job_dir));
    }
    AGNX_RETURN_IF_ERROR(retrain(model, std::move(info), train, context, result));
  }
  reporter.on_progress({"saving", 0, 1});
  AGNX_ASSIGN_OR_RETURN(const std::string trained, model.save_bytes());
  AGNX_RETURN_IF_ERROR(write_file(job_dir / kTrainedModelFile, trained));
  AGNX_RETURN_IF_ERROR(write_file(job_dir / kResultFile, result.dump(2)));
  reporter.on_progress({"saving", 1, 1});
  return {};
}

}  // namespace agnx::server::worker
