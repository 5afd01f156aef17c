#include "server/worker/warm_worker.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>

#include "server/worker/pool_protocol.h"
#include "server/worker/protocol.h"

namespace agnx::server::worker {
namespace {

// A descriptor that becomes readable when child `pid` ends (glibc 2.36
// declares pidfd_open without C linkage, hence the system call).
int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

constexpr int kExitOrphaned = 125;  // the warm worker died before its child bound itself to it

// In the fork child: becomes a worker of `request` and never returns.
[[noreturn]] void become_worker(ForkRequest& request, pid_t warm_worker, const JobCommand& run_job) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != warm_worker) ::_exit(kExitOrphaned);
  ::dup2(request.fds.log_fd, STDOUT_FILENO);
  ::dup2(request.fds.log_fd, STDERR_FILENO);
  ::dup2(request.fds.message_fd, kMessageFd);  // replaces the control socket
  ::close_range(kMessageFd + 1, ~0U, 0);
  request.args.insert(request.args.end(), {"--parent-pid", std::to_string(warm_worker)});
  const int status = run_job(request.args);
  // The job step is over and has said so; what the warm worker's statics
  // would undo at exit (a third of a second of LibTorch's and the built-in
  // library's teardown) is undone by the end of the process as well.
  std::fflush(nullptr);
  ::_exit(status);
}

void report(int status_fd, const ChildReport& child_report) {
  const std::string message = report_message(child_report);
  ::send(status_fd, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

// A child at work: its pid, a descriptor that becomes readable when it ends,
// and the socket its server side watches.
struct Child {
  pid_t pid;
  int pidfd;
  int status_fd;
  bool killed = false;
};

class WarmWorker {
 public:
  WarmWorker(int control, const JobCommand& run_job) : control_(control), run_job_(run_job) {}

  int serve() {
    for (;;) {
      std::vector<pollfd> fds = watched();
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        return fail(std::string("poll: ") + std::strerror(errno));
      }
      handle_children(fds);
      if (fds[0].revents != 0) {
        auto request = receive_fork_request(control_);
        if (!request.ok() && request.status().code() != StatusCode::kInvalidArgument) {
          return fail(request.status().message());
        }
        if (request.ok() && !request->has_value()) break;  // the server closed the control socket
        if (request.ok()) start(**request);
      }
    }
    for (Child& child : children_) ::kill(child.pid, SIGKILL);
    while (::wait(nullptr) > 0 || errno == EINTR) {
    }
    return 0;
  }

 private:
  int fail(const std::string& reason) {
    std::fprintf(stderr, "agnx-worker serve: %s\n", reason.c_str());
    for (Child& child : children_) ::kill(child.pid, SIGKILL);
    return 2;
  }

  // The control socket first, then per child its pid descriptor and, until
  // it is killed, its status socket.
  std::vector<pollfd> watched() const {
    std::vector<pollfd> fds{{control_, POLLIN, 0}};
    for (const Child& child : children_) {
      fds.push_back({child.pidfd, POLLIN, 0});
      fds.push_back({child.killed ? -1 : child.status_fd, POLLIN, 0});
    }
    return fds;
  }

  void handle_children(const std::vector<pollfd>& fds) {
    std::size_t i = 1;
    for (auto child = children_.begin(); child != children_.end(); i += 2) {
      if (fds[i + 1].revents != 0) {  // the server shut its end down: kill
        ::kill(child->pid, SIGKILL);
        child->killed = true;
      }
      if (fds[i].revents == 0) {
        ++child;
        continue;
      }
      int wait_status = 0;
      while (::waitpid(child->pid, &wait_status, 0) < 0 && errno == EINTR) {
      }
      report(child->status_fd, {ChildReport::Kind::kExited, wait_status});
      ::close(child->status_fd);
      ::close(child->pidfd);
      child = children_.erase(child);
    }
  }

  // Forks the child of `request`; on failure the status socket closes
  // without a report and the server runs the step elsewhere.
  void start(ForkRequest& request) {
    std::fflush(nullptr);
    const pid_t warm_worker = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) become_worker(request, warm_worker, run_job_);
    ::close(request.fds.message_fd);
    ::close(request.fds.log_fd);
    const int pidfd = pid > 0 ? open_pidfd(pid) : -1;
    if (pidfd < 0) {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
      ::close(request.fds.status_fd);
      return;
    }
    report(request.fds.status_fd, {ChildReport::Kind::kStarted, pid});
    children_.push_back({pid, pidfd, request.fds.status_fd});
  }

  const int control_;
  const JobCommand& run_job_;
  std::list<Child> children_;
};

}  // namespace

int serve_fork_requests(int control, const JobCommand& run_job) { return WarmWorker(control, run_job).serve(); }

}  // namespace agnx::server::worker
