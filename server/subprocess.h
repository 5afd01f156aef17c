// Child processes of the server: the interface its supervisors use, and
// Subprocess, a child started with posix_spawn (safe in a multi-threaded
// server, where fork is not), with a channel from its file descriptor
// `message_fd` to the parent, its standard output and error appended to a
// log file, and no other descriptor of the parent.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace agnx::server {

// A running child that reports on a message descriptor and ends with a wait
// status. One thread uses it at a time; the destructor kills a child still
// running.
class ChildProcess {
 public:
  virtual ~ChildProcess() = default;

  virtual pid_t pid() const = 0;
  // The parent's end of the message channel (non-blocking); EOF when the
  // child has closed its end, normally by exiting.
  virtual int message_fd() const = 0;
  // Sends SIGKILL. REQUIRES: not reaped yet.
  virtual void kill() = 0;
  // The wait status once the child has ended (reaping it), or nullopt while
  // it runs. REQUIRES: not reaped yet.
  virtual std::optional<int> try_wait() = 0;
  // Waits for the child to end and reaps it. REQUIRES: not reaped yet.
  virtual int wait() = 0;
};

class Subprocess final : public ChildProcess {
 public:
  // What connects the parent with the child's `message_fd`.
  enum class Channel {
    kPipe,    // a pipe from the child to the parent
    kSocket,  // a Unix SOCK_SEQPACKET socket pair, both ways
  };

  // Starts argv[0] (a path) with `argv`; its stdout and stderr go to
  // `log_file`, or are the parent's when it is empty. Errors: kIoError naming
  // what failed (the channel, the log file, the program that cannot be started).
  static Result<Subprocess> spawn(const std::vector<std::string>& argv, int message_fd,
                                  const std::filesystem::path& log_file, Channel channel = Channel::kPipe);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  ~Subprocess() override;

  pid_t pid() const override { return pid_; }
  int message_fd() const override { return read_fd_; }
  void kill() override;
  std::optional<int> try_wait() override;
  int wait() override;

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
