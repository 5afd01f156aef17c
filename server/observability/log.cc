#include "server/observability/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <nlohmann/json.hpp>

namespace agnx::server {

namespace {

constexpr std::string_view kNames[] = {"error", "warn", "info", "debug"};

std::atomic<LogLevel> process_level{LogLevel::kInfo};
std::mutex write_mutex;

// 2024-05-01T12:00:00.123Z
std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  const std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buffer + n, sizeof buffer - n, ".%03dZ", static_cast<int>(millis));
  return buffer;
}

}  // namespace

Result<LogLevel> parse_log_level(std::string_view text) {
  for (std::size_t i = 0; i < std::size(kNames); ++i) {
    if (text == kNames[i]) return static_cast<LogLevel>(i);
  }
  return Status::invalid_argument("log level '" + std::string(text) + "' is not one of error, warn, info, debug");
}

std::string_view log_level_name(LogLevel level) { return kNames[static_cast<std::size_t>(level)]; }

void set_log_level(LogLevel level) { process_level.store(level); }

bool log_enabled(LogLevel level) { return level <= process_level.load(); }

std::string log_line(LogLevel level, std::string_view message, const LogFields& fields) {
  nlohmann::ordered_json line;
  line["ts"] = utc_now();
  line["level"] = log_level_name(level);
  line["msg"] = message;
  for (const auto& [key, value] : fields) {
    std::visit([&, &key = key](const auto& v) { line[key] = v; }, value);
  }
  // Invalid UTF-8 (e.g. a peer's bytes) is replaced rather than thrown on.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void log(LogLevel level, std::string_view message, const LogFields& fields) {
  if (!log_enabled(level)) return;
  const std::string text = log_line(level, message, fields) + "\n";
  std::lock_guard lock(write_mutex);
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace agnx::server
