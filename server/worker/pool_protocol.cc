#include "server/worker/pool_protocol.h"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace agnx::server::worker {
namespace {

constexpr std::size_t kDescriptors = 3;
constexpr std::size_t kMaxRequestBytes = 16384;

using DescriptorArray = std::array<int, kDescriptors>;

// Room for one SCM_RIGHTS message of kDescriptors descriptors, aligned.
union ControlBuffer {
  char bytes[CMSG_SPACE(sizeof(DescriptorArray))];
  cmsghdr align;
};

std::string joined(const std::vector<std::string>& args) {
  std::string text;
  for (const auto& arg : args) text.append(arg).push_back('\0');
  return text;
}

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> args;
  for (std::size_t end = text.find('\0'); end != std::string_view::npos; end = text.find('\0')) {
    args.emplace_back(text.substr(0, end));
    text.remove_prefix(end + 1);
  }
  return args;
}

// The descriptors a received message carries, in order (-1 for absent ones).
DescriptorArray received_descriptors(msghdr& message) {
  DescriptorArray fds{-1, -1, -1};
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = std::min<std::size_t>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int), kDescriptors);
    std::memcpy(fds.data(), CMSG_DATA(c), count * sizeof(int));
  }
  return fds;
}

}  // namespace

Status send_fork_request(int control, const ForkRequest& request) {
  std::string text = joined(request.args);
  iovec data{text.data(), text.size()};
  ControlBuffer buffer{};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = buffer.bytes;
  message.msg_controllen = sizeof buffer.bytes;
  cmsghdr* rights = CMSG_FIRSTHDR(&message);
  rights->cmsg_level = SOL_SOCKET;
  rights->cmsg_type = SCM_RIGHTS;
  rights->cmsg_len = CMSG_LEN(sizeof(DescriptorArray));
  const DescriptorArray fds{request.fds.status_fd, request.fds.message_fd, request.fds.log_fd};
  std::memcpy(CMSG_DATA(rights), fds.data(), sizeof fds);
  if (::sendmsg(control, &message, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
    return Status::unavailable(std::string("the warm worker does not take requests: ") + std::strerror(errno));
  }
  return {};
}

Result<std::optional<ForkRequest>> receive_fork_request(int control) {
  std::string text(kMaxRequestBytes, '\0');
  iovec data{text.data(), text.size()};
  ControlBuffer buffer{};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = buffer.bytes;
  message.msg_controllen = sizeof buffer.bytes;
  ssize_t n;
  while ((n = ::recvmsg(control, &message, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n < 0) return Status::io_error(std::string("cannot read a fork request: ") + std::strerror(errno));
  if (n == 0) return std::optional<ForkRequest>();
  const DescriptorArray fds = received_descriptors(message);
  text.resize(static_cast<std::size_t>(n));
  if ((message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || fds[2] < 0 || text.empty() || text.back() != '\0') {
    for (const int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
    return Status::invalid_argument("a malformed fork request");
  }
  return std::optional<ForkRequest>(ForkRequest{split(text), {fds[0], fds[1], fds[2]}});
}

std::string report_message(const ChildReport& report) {
  return (report.kind == ChildReport::Kind::kStarted ? "started " : "exited ") + std::to_string(report.value);
}

Result<ChildReport> parse_child_report(std::string_view message) {
  ChildReport report;
  std::string_view number;
  if (message.starts_with("started ")) {
    number = message.substr(8);
  } else if (message.starts_with("exited ")) {
    report.kind = ChildReport::Kind::kExited;
    number = message.substr(7);
  }
  const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), report.value);
  if (number.empty() || error != std::errc() || end != number.data() + number.size()) {
    return Status::invalid_argument("not a warm worker report: '" + std::string(message) + "'");
  }
  return report;
}

}  // namespace agnx::server::worker
