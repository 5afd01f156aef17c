// Schema migrations: the numbered SQL files of migrations/, embedded into the
// binary at build time, applied in order and recorded with their sha256.
//
// The table `schema_migrations(version, name, checksum, applied_time)` lists
// what a database has applied. A database refuses to be used (Status
// kFailedPrecondition) when it recorded a version this binary does not know
// (it is newer than the binary) or a checksum that differs from the embedded
// file (an applied migration was edited). Each pending migration is applied
// in its own IMMEDIATE transaction together with its record, so a crash never
// leaves a half-applied step; concurrent migrators serialise on the write lock.
//
// Thread safety: the functions are safe to call from several threads and
// processes at once on the same database.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/migration_plan.h"
#include "store/sqlite.h"

namespace agnx::store {

// The migrations of migrations/ as built into this binary, by version.
const std::vector<Migration>& embedded_migrations();

// What `migrations` (sorted by version, as embedded_migrations()) would apply
// to `connection`'s database: the `agnx-server migrate --dry-run` listing.
// Errors: the refusal cases above.
Result<std::vector<Migration>> pending_migrations(Connection& connection, const std::vector<Migration>& migrations);

// Applies the pending ones in order and returns them (`agnx-server migrate`).
Result<std::vector<Migration>> apply_migrations(Connection& connection, const std::vector<Migration>& migrations);

// Both on a database file (created by apply_migrations if missing).
Result<std::vector<Migration>> pending_migrations(const std::filesystem::path& database,
                                                  const std::vector<Migration>& migrations = embedded_migrations());
Result<std::vector<Migration>> apply_migrations(const std::filesystem::path& database,
                                                const std::vector<Migration>& migrations = embedded_migrations());

}  // namespace agnx::store
