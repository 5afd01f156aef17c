// ReaderPool: a fixed set of read-only connections handed out one caller at a
// time. read() runs a function inside a read transaction, so everything it
// reads comes from one consistent snapshot (WAL readers never block the
// writer, nor it them).
//
// Thread safety: every member may be called from any number of threads.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "core/status.h"
#include "store/sqlite.h"

namespace agnx::store {

class ReaderPool {
 public:
  static Result<std::unique_ptr<ReaderPool>> open(const std::filesystem::path& database, std::size_t size,
                                                  int busy_timeout_ms);

  // Runs `f(Connection&) -> Result<T>` or `-> Status` in a read transaction.
  template <typename F>
  auto read(F&& f) -> decltype(f(std::declval<Connection&>())) {
    Lease lease(*this);
    AGNX_RETURN_IF_ERROR(lease->run("BEGIN"));
    auto result = f(*lease);
    AGNX_RETURN_IF_ERROR(lease->run("COMMIT"));
    return result;
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
  ReaderPool() = default;

  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
};

}  // namespace agnx::store
