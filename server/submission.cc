#include "server/submission.h"

#include "core/builtin_library.h"
#include "server/grpc_status.h"

namespace agnx::server {
namespace {

grpc::Status validate_header(const agnapprox::v1::MatchingHeader& header, const LibraryRegistry& libraries,
                             MatchingRequest& request) {
  if (auto status = check_header(header); !status.ok()) return status;
  request.lambda = header.lambda();
  request.library = header.library().empty() ? kBuiltinLibraryName : header.library();
  if (const auto library = libraries.find(request.library); !library.ok()) {
    return {grpc::StatusCode::NOT_FOUND, "header.library: " + library.status().message()};
  }
  request.sigma.insert(header.sigma().begin(), header.sigma().end());
  request.num_samples = header.num_samples() ? header.num_samples() : 512;
  request.seed = header.seed();
  request.pin_exact.assign(header.pin_exact().begin(), header.pin_exact().end());
  return grpc::Status::OK;
}

}  // namespace

grpc::Status validate_submission(const Submission& s, const LibraryRegistry& libraries,
                                 std::size_t max_calibration_bytes, MatchingRequest& request) {
  if (auto status = validate_header(s.header, libraries, request); !status.ok()) return status;
  if (s.model.empty()) return invalid_field("model", "no model snapshot was uploaded");
  if (s.calibration.empty()) return invalid_field("calibration", "no calibration data was uploaded");
  if (s.calibration.size() > max_calibration_bytes) {
    return upload_too_large("calibration", "calibration data", max_calibration_bytes);
  }
  if (s.test_x.empty() != s.test_y.empty()) {
    return invalid_field(s.test_x.empty() ? "test_x" : "test_y", "test inputs and labels come together");
  }
  request.has_test_data = !s.test_x.empty();
  return grpc::Status::OK;
}

}  // namespace agnx::server
