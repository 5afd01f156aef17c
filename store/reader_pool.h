// ReaderPool: a fixed set of read-only connections handed out one caller at a
// time. read() runs a function inside a read transaction, so everything it
// reads comes from one consistent snapshot (WAL readers never block the
// writer, nor it them). A read locked out by another process (one holding the
// database exclusively) is retried until the pool's busy deadline.
//
// Thread safety: every member may be called from any number of threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "core/status.h"
#include "store/busy_retry.h"
#include "store/sqlite.h"

namespace agnx::store {

class ReaderPool {
 public:
  static Result<std::unique_ptr<ReaderPool>> open(const std::filesystem::path& database, std::size_t size,
                                                  int busy_timeout_ms, std::chrono::milliseconds busy_deadline);

  // Runs `f(Connection&) -> Result<T>` or `-> Status` in a read transaction,
  // again (in a new one) while it fails with kUnavailable, up to the busy
  // deadline. `f` may run more than once, so it must not accumulate state
  // across calls.
  template <typename F>
  auto read(F&& f) -> decltype(f(std::declval<Connection&>())) {
    Lease lease(*this);
    BusyRetry retry(busy_deadline_);
    while (true) {
      auto result = read_in_transaction(*lease, f);
      if (status_of(result).ok()) return result;
      if (!retry.again(status_of(result))) return retry.given_up(status_of(result));
    }
  }

  // Exclusive use of one connection until destruction.
  class Lease {
   public:
    explicit Lease(ReaderPool& pool);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection* operator->() const { return connection_.get(); }
    Connection& operator*() const { return *connection_; }

   private:
    ReaderPool& pool_;
    std::unique_ptr<Connection> connection_;
  };

 private:
  explicit ReaderPool(std::chrono::milliseconds busy_deadline) : busy_deadline_(busy_deadline) {}

  template <typename F>
  static auto read_in_transaction(Connection& db, F& f) -> decltype(f(db)) {
    AGNX_RETURN_IF_ERROR(db.run("BEGIN"));
    auto result = f(db);
    const Status ended = db.run("COMMIT");  // also after a failure: ends the snapshot
    if (ended.ok()) return result;
    db.exec("ROLLBACK");
    if (!status_of(result).ok()) return result;
    return ended;
  }

  const std::chrono::milliseconds busy_deadline_;

  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
};

}  // namespace agnx::store
