// How agnx-server hands job steps to its warm worker, `agnx-worker serve`.
//
// Starting agnx-worker costs the load of LibTorch (about half a second). The
// server therefore keeps one agnx-worker running in `serve` mode, started as
//   agnx-worker serve --parent-pid PID
// with one end of a Unix SOCK_SEQPACKET socket pair as descriptor kMessageFd
// (the control socket), and sends it one fork request per job step: the
// step's worker arguments (what follows `agnx-worker` on today's command
// line, without --parent-pid) with three descriptors, the step's status
// socket, the write end of its message pipe and its log file. The warm
// worker, which never runs a thread of its own, forks a child that runs
// those arguments exactly as a fresh `agnx-worker ARGS` would (limits,
// protocol.h's messages on kMessageFd, the log as stdout and stderr) and
// reports on the status socket, one message each:
//   started PID
//   exited WAIT_STATUS          then it closes the status socket
// The server kills the child by shutting down its end of the status socket
// (or closing it); the warm worker then sends SIGKILL and still reports the
// exit. A warm worker dies with the server, and its children with it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace agnx::server::worker {

// The descriptors of one fork request. The sender keeps its copies; the
// receiver owns what it received.
struct ForkDescriptors {
  int status_fd = -1;
  int message_fd = -1;  // becomes the child's kMessageFd
  int log_fd = -1;      // becomes the child's stdout and stderr
};

struct ForkRequest {
  std::vector<std::string> args;
  ForkDescriptors fds;
};

// Sends one request on `control` without blocking. Errors: kUnavailable
// when the warm worker is gone or not reading (its reason).
Status send_fork_request(int control, const ForkRequest& request);

// The next request on `control`, or nullopt once the server closed it.
// Errors: kIoError (a read error), kInvalidArgument (a message that is not a
// request; its descriptors are closed).
Result<std::optional<ForkRequest>> receive_fork_request(int control);

// A status socket's message.
struct ChildReport {
  enum class Kind { kStarted, kExited };
  Kind kind = Kind::kStarted;
  int value = 0;  // the child's pid, or its wait status
};

// The message of `report`, and back. Errors: kInvalidArgument quoting the text.
std::string report_message(const ChildReport& report);
Result<ChildReport> parse_child_report(std::string_view message);

}  // namespace agnx::server::worker
