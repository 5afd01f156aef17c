// An agnx-server child process for integration tests: started on an
// ephemeral loopback port with its own data directory, stopped (SIGTERM,
// then SIGKILL) when the object goes away.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace agnx::testing {

class ServerProcess {
 public:
  // Runs `binary --data-dir DATA_DIR --listen 127.0.0.1:0 ARGS...` (without
  // that --listen if ARGS have one) and waits (up to 60 s) for its
  // "listening on HOST:PORT" line. The child's stderr
  // goes to `stderr_file` if given, else to this process's.
  static Result<std::unique_ptr<ServerProcess>> start(const std::string& binary,
                                                      const std::filesystem::path& data_dir,
                                                      const std::vector<std::string>& args = {},
                                                      const std::filesystem::path& stderr_file = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // "HOST:PORT" as the server printed it: "127.0.0.1:PORT" by default.
  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }
  // Sends `signal` and waits for the process; returns its wait status.
  int kill_and_wait(int signal);
  // Sends `signal` and returns at once.
  void send_signal(int signal);
  // Everything the child wrote on stdout so far, once it holds `text`, the
  // child closed stdout or `timeout` has passed (the caller checks which).
  std::string wait_for_output(const std::string& text, std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  ServerProcess(pid_t pid, int output, std::string address, std::string stdout_text)
      : pid_(pid), output_(output), address_(std::move(address)), stdout_text_(std::move(stdout_text)) {}
  // Appends what the child writes to stdout within `timeout` (up to one
  // read); false once stdout is closed.
  bool read_stdout(std::chrono::milliseconds timeout);

  pid_t pid_;
  int output_;  // read end of the child's stdout
  std::string address_;
  std::string stdout_text_;  // read so far
};

}  // namespace agnx::testing
