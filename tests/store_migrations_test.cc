#include "store/migrations.h"

#include <gtest/gtest.h>

#include "store/sqlite_store.h"
#include "tests/support/temp_dir.h"

namespace agnx::store {
namespace {

using testing::TempDir;

std::vector<std::string> labels(const std::vector<Migration>& migrations) {
  std::vector<std::string> out;
  for (const Migration& m : migrations) out.push_back(m.label());
  return out;
}

Result<std::unique_ptr<Connection>> open_db(const std::filesystem::path& path) {
  return Connection::open(path, Connection::Mode::kReadWrite, 1000, false);
}

TEST(Migrations, EmbeddedInOrderWithSql) {
  const auto& migrations = embedded_migrations();
  ASSERT_GE(migrations.size(), 4u);
  EXPECT_EQ(migrations[0].label(), "0001_tracking");
  EXPECT_EQ(migrations[1].label(), "0002_matching");
  EXPECT_EQ(migrations[2].label(), "0003_capture_details");
  EXPECT_EQ(migrations[3].label(), "0004_idempotency_keys");
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(migrations[i].version, static_cast<int>(i + 1));
    EXPECT_TRUE(migrations[i].sql.find("CREATE TABLE") != std::string::npos ||
                migrations[i].sql.find("ALTER TABLE") != std::string::npos ||
                migrations[i].sql.find("CREATE INDEX") != std::string::npos);
    EXPECT_EQ(migrations[i].checksum().size(), 64u);
  }
}

TEST(Migrations, FreshDatabaseDryRunThenApply) {
  TempDir dir;
  const auto db = dir.path() / "fresh.db";
  auto pending = pending_migrations(db);
  ASSERT_TRUE(pending.ok()) << pending.status().to_string();
  EXPECT_EQ(labels(*pending), labels(embedded_migrations()));
  EXPECT_FALSE(std::filesystem::exists(db)) << "a dry run must not create the database";

  auto applied = apply_migrations(db);
  ASSERT_TRUE(applied.ok()) << applied.status().to_string();
  EXPECT_EQ(labels(*applied), labels(embedded_migrations()));
  EXPECT_TRUE(pending_migrations(db)->empty());
  EXPECT_TRUE(apply_migrations(db)->empty()) << "applying twice is a no-op";

  auto connection = *open_db(db);
  auto count = *connection->prepare("SELECT count(*) FROM schema_migrations");
  ASSERT_TRUE(*count.step());
  EXPECT_EQ(count.int64(0), static_cast<int64_t>(embedded_migrations().size()));
}

TEST(Migrations, UpgradeFromOlderSchemaKeepsData) {
  TempDir dir;
  const auto db = dir.path() / "old.db";
  const std::vector<Migration> old_binary(embedded_migrations().begin(), embedded_migrations().begin() + 1);
  ASSERT_EQ(labels(*apply_migrations(db, old_binary)), std::vector<std::string>{"0001_tracking"});
  {
    auto connection = *open_db(db);
    ASSERT_TRUE(connection->exec("INSERT INTO experiments (name, creation_time, last_update_time) "
                                 "VALUES ('kept', 1, 1)").ok());
  }
  EXPECT_EQ(labels(*pending_migrations(db)),
            (std::vector<std::string>{"0002_matching", "0003_capture_details", "0004_idempotency_keys",
                                      "0005_search_indexes", "0006_job_leases"}));

  SqliteStoreOptions options;
  options.data_dir = dir.path() / "data";
  std::filesystem::create_directories(options.data_dir);
  std::filesystem::copy_file(db, SqliteTrackingStore::database_path(options.data_dir));
  auto store = SqliteTrackingStore::open(options);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  EXPECT_EQ((*store)->get_experiment_by_name("kept")->experiment_id, 1);
  EXPECT_TRUE((*store)->create_job("match", std::nullopt).ok()) << "0002's tables exist";
}

TEST(Migrations, RefusesStoreNewerThanBinary) {
  TempDir dir;
  const auto db = dir.path() / "newer.db";
  std::vector<Migration> newer_binary = embedded_migrations();
  newer_binary.push_back({99, "future", "CREATE TABLE future (x INTEGER);"});
  ASSERT_TRUE(apply_migrations(db, newer_binary).ok());
  for (const auto& result : {pending_migrations(db), apply_migrations(db)}) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(result.status().message().find("0099_future"), std::string::npos) << result.status().to_string();
    EXPECT_NE(result.status().message().find("newer than the binary"), std::string::npos);
  }
}

TEST(Migrations, RefusesEditedAppliedMigration) {
  TempDir dir;
  const auto db = dir.path() / "edited.db";
  ASSERT_TRUE(apply_migrations(db).ok());
  std::vector<Migration> edited = embedded_migrations();
  edited[0].sql += "\n-- an innocent comment\n";
  const auto result = apply_migrations(db, edited);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("0001_tracking was edited"), std::string::npos)
      << result.status().to_string();
}

TEST(Migrations, RefusesGapAndRollsBackFailingMigration) {
  TempDir dir;
  const auto db = dir.path() / "gap.db";
  std::vector<Migration> first_and_third = {{1, "a", "CREATE TABLE a (x);"}, {3, "c", "CREATE TABLE c (x);"}};
  ASSERT_TRUE(apply_migrations(db, first_and_third).ok());
  first_and_third.insert(first_and_third.begin() + 1, {2, "b", "CREATE TABLE b (x);"});
  const auto gap = apply_migrations(db, first_and_third);
  ASSERT_FALSE(gap.ok());
  EXPECT_NE(gap.status().message().find("0002_b"), std::string::npos) << gap.status().to_string();

  const auto other = dir.path() / "broken.db";
  const std::vector<Migration> broken = {{1, "a", "CREATE TABLE a (x);"},
                                         {2, "broken", "CREATE TABLE b (x); INSERT INTO nowhere VALUES (1);"}};
  const auto failed = apply_migrations(other, broken);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("applying schema migration 0002_broken"), std::string::npos)
      << failed.status().to_string();
  EXPECT_EQ(labels(*pending_migrations(other, broken)), std::vector<std::string>{"0002_broken"});
  auto connection = *open_db(other);
  auto table_b = *connection->prepare("SELECT count(*) FROM sqlite_master WHERE name = 'b'");
  ASSERT_TRUE(*table_b.step());
  EXPECT_EQ(table_b.int64(0), 0) << "the failing migration was rolled back whole";
}

TEST(Migrations, StoreRefusesToOpenNewerDatabase) {
  TempDir dir;
  std::vector<Migration> newer_binary = embedded_migrations();
  newer_binary.push_back({99, "future", "CREATE TABLE future (x INTEGER);"});
  ASSERT_TRUE(apply_migrations(SqliteTrackingStore::database_path(dir.path()), newer_binary).ok());
  SqliteStoreOptions options;
  options.data_dir = dir.path();
  const auto store = SqliteTrackingStore::open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace agnx::store
