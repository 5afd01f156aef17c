// A thin layer over libpq: a connection that runs parameterized statements
// (text parameters, bytea ones sent binary), their result rows, the mapping
// of SQLSTATEs to Status codes, and a small pool of connections.
//
// Errors ("<what>: postgresql: <message> (SQLSTATE xxxxx)"):
//   23505 unique_violation                   kAlreadyExists
//   40001 serialization failure, 40P01 deadlock  kAborted (the caller's
//                                            transaction may run again)
//   53300 too_many_connections, 53100 disk_full, 53200 out_of_memory
//                                            kResourceExhausted
//   class 08 (connection), 57P01-57P03 (shutdown, cannot connect now), a
//   lost connection                          kUnavailable
//   credentials refused at connect (a wrong or missing password, no
//   pg_hba.conf entry)                       kFailedPrecondition (trying
//                                            again does not help)
//   other class 22 (data) and 23 (constraint) errors  kInvalidArgument
//   anything else                            kInternal
//
// Thread safety: a Connection and its Rows belong to one thread at a time (the
// Pool hands connections out exclusively); a Pool may be used from any number
// of threads.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace agnx::store::pg {

// The parameters $1, $2, ... of a statement, in order. Numbers travel as
// text that reads back bit for bit (doubles shortest round-trip, infinities
// as Infinity); arrays as PostgreSQL array literals (cast them in the SQL:
// $2::text[]); blobs as binary bytea.
class Params {
 public:
  Params& add(std::string_view text);
  Params& add(const char* text) { return add(std::string_view(text)); }
  Params& add(const std::string& text) { return add(std::string_view(text)); }
  Params& add(int64_t value);
  Params& add(double value);
  Params& add(const std::optional<int64_t>& value);
  Params& add(const std::optional<double>& value);
  Params& add(const std::optional<std::string>& value);
  Params& add_null();
  Params& add_bytes(std::span<const std::byte> bytes);
  Params& add_array(const std::vector<std::string>& values);
  Params& add_array(const std::vector<double>& values);
  Params& add_array(const std::vector<int64_t>& values);

  std::size_t size() const { return values_.size(); }

 private:
  friend class Connection;
  std::vector<std::optional<std::string>> values_;  // nullopt: NULL
  std::vector<int> formats_;                        // 0 text, 1 binary
};

// One row of a result; column accessors like store/sqlite.h's Statement.
class Row {
 public:
  Row(const PGresult* result, int row) : result_(result), row_(row) {}

  bool is_null(int column) const;
  std::string text(int column) const;
  int64_t int64(int column) const;
  double real(int column) const;
  std::string blob(int column) const;  // a bytea column's bytes
  std::optional<double> optional_real(int column) const;
  std::optional<int64_t> optional_int64(int column) const;

 private:
  const PGresult* result_;
  int row_;
};

// The rows a statement returned (none for a command). Owns its PGresult.
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}

  int size() const { return PQntuples(result_.get()); }
  bool empty() const { return size() == 0; }
  Row operator[](int row) const { return Row(result_.get(), row); }
  // Rows changed by an INSERT, UPDATE or DELETE.
  int64_t affected() const;

 private:
  friend class Connection;
  std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

// The Status of a failed statement, per the table above.
Status status_of_sqlstate(const std::string& sqlstate, const std::string& message);

// The server ends a transaction its client left idle this long (a paused
// process), releasing its locks; the client's next statement then fails
// kUnavailable (its connection is closed) and runs again on another.
inline constexpr std::chrono::milliseconds kLongestIdleTransaction{1000};

class Connection {
 public:
  // Connects with `conninfo` (a postgresql:// URI or key=value string; give
  // it a connect_timeout). `display` names the server in errors (no
  // password). Errors: kUnavailable when the server cannot be reached,
  // kFailedPrecondition when it refuses the credentials, kResourceExhausted
  // when it has no connection to spare.
  static Result<std::unique_ptr<Connection>> open(const std::string& conninfo, const std::string& display);
  ~Connection() { PQfinish(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement with `params`; its rows on success. A deferred
  // BEGIN (begin()) goes in the same round trip (libpq pipeline mode), and
  // its error, if any, is the one returned.
  Result<Rows> exec(const std::string& sql, const Params& params = {});
  // exec of a statement prepared once per connection: the server parses and
  // plans it once. Only for fixed SQL text of hot paths (every distinct
  // text stays prepared for the connection's life), not SQL built per request.
  Result<Rows> exec_prepared(const std::string& sql, const Params& params = {});
  // Starts a transaction with `begin` ("BEGIN ..."), sent with the next
  // exec rather than in a round trip of its own.
  void begin(std::string begin) { pending_begin_ = std::move(begin); }
  // Ends the transaction begin() started with `end` ("COMMIT" or
  // "ROLLBACK"); nothing is sent if no statement ran since.
  Status end(const std::string& end);
  // Runs one or more statements without parameters (a migration).
  Status script(const std::string& sql);
  // Waits up to `timeout` for notifications on the channels this connection
  // listens to (exec("LISTEN channel")), or until `wake_fd` (if >= 0) is
  // readable; returns the payloads that arrived, in order (maybe none).
  // kUnavailable once the connection is lost.
  Result<std::vector<std::string>> wait_for_notices(std::chrono::milliseconds timeout, int wake_fd);
  // False once the connection is lost, or left in a state it cannot be
  // reused in (a pipeline that could not be completed).
  bool usable() const { return !broken_ && PQstatus(conn_) == CONNECTION_OK; }

 private:
  Connection(PGconn* conn, std::string display) : conn_(conn), display_(std::move(display)) {}
  Status error(const PGresult* result, const std::string& sql) const;
  // Sends the pending BEGIN, the Parse of `prepare` (a statement name, when
  // not yet prepared) and the statement in one pipeline; the results in order.
  Result<std::vector<Rows>> pipeline(const std::string& sql, const Params& params, const std::string* name,
                                     bool prepare);
  Result<Rows> run(const std::string& sql, const Params& params, bool prepared);

  PGconn* conn_;
  std::string display_;
  std::string pending_begin_;                         // empty: none
  std::map<std::string, std::string> prepared_;       // SQL text -> statement name
  int64_t next_statement_ = 0;                        // the next statement name's number
  bool broken_ = false;
};

// Up to `max_connections` connections, opened on demand and kept for reuse.
class Pool {
 public:
  Pool(std::string conninfo, std::string display, std::size_t max_connections)
      : conninfo_(std::move(conninfo)), display_(std::move(display)), max_connections_(max_connections) {}
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Exclusive use of one connection until destruction; a usable connection
  // goes back to the pool, a lost one is closed.
  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> connection) : pool_(&pool), connection_(std::move(connection)) {}
    ~Lease();
    Lease(Lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)), connection_(std::move(other.connection_)) {}
    Lease& operator=(Lease&&) = delete;
    Connection* operator->() const { return connection_.get(); }
    Connection& operator*() const { return *connection_; }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  // An idle connection, or a new one; waits while max_connections are in use.
  // Errors: those of Connection::open.
  Result<Lease> acquire();
  // Closes the idle connections (after one was found lost, e.g. the server
  // restarted: the others are likely lost too).
  void discard_idle();

 private:
  void release(std::unique_ptr<Connection> connection);

  const std::string conninfo_;
  const std::string display_;
  const std::size_t max_connections_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
  std::size_t in_use_ = 0;                         // guarded by mutex_
};

}  // namespace agnx::store::pg
