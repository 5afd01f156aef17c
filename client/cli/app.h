// The agnx command line as a function: parses argv, runs one subcommand
// against the server (or in-process, for commands added from outside, such
// as `agnx match`), and returns the process exit code:
//   0 success,
//   1 usage error: a malformed command line (an unknown option or command,
//     a missing argument, options that do not go together),
//   2 an invalid value (a number out of range or not a number, a malformed
//     --sigma, a value outside an option's choices: "agnx: INVALID_ARGUMENT:
//     --samples: '-5' is not a whole number from 1 to 1000000"), or a
//     server or input error (the gRPC status code name and the server's
//     message go to the error stream).
// Not thread-safe: run one at a time per process (CLI11 state is local, but
// the commands write to the given streams).
#pragma once

#include <functional>
#include <ostream>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "client/result.h"

namespace agnx::cli {

enum ExitCode : int { kExitOk = 0, kExitUsage = 1, kExitFailure = 2 };

struct Io {
  std::ostream& out;
  std::ostream& err;
  bool err_is_tty = false;  // progress redraws one line on a terminal
};

// Prints "agnx: <CODE>: <message>" to io.err and returns kExitFailure.
int fail(const Io& io, const client::Status& status);
// Prints "agnx: <message>" to io.err and returns kExitUsage.
int usage_error(const Io& io, const std::string& message);

// A subcommand defined outside the client library: `add(app, io)` adds it to
// `app` and returns its CLI11 app and the action that runs it when parsed.
using AddCommand = std::function<std::pair<CLI::App*, std::function<int()>>(CLI::App& app, const Io& io)>;

int run(int argc, const char* const* argv, const Io& io, const std::vector<AddCommand>& extra = {});

}  // namespace agnx::cli
