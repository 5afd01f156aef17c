// Output of the agnx command line: aligned text tables for people, JSON
// objects for machines, and the argument forms shared by several commands.
// Free functions of plain values; safe to call from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agnapprox/v1/agnx.pb.h"
#include "client/result.h"

namespace agnx::cli {

namespace pb = ::agnapprox::v1;

// Parses `--sigma` values "LAYER=VALUE" (several may be joined by commas)
// into a map. Errors (INVALID_ARGUMENT, naming the value): no '=', an empty
// layer, a value that is not a finite number, a layer given twice.
client::Result<std::map<std::string, double>> parse_sigma(const std::vector<std::string>& values);

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
