// WriteObserver: what a store's write path tells a monitor (agnx-server's
// /metrics), without the store knowing who listens.
//
// The SQLite store reports its group commits (store/group_commit.h); the
// PostgreSQL store runs each write in a transaction of its own and reports
// nothing.
//
// Thread safety: the calls come from the store's threads, under the write
// queue's lock: an implementation must be quick (e.g. atomics), must not
// block and must not call the store.
#pragma once

#include <cstddef>

namespace agnx::store {

class WriteObserver {
 public:
  virtual ~WriteObserver() = default;

  // `writes` (>= 1) queued writes were taken to share one transaction.
  virtual void write_group(std::size_t writes) = 0;
  // The writes waiting in the queue are now `depth`; called at every change.
  virtual void write_queue_depth(std::size_t depth) = 0;
};

}  // namespace agnx::store
