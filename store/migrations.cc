#include "store/migrations.h"

#include <map>

#include "core/clock.h"

namespace agnx::store {
namespace {

constexpr int kBusyTimeoutMs = 10000;

// What the database recorded; nothing if it has no schema_migrations table.
Result<std::map<int, AppliedMigration>> applied_migrations(Connection& connection) {
  std::map<int, AppliedMigration> applied;
  {
    AGNX_ASSIGN_OR_RETURN(Statement exists, connection.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                                               "AND name = 'schema_migrations'"));
    AGNX_ASSIGN_OR_RETURN(const bool found, exists.step());
    if (!found) return applied;
  }
  AGNX_ASSIGN_OR_RETURN(Statement stmt, connection.prepare("SELECT version, name, checksum FROM schema_migrations"));
  while (true) {
    AGNX_ASSIGN_OR_RETURN(const bool row, stmt.step());
    if (!row) return applied;
    applied[static_cast<int>(stmt.int64(0))] = {stmt.text(1), stmt.text(2)};
  }
}

// Applies the first pending migration, if any, in one transaction. Returns it.
Result<std::vector<Migration>> apply_next(Connection& connection, const std::vector<Migration>& migrations) {
  AGNX_RETURN_IF_ERROR(connection.exec("BEGIN IMMEDIATE"));
  auto applied = [&]() -> Result<std::vector<Migration>> {
    AGNX_RETURN_IF_ERROR(connection.run(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "checksum TEXT NOT NULL, applied_time INTEGER NOT NULL)"));
    AGNX_ASSIGN_OR_RETURN(const auto recorded, applied_migrations(connection));
    AGNX_ASSIGN_OR_RETURN(auto pending, plan_migrations(recorded, migrations));
    if (pending.empty()) return pending;
    pending.resize(1);
    const Migration& m = pending.front();
    AGNX_RETURN_IF_ERROR(connection.exec(m.sql).with_context("applying schema migration " + m.label()));
    AGNX_ASSIGN_OR_RETURN(Statement insert,
                          connection.prepare("INSERT INTO schema_migrations (version, name, checksum, applied_time) "
                                             "VALUES (?, ?, ?, ?)"));
    AGNX_RETURN_IF_ERROR(insert.bind(1, int64_t{m.version}).bind(2, m.name).bind(3, m.checksum()).bind(4, now_ms()).run());
    return pending;
  }();
  AGNX_RETURN_IF_ERROR(connection.exec(applied.ok() ? "COMMIT" : "ROLLBACK"));
  return applied;
}

}  // namespace

Result<std::vector<Migration>> pending_migrations(Connection& connection, const std::vector<Migration>& migrations) {
  AGNX_RETURN_IF_ERROR(connection.exec("BEGIN"));
  auto pending = [&]() -> Result<std::vector<Migration>> {
    AGNX_ASSIGN_OR_RETURN(const auto recorded, applied_migrations(connection));
    return plan_migrations(recorded, migrations);
  }();
  AGNX_RETURN_IF_ERROR(connection.exec(pending.ok() ? "COMMIT" : "ROLLBACK"));
  return pending;
}

Result<std::vector<Migration>> apply_migrations(Connection& connection, const std::vector<Migration>& migrations) {
  std::vector<Migration> done;
  while (true) {
    AGNX_ASSIGN_OR_RETURN(auto step, apply_next(connection, migrations));
    if (step.empty()) return done;
    done.push_back(std::move(step.front()));
  }
}

Result<std::vector<Migration>> pending_migrations(const std::filesystem::path& database,
                                                  const std::vector<Migration>& migrations) {
  if (!std::filesystem::exists(database)) return migrations;
  AGNX_ASSIGN_OR_RETURN(auto connection,
                        Connection::open(database, Connection::Mode::kReadWrite, kBusyTimeoutMs, true));
  return pending_migrations(*connection, migrations);
}

Result<std::vector<Migration>> apply_migrations(const std::filesystem::path& database,
                                                const std::vector<Migration>& migrations) {
  AGNX_ASSIGN_OR_RETURN(auto connection,
                        Connection::open(database, Connection::Mode::kReadWrite, kBusyTimeoutMs, true));
  return apply_migrations(*connection, migrations);
}

}  // namespace agnx::store
