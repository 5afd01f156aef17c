#include "store/postgres_notices.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <utility>

#include "store/postgres.h"

namespace agnx::store {
namespace {

constexpr auto kReconnectEvery = std::chrono::seconds(1);
constexpr auto kLongestWait = std::chrono::seconds(5);  // a silent connection is checked this often

}  // namespace

PostgresNoticeListener::PostgresNoticeListener(std::string conninfo, std::string display, std::string channel,
                                               NoticeHandler handler)
    : conninfo_(std::move(conninfo)),
      display_(std::move(display)),
      channel_(std::move(channel)),
      handler_(std::move(handler)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      thread_() {
  std::promise<void> first_try;
  thread_ = std::thread([this, &first_try] { listen(first_try); });
  first_try.get_future().wait();
}

PostgresNoticeListener::~PostgresNoticeListener() {
  stopping_ = true;
  const uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) < 0) std::perror("agnx: waking the notice listener");
  thread_.join();
  ::close(wake_fd_);
}

void PostgresNoticeListener::listen(std::promise<void>& first_try) {
  bool first = true;
  const auto listening = [&] {
    if (std::exchange(first, false)) first_try.set_value();
  };
  while (!stopping_) {
    listen_on_one_connection(listening);
    listening();
    pollfd wake{wake_fd_, POLLIN, 0};
    ::poll(&wake, 1, static_cast<int>(std::chrono::milliseconds(kReconnectEvery).count()));
  }
}

void PostgresNoticeListener::listen_on_one_connection(const std::function<void()>& listening) {
  auto connection = pg::Connection::open(conninfo_, display_);
  if (!connection.ok()) return;
  if (!(*connection)->exec("LISTEN " + channel_).ok()) return;
  listening();
  while (!stopping_) {
    auto payloads = (*connection)->wait_for_notices(kLongestWait, wake_fd_);
    if (!payloads.ok()) return;
    for (const std::string& payload : *payloads) handler_(payload);
  }
}

}  // namespace agnx::store
