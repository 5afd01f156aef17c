#include "server/worker/training_request.h"

#include <cmath>

#include <nlohmann/json.hpp>

namespace agnx::server {
namespace {

nlohmann::json as_json(const TrainingRequest& r) {
  return {{"kind", r.kind},
          {"lambdas", r.lambdas},
          {"library", r.library},
          {"sigma_max", r.sigma_max},
          {"search_epochs", r.search_epochs},
          {"retrain_epochs", r.retrain_epochs},
          {"search_batch_size", r.search_batch_size},
          {"retrain_batch_size", r.retrain_batch_size},
          {"search_learning_rate", r.search_learning_rate},
          {"sigma_learning_rate", r.sigma_learning_rate},
          {"retrain_learning_rate", r.retrain_learning_rate},
          {"num_samples", r.num_samples},
          {"seed", r.seed},
          {"has_test_data", r.has_test_data},
          {"source_run", r.source_run},
          {"uint8_inputs", r.uint8_inputs},
          {"uint8_scale", r.uint8_scale},
          {"uint8_mean", r.uint8_mean},
          {"uint8_std", r.uint8_std}};
}

void from(const nlohmann::json& json, TrainingRequest& r) {
  json.at("kind").get_to(r.kind);
  json.at("lambdas").get_to(r.lambdas);
  json.at("library").get_to(r.library);
  json.at("sigma_max").get_to(r.sigma_max);
  json.at("search_epochs").get_to(r.search_epochs);
  json.at("retrain_epochs").get_to(r.retrain_epochs);
  json.at("search_batch_size").get_to(r.search_batch_size);
  json.at("retrain_batch_size").get_to(r.retrain_batch_size);
  json.at("search_learning_rate").get_to(r.search_learning_rate);
  json.at("sigma_learning_rate").get_to(r.sigma_learning_rate);
  json.at("retrain_learning_rate").get_to(r.retrain_learning_rate);
  json.at("num_samples").get_to(r.num_samples);
  json.at("seed").get_to(r.seed);
  json.at("has_test_data").get_to(r.has_test_data);
  json.at("source_run").get_to(r.source_run);
  // Requests stored before uint8 inputs existed have none.
  r.uint8_inputs = json.value("uint8_inputs", false);
  r.uint8_scale = json.value("uint8_scale", r.uint8_scale);
  r.uint8_mean = json.value("uint8_mean", r.uint8_mean);
  r.uint8_std = json.value("uint8_std", r.uint8_std);
}

template <typename T>
Result<T> parse(std::string_view text, const char* what, void (*read)(const nlohmann::json&, T&)) {
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return Status::invalid_argument(std::string("the ") + what + " is not a JSON object");
  T value;
  try {
    read(json, value);
  } catch (const nlohmann::json::exception& e) {
    return Status::invalid_argument(std::string("the ") + what + " is malformed: " + e.what());
  }
  return value;
}

Status check_range(std::size_t value, std::size_t low, std::size_t high, const std::string& field) {
  if (value < low || value > high) {
    return Status::invalid_argument(field + " must be from " + std::to_string(low) + " to " + std::to_string(high) +
                                    ", got " + std::to_string(value));
  }
  return {};
}

Status check_positive(double value, const std::string& field) {
  if (!std::isfinite(value) || value <= 0.0) return Status::invalid_argument(field + " must be finite and > 0");
  return {};
}

Status check_lambdas(const TrainingRequest& r) {
  if (r.kind == kRetrainKind) {
    if (!r.lambdas.empty()) return Status::invalid_argument("lambdas: a retrain job takes no lambda");
    return {};
  }
  const std::size_t most = r.kind == kSearchKind ? 1 : 64;
  if (r.lambdas.empty() || r.lambdas.size() > most) {
    return Status::invalid_argument("lambdas: a " + r.kind + " job takes 1 to " + std::to_string(most) +
                                    " lambdas, got " + std::to_string(r.lambdas.size()));
  }
  for (const double lambda : r.lambdas) {
    if (!std::isfinite(lambda) || lambda < 0.0) {
      return Status::invalid_argument("lambdas: each lambda must be a finite number >= 0, got " +
                                      std::to_string(lambda));
    }
  }
  return {};
}

}  // namespace

std::string to_json(const TrainingRequest& request) { return as_json(request).dump(); }

Result<TrainingRequest> training_request_from_json(std::string_view text) {
  return parse<TrainingRequest>(text, "stored training request", &from);
}

Status check_training_request(const TrainingRequest& r) {
  if (r.kind != kSearchKind && r.kind != kRetrainKind && r.kind != kSweepKind) {
    return Status::invalid_argument("kind must be search, retrain or sweep, got '" + r.kind + "'");
  }
  AGNX_RETURN_IF_ERROR(check_lambdas(r));
  AGNX_RETURN_IF_ERROR(check_range(r.search_epochs, 1, 1000, "search_epochs"));
  AGNX_RETURN_IF_ERROR(check_range(r.retrain_epochs, 1, 1000, "retrain_epochs"));
  AGNX_RETURN_IF_ERROR(check_range(r.search_batch_size, 2, 65536, "search_batch_size"));
  AGNX_RETURN_IF_ERROR(check_range(r.retrain_batch_size, 2, 65536, "retrain_batch_size"));
  AGNX_RETURN_IF_ERROR(check_range(r.num_samples, 1, 1000000, "num_samples"));
  AGNX_RETURN_IF_ERROR(check_positive(r.sigma_max, "sigma_max"));
  AGNX_RETURN_IF_ERROR(check_positive(r.search_learning_rate, "search_learning_rate"));
  AGNX_RETURN_IF_ERROR(check_positive(r.sigma_learning_rate, "sigma_learning_rate"));
  AGNX_RETURN_IF_ERROR(check_positive(r.retrain_learning_rate, "retrain_learning_rate"));
  if (!r.uint8_inputs) return {};
  AGNX_RETURN_IF_ERROR(check_positive(r.uint8_scale, "uint8_inputs.scale"));
  AGNX_RETURN_IF_ERROR(check_positive(r.uint8_std, "uint8_inputs.std"));
  if (!std::isfinite(r.uint8_mean)) return Status::invalid_argument("uint8_inputs.mean must be finite");
  return {};
}

std::string to_json(const TrainingStep& step) {
  return nlohmann::json{{"step", step.step}, {"lambda", step.lambda}, {"request", as_json(step.request)}}.dump();
}

Result<TrainingStep> training_step_from_json(std::string_view text) {
  return parse<TrainingStep>(text, "training step", [](const nlohmann::json& json, TrainingStep& step) {
    json.at("step").get_to(step.step);
    json.at("lambda").get_to(step.lambda);
    from(json.at("request"), step.request);
  });
}

}  // namespace agnx::server
