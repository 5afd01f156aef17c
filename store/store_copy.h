// copy_store: a whole SQLite store copied into an empty PostgreSQL store
// (`agnx-server migrate-store`), rows and artifact files.
//
// The source is read in one read transaction (a consistent snapshot: a
// server may keep writing to it) and never written. The target is migrated
// first and refused unless every table to copy is empty. Then every table of
// the source but schema_migrations is copied, parents before children, with
// the source's own columns (so a column a later migration adds needs no
// change here), many rows per INSERT, in one PostgreSQL transaction. A
// target identity column the source lacks (metrics.seq, where SQLite orders
// by rowid) takes the source's rowid, so histories keep their logging order;
// afterwards each identity sequence continues after the largest copied id.
// Before committing, each table's rows are counted in both databases; the
// copy commits only if every count agrees.
//
// The artifact files the source's rows reference are put into the target's
// artifacts beforehand: verified against their sha256, hard-linked where the
// file system allows, a file already there kept. If the copy then fails they
// stay unreferenced, for gc.
//
// Errors: kInvalidArgument (`from` is not sqlite:..., `to` not
// postgresql://...), kNotFound (no source database, an artifact file
// missing), kFailedPrecondition (the source's schema is not this binary's,
// the target holds rows, a table or column of the source is missing in the
// target), kInternal (row counts differ: nothing committed), and those of
// either database and of the files.
//
// Thread safety: no servers may use the target while it runs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace agnx::store {

struct TableCount {
  std::string table;
  int64_t source_rows = 0;
  int64_t target_rows = 0;
};

struct StoreCopy {
  std::vector<TableCount> tables;  // in copy order (parents first)
  int64_t artifact_files = 0;      // distinct files the source references
};

// Copies the SQLite store `from` (sqlite:DIR or DIR) into the empty
// PostgreSQL store `to` (postgresql://...?data_dir=DIR), as above.
Result<StoreCopy> copy_store(std::string_view from, std::string_view to);

}  // namespace agnx::store
