#include "store/reader_pool.h"

namespace agnx::store {

Result<std::unique_ptr<ReaderPool>> ReaderPool::open(const std::filesystem::path& database, std::size_t size,
                                                     int busy_timeout_ms, std::chrono::milliseconds busy_deadline) {
  std::unique_ptr<ReaderPool> pool(new ReaderPool(busy_deadline));
  for (std::size_t i = 0; i < std::max<std::size_t>(size, 1); ++i) {
    AGNX_ASSIGN_OR_RETURN(auto connection,
                          Connection::open(database, Connection::Mode::kReadOnly, busy_timeout_ms, false));
    pool->idle_.push_back(std::move(connection));
  }
  return pool;
}

ReaderPool::Lease::Lease(ReaderPool& pool) : pool_(pool) {
  std::unique_lock lock(pool_.mutex_);
  pool_.available_.wait(lock, [this] { return !pool_.idle_.empty(); });
  connection_ = std::move(pool_.idle_.back());
  pool_.idle_.pop_back();
}

ReaderPool::Lease::~Lease() {
  if (sqlite3_get_autocommit(connection_->handle()) == 0) connection_->exec("ROLLBACK");
  {
    std::lock_guard lock(pool_.mutex_);
    pool_.idle_.push_back(std::move(connection_));
  }
  pool_.available_.notify_one();
}

}  // namespace agnx::store
