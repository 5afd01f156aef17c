// gRPC statuses of the server's own checks (to_grpc for core's Status values
// is in proto/core_convert.h).
#pragma once

#include <grpcpp/support/status.h>

#include "proto/core_convert.h"

namespace agnx::server {

// An INVALID_ARGUMENT status naming `field`: "<field>: <what>".
grpc::Status invalid_field(const std::string& field, const std::string& what);

}  // namespace agnx::server
