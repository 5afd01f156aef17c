#include "tests/support/server_process.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

extern char** environ;

namespace agnx::testing {

Result<std::unique_ptr<ServerProcess>> ServerProcess::start(const std::string& binary,
                                                            const std::filesystem::path& data_dir,
                                                            const std::vector<std::string>& args,
                                                            const std::string& listen) {
  std::vector<std::string> argv_strings{binary, "--listen", listen, "--data-dir", data_dir.string()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return Status::io_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawned != 0) {
    close(pipe_fds[0]);
    return Status::io_error("cannot start " + binary);
  }
  // Read until the "listening on" line.
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (output.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd fd{pipe_fds[0], POLLIN, 0};
    if (poll(&fd, 1, 200) <= 0) continue;
    char buffer[512];
    const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
    if (n <= 0) break;
    output.append(buffer, static_cast<std::size_t>(n));
  }
  const std::string marker = "listening on ";
  const auto at = output.find(marker);
  if (at == std::string::npos) {
    ::kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    close(pipe_fds[0]);
    return Status::io_error("agnx-server did not start: " + output);
  }
  const auto end = output.find_first_of(" \n", at + marker.size());
  return std::unique_ptr<ServerProcess>(
      new ServerProcess(pid, pipe_fds[0], output.substr(at + marker.size(), end - at - marker.size())));
}

int ServerProcess::kill_and_wait(int signal) {
  int status = 0;
  if (pid_ > 0) {
    ::kill(pid_, signal);
    waitpid(pid_, &status, 0);
    pid_ = 0;
  }
  return status;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {  // up to 10 s for a clean shutdown
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = 0;
        break;
      }
      usleep(100'000);
    }
    if (pid_ > 0) kill_and_wait(SIGKILL);
  }
  close(output_);
}

}  // namespace agnx::testing
