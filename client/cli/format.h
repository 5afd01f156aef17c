// Output of the agnx command line: aligned text tables for people, JSON
// objects for machines, and the argument forms shared by several commands.
// Free functions of plain values; safe to call from any thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "agnapprox/v1/agnx.pb.h"
#include "client/result.h"

namespace agnx::cli {

namespace pb = ::agnapprox::v1;

// The finite number that all of `text` spells (core's parse_decimal: decimal
// or exponent form, no leading '+', blanks or hex); nullopt for anything else,
// including "nan", "inf" and numbers beyond a double's range ("1e999",
// "1e-400").
std::optional<double> parse_finite(std::string_view text);

// Parses `--sigma` values "LAYER=VALUE" (several may be joined by commas)
// into a map. Errors (INVALID_ARGUMENT, naming the value): no '=', an empty
// layer, a value that is not a finite number (parse_finite), a layer given
// twice. Negative and zero values are accepted: the tolerance is |sigma|.
client::Result<std::map<std::string, double>> parse_sigma(const std::vector<std::string>& values);

// Numeric options and arguments. Their text is checked by a CLI11 validator,
// then parsed by std::from_chars, never by CLI11's conversions (which wrap
// "-5" into a huge size_t and round a double twice, through long double). A
// bad value fails the parse with a CLI11 ValidationError whose message names
// the option and what it takes, e.g. "--samples: '-5' is not a whole number
// from 1 to 1000000"; run() (app.h) turns it into exit code 2.

// A whole number (decimal digits only) from `min` to `max` into `set`.
CLI::Option* add_whole_number(CLI::App* app, const std::string& name, std::function<void(uint64_t)> set,
                              const std::string& description, uint64_t min, uint64_t max);

// The same into `target`; `max` is capped at T's largest value.
template <typename T>
CLI::Option* add_whole_number(CLI::App* app, const std::string& name, T& target, const std::string& description,
                              uint64_t min, uint64_t max) {
  const uint64_t limit = std::min<uint64_t>(max, static_cast<uint64_t>(std::numeric_limits<T>::max()));
  return add_whole_number(app, name, [&target](uint64_t value) { target = static_cast<T>(value); }, description, min,
                          limit);
}

// The numbers a finite-number option takes: from `min` (excluded when
// `above_min`) to `max`.
struct NumberRange {
  double min = std::numeric_limits<double>::lowest();
  double max = std::numeric_limits<double>::max();
  bool above_min = false;
};

// A finite number (parse_finite) within `range` into `target`.
CLI::Option* add_number(CLI::App* app, const std::string& name, double& target, const std::string& description,
                        const NumberRange& range);

// Splits "a,b" items (each value may hold several) into names; empty names
// are dropped.
std::vector<std::string> split_list(const std::vector<std::string>& values);

// A number for tables: up to 6 significant digits.
std::string number(double value);
// Milliseconds since the epoch as "YYYY-MM-DD HH:MM:SS" UTC; "" for 0.
std::string timestamp(int64_t ms);

// A table with a header row; columns separated by two spaces, numeric-looking
// cells right-aligned.
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

// The result table: one row per layer (name, multiplier, metric, sigma,
// max_std, mul_std, and observed std when any layer has one), then the
// relative energy and the accuracies when present.
void print_matching(std::ostream& out, const pb::MatchingInfo& info);

// The run object of `runs show --json`: run_id, run_name, experiment_id,
// status, lifecycle, start_time, end_time (when set), params, tags, metrics
// ({key: latest value}) and lambda (params.lambda as a number, else null).
nlohmann::json run_to_json(const pb::Run& run);

// Progress of a watched job on a terminal (`tty`: one line redrawn in place)
// or a log (one line per stage or state change).
class ProgressPrinter {
 public:
  ProgressPrinter(std::ostream& out, bool tty) : out_(out), tty_(tty) {}
  void update(const pb::JobProgress& progress);
  // Ends the redrawn line on a terminal.
  void finish();

 private:
  std::ostream& out_;
  bool tty_;
  std::string last_key_;
  bool drew_ = false;
};

}  // namespace agnx::cli
