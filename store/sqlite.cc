#include "store/sqlite.h"

#include <cerrno>
#include <cstring>

namespace agnx::store {

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (owned_) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Statement& Statement::bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

Statement& Statement::bind(int index, std::span<const std::byte> blob) {
  sqlite3_bind_blob64(stmt_, index, blob.empty() ? "" : static_cast<const void*>(blob.data()), blob.size(),
                      SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Statement& Statement::bind(int index, const std::optional<double>& value) {
  return value ? bind(index, *value) : bind_null(index);
}

Statement& Statement::bind(int index, const std::optional<int64_t>& value) {
  return value ? bind(index, *value) : bind_null(index);
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(sqlite3_db_handle(stmt_), "");
}

Status Statement::run() {
  while (true) {
    AGNX_ASSIGN_OR_RETURN(const bool row, step());
    if (!row) return {};
  }
}

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

int Statement::type(int column) const { return sqlite3_column_type(stmt_, column); }

int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::text(int column) const {
  const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return data == nullptr ? std::string() : std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string Statement::blob(int column) const {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  return data == nullptr ? std::string() : std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::optional<double> Statement::optional_real(int column) const {
  if (is_null(column)) return std::nullopt;
  return real(column);
}

std::optional<int64_t> Statement::optional_int64(int column) const {
  if (is_null(column)) return std::nullopt;
  return int64(column);
}

Status sqlite_error(sqlite3* db, const std::string& what) {
  const int errno_after_call = errno;  // read first: the calls below may change it
  if (db == nullptr) return Status::internal(what + ": sqlite: out of memory");
  const int primary = sqlite3_extended_errcode(db) & 0xff;
  // A failed write during COMMIT leaves sqlite3_system_errno at 0; errno
  // still holds the OS error right after the call.
  int os_error = sqlite3_system_errno(db);
  if (os_error == 0 && primary == SQLITE_IOERR) os_error = errno_after_call;
  const bool no_space =
      primary == SQLITE_FULL ||
      (primary == SQLITE_IOERR && (os_error == ENOSPC || os_error == EDQUOT || os_error == EFBIG));
  std::string message = (what.empty() ? "" : what + ": ") + (no_space ? "out of space: " : "") + "sqlite: " +
                        sqlite3_errmsg(db);
  if (os_error != 0 && (primary == SQLITE_IOERR || primary == SQLITE_FULL || primary == SQLITE_CANTOPEN)) {
    message += std::string(" (") + std::strerror(os_error) + ")";
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Status::unavailable(message);
  if (no_space) return Status::resource_exhausted(message);
  if (primary == SQLITE_IOERR) return Status::io_error(message);
  if (primary == SQLITE_CONSTRAINT) return Status::invalid_argument(message);
  return Status::internal(message);
}

Result<std::unique_ptr<Connection>> Connection::open(const std::filesystem::path& path, Mode mode,
                                                     int busy_timeout_ms, bool synchronous_full) {
  const int flags = (mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX;
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  std::unique_ptr<Connection> connection(new Connection(db));
  if (rc != SQLITE_OK) return connection->error("opening database " + path.string());
  sqlite3_busy_timeout(db, busy_timeout_ms);
  sqlite3_extended_result_codes(db, 1);
  std::string pragmas = "PRAGMA foreign_keys = ON; PRAGMA case_sensitive_like = ON; PRAGMA cache_size = -32768;";
  if (mode == Mode::kReadWrite) {
    pragmas += "PRAGMA journal_mode = WAL;";
    pragmas += synchronous_full ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = NORMAL;";
  }
  AGNX_RETURN_IF_ERROR(connection->exec(pragmas).with_context("configuring " + path.string()));
  return connection;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Connection::exec(const std::string& sql) {
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK) return {};
  return error("");
}

Result<Statement> Connection::prepare(const std::string& sql) {
  if (auto it = cache_.find(sql); it != cache_.end()) return Statement(it->second, false);
  const bool cache = cache_.size() < kMaxCachedStatements;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), cache ? SQLITE_PREPARE_PERSISTENT : 0,
                         &stmt, nullptr) != SQLITE_OK) {
    return error("preparing `" + sql + "`");
  }
  if (cache) cache_.emplace(sql, stmt);
  return Statement(stmt, !cache);
}

Status Connection::run(const std::string& sql) {
  AGNX_ASSIGN_OR_RETURN(Statement stmt, prepare(sql));
  return stmt.run();
}

}  // namespace agnx::store
