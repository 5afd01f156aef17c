// `agnx-worker serve`: the warm worker of server/worker/pool_protocol.h. It
// has LibTorch loaded (linked in) but never runs it, so it stays a single
// thread and may fork; each child runs one job step like a fresh agnx-worker.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace agnx::server::worker {

// Runs a job step's worker arguments (argv without the program) in a fork
// child and returns its exit status.
using JobCommand = std::function<int(const std::vector<std::string>& args)>;

// Serves fork requests on `control` until the server closes it (then kills
// the children still running and returns 0), or it fails (returns 2 with the
// reason on stderr). Each child binds itself to this process (it dies with
// it), takes the request's descriptors as kMessageFd, stdout and stderr, and
// exits with `run_job(args + {"--parent-pid", PID})`.
// REQUIRES: the process runs no other thread.
int serve_fork_requests(int control, const JobCommand& run_job);

}  // namespace agnx::server::worker
