// Subprocess: a child process started with posix_spawn (safe in a
// multi-threaded server, where fork is not), with a pipe from its file
// descriptor `message_fd` to the parent, its standard output and error
// appended to a log file, and no other descriptor of the parent.
//
// Thread safety: one thread uses a Subprocess at a time. Movable, not
// copyable; the destructor kills and reaps a child still running.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace agnx::server {

class Subprocess {
 public:
  // Starts argv[0] (a path) with `argv`. Errors: kIoError naming what failed
  // (the pipe, the log file, the program that cannot be started).
  static Result<Subprocess> spawn(const std::vector<std::string>& argv, int message_fd,
                                  const std::filesystem::path& log_file);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // The read end of the message pipe (non-blocking); EOF when the child has
  // closed its end, normally by exiting.
  int message_fd() const { return read_fd_; }

  // Sends SIGKILL. REQUIRES: not reaped yet.
  void kill();

  // The wait status once the child has ended (reaping it), or nullopt while
  // it runs. REQUIRES: not reaped yet.
  std::optional<int> try_wait();
  // Waits for the child to end and reaps it. REQUIRES: not reaped yet.
  int wait();

 private:
  Subprocess(pid_t pid, int read_fd) : pid_(pid), read_fd_(read_fd) {}
  void release();

  pid_t pid_ = -1;
  int read_fd_ = -1;
  bool reaped_ = false;
};

// "exited with status N" or "was killed by signal N (NAME)".
std::string describe_wait_status(int wait_status);

}  // namespace agnx::server
