// agnx-server's structured log: one JSON object per line on stderr,
//
//   {"ts":"2024-05-01T12:00:00.123Z","level":"info","msg":"job state","job_id":7,...}
//
// "ts" (UTC, milliseconds), "level" and "msg" come first, then the event's
// fields in the order given. Events below the process's level (set once by
// --log-level, default info) are dropped; check log_enabled() before building
// an expensive event.
//
// Thread safety: every function may be called from any number of threads;
// each line is written whole.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/status.h"

namespace agnx::server {

// Most to least severe; a level lets through itself and those before it.
enum class LogLevel { kError, kWarn, kInfo, kDebug };

// "error", "warn", "info" or "debug"; kInvalidArgument naming the choices otherwise.
Result<LogLevel> parse_log_level(std::string_view text);
std::string_view log_level_name(LogLevel level);

// The process's level (default kInfo).
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);

using LogValue = std::variant<std::string, int64_t, double, bool>;
using LogFields = std::vector<std::pair<std::string, LogValue>>;

// One event as its JSON line (without the newline), stamped now; for tests
// and for log().
std::string log_line(LogLevel level, std::string_view message, const LogFields& fields);

// Writes log_line(...) and a newline to stderr if `level` is enabled.
void log(LogLevel level, std::string_view message, const LogFields& fields = {});

}  // namespace agnx::server
