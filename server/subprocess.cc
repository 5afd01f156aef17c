#include "server/subprocess.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>

extern char** environ;

namespace agnx::server {
namespace {

Status system_error(const std::string& what) { return Status::io_error(what + ": " + std::strerror(errno)); }

// posix_spawn's file actions, released on every path.
struct FileActions {
  posix_spawn_file_actions_t actions;
  FileActions() { posix_spawn_file_actions_init(&actions); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions); }
};

// A pipe (parent reads) or a socket pair: {parent's end, child's end}.
bool open_channel(Subprocess::Channel channel, int fds[2]) {
  if (channel == Subprocess::Channel::kSocket) {
    return ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0;
  }
  return ::pipe2(fds, O_CLOEXEC) == 0;
}

}  // namespace

Result<Subprocess> Subprocess::spawn(const std::vector<std::string>& argv, int message_fd,
                                     const std::filesystem::path& log_file, Channel channel) {
  int channel_fds[2];
  if (!open_channel(channel, channel_fds)) return system_error("cannot create the channel to " + argv[0]);
  const int read_fd = channel_fds[0], write_fd = channel_fds[1];

  FileActions files;
  posix_spawn_file_actions_addopen(&files.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (!log_file.empty()) {
    posix_spawn_file_actions_addopen(&files.actions, STDOUT_FILENO, log_file.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&files.actions, STDOUT_FILENO, STDERR_FILENO);
  }
  posix_spawn_file_actions_adddup2(&files.actions, write_fd, message_fd);  // dup2 clears O_CLOEXEC
  posix_spawn_file_actions_addclosefrom_np(&files.actions, message_fd + 1);

  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, args[0], &files.actions, nullptr, args.data(), environ);
  ::close(write_fd);
  if (spawned != 0) {
    ::close(read_fd);
    errno = spawned;
    return system_error("cannot start " + argv[0]);
  }
  ::fcntl(read_fd, F_SETFL, ::fcntl(read_fd, F_GETFL) | O_NONBLOCK);
  return Subprocess(pid, read_fd);
}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), read_fd_(std::exchange(other.read_fd_, -1)), reaped_(other.reaped_) {}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    read_fd_ = std::exchange(other.read_fd_, -1);
    reaped_ = other.reaped_;
  }
  return *this;
}

Subprocess::~Subprocess() { release(); }

void Subprocess::release() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (read_fd_ >= 0) ::close(read_fd_);
  pid_ = -1;
  read_fd_ = -1;
}

void Subprocess::kill() { ::kill(pid_, SIGKILL); }

std::optional<int> Subprocess::try_wait() {
  int status = 0;
  const pid_t done = ::waitpid(pid_, &status, WNOHANG);
  if (done != pid_) return std::nullopt;
  reaped_ = true;
  return status;
}

int Subprocess::wait() {
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  return status;
}

std::string describe_wait_status(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const int signal = WTERMSIG(wait_status);
    const char* name = ::sigdescr_np(signal);
    return "was killed by signal " + std::to_string(signal) + " (" + (name ? name : "unknown") + ")";
  }
  return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
}

}  // namespace agnx::server
