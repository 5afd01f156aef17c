// The command line of a test or benchmark program (CLI11).
#pragma once

#include <CLI/CLI.hpp>

#include <optional>

namespace agnx::testing {

// Parses `argv` into `app`. nullopt: the program goes on; otherwise its exit
// status once CLI11 has printed what was asked or wrong: 0 after --help, 2
// on a usage error (an unknown option, a value out of range).
inline std::optional<int> parse_command_line(CLI::App& app, int argc, const char* const* argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

}  // namespace agnx::testing
