// The PostgreSQL schema migrations: migrations/postgresql/NNNN_name.sql,
// embedded at build time with the same versions and names as the SQLite set
// (store/migrations.h), recorded in schema_migrations(version, name,
// checksum, applied_time) and checked by plan_migrations (store/
// migration_plan.h: a database newer than the binary, an edited or a missing
// migration is refused with kFailedPrecondition).
//
// apply_postgres_migrations holds the session advisory lock
// kMigrationLockKey while it reads and applies, so replicas starting
// together migrate once: the others wait, then find nothing pending. Each
// migration is applied in its own transaction together with its record.
//
// Thread safety: the functions may run at once from several threads and
// processes on the same database (each on its own connection).
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "store/migration_plan.h"
#include "store/postgres.h"

namespace agnx::store {

// pg_advisory_lock's key for migrations ("agnxmigr" as bytes).
inline constexpr int64_t kMigrationLockKey = 0x61676e786d696772;

// The migrations of migrations/postgresql/ as built into this binary, by version.
const std::vector<Migration>& embedded_postgres_migrations();

// What `migrations` would apply to the database of `connection` (the
// `migrate --dry-run` listing); takes no lock and writes nothing.
Result<std::vector<Migration>> pending_postgres_migrations(
    pg::Connection& connection, const std::vector<Migration>& migrations = embedded_postgres_migrations());

// Applies the pending ones in order under the advisory lock; returns them.
Result<std::vector<Migration>> apply_postgres_migrations(
    pg::Connection& connection, const std::vector<Migration>& migrations = embedded_postgres_migrations());

}  // namespace agnx::store
