#include "store/postgres_migrations.h"

#include <map>

#include "core/clock.h"

namespace agnx::store {
namespace {

// What the database recorded; nothing if it has no schema_migrations table.
Result<std::map<int, AppliedMigration>> applied_migrations(pg::Connection& connection) {
  std::map<int, AppliedMigration> applied;
  AGNX_ASSIGN_OR_RETURN(const pg::Rows exists,
                        connection.exec("SELECT to_regclass('schema_migrations') IS NOT NULL"));
  if (exists[0].text(0) != "t") return applied;
  AGNX_ASSIGN_OR_RETURN(const pg::Rows rows, connection.exec("SELECT version, name, checksum FROM schema_migrations"));
  for (int i = 0; i < rows.size(); ++i) {
    applied[static_cast<int>(rows[i].int64(0))] = {rows[i].text(1), rows[i].text(2)};
  }
  return applied;
}

// Applies `m` and records it, in one transaction.
Status apply_one(pg::Connection& connection, const Migration& m) {
  AGNX_RETURN_IF_ERROR(connection.script("BEGIN"));
  Status applied = connection.script(m.sql).with_context("applying schema migration " + m.label());
  if (applied.ok()) {
    applied = connection
                  .exec("INSERT INTO schema_migrations (version, name, checksum, applied_time) "
                        "VALUES ($1, $2, $3, $4)",
                        pg::Params().add(int64_t{m.version}).add(m.name).add(m.checksum()).add(now_ms()))
                  .status();
  }
  AGNX_RETURN_IF_ERROR(connection.script(applied.ok() ? "COMMIT" : "ROLLBACK"));
  return applied;
}

Result<std::vector<Migration>> apply_locked(pg::Connection& connection, const std::vector<Migration>& migrations) {
  AGNX_RETURN_IF_ERROR(connection.script(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, name text NOT NULL, "
      "checksum text NOT NULL, applied_time bigint NOT NULL)"));
  AGNX_ASSIGN_OR_RETURN(const auto recorded, applied_migrations(connection));
  AGNX_ASSIGN_OR_RETURN(auto pending, plan_migrations(recorded, migrations));
  for (const Migration& m : pending) AGNX_RETURN_IF_ERROR(apply_one(connection, m));
  return pending;
}

}  // namespace

Result<std::vector<Migration>> pending_postgres_migrations(pg::Connection& connection,
                                                           const std::vector<Migration>& migrations) {
  AGNX_ASSIGN_OR_RETURN(const auto recorded, applied_migrations(connection));
  return plan_migrations(recorded, migrations);
}

Result<std::vector<Migration>> apply_postgres_migrations(pg::Connection& connection,
                                                         const std::vector<Migration>& migrations) {
  const pg::Params key = pg::Params().add(kMigrationLockKey);
  AGNX_RETURN_IF_ERROR(connection.exec("SELECT pg_advisory_lock($1)", key).status());
  auto applied = apply_locked(connection, migrations);
  const Status unlocked = connection.exec("SELECT pg_advisory_unlock($1)", key).status();
  if (applied.ok() && !unlocked.ok()) return unlocked;
  return applied;
}

}  // namespace agnx::store
