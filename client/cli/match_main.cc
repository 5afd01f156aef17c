// agnx-match: the agnx command line with `agnx match` run in-process
// (core/ and LibTorch). `agnx match` runs this executable; it takes every
// agnx command.
#include <unistd.h>

#include <iostream>

#include "client/cli/app.h"
#include "client/cli/match_run.h"

int main(int argc, char** argv) {
  const agnx::cli::Io io{std::cout, std::cerr, isatty(STDERR_FILENO) == 1};
  return agnx::cli::run(argc, argv, io, {agnx::cli::match_command(agnx::cli::run_match)});
}
