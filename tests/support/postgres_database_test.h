// PostgresDatabaseTest: a gtest fixture with a fresh database of the test
// binary's shared PostgreSQL cluster (postgres_cluster.h) and a temporary
// directory; skipped (failed under CI=true) where PostgreSQL is missing.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "store/postgres.h"
#include "tests/support/postgres_cluster.h"
#include "tests/support/temp_dir.h"

namespace agnx::testing {

class PostgresDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AGNX_SKIP_WITHOUT_POSTGRES();
    auto cluster = PostgresCluster::shared();
    ASSERT_TRUE(cluster.ok()) << cluster.status().to_string();
    cluster_ = *cluster;
    auto database = cluster_->create_database();
    ASSERT_TRUE(database.ok()) << database.status().to_string();
    database_ = *database;
  }

  // A connection of its own to the database; null (and a failure) if none.
  std::unique_ptr<store::pg::Connection> connect() {
    auto connection = store::pg::Connection::open(cluster_->conninfo(database_), database_);
    EXPECT_TRUE(connection.ok()) << connection.status().to_string();
    return connection.ok() ? std::move(*connection) : nullptr;
  }

  PostgresCluster* cluster_ = nullptr;
  std::string database_;
  TempDir dir_;
};

}  // namespace agnx::testing
