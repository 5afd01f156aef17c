// PostgresNoticeListener: a NoticeSubscription (store/notices.h) on one
// PostgreSQL channel (LISTEN/NOTIFY). It keeps a connection of its own, apart
// from the store's pool, and waits on it on a thread of its own; while the
// server is out of reach it connects again every second (missing what is
// sent meanwhile, as store/notices.h allows).
//
// Thread safety: the handler runs on the listener's thread only.
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <string>
#include <thread>

#include "store/notices.h"

namespace agnx::store {

class PostgresNoticeListener final : public NoticeSubscription {
 public:
  // Listens to `channel` (an identifier) of the server `conninfo` names
  // (`display` in errors, without a password); returns once the first try
  // to connect and LISTEN is over, so notices sent after it are received
  // when that try succeeded.
  PostgresNoticeListener(std::string conninfo, std::string display, std::string channel, NoticeHandler handler);
  ~PostgresNoticeListener() override;
  PostgresNoticeListener(const PostgresNoticeListener&) = delete;
  PostgresNoticeListener& operator=(const PostgresNoticeListener&) = delete;

 private:
  // The thread: connect, LISTEN, hand each notice over; again on a loss.
  // `first_try` is set once the first connection listens or failed to.
  void listen(std::promise<void>& first_try);
  // Until the connection is lost or the listener stops; calls `listening`
  // once LISTEN succeeded or failed.
  void listen_on_one_connection(const std::function<void()>& listening);

  const std::string conninfo_;
  const std::string display_;
  const std::string channel_;
  const NoticeHandler handler_;
  const int wake_fd_;  // an eventfd, written by the destructor
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace agnx::store
