// gRPC statuses of the server's own checks (to_grpc for core's Status values
// is in proto/core_convert.h).
#pragma once

#include <grpcpp/support/status.h>

#include "proto/core_convert.h"

namespace agnx::server {

// An INVALID_ARGUMENT status naming `field`: "<field>: <what>".
grpc::Status invalid_field(const std::string& field, const std::string& what);

// RESOURCE_EXHAUSTED naming `field`: "<field>: the <what> exceeds the
// server's limit of <limit> bytes".
grpc::Status upload_too_large(const std::string& field, const std::string& what, std::size_t limit);

}  // namespace agnx::server
