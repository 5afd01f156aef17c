// WorkerPool: agnx-server's warm worker, an `agnx-worker serve` process kept
// running with LibTorch loaded, which forks one child per job step
// (server/worker/pool_protocol.h). A step then starts in milliseconds instead
// of paying for LibTorch's load, and keeps a fresh worker's isolation: a
// process of its own with the same limits, messages and log, killed on
// cancellation or at its time limit, and dying with the server.
//
// Thread safety: safe for concurrent use from several threads. Not copyable.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "server/subprocess.h"

namespace agnx::server {

class WorkerPool {
 public:
  // Starts the warm worker `executable` (agnx-worker) and a thread that
  // starts it again whenever it exits (after a second when it lived less).
  // Its stdout and stderr are the server's.
  explicit WorkerPool(std::filesystem::path executable);
  // Stops the warm worker, which kills the children still running.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Starts one job step in a child of the warm worker: `args` as they would
  // follow `agnx-worker` (without --parent-pid), its stdout and stderr
  // appended to `log_file`, a message pipe as its kMessageFd. Errors:
  // kUnavailable when the warm worker is down or did not fork within a few
  // seconds (the caller may start a fresh agnx-worker instead), kIoError
  // naming what could not be created.
  Result<std::unique_ptr<ChildProcess>> spawn(const std::vector<std::string>& args,
                                              const std::filesystem::path& log_file);

  // The warm worker's process id, or 0 while it is down.
  pid_t warm_worker_pid() const;
  // How many times a warm worker was started.
  std::size_t starts() const;
  // The job steps running in children of the warm worker.
  std::size_t running() const;

 private:
  void keep_warm_worker_running();
  void on_child_end();

  const std::filesystem::path executable_;
  mutable std::mutex mutex_;
  std::condition_variable stopped_;
  bool stopping_ = false;
  int control_ = -1;  // the warm worker's control socket; -1 while it is down
  pid_t pid_ = 0;
  std::size_t starts_ = 0;
  std::size_t running_ = 0;
  std::thread keeper_;  // starts (and reaps) the warm worker; its children die with this thread
};

}  // namespace agnx::server
