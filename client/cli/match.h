// `agnx match`: the matching of a server job, in-process, without a server.
//
// The options and their parsing live here, free of core/ and LibTorch, so
// that `agnx --help` and every other command start fast; the work itself
// (match_run.h) is linked into the `agnx-match` executable only. `agnx match`
// parses its arguments, then runs `agnx-match` from its own directory with
// the same arguments (LibTorch's start-up costs about a second).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "client/cli/app.h"

namespace agnx::cli {

struct MatchOptions {
  std::string model, calib;
  std::string library;      // a built-in library name ("builtin")
  std::string library_dir;  // or a LUT directory
  std::string metric = "PDK45_PWR";  // the metric of library_dir
  std::string signedness;            // "", "signed" or "unsigned"
  std::string test_x, test_y;
  std::vector<std::string> sigma, pin_exact;
  std::size_t samples = 512, calib_limit = 0, test_limit = 0, threads = 1;
  uint64_t seed = 0;
  bool json = false, no_observe = false;
};

// Runs a parsed `agnx match`; returns the exit code.
using MatchRunner = std::function<int(const MatchOptions&, const Io&)>;

// The `match` subcommand, run by `runner`.
AddCommand match_command(MatchRunner runner);

}  // namespace agnx::cli
