// Status and Result<T>: errors as values across agnx's module boundaries.
//
// A Status is either OK or carries a code and a human-readable message that
// names the offending input (a file, a field, a layer). A Result<T> holds
// either a T or a non-OK Status. Neither throws; callers check ok() first.
//
// Both are plain values: copyable, movable, and safe to share between threads
// as long as nobody mutates them concurrently.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/result.h"

namespace agnx {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // the caller passed something malformed or out of range
  kNotFound,           // a named entity (file, multiplier, layer) does not exist
  kFailedPrecondition, // the input is well-formed but the operation cannot proceed
  kIoError,            // reading or writing a file failed
  kInternal,           // a broken invariant inside agnx
  kAlreadyExists,      // an entity with that name or key already exists
  kResourceExhausted,  // a size or count limit was exceeded, or the disk is full
  kAborted,            // the work stopped abnormally: its worker process crashed or overran a limit
  kUnavailable,        // a transient condition (a busy database): the same call may succeed later
  kCancelled,          // the caller asked the work to stop, and it stopped
};

// Returns a stable lower-case name of `code` ("invalid_argument", ...).
const char* status_code_name(StatusCode code);

// The code whose status_code_name is `name`, or nullopt. Keep kCancelled
// the last code (status.cc walks them up to it).
std::optional<StatusCode> status_code_from_name(std::string_view name);

class Status {
 public:
  // An OK status.
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status invalid_argument(std::string message) {
    return {StatusCode::kInvalidArgument, std::move(message)};
  }
  static Status not_found(std::string message) { return {StatusCode::kNotFound, std::move(message)}; }
  static Status failed_precondition(std::string message) {
    return {StatusCode::kFailedPrecondition, std::move(message)};
  }
  static Status io_error(std::string message) { return {StatusCode::kIoError, std::move(message)}; }
  static Status internal(std::string message) { return {StatusCode::kInternal, std::move(message)}; }
  static Status already_exists(std::string message) {
    return {StatusCode::kAlreadyExists, std::move(message)};
  }
  static Status resource_exhausted(std::string message) {
    return {StatusCode::kResourceExhausted, std::move(message)};
  }
  static Status aborted(std::string message) { return {StatusCode::kAborted, std::move(message)}; }
  static Status unavailable(std::string message) { return {StatusCode::kUnavailable, std::move(message)}; }
  static Status cancelled(std::string message) { return {StatusCode::kCancelled, std::move(message)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "OK", or "<code name>: <message>".
  std::string to_string() const;

  // Returns a copy whose message is "<context>: <message>"; OK stays OK.
  Status with_context(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value of type T or a non-OK Status (core/result.h).
template <typename T>
using Result = BasicResult<T, Status>;

}  // namespace agnx

#define AGNX_CONCAT_INNER(a, b) a##b
#define AGNX_CONCAT(a, b) AGNX_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the enclosing function if it is not OK.
#define AGNX_RETURN_IF_ERROR(expr)                  \
  do {                                              \
    ::agnx::Status agnx_status_ = (expr);           \
    if (!agnx_status_.ok()) return agnx_status_;    \
  } while (false)

// Evaluates `expr` (a Result<T>); returns its Status if it failed, else moves
// the value into `lhs` (which may be a declaration such as `auto x`).
#define AGNX_ASSIGN_OR_RETURN(lhs, expr) \
  AGNX_ASSIGN_OR_RETURN_IMPL(AGNX_CONCAT(agnx_result_, __LINE__), lhs, expr)
#define AGNX_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
