// agnx: the command line of the agnx service. See `agnx --help`.
// `agnx match` runs in the sibling executable agnx-match (LibTorch).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <vector>

#include "client/cli/app.h"
#include "client/cli/match.h"

namespace {

// Replaces this process with agnx-match from the directory of this
// executable, with the same arguments; returns only on failure.
int exec_match(int argc, char** argv, const agnx::cli::Io& io) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::filesystem::path helper = (ec ? std::filesystem::path(argv[0]) : self).parent_path() / "agnx-match";
  std::vector<char*> args(argv, argv + argc);
  std::string name = helper.string();
  args[0] = name.data();
  args.push_back(nullptr);
  std::cout.flush();
  execv(helper.c_str(), args.data());
  return agnx::cli::fail(io, agnx::client::Status(grpc::StatusCode::NOT_FOUND, "cannot run " + helper.string() + ": " +
                                                                                   std::strerror(errno)));
}

}  // namespace

int main(int argc, char** argv) {
  const agnx::cli::Io io{std::cout, std::cerr, isatty(STDERR_FILENO) == 1};
  return agnx::cli::run(argc, argv, io,
                        {agnx::cli::match_command([&](const agnx::cli::MatchOptions&, const agnx::cli::Io& run_io) {
                          return exec_match(argc, argv, run_io);
                        })});
}
