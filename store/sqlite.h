// A thin layer over the SQLite C API: one connection with a cache of prepared
// statements, and a statement whose use resets it.
//
// Thread safety: a Connection and its statements belong to one thread at a
// time (the store hands connections out exclusively).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/status.h"

namespace agnx::store {

// A prepared statement in use. Binding indices start at 1. On destruction a
// cached statement is reset and its bindings cleared, ready for the next use;
// an owned one (the cache was full) is finalized.
class Statement {
 public:
  Statement(sqlite3_stmt* stmt, bool owned) : stmt_(stmt), owned_(owned) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept : stmt_(other.stmt_), owned_(other.owned_) { other.stmt_ = nullptr; }
  Statement& operator=(Statement&&) = delete;

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, std::span<const std::byte> blob);
  Statement& bind_null(int index);
  Statement& bind(int index, const std::optional<double>& value);
  Statement& bind(int index, const std::optional<int64_t>& value);

  // Advances: true with a row, false when done. Errors carry SQLite's message.
  Result<bool> step();
  // Runs to completion (for statements without result rows).
  Status run();

  bool is_null(int column) const;
  // The storage class of `column`'s value: SQLITE_INTEGER, SQLITE_FLOAT,
  // SQLITE_TEXT, SQLITE_BLOB or SQLITE_NULL.
  int type(int column) const;
  int64_t int64(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  std::string blob(int column) const;
  std::optional<double> optional_real(int column) const;
  std::optional<int64_t> optional_int64(int column) const;

 private:
  sqlite3_stmt* stmt_;
  bool owned_;
};

// The error of the last failed call on `db` ("<what>: sqlite: <message>",
// with the OS error if there is one): kUnavailable when another connection
// holds a lock (SQLITE_BUSY, SQLITE_LOCKED), kResourceExhausted when the disk
// or the file size limit is full (SQLITE_FULL, or an I/O error with ENOSPC,
// EDQUOT or EFBIG), kIoError for other I/O errors, kInvalidArgument for a
// violated constraint, kInternal otherwise.
Status sqlite_error(sqlite3* db, const std::string& what);

class Connection {
 public:
  enum class Mode { kReadWrite, kReadOnly };

  // Opens (creating it in kReadWrite mode) the database at `path` in WAL mode
  // with foreign keys, case-sensitive LIKE, a 32 MiB page cache and
  // `busy_timeout_ms`.
  static Result<std::unique_ptr<Connection>> open(const std::filesystem::path& path, Mode mode,
                                                  int busy_timeout_ms, bool synchronous_full);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements without results.
  Status exec(const std::string& sql);
  // A prepared statement for `sql`, compiled on first use and cached (up to
  // kMaxCachedStatements; beyond that compiled for this use only).
  Result<Statement> prepare(const std::string& sql);
  // Runs `sql` (a single statement) with no bindings.
  Status run(const std::string& sql);

  sqlite3* handle() const { return db_; }
  // sqlite_error of this connection.
  Status error(const std::string& what) const { return sqlite_error(db_, what); }

 private:
  static constexpr std::size_t kMaxCachedStatements = 256;

  explicit Connection(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace agnx::store
