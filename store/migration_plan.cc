#include "store/migration_plan.h"

#include <cstdio>

#include "store/sha256.h"

namespace agnx::store {
namespace {

std::string label_of(int version, const std::string& name) {
  char number[16];
  std::snprintf(number, sizeof number, "%04d", version);
  return number + ("_" + name);
}

}  // namespace

std::string Migration::checksum() const { return sha256_hex(sql); }

std::string Migration::label() const { return label_of(version, name); }

Result<std::vector<Migration>> plan_migrations(const std::map<int, AppliedMigration>& applied,
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

}  // namespace agnx::store
