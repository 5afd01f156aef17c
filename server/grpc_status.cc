#include "server/grpc_status.h"

namespace agnx::server {

grpc::Status invalid_field(const std::string& field, const std::string& what) {
  return {grpc::StatusCode::INVALID_ARGUMENT, field + ": " + what};
}

}  // namespace agnx::server
