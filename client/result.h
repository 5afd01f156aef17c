// Errors as values for the agnx client: Status and Result<T>.
//
// The client's own status type (with core/result.h's header-only
// BasicResult), so that client/ needs nothing of core/'s engine. A
// Status is either OK or carries a gRPC status code and a message: the
// server's status as it arrived, or a local error (an unreadable file is
// NOT_FOUND or INVALID_ARGUMENT, naming the file). A Result<T> holds either a
// T or a non-OK Status. Neither throws; check ok() first.
//
// Both are plain values: copyable, movable, and safe to share between threads
// as long as nobody mutates them concurrently.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include <grpcpp/support/status.h>

#include "core/result.h"

namespace agnx::client {

// The canonical upper-case name of `code` ("NOT_FOUND", ...).
const char* status_code_name(grpc::StatusCode code);

class Status {
 public:
  // An OK status.
  Status() = default;
  Status(grpc::StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  // The status of a finished gRPC call.
  static Status from_grpc(const grpc::Status& status) { return {status.error_code(), status.error_message()}; }

  bool ok() const { return code_ == grpc::StatusCode::OK; }
  grpc::StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "OK", or "<CODE NAME>: <message>", e.g. "NOT_FOUND: run 'r1' not found".
  std::string to_string() const;

 private:
  grpc::StatusCode code_ = grpc::StatusCode::OK;
  std::string message_;
};

// Either a value of type T or a non-OK Status.
template <typename T>
using Result = BasicResult<T, Status>;

}  // namespace agnx::client
