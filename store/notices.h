// Notices between the servers (replicas) that share one store: small,
// best-effort messages for what need not be durable, such as a job's live
// progress, "a job was submitted" or "job N was asked to stop". What must
// not be lost lives in the store's tables; a notice only says "look now" or
// carries what a follower may miss (TrackingStore::send_notice).
//
// Delivery: a notice sent while a subscription listens reaches it once, soon
// (milliseconds), after every earlier notice of the same sending thread. A
// subscription whose connection to the store was lost misses what is sent
// until it is connected again (it reconnects by itself). The sender's own
// subscriptions get its notices too: payloads say who sent them.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace agnx::store {

// The longest payload send_notice takes (PostgreSQL's NOTIFY allows just
// under 8000 bytes).
inline constexpr std::size_t kMaxNoticeBytes = 7900;

// Called with each notice's payload, on a thread of the store's own; it must
// return soon (it holds up the notices after it).
using NoticeHandler = std::function<void(std::string_view payload)>;

// Listens while it lives: its destructor returns once the handler is no
// longer running and will not be called again.
class NoticeSubscription {
 public:
  virtual ~NoticeSubscription() = default;
};

}  // namespace agnx::store
