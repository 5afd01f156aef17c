#include "server/grpc_status.h"

namespace agnx::server {

grpc::Status invalid_field(const std::string& field, const std::string& what) {
  return {grpc::StatusCode::INVALID_ARGUMENT, field + ": " + what};
}

grpc::Status upload_too_large(const std::string& field, const std::string& what, std::size_t limit) {
  return {grpc::StatusCode::RESOURCE_EXHAUSTED,
          field + ": the " + what + " exceeds the server's limit of " + std::to_string(limit) + " bytes"};
}

}  // namespace agnx::server
