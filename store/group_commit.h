// GroupCommitWriter: the store's one writing connection. Concurrent writes
// are queued and the writer thread runs whatever has queued up in ONE
// transaction, each write inside its own SAVEPOINT: a failing write is rolled
// back to its savepoint and reports its error without touching the others.
// submit() returns only after the transaction holding the write has committed
// (or with the error that prevented it): an acknowledged write is durable,
// a failed one left nothing behind.
//
// Faults. A transaction locked out by another process (kUnavailable) is run
// again, with backoff, until `busy_deadline`; then its writes fail with
// kUnavailable. When a write makes SQLite abandon the transaction (disk full,
// I/O error), that write fails and the others run again without it; when the
// COMMIT itself fails, each write of the group is committed on its own, so
// only the ones that cannot be written fail.
//
// Monitoring: an observer (store/write_observer.h) hears of every group and
// of the queue's depth.
//
// Thread safety: submit() and set_observer() may be called from any number
// of threads; the write functions run on the writer thread, one at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/status.h"
#include "store/sqlite.h"
#include "store/write_observer.h"

namespace agnx::store {

class GroupCommitWriter {
 public:
  // A write: statements on the connection, inside a transaction it must not
  // end. It may run more than once (when its transaction is run again), so
  // it must set, not accumulate, what it reports to its caller.
  using Write = std::function<Status(Connection&)>;

  // Takes over `connection`; at most `max_group` writes share a transaction.
  GroupCommitWriter(std::unique_ptr<Connection> connection, std::size_t max_group,
                    std::chrono::milliseconds busy_deadline);
  // Finishes the queued writes, then stops the thread.
  ~GroupCommitWriter();
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // Runs `write` in the next group and returns its status once committed.
  Status submit(Write write);

  // Reports to `observer` from now on (null: to nobody). It must stay valid
  // while writes may run: set null before it goes away.
  void set_observer(WriteObserver* observer) { observer_.store(observer); }

 private:
  struct Request;
  // How a transaction ended: OK (committed), or the error that ended it and
  // the write that caused it (nullptr: BEGIN or COMMIT failed).
  struct Outcome {
    Status failure;
    Request* culprit = nullptr;
  };

  void run();
  void commit_group(std::vector<Request*> group);
  Outcome run_transaction(const std::vector<Request*>& group);
  // Tells the observer of the queue's depth; called with mutex_ held.
  void report_depth();

  std::unique_ptr<Connection> connection_;
  const std::size_t max_group_;
  const std::chrono::milliseconds busy_deadline_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Request*> queue_;  // guarded by mutex_
  bool stopping_ = false;       // guarded by mutex_
  std::atomic<WriteObserver*> observer_{nullptr};
  std::thread thread_;
};

}  // namespace agnx::store
