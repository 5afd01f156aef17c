#include "server/worker/protocol.h"

#include <charconv>

#include "core/number_text.h"

namespace agnx::server::worker {
namespace {

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

// The next space-separated word of `rest`, which loses it and its space.
std::string_view next_word(std::string_view& rest) {
  const auto space = rest.find(' ');
  const std::string_view word = rest.substr(0, space);
  rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
  return word;
}

bool parse_count(std::string_view text, std::size_t& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc{} && end == text.data() + text.size() && !text.empty();
}

}  // namespace

std::string progress_line(const Progress& progress) {
  std::string stage = progress.stage;
  for (char& c : stage) {
    if (c == ' ' || c == '\n' || c == '\r') c = '_';
  }
  std::string line = "progress " + stage + " " + std::to_string(progress.done) + " " + std::to_string(progress.total);
  if (progress.epochs > 0) line += " " + std::to_string(progress.epoch) + " " + std::to_string(progress.epochs);
  return line + "\n";
}

std::string metric_line(const MetricReport& metric) {
  std::string key = metric.key;
  for (char& c : key) {
    if (c == ' ' || c == '\n' || c == '\r') c = '_';
  }
  return "metric " + std::to_string(metric.step) + " " + key + " " + round_trip_text(metric.value) + "\n";
}

std::string error_line(const Status& error) {
  return std::string("error ") + status_code_name(error.code()) + " " + one_line(error.message()) + "\n";
}

Result<Message> parse_message(std::string_view line) {
  std::string_view rest = line;
  const std::string_view kind = next_word(rest);
  if (kind == "progress") {
    Progress progress;
    progress.stage = std::string(next_word(rest));
    if (!progress.stage.empty() && parse_count(next_word(rest), progress.done) &&
        parse_count(next_word(rest), progress.total)) {
      if (rest.empty()) return Message{progress};
      if (parse_count(next_word(rest), progress.epoch) && parse_count(next_word(rest), progress.epochs) &&
          rest.empty()) {
        return Message{progress};
      }
    }
  } else if (kind == "metric") {
    MetricReport metric;
    std::size_t step = 0;
    const bool counted = parse_count(next_word(rest), step);
    metric.step = static_cast<int64_t>(step);
    metric.key = std::string(next_word(rest));
    const std::string_view value = next_word(rest);
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), metric.value);
    if (counted && !metric.key.empty() && !value.empty() && error == std::errc{} &&
        end == value.data() + value.size() && rest.empty()) {
      return Message{metric};
    }
  } else if (kind == "error") {
    const auto code = status_code_from_name(next_word(rest));
    if (code && *code != StatusCode::kOk) return Message{Status(*code, std::string(rest))};
  }
  return Status::invalid_argument("not a worker message: \"" + std::string(line.substr(0, 200)) + "\"");
}

}  // namespace agnx::server::worker
