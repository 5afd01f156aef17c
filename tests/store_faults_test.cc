// The store under faults: a database locked by another connection beyond the
// busy timeout (writes wait and are written once, or fail UNAVAILABLE having
// written nothing), and a disk that fills up while an artifact is written or
// a transaction commits: RLIMIT_FSIZE (the kernel fails writes with EFBIG),
// and, where the test may mount one, a small tmpfs (ENOSPC).
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "store/reader_pool.h"
#include "store/sqlite_store.h"
#include "tests/support/data_dir_files.h"
#include "tests/support/file_size_limit.h"
#include "tests/support/private_tmpfs.h"
#include "tests/support/temp_dir.h"

namespace agnx::store {
namespace {

using namespace std::chrono_literals;
using testing::files_under;
using testing::largest_database_file;
using testing::fill_up;
using testing::mount_private_tmpfs;

std::unique_ptr<SqliteTrackingStore> open_store(const std::filesystem::path& dir, int busy_timeout_ms = 10000,
                                                int busy_deadline_ms = 30000) {
  SqliteStoreOptions options;
  options.data_dir = dir;
  options.synchronous_full = false;
  options.busy_timeout_ms = busy_timeout_ms;
  options.busy_deadline_ms = busy_deadline_ms;
  auto store = SqliteTrackingStore::open(options);
  EXPECT_TRUE(store.ok()) << store.status().to_string();
  return std::move(*store);
}

// Another writer: a connection of its own holding the database's write lock.
std::unique_ptr<Connection> lock_database(const std::filesystem::path& dir) {
  auto connection = Connection::open(SqliteTrackingStore::database_path(dir), Connection::Mode::kReadWrite, 0, false);
  EXPECT_TRUE(connection.ok()) << connection.status().to_string();
  EXPECT_TRUE((*connection)->exec("BEGIN IMMEDIATE").ok());
  return std::move(*connection);
}

RunBatch one_metric(int64_t step) { return {{{"m", 1.0, 1, step}}, {}, {}}; }

TEST(StoreFaults, AWriteLockedOutBeyondTheBusyTimeoutWaitsAndIsWrittenOnce) {
  testing::TempDir dir;
  auto store = open_store(dir.path(), /*busy_timeout_ms=*/20);
  const std::string run_id = store->create_run(*store->create_experiment("e"), "r", "u", 0)->run_id;
  auto other_writer = lock_database(dir.path());
  std::atomic<bool> returned{false};
  Status written;
  std::thread writer([&] {
    written = store->log_batch(run_id, one_metric(1), {"locked-out"});
    returned = true;
  });
  std::this_thread::sleep_for(400ms);  // 20 busy timeouts
  EXPECT_FALSE(returned.load()) << "the write returned while the database was locked: " << written.to_string();
  ASSERT_TRUE(other_writer->exec("COMMIT").ok());
  writer.join();
  EXPECT_TRUE(written.ok()) << written.to_string();
  EXPECT_EQ(store->get_metric_history(run_id, "m")->size(), 1u);
}

TEST(StoreFaults, AWriteLockedOutPastTheDeadlineFailsUnavailableHavingWrittenNothing) {
  testing::TempDir dir;
  auto store = open_store(dir.path(), /*busy_timeout_ms=*/20, /*busy_deadline_ms=*/300);
  const std::string run_id = store->create_run(*store->create_experiment("e"), "r", "u", 0)->run_id;
  {
    auto other_writer = lock_database(dir.path());
    const Status written = store->log_batch(run_id, one_metric(1), {"retry-later"});
    EXPECT_EQ(written.code(), StatusCode::kUnavailable) << written.to_string();
    EXPECT_NE(written.message().find("stayed locked for 300 ms"), std::string::npos) << written.message();
    EXPECT_NE(written.message().find("database is locked"), std::string::npos) << written.message();
  }
  EXPECT_TRUE(store->get_metric_history(run_id, "m")->empty());
  ASSERT_TRUE(store->log_batch(run_id, one_metric(1), {"retry-later"}).ok());  // the key was not taken
  EXPECT_EQ(store->get_metric_history(run_id, "m")->size(), 1u);
}

TEST(StoreFaults, ReadsLockedOutAreRetriedUntilTheDeadline) {
  testing::TempDir dir;
  open_store(dir.path());
  const auto database = SqliteTrackingStore::database_path(dir.path());
  auto pool = std::move(*ReaderPool::open(database, 1, 20, 2000ms));
  int attempts = 0;
  const Result<int> read = pool->read([&](Connection&) -> Result<int> {
    if (++attempts < 3) return Status::unavailable("sqlite: database is locked");
    return 42;
  });
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  EXPECT_EQ(*read, 42);
  EXPECT_EQ(attempts, 3);

  attempts = 0;
  const Status other = pool->read([&](Connection&) {
    ++attempts;
    return Status::not_found("no such run");
  });
  EXPECT_EQ(other.code(), StatusCode::kNotFound);
  EXPECT_EQ(attempts, 1);

  auto impatient = std::move(*ReaderPool::open(database, 1, 20, 50ms));
  const Status locked = impatient->read([](Connection&) { return Status::unavailable("sqlite: database is locked"); });
  EXPECT_EQ(locked.code(), StatusCode::kUnavailable);
  EXPECT_NE(locked.message().find("stayed locked for 50 ms"), std::string::npos) << locked.message();
}

TEST(StoreFaults, AnArtifactThatDoesNotFitLeavesNoFileAndTheStoreRecovers) {
  testing::TempDir dir;
  auto store = open_store(dir.path());
  const std::string run_id = store->create_run(*store->create_experiment("e"), "r", "u", 0)->run_id;
  const std::string content(256 << 10, 'x');
  {
    testing::FileSizeLimit disk_full_at(64 << 10);
    const auto stored = store->log_artifact(run_id, "big.bin", content);
    ASSERT_EQ(stored.status().code(), StatusCode::kResourceExhausted) << stored.status().to_string();
    EXPECT_NE(stored.status().message().find("artifact 'big.bin' of run '" + run_id + "'"), std::string::npos)
        << stored.status().message();
    EXPECT_NE(stored.status().message().find(std::strerror(EFBIG)), std::string::npos) << stored.status().message();
  }
  EXPECT_EQ(files_under(dir.path() / "artifacts"), 0u) << "a partial artifact file stayed behind";
  EXPECT_TRUE(store->list_artifacts(run_id)->empty());

  const auto stored = store->log_artifact(run_id, "big.bin", content);  // space is back
  ASSERT_TRUE(stored.ok()) << stored.status().to_string();
  EXPECT_EQ(*store->read_artifact(run_id, "big.bin"), content);
  EXPECT_EQ(files_under(dir.path() / "artifacts"), 1u);
}

TEST(StoreFaults, ACommitThatDoesNotFitFailsWholeWhileOtherWritesCommitAndTheStoreRecovers) {
  constexpr int kSmallWriters = 4;
  constexpr int kSmallWrites = 5;
  testing::TempDir dir;
  auto store = open_store(dir.path());
  const std::string run_id = store->create_run(*store->create_experiment("e"), "r", "u", 0)->run_id;
  RunBatch big;
  for (int i = 0; i < 100; ++i) big.params[std::to_string(1000 + i)] = std::string(40 << 10, 'v');  // 4 MiB
  {
    // The database may grow by 1 MiB: room for the small writes, not for the big one.
    testing::FileSizeLimit disk_full_at(largest_database_file(dir.path()) + (1 << 20));
    Status big_written;
    std::vector<std::thread> writers;
    writers.emplace_back([&] { big_written = store->log_batch(run_id, big, {"big"}); });
    std::atomic<int> small_failures{0};
    for (int w = 0; w < kSmallWriters; ++w) {
      writers.emplace_back([&, w] {
        for (int i = 0; i < kSmallWrites; ++i) {
          if (!store->log_batch(run_id, one_metric(w * kSmallWrites + i)).ok()) ++small_failures;
        }
      });
    }
    for (auto& writer : writers) writer.join();
    EXPECT_EQ(big_written.code(), StatusCode::kResourceExhausted) << big_written.to_string();
    EXPECT_NE(big_written.message().find("out of space"), std::string::npos) << big_written.message();
    EXPECT_EQ(small_failures.load(), 0);
    EXPECT_TRUE(store->get_run(run_id)->params.empty());
    EXPECT_EQ(store->get_metric_history(run_id, "m")->size(), std::size_t{kSmallWriters * kSmallWrites});
  }
  // Space is back: the same connection writes again, and nothing is torn.
  const Status big_written = store->log_batch(run_id, big, {"big"});
  ASSERT_TRUE(big_written.ok()) << big_written.to_string();
  ASSERT_TRUE(store->log_batch(run_id, one_metric(99)).ok());
  store.reset();
  store = open_store(dir.path());
  EXPECT_EQ(store->get_run(run_id)->params.size(), 100u);
  EXPECT_EQ(store->get_metric_history(run_id, "m")->size(), std::size_t{kSmallWriters * kSmallWrites + 1});
  auto check =
      Connection::open(SqliteTrackingStore::database_path(dir.path()), Connection::Mode::kReadOnly, 1000, false);
  ASSERT_TRUE(check.ok());
  auto integrity = (*check)->prepare("PRAGMA integrity_check");
  ASSERT_TRUE(integrity.ok() && integrity->step().ok());
  EXPECT_EQ(integrity->text(0), "ok");
}

TEST(StoreFaults, AFullDiskFailsWritesWholeWithNoSpaceAndTheStoreRecoversWhenSpaceReturns) {
  testing::TempDir dir;
  if (const std::string refused = mount_private_tmpfs(dir.path(), 8); !refused.empty()) {
    GTEST_SKIP() << "a private tmpfs needs root (CAP_SYS_ADMIN); " << refused;
  }
  const auto data = dir.path() / "data";
  auto store = open_store(data);
  const std::string run_id = store->create_run(*store->create_experiment("e"), "r", "u", 0)->run_id;
  ASSERT_TRUE(store->log_batch(run_id, one_metric(0)).ok());
  RunBatch big;
  for (int i = 0; i < 100; ++i) big.params[std::to_string(1000 + i)] = std::string(4 << 10, 'v');
  const std::string content(256 << 10, 'a');

  const auto filler = dir.path() / "filler";
  ASSERT_EQ(fill_up(filler), "");
  const auto stored = store->log_artifact(run_id, "big.bin", content);
  EXPECT_EQ(stored.status().code(), StatusCode::kResourceExhausted) << stored.status().to_string();
  EXPECT_NE(stored.status().message().find(std::strerror(ENOSPC)), std::string::npos) << stored.status().message();
  EXPECT_EQ(files_under(data / "artifacts"), 0u) << "a partial artifact file stayed behind";
  const Status batch = store->log_batch(run_id, big);
  EXPECT_EQ(batch.code(), StatusCode::kResourceExhausted) << batch.to_string();
  EXPECT_NE(batch.message().find("out of space"), std::string::npos) << batch.message();
  EXPECT_TRUE(store->get_run(run_id)->params.empty());
  EXPECT_TRUE(store->list_artifacts(run_id)->empty());

  std::filesystem::remove(filler);  // space returns
  ASSERT_TRUE(store->log_artifact(run_id, "big.bin", content).ok());
  const Status logged = store->log_batch(run_id, big);
  ASSERT_TRUE(logged.ok()) << logged.to_string();
  store.reset();
  store = open_store(data);
  EXPECT_EQ(store->get_run(run_id)->params.size(), 100u);
  EXPECT_EQ(*store->read_artifact(run_id, "big.bin"), content);
  store.reset();
  ::umount2(dir.path().c_str(), MNT_DETACH);
}

}  // namespace
}  // namespace agnx::store
