#include "server/submission.h"

#include <set>

#include "core/dataset.h"
#include "core/model.h"
#include "server/grpc_status.h"

namespace agnx::server {
namespace {

grpc::Status validate_header(const agnapprox::v1::MatchingHeader& header, const LibraryRegistry& libraries,
                             MatchingRequest& request) {
  if (auto status = check_header(header); !status.ok()) return status;
  request.lambda = header.lambda();
  request.library = header.library().empty() ? "builtin" : header.library();
  if (const auto library = libraries.find(request.library); !library.ok()) {
    return {grpc::StatusCode::NOT_FOUND, "header.library: " + library.status().message()};
  }
  request.sigma.insert(header.sigma().begin(), header.sigma().end());
  request.num_samples = header.num_samples() ? header.num_samples() : 512;
  request.seed = header.seed();
  request.pin_exact.assign(header.pin_exact().begin(), header.pin_exact().end());
  return grpc::Status::OK;
}

grpc::Status check_layers(const Model& model, const MatchingRequest& request) {
  std::set<std::string> layers;
  for (const auto& site : model.layers()) layers.insert(site.name);
  for (const auto& [name, sigma] : request.sigma) {
    if (!layers.contains(name)) return {grpc::StatusCode::NOT_FOUND, "header.sigma: the model has no layer " + name};
  }
  for (const auto& name : request.pin_exact) {
    if (!layers.contains(name)) return {grpc::StatusCode::NOT_FOUND, "header.pin_exact: the model has no layer " + name};
  }
  for (const auto& name : layers) {
    if (request.sigma.contains(name)) continue;
    if (const auto stdev = model.stdev(name); !stdev.ok()) return invalid_field("header.sigma", stdev.status().message());
  }
  return grpc::Status::OK;
}

grpc::Status check_test_data(const Submission& s) {
  if (s.test_x.empty() != s.test_y.empty()) {
    return invalid_field(s.test_x.empty() ? "test_x" : "test_y", "test inputs and labels come together");
  }
  if (s.test_x.empty()) return grpc::Status::OK;
  const auto x = parse_inputs(s.test_x, "test_x");
  if (!x.ok()) return invalid_field("test_x", x.status().message());
  const auto y = parse_labels(s.test_y, "test_y");
  if (!y.ok()) return invalid_field("test_y", y.status().message());
  if (x->batch() != static_cast<int64_t>(y->size())) {
    return invalid_field("test_y", std::to_string(y->size()) + " labels for " + std::to_string(x->batch()) +
                                       " test inputs");
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::Status validate_submission(const Submission& s, const LibraryRegistry& libraries, MatchingRequest& request) {
  if (auto status = validate_header(s.header, libraries, request); !status.ok()) return status;
  if (s.model.empty()) return invalid_field("model", "no model snapshot was uploaded");
  if (s.calibration.empty()) return invalid_field("calibration", "no calibration data was uploaded");
  const auto model = Model::load_bytes(s.model, "model");
  if (!model.ok()) return invalid_field("model", model.status().message());
  const auto calibration = parse_inputs(s.calibration, "calibration");
  if (!calibration.ok()) return invalid_field("calibration", calibration.status().message());
  // One image through the model catches a calibration shape it cannot take.
  FloatTensor first{calibration->shape, {}};
  first.shape[0] = 1;
  first.values.assign(calibration->values.begin(),
                      calibration->values.begin() + static_cast<std::ptrdiff_t>(calibration->values.size() /
                                                                                 calibration->batch()));
  if (const auto out = model->forward(first, 1); !out.ok()) return invalid_field("calibration", out.status().message());
  if (auto status = check_layers(*model, request); !status.ok()) return status;
  if (auto status = check_test_data(s); !status.ok()) return status;
  request.has_test_data = !s.test_x.empty();
  return grpc::Status::OK;
}

}  // namespace agnx::server
