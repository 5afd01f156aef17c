// The gRPC calls agnx-server answers, seen by a server interceptor: each call
// that reaches a service (one refused by the bearer-token check ends in the
// transport before that) is counted by method and status code and timed,
// and logged at debug level:
//
//   agnx_grpc_server_handled_total{grpc_service,grpc_method,grpc_code}   counter
//   agnx_grpc_server_handling_seconds{grpc_service,grpc_method}          histogram
//
//   {"ts":...,"level":"debug","msg":"grpc call","method":"/agnapprox.v1.Tracking/GetRun",
//    "code":"NOT_FOUND","latency_ms":0.41,"peer":"ipv4:127.0.0.1:50312"}
//
// A call's time runs from its arrival to its status being sent; a call that
// ends without a status (cancelled by its client) counts as CANCELLED when
// it is torn down.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string_view>

#include "server/observability/metrics.h"

namespace agnx::server {

// Registers the two families in `registry` and returns the interceptor
// factory for ServerBuilder::experimental().SetInterceptorCreators.
// `registry` must outlive the server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> grpc_call_observer(MetricsRegistry& registry);

// "OK", "INVALID_ARGUMENT", ... (gRPC's canonical names); "UNKNOWN" for a
// code outside them.
std::string_view grpc_code_name(int code);

}  // namespace agnx::server
