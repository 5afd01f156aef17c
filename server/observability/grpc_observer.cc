#include "server/observability/grpc_observer.h"

#include <grpcpp/server_context.h>

#include <chrono>
#include <string>

#include "server/observability/log.h"

namespace agnx::server {

namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr std::string_view kCodeNames[] = {
    "OK",        "CANCELLED",         "UNKNOWN",           "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL",       "UNAVAILABLE",       "DATA_LOSS",        "UNAUTHENTICATED"};

// Seconds; calls range from sub-millisecond reads to streamed uploads and
// WatchJob streams that last a job.
const std::vector<double> kLatencyBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                            0.25,   0.5,   1,      2.5,   5,    10,   30,    60, 300};

struct CallFamilies {
  CounterFamily& handled;
  HistogramFamily& latency;
};

// One call: its start, and its end once its status is sent.
class CallObserver final : public grpc::experimental::Interceptor {
 public:
  CallObserver(const CallFamilies& families, grpc::experimental::ServerRpcInfo* info)
      : families_(families), info_(info), start_(std::chrono::steady_clock::now()) {}

  ~CallObserver() override {
    if (!recorded_) record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void record(grpc::StatusCode code) {
    recorded_ = true;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const std::string_view full = info_->method();  // "/package.Service/Method"
    const std::size_t slash = full.rfind('/');
    const bool split = slash != std::string_view::npos && slash > 0;
    const std::string service(split ? full.substr(1, slash - 1) : "");
    const std::string method(split ? full.substr(slash + 1) : full);
    const std::string_view code_name = grpc_code_name(code);
    families_.handled.with({service, method, std::string(code_name)}).increment();
    families_.latency.with({service, method}).observe(seconds);
    if (log_enabled(LogLevel::kDebug)) {
      log(LogLevel::kDebug, "grpc call",
          {{"method", std::string(full)},
           {"code", std::string(code_name)},
           {"latency_ms", seconds * 1000.0},
           {"peer", info_->server_context()->peer()}});
    }
  }

  const CallFamilies& families_;
  grpc::experimental::ServerRpcInfo* info_;
  const std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;
};

class CallObserverFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallObserverFactory(MetricsRegistry& registry)
      : families_{registry.counter("agnx_grpc_server_handled_total",
                                   "gRPC calls completed, by service, method and status code.",
                                   {"grpc_service", "grpc_method", "grpc_code"}),
                  registry.histogram("agnx_grpc_server_handling_seconds",
                                     "Time from a gRPC call's arrival to its status, in seconds.",
                                     {"grpc_service", "grpc_method"}, kLatencyBounds)} {}

  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new CallObserver(families_, info);
  }

 private:
  const CallFamilies families_;
};

}  // namespace

std::string_view grpc_code_name(int code) {
  return code >= 0 && static_cast<std::size_t>(code) < std::size(kCodeNames) ? kCodeNames[code] : "UNKNOWN";
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> grpc_call_observer(MetricsRegistry& registry) {
  return std::make_unique<CallObserverFactory>(registry);
}

}  // namespace agnx::server
