// Schema migrations apart from any backend: a numbered migration, what a
// database recorded of the ones it applied, and which ones it still needs.
//
// A database refuses to be used (kFailedPrecondition) when it recorded a
// version this binary does not know (it is newer than the binary), a
// checksum that differs from the embedded file (an applied migration was
// edited), or lacks a version older than its newest applied one (a gap).
// Every backend (store/migrations.h for SQLite, store/postgres_migrations.h)
// applies these rules through plan_migrations.
//
// All functions are pure and thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace agnx::store {

struct Migration {
  int version = 0;   // NNNN of the file name
  std::string name;  // the rest of the file name, without ".sql"
  std::string sql;

  // sha256 of `sql`.
  std::string checksum() const;
  // "NNNN_name".
  std::string label() const;
};

// What a database's schema_migrations table recorded of one migration.
struct AppliedMigration {
  std::string name;
  std::string checksum;
};

// The migrations of `migrations` (sorted by version) that a database which
// recorded `applied` (by version) still needs, in order. Errors: the
// refusal cases above, naming the migration.
Result<std::vector<Migration>> plan_migrations(const std::map<int, AppliedMigration>& applied,
                                               const std::vector<Migration>& migrations);

}  // namespace agnx::store
