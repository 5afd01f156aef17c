// The one place where agnx's Status values become gRPC statuses.
#pragma once

#include <grpcpp/support/status.h>

#include "core/status.h"

namespace agnx::server {

// kInvalidArgument -> INVALID_ARGUMENT, kNotFound -> NOT_FOUND,
// kAlreadyExists -> ALREADY_EXISTS, kFailedPrecondition ->
// FAILED_PRECONDITION, kResourceExhausted -> RESOURCE_EXHAUSTED, kIoError and
// kInternal -> INTERNAL; the message is kept.
grpc::Status to_grpc(const Status& status);

// An INVALID_ARGUMENT status naming `field`: "<field>: <what>".
grpc::Status invalid_field(const std::string& field, const std::string& what);

}  // namespace agnx::server
