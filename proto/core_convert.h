// Conversions from core/'s values to the API's messages, shared by the
// server and `agnx match` (which runs core in-process). Pure functions.
#pragma once

#include <grpcpp/support/status.h>

#include "agnapprox/v1/agnx.pb.h"
#include "core/selection.h"
#include "core/status.h"

namespace agnx {

// Every field of `in` (relative opcount and energy per layer and in total).
void to_proto(const MatchingInfo& in, agnapprox::v1::MatchingInfo* out);

// The one mapping of agnx's Status codes to gRPC's: kInvalidArgument ->
// INVALID_ARGUMENT, kNotFound -> NOT_FOUND, kAlreadyExists -> ALREADY_EXISTS,
// kFailedPrecondition -> FAILED_PRECONDITION, kResourceExhausted ->
// RESOURCE_EXHAUSTED, kUnavailable -> UNAVAILABLE, kIoError and kInternal ->
// INTERNAL; the message is kept.
grpc::Status to_grpc(const Status& status);

}  // namespace agnx
