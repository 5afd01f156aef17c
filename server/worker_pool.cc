#include "server/worker_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <functional>
#include <optional>
#include <utility>

#include "server/worker/pool_protocol.h"
#include "server/worker/protocol.h"

namespace agnx::server {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using worker::ChildReport;

constexpr std::chrono::milliseconds kForkTimeout{5000};
constexpr std::chrono::seconds kRestartPause{1};

Status system_error(const std::string& what) { return Status::io_error(what + ": " + std::strerror(errno)); }

// An owned descriptor, closed with the object.
class Descriptor {
 public:
  explicit Descriptor(int fd = -1) : fd_(fd) {}
  Descriptor(Descriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Descriptor& operator=(Descriptor&&) = delete;
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// The next report on `status_fd` within `timeout` (-1: no limit); nullopt
// when the socket closed without one (the warm worker died) or on timeout.
std::optional<ChildReport> next_report(int status_fd, int timeout_ms) {
  pollfd ready{status_fd, POLLIN, 0};
  int polled;
  while ((polled = ::poll(&ready, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  if (polled <= 0) return std::nullopt;
  char text[64];
  const ssize_t n = ::recv(status_fd, text, sizeof text, MSG_DONTWAIT);
  if (n <= 0) return std::nullopt;
  auto report = worker::parse_child_report(std::string_view(text, static_cast<std::size_t>(n)));
  return report.ok() ? std::optional<ChildReport>(*report) : std::nullopt;
}

// A job step in a child of the warm worker, which reaps it and reports its
// wait status; killed through the warm worker, which alone may signal a pid
// it has not reaped yet.
class PooledChild final : public ChildProcess {
 public:
  PooledChild(pid_t pid, Descriptor messages, Descriptor status, std::function<void()> on_end)
      : pid_(pid), messages_(std::move(messages)), status_(std::move(status)), on_end_(std::move(on_end)) {}
  ~PooledChild() override { on_end_(); }  // closing the status socket kills a child still running

  pid_t pid() const override { return pid_; }
  int message_fd() const override { return messages_.get(); }
  void kill() override { ::shutdown(status_.get(), SHUT_WR); }
  std::optional<int> try_wait() override { return wait_for(0); }
  int wait() override { return *wait_for(-1); }

 private:
  // The wait status, or nullopt while it runs. A status socket that closes
  // without a report means the warm worker died, and its children with it
  // (SIGKILL, PR_SET_PDEATHSIG).
  std::optional<int> wait_for(int timeout_ms) {
    pollfd ready{status_.get(), POLLIN, 0};
    if (::poll(&ready, 1, timeout_ms) == 0) return std::nullopt;
    const auto report = next_report(status_.get(), 0);
    if (report && report->kind == ChildReport::Kind::kExited) return report->value;
    return report ? std::nullopt : std::optional<int>(SIGKILL);
  }

  const pid_t pid_;
  const Descriptor messages_;
  const Descriptor status_;
  const std::function<void()> on_end_;
};

// The server's ends of a job step's descriptors: its message pipe and its
// status socket.
struct StepChannels {
  Descriptor messages;
  Descriptor status;
};

// Creates a job step's descriptors and sends its fork request on `control`
// (-1: the warm worker is down); the child's ends close on return, so that
// the pipe and the socket end with the child (or the warm worker).
Result<StepChannels> request_fork(int control, const std::vector<std::string>& args, const fs::path& log_file) {
  if (control < 0) return Status::unavailable("the warm worker is down");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return system_error("cannot create a pipe");
  Descriptor messages(fds[0]), child_messages(fds[1]);
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) return system_error("cannot create a socket");
  Descriptor status(fds[0]), child_status(fds[1]);
  const Descriptor log(::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (log.get() < 0) return system_error("cannot open " + log_file.string());
  AGNX_RETURN_IF_ERROR(worker::send_fork_request(control, {args, {child_status.get(), child_messages.get(), log.get()}}));
  return StepChannels{std::move(messages), std::move(status)};
}

}  // namespace

WorkerPool::WorkerPool(fs::path executable)
    : executable_(std::move(executable)), keeper_([this] { keep_warm_worker_running(); }) {}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (control_ >= 0) ::shutdown(control_, SHUT_RDWR);  // the warm worker sees EOF and ends
  }
  stopped_.notify_all();
  keeper_.join();
}

void WorkerPool::keep_warm_worker_running() {
  const std::vector<std::string> argv{executable_.string(), "serve", "--parent-pid", std::to_string(::getpid())};
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    const auto started_at = Clock::now();
    auto warm = Subprocess::spawn(argv, worker::kMessageFd, {}, Subprocess::Channel::kSocket);
    lock.lock();
    if (warm.ok()) {
      control_ = warm->message_fd();
      pid_ = warm->pid();
      ++starts_;
      if (stopping_) ::shutdown(control_, SHUT_RDWR);
      lock.unlock();
      warm->wait();
      lock.lock();
      control_ = -1;
      pid_ = 0;
    }
    if (Clock::now() - started_at < kRestartPause) stopped_.wait_for(lock, kRestartPause, [this] { return stopping_; });
  }
}

Result<std::unique_ptr<ChildProcess>> WorkerPool::spawn(const std::vector<std::string>& args,
                                                        const fs::path& log_file) {
  std::unique_lock lock(mutex_);
  AGNX_ASSIGN_OR_RETURN(StepChannels channels, request_fork(control_, args, log_file));
  ++running_;
  lock.unlock();
  auto on_end = [this] { on_child_end(); };
  const auto started = next_report(channels.status.get(), static_cast<int>(kForkTimeout.count()));
  if (!started || started->kind != ChildReport::Kind::kStarted) {
    on_end();
    return Status::unavailable("the warm worker did not start the job step");
  }
  const int messages = channels.messages.get();
  ::fcntl(messages, F_SETFL, ::fcntl(messages, F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<ChildProcess>(std::make_unique<PooledChild>(
      started->value, std::move(channels.messages), std::move(channels.status), on_end));
}

void WorkerPool::on_child_end() {
  std::lock_guard lock(mutex_);
  --running_;
}

pid_t WorkerPool::warm_worker_pid() const {
  std::lock_guard lock(mutex_);
  return pid_;
}

std::size_t WorkerPool::starts() const {
  std::lock_guard lock(mutex_);
  return starts_;
}

std::size_t WorkerPool::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

}  // namespace agnx::server
