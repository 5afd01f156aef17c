// An agnx-server child process for integration tests: started on an
// ephemeral loopback port with its own data directory, stopped (SIGTERM,
// then SIGKILL) when the object goes away.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace agnx::testing {

class ServerProcess {
 public:
  // Runs `binary --listen LISTEN --data-dir DATA_DIR ARGS...` and waits (up
  // to 60 s) for its "listening on HOST:PORT" line. The default LISTEN is an
  // ephemeral loopback port.
  static Result<std::unique_ptr<ServerProcess>> start(const std::string& binary,
                                                      const std::filesystem::path& data_dir,
                                                      const std::vector<std::string>& args = {},
                                                      const std::string& listen = "127.0.0.1:0");
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // "127.0.0.1:PORT".
  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }
  // Sends `signal` and waits for the process; returns its wait status.
  int kill_and_wait(int signal);

 private:
  ServerProcess(pid_t pid, int output, std::string address) : pid_(pid), output_(output), address_(std::move(address)) {}
  pid_t pid_;
  int output_;  // read end of the child's stdout
  std::string address_;
};

}  // namespace agnx::testing
