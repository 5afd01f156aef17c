// Notices between the replicas of a store (store/notices.h): on PostgreSQL,
// a notice reaches every subscription of every store on the database, in
// the order it was sent, and none after its subscription ended; a listener
// whose connection is cut listens again by itself; an oversize payload is
// refused. On SQLite, which one server has to itself, there is no one to
// tell.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/open_store.h"
#include "store/postgres.h"
#include "tests/support/postgres_database_test.h"
#include "tests/support/temp_dir.h"

namespace agnx::store {
namespace {

using testing::TempDir;

// The payloads a subscription received, to wait for.
class Received {
 public:
  NoticeHandler handler() {
    return [this](std::string_view payload) {
      {
        std::lock_guard lock(mutex_);
        payloads_.emplace_back(payload);
      }
      arrived_.notify_all();
    };
  }
  // The payloads once there are `count` of them, or after 10 s.
  std::vector<std::string> wait_for(std::size_t count) {
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, std::chrono::seconds(10), [&] { return payloads_.size() >= count; });
    return payloads_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<std::string> payloads_;
};

class PostgresNotices : public testing::PostgresDatabaseTest {
 protected:
  std::unique_ptr<TrackingStore> open(const std::string& name) {
    auto store = open_store(cluster_->store_uri(database_, dir_.path() / name));
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    return store.ok() ? std::move(*store) : nullptr;
  }
};

TEST_F(PostgresNotices, ReachEverySubscriptionOfEveryStoreInOrder) {
  auto sender = open("a");
  auto other = open("b");
  ASSERT_TRUE(sender && other);
  Received own, elsewhere;
  const auto own_subscription = sender->subscribe_notices(own.handler());
  const auto other_subscription = other->subscribe_notices(elsewhere.handler());
  ASSERT_TRUE(own_subscription && other_subscription);
  const std::vector<std::string> sent = {"first", "second", std::string(kMaxNoticeBytes, 'x')};
  for (const std::string& payload : sent) ASSERT_TRUE(sender->send_notice(payload).ok());
  EXPECT_EQ(elsewhere.wait_for(sent.size()), sent);
  EXPECT_EQ(own.wait_for(sent.size()), sent);
}

TEST_F(PostgresNotices, NoneArriveAfterTheSubscriptionEnds) {
  auto store = open("a");
  ASSERT_TRUE(store);
  Received ended, listening;
  auto subscription = store->subscribe_notices(ended.handler());
  const auto still = store->subscribe_notices(listening.handler());
  ASSERT_TRUE(store->send_notice("before").ok());
  ASSERT_EQ(ended.wait_for(1).size(), 1u);
  subscription.reset();
  ASSERT_TRUE(store->send_notice("after").ok());
  ASSERT_EQ(listening.wait_for(2).size(), 2u);  // "after" was delivered by now
  EXPECT_EQ(ended.wait_for(1), std::vector<std::string>{"before"});
}

TEST_F(PostgresNotices, AListenerWhoseConnectionIsCutListensAgain) {
  auto store = open("a");
  ASSERT_TRUE(store);
  Received received;
  const auto subscription = store->subscribe_notices(received.handler());
  const auto admin = connect();
  ASSERT_TRUE(admin);
  const auto cut = admin->exec("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE datname = $1 AND query LIKE 'LISTEN %'",
                               pg::Params().add(database_));
  ASSERT_TRUE(cut.ok()) << cut.status().to_string();
  ASSERT_EQ((*cut)[0].int64(0), 1) << "the listener's connection was not found";
  // Sent until one arrives: those sent before it listens again are missed.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::size_t sent = 0;
  while (received.wait_for(0).empty() && std::chrono::steady_clock::now() < deadline) {
    (void)store->send_notice("again " + std::to_string(++sent));  // a pooled connection may be cut as well
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(received.wait_for(0).empty()) << "nothing arrived after the cut, " << sent << " sent";
}

TEST_F(PostgresNotices, AnOversizePayloadIsRefused) {
  auto store = open("a");
  ASSERT_TRUE(store);
  const Status refused = store->send_notice(std::string(kMaxNoticeBytes + 1, 'x'));
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("notice payload"), std::string::npos) << refused.to_string();
}

TEST(SqliteNotices, AStoreOfOneServerHasNoOneToTell) {
  TempDir dir;
  auto store = open_store(dir.path().string());
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  EXPECT_TRUE((*store)->send_notice("nobody listens").ok());
  EXPECT_EQ((*store)->subscribe_notices([](std::string_view) {}), nullptr);
}

}  // namespace
}  // namespace agnx::store
