// What only the PostgreSQL backend does: its migrations stay in step with
// SQLite's, run once under concurrent opens and refuse a newer database;
// its store URIs; its errors (SQLSTATEs, an unreachable server, a wrong
// password, a server out of connections, lost pooled connections);
// concurrent batches on one run; a job locked by a stalled transaction. The
// contract itself runs in store_test (Backends/StoreContract.*/postgres).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <thread>

#include "store/migrations.h"
#include "store/open_store.h"
#include "store/postgres.h"
#include "store/postgres_migrations.h"
#include "store/postgres_store.h"
#include "tests/support/postgres_cluster.h"
#include "tests/support/postgres_database_test.h"
#include "tests/support/temp_dir.h"

namespace agnx::store {
namespace {

using testing::PostgresCluster;
using testing::TempDir;

// Per table, per column: NOT NULL.
using Columns = std::map<std::string, std::map<std::string, bool>>;

std::vector<std::string> labels(const std::vector<Migration>& migrations) {
  std::vector<std::string> out;
  for (const Migration& m : migrations) out.push_back(m.label());
  return out;
}

// A fresh database of the shared cluster (and connect() to it).
using PostgresTest = testing::PostgresDatabaseTest;

TEST(PostgresMigrations, SameVersionsAndNamesAsSqlite) {
  EXPECT_EQ(labels(embedded_postgres_migrations()), labels(embedded_migrations()));
}

Columns sqlite_columns(const std::filesystem::path& database) {
  Columns columns;
  auto db = Connection::open(database, Connection::Mode::kReadOnly, 1000, false);
  EXPECT_TRUE(db.ok()) << db.status().to_string();
  auto stmt = (*db)->prepare("SELECT m.name, p.name, p.\"notnull\", p.pk FROM sqlite_master m "
                             "JOIN pragma_table_info(m.name) p WHERE m.type = 'table'");
  EXPECT_TRUE(stmt.ok()) << stmt.status().to_string();
  while (*stmt->step()) columns[stmt->text(0)][stmt->text(1)] = stmt->int64(2) != 0 || stmt->int64(3) != 0;
  return columns;
}

Columns postgres_columns(pg::Connection& db) {
  Columns columns;
  auto rows = db.exec("SELECT table_name, column_name, is_nullable FROM information_schema.columns "
                      "WHERE table_schema = 'public'");
  EXPECT_TRUE(rows.ok()) << rows.status().to_string();
  for (int i = 0; i < rows->size(); ++i) columns[(*rows)[i].text(0)][(*rows)[i].text(1)] = (*rows)[i].text(2) == "NO";
  return columns;
}

TEST_F(PostgresTest, MigrationsYieldTheSameTablesAndColumnsAsSqlite) {
  const auto sqlite_db = dir_.path() / "tracking.db";
  ASSERT_TRUE(apply_migrations(sqlite_db).ok());
  auto db = connect();
  ASSERT_TRUE(db);
  ASSERT_TRUE(apply_postgres_migrations(*db).ok());
  Columns postgres = postgres_columns(*db);
  // SQLite's hidden rowid orders the metric history; PostgreSQL names it.
  ASSERT_TRUE(postgres["metrics"].erase("seq"));
  EXPECT_EQ(postgres, sqlite_columns(sqlite_db));
}

TEST_F(PostgresTest, ConcurrentMigratorsApplyEachMigrationOnce) {
  std::vector<std::size_t> applied(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < applied.size(); ++i) {
    threads.emplace_back([&, i] {
      auto db = pg::Connection::open(cluster_->conninfo(database_), database_);
      ASSERT_TRUE(db.ok());
      auto done = apply_postgres_migrations(**db);
      ASSERT_TRUE(done.ok()) << done.status().to_string();
      applied[i] = done->size();
    });
  }
  for (std::thread& t : threads) t.join();
  std::sort(applied.begin(), applied.end());
  EXPECT_EQ(applied, (std::vector<std::size_t>{0, 0, 0, embedded_postgres_migrations().size()}));
  auto db = connect();
  EXPECT_TRUE(pending_postgres_migrations(*db)->empty());
}

TEST_F(PostgresTest, MigrateStoreDryRunThenApply) {
  const std::string uri = cluster_->store_uri(database_, dir_.path());
  EXPECT_EQ(*migrate_store(uri, true), labels(embedded_postgres_migrations()));
  EXPECT_EQ(*migrate_store(uri, false), labels(embedded_postgres_migrations()));
  EXPECT_TRUE(migrate_store(uri, true)->empty());
}

TEST_F(PostgresTest, RefusesDatabaseNewerThanBinary) {
  std::vector<Migration> newer_binary = embedded_postgres_migrations();
  newer_binary.push_back({99, "future", "CREATE TABLE future (x bigint);"});
  auto db = connect();
  ASSERT_TRUE(apply_postgres_migrations(*db, newer_binary).ok());
  const auto store = open_store(cluster_->store_uri(database_, dir_.path()));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("0099_future"), std::string::npos) << store.status().to_string();
  EXPECT_NE(store.status().message().find("newer than the binary"), std::string::npos);
}

TEST_F(PostgresTest, ConcurrentBatchesOnOneRunNeitherDeadlockNorLoseRows) {
  auto store = open_store(cluster_->store_uri(database_, dir_.path()));
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  TrackingStore& tracking = **store;
  const int64_t experiment = *tracking.create_experiment("e");
  const std::string run_id = tracking.create_run(experiment, "r", "u", 1)->run_id;
  constexpr int kThreads = 8, kMetrics = 200;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RunBatch batch;
      for (int i = 0; i < kMetrics; ++i) {  // the same keys, in a different order per thread
        const int k = t % 2 == 0 ? i : kMetrics - 1 - i;
        batch.metrics.push_back({std::string("m").append(std::to_string(k % 50)), double(t), int64_t{t}, int64_t{i}});
      }
      batch.tags = {{"a", std::to_string(t)}, {"b", std::to_string(t)}};
      batch.params = {{"same", "1"}};
      if (!tracking.log_batch(run_id, batch).ok()) ++failures;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(tracking.get_metric_history(run_id, "m7")->size(), std::size_t{kThreads * kMetrics / 50});
  EXPECT_EQ(tracking.get_run(run_id)->metrics.size(), 50u);
}

TEST_F(PostgresTest, LostPooledConnectionsAreReplaced) {
  auto store = open_store(cluster_->store_uri(database_, dir_.path()));
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  const int64_t experiment = *(*store)->create_experiment("e");
  auto admin = connect();
  ASSERT_TRUE(admin->exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 "
                          "AND pid <> pg_backend_pid()",
                          pg::Params().add(database_))
                  .ok());
  const auto again = (*store)->get_experiment(experiment);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->name, "e");
  EXPECT_TRUE((*store)->create_run(experiment, "r", "u", 1).ok());
}

TEST_F(PostgresTest, DeferredBeginAndPreparedStatementsSurviveFailures) {
  auto db = connect();
  ASSERT_TRUE(db->exec("CREATE TABLE t (k text PRIMARY KEY)").ok());
  const std::string insert = "INSERT INTO t (k) VALUES ($1)";
  // Refused before anything is sent: the statement is not taken as prepared.
  db->begin("BEGIN");
  EXPECT_EQ(db->exec_prepared(insert, pg::Params().add(std::string("a\0b", 3))).status().code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(db->end("ROLLBACK").ok());
  // A failed statement rolls back the transaction its BEGIN started; the
  // prepared statement stays usable.
  db->begin("BEGIN");
  ASSERT_TRUE(db->exec_prepared(insert, pg::Params().add("a")).ok());
  EXPECT_EQ(db->exec_prepared(insert, pg::Params().add("a")).status().code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(db->end("ROLLBACK").ok());
  db->begin("BEGIN");
  ASSERT_TRUE(db->exec_prepared(insert, pg::Params().add("b")).ok());
  ASSERT_TRUE(db->end("COMMIT").ok());
  // A transaction that ran no statement sends nothing.
  db->begin("BEGIN");
  ASSERT_TRUE(db->end("COMMIT").ok());
  const auto rows = db->exec("SELECT string_agg(k, ',') FROM t");
  ASSERT_TRUE(rows.ok()) << rows.status().to_string();
  EXPECT_EQ((*rows)[0].text(0), "b");
  EXPECT_TRUE(db->usable());
}

TEST_F(PostgresTest, BackupPointsToPgDumpAndGcWorks) {
  auto store = open_store(cluster_->store_uri(database_, dir_.path()));
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  const Status backup = (*store)->backup(dir_.path() / "copy");
  EXPECT_EQ(backup.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(backup.message().find("pg_dump"), std::string::npos);
  EXPECT_EQ(*(*store)->gc(std::chrono::seconds(0)), 0);
}

// Replicas may each run gc: one at a time, the others refuse at once.
TEST_F(PostgresTest, GcRefusesWhileAnotherGcHoldsItsLock) {
  auto store = open_store(cluster_->store_uri(database_, dir_.path()));
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  auto other = connect();
  ASSERT_TRUE(other->exec("SELECT pg_advisory_lock($1)", pg::Params().add(kGcLockKey)).ok());
  const auto refused = (*store)->gc(std::chrono::seconds(0));
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("another gc"), std::string::npos) << refused.status().to_string();
  ASSERT_TRUE(other->exec("SELECT pg_advisory_unlock($1)", pg::Params().add(kGcLockKey)).ok());
  EXPECT_TRUE((*store)->gc(std::chrono::seconds(0)).ok());
  // gc released its lock: another session gets it.
  const auto taken = other->exec("SELECT pg_try_advisory_lock($1)", pg::Params().add(kGcLockKey));
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ((*taken)[0].text(0), "t");
}

TEST_F(PostgresTest, AServerOutOfConnectionsIsResourceExhausted) {
  auto db = connect();
  ASSERT_TRUE(db->exec("CREATE ROLE limited LOGIN CONNECTION LIMIT 1").ok());
  const std::string conninfo = cluster_->conninfo(database_) + " user=limited";
  auto first = pg::Connection::open(conninfo, "limited");
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  const auto second = pg::Connection::open(conninfo, "limited");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kResourceExhausted) << second.status().to_string();
}

TEST(PostgresStoreUri, DataDirConnectTimeoutAndRedaction) {
  const auto location = parse_store_uri("postgresql://agnx:s3cret@db.example:5433/agnx?sslmode=require&data_dir=/srv/agnx");
  ASSERT_TRUE(location.ok()) << location.status().to_string();
  EXPECT_EQ(location->scheme, "postgresql");
  EXPECT_EQ(location->directory, "/srv/agnx");
  EXPECT_EQ(location->conninfo, "postgresql://agnx:s3cret@db.example:5433/agnx?sslmode=require&connect_timeout=10");
  EXPECT_EQ(location->display, "postgresql://agnx:***@db.example:5433/agnx?sslmode=require&data_dir=/srv/agnx");
  EXPECT_EQ(parse_store_uri("postgres:///db?data_dir=d&connect_timeout=3")->conninfo, "postgres:///db?connect_timeout=3");
  EXPECT_EQ(redact_store_uri("postgresql://u@h/db?password=p&x=1"), "postgresql://u@h/db?password=***&x=1");
  const auto no_dir = parse_store_uri("postgresql://u:pw@h/db");
  ASSERT_FALSE(no_dir.ok());
  EXPECT_EQ(no_dir.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_dir.status().message().find("data_dir"), std::string::npos);
  EXPECT_EQ(no_dir.status().message().find("pw"), std::string::npos) << no_dir.status().message();
}

TEST(PostgresStoreUri, PoolSizeIsTheStoresAndNotPassedToLibpq) {
  EXPECT_EQ(parse_store_uri("postgresql:///db?data_dir=d")->pool_size, kDefaultPoolSize);
  const auto location = parse_store_uri("postgresql:///db?pool_size=32&data_dir=d&sslmode=disable");
  ASSERT_TRUE(location.ok()) << location.status().to_string();
  EXPECT_EQ(location->pool_size, 32u);
  EXPECT_EQ(location->conninfo, "postgresql:///db?sslmode=disable&connect_timeout=10");
  for (const char* bad : {"0", "1001", "8x", "", "-1"}) {
    const auto refused = parse_store_uri(std::string("postgresql:///db?data_dir=d&pool_size=") + bad);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(refused.status().message().find("pool_size"), std::string::npos) << refused.status().message();
  }
}

TEST(PostgresStoreUri, AnUnreachableServerFailsFastNamingTheUrl) {
  TempDir dir;
  const auto began = std::chrono::steady_clock::now();
  const auto store = open_store("postgresql://agnx:s3cret@127.0.0.1:1/agnx?connect_timeout=2&data_dir=" +
                                dir.path().string());
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(5));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(store.status().message().find("postgresql://agnx:***@127.0.0.1:1/agnx"), std::string::npos)
      << store.status().message();
  EXPECT_EQ(store.status().message().find("s3cret"), std::string::npos);
}

// The cluster's kPasswordRole must give its password; the right one opens the store.
TEST_F(PostgresTest, AWrongPasswordFailsAtOnceNamingTheUrlButNotThePassword) {
  const auto began = std::chrono::steady_clock::now();
  const auto refused = open_store(cluster_->password_store_uri(database_, dir_.path(), "wrong-s3cret"));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::printf("a wrong password failed after %.3f s\n", seconds);
  EXPECT_LT(seconds, 5.0) << "well within the default connect_timeout of " << kDefaultConnectTimeoutSeconds << " s";
  ASSERT_FALSE(refused.ok());
  const std::string message = refused.status().message();
  EXPECT_NE(message.find("postgresql://" + std::string(PostgresCluster::kPasswordRole) + ":***@/" + database_),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("password authentication failed"), std::string::npos) << message;
  EXPECT_EQ(message.find("wrong-s3cret"), std::string::npos) << message;

  auto accepted = open_store(cluster_->password_store_uri(database_, dir_.path(), PostgresCluster::kPassword));
  ASSERT_TRUE(accepted.ok()) << accepted.status().to_string();
  EXPECT_TRUE((*accepted)->create_experiment("e").ok());
}

// A wrong password does not get better by itself: not kUnavailable, which
// tells a caller to try again (the retrying client, a replica that keeps
// its job leases while the store is out of reach).
TEST_F(PostgresTest, AWrongPasswordIsAFailedPreconditionNotUnavailable) {
  const auto refused = open_store(cluster_->password_store_uri(database_, dir_.path(), "wrong-s3cret"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition) << refused.status().to_string();
}

// A replica stopped inside a transaction (SIGSTOP, a stalled host) holds
// the row locks it took; claims skip locked jobs, so without a limit on idle
// transactions its job would never be taken over. The server ends such a
// transaction after kLongestIdleTransaction and the job is claimed.
TEST_F(PostgresTest, AJobLockedByAStalledTransactionIsClaimedOnceThatTransactionTimesOut) {
  using Clock = std::chrono::steady_clock;
  auto store = open_store(cluster_->store_uri(database_, dir_.path()));
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  const auto job_id = (*store)->create_job("matching", std::nullopt);
  ASSERT_TRUE(job_id.ok()) << job_id.status().to_string();
  const auto first = (*store)->claim_job("r1", std::chrono::milliseconds(1), 3);
  ASSERT_TRUE(first.ok() && first->has_value()) << first.status().to_string();

  auto stalled = connect();
  ASSERT_TRUE(stalled->exec("BEGIN").ok());
  ASSERT_TRUE(stalled->exec("SELECT job_id FROM jobs WHERE job_id = $1 FOR UPDATE", pg::Params().add(*job_id)).ok());
  const auto locked = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // r1's 1 ms lease has expired
  const auto while_locked = (*store)->claim_job("r2", std::chrono::seconds(30), 3);
  ASSERT_TRUE(while_locked.ok()) << while_locked.status().to_string();
  EXPECT_FALSE(while_locked->has_value()) << "a locked job is skipped, not waited for";

  std::optional<ClaimedJob> taken_over;
  while (!taken_over && Clock::now() - locked < pg::kLongestIdleTransaction + std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto claimed = (*store)->claim_job("r2", std::chrono::seconds(30), 3);
    ASSERT_TRUE(claimed.ok()) << claimed.status().to_string();
    taken_over = *claimed;
  }
  ASSERT_TRUE(taken_over.has_value()) << "the stalled transaction still holds job " << *job_id;
  const double seconds = std::chrono::duration<double>(Clock::now() - locked).count();
  std::printf("the job was taken over %.2f s after the stalled transaction locked it\n", seconds);
  EXPECT_GE(seconds, 0.9 * std::chrono::duration<double>(pg::kLongestIdleTransaction).count());
  EXPECT_EQ(taken_over->job.job_id, *job_id);
  EXPECT_EQ(taken_over->job.attempts, 2);
  const auto after = stalled->exec("SELECT 1");
  EXPECT_FALSE(after.ok()) << "the server ended the stalled session";
}

TEST(PostgresErrors, SqlstatesMapToStatusCodes) {
  EXPECT_EQ(pg::status_of_sqlstate("23505", "dup").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(pg::status_of_sqlstate("40001", "serialization").code(), StatusCode::kAborted);
  EXPECT_EQ(pg::status_of_sqlstate("40P01", "deadlock").code(), StatusCode::kAborted);
  EXPECT_EQ(pg::status_of_sqlstate("53300", "too many").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(pg::status_of_sqlstate("53100", "disk full").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(pg::status_of_sqlstate("08006", "lost").code(), StatusCode::kUnavailable);
  EXPECT_EQ(pg::status_of_sqlstate("57P01", "shutdown").code(), StatusCode::kUnavailable);
  EXPECT_EQ(pg::status_of_sqlstate("23503", "foreign key").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pg::status_of_sqlstate("42P01", "no table").code(), StatusCode::kInternal);
  EXPECT_NE(pg::status_of_sqlstate("23505", "dup").message().find("SQLSTATE 23505"), std::string::npos);
}

}  // namespace
}  // namespace agnx::store
