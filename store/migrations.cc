#include "store/migrations.h"

#include <cstdio>
#include <map>

#include "core/clock.h"
#include "store/sha256.h"

namespace agnx::store {
namespace {

constexpr int kBusyTimeoutMs = 10000;

struct AppliedMigration {
  std::string name;
  std::string checksum;
};

std::string label_of(int version, const std::string& name) {
  char number[16];
  std::snprintf(number, sizeof number, "%04d", version);
  return number + ("_" + name);
}

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

// The pending migrations after checking the applied ones against `migrations`.
Result<std::vector<Migration>> check(const std::map<int, AppliedMigration>& applied,
                                     const std::vector<Migration>& migrations) {
  std::map<int, const Migration*> known;
  for (const Migration& m : migrations) known[m.version] = &m;
  const int newest_known = known.empty() ? 0 : known.rbegin()->first;
  for (const auto& [version, record] : applied) {
    auto it = known.find(version);
    if (it == known.end()) {
      return Status::failed_precondition("the store has schema migration " + label_of(version, record.name) +
                                         " which this binary does not know (it knows up to " +
                                         std::to_string(newest_known) +
                                         "): the store is newer than the binary; run a newer agnx");
    }
    if (it->second->checksum() != record.checksum) {
      return Status::failed_precondition("schema migration " + it->second->label() +
                                         " was edited after it was applied: recorded checksum " + record.checksum +
                                         ", embedded " + it->second->checksum() +
                                         "; restore the file and add a new migration instead");
    }
  }
  const int newest_applied = applied.empty() ? 0 : applied.rbegin()->first;
  std::vector<Migration> pending;
  for (const auto& [version, migration] : known) {
    if (applied.contains(version)) continue;
    if (version < newest_applied) {
      return Status::failed_precondition("schema migration " + migration->label() +
                                         " is missing from the store but older than its applied version " +
                                         std::to_string(newest_applied) + ": migrations must be added in order");
    }
    pending.push_back(*migration);
  }
  return pending;
}

// Applies the first pending migration, if any, in one transaction. Returns it.
Result<std::vector<Migration>> apply_next(Connection& connection, const std::vector<Migration>& migrations) {
  AGNX_RETURN_IF_ERROR(connection.exec("BEGIN IMMEDIATE"));
  auto applied = [&]() -> Result<std::vector<Migration>> {
    AGNX_RETURN_IF_ERROR(connection.run(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "checksum TEXT NOT NULL, applied_time INTEGER NOT NULL)"));
    AGNX_ASSIGN_OR_RETURN(const auto recorded, applied_migrations(connection));
    AGNX_ASSIGN_OR_RETURN(auto pending, check(recorded, migrations));
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

std::string Migration::checksum() const { return sha256_hex(sql); }

std::string Migration::label() const { return label_of(version, name); }

Result<std::vector<Migration>> pending_migrations(Connection& connection, const std::vector<Migration>& migrations) {
  AGNX_RETURN_IF_ERROR(connection.exec("BEGIN"));
  auto pending = [&]() -> Result<std::vector<Migration>> {
    AGNX_ASSIGN_OR_RETURN(const auto recorded, applied_migrations(connection));
    return check(recorded, migrations);
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
