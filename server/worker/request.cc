#include "server/worker/request.h"

#include <nlohmann/json.hpp>

namespace agnx::server {

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

}  // namespace agnx::server
