#include "store/postgres.h"

#include <poll.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace agnx::store::pg {
namespace {

std::string number_text(double value) {
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  char buffer[32];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  return std::string(buffer, end);
}

// libpq's messages end with a newline.
std::string trimmed(const char* message) {
  std::string text = message == nullptr ? "" : message;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

template <typename T, typename F>
std::string array_literal(const std::vector<T>& values, F element) {
  std::string literal = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) literal += ',';
    literal += element(values[i]);
  }
  return literal + "}";
}

std::string quoted_element(const std::string& value) {
  std::string quoted = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

// ---- parameters -----------------------------------------------------------

Params& Params::add(std::string_view text) {
  values_.emplace_back(std::string(text));
  formats_.push_back(0);
  return *this;
}

Params& Params::add(int64_t value) { return add(std::to_string(value)); }

Params& Params::add(double value) { return add(number_text(value)); }

Params& Params::add(const std::optional<int64_t>& value) { return value ? add(*value) : add_null(); }

Params& Params::add(const std::optional<double>& value) { return value ? add(*value) : add_null(); }

Params& Params::add(const std::optional<std::string>& value) { return value ? add(*value) : add_null(); }

Params& Params::add_null() {
  values_.emplace_back(std::nullopt);
  formats_.push_back(0);
  return *this;
}

Params& Params::add_bytes(std::span<const std::byte> bytes) {
  values_.emplace_back(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  formats_.push_back(1);
  return *this;
}

Params& Params::add_array(const std::vector<std::string>& values) {
  return add(array_literal(values, quoted_element));
}

Params& Params::add_array(const std::vector<double>& values) { return add(array_literal(values, number_text)); }

Params& Params::add_array(const std::vector<int64_t>& values) {
  return add(array_literal(values, [](int64_t v) { return std::to_string(v); }));
}

// ---- rows -----------------------------------------------------------------

bool Row::is_null(int column) const { return PQgetisnull(result_, row_, column) != 0; }

std::string Row::text(int column) const {
  return std::string(PQgetvalue(result_, row_, column), static_cast<std::size_t>(PQgetlength(result_, row_, column)));
}

int64_t Row::int64(int column) const { return std::strtoll(PQgetvalue(result_, row_, column), nullptr, 10); }

double Row::real(int column) const { return std::strtod(PQgetvalue(result_, row_, column), nullptr); }

std::string Row::blob(int column) const {
  std::size_t length = 0;
  unsigned char* bytes =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(result_, row_, column)), &length);
  if (bytes == nullptr) return {};
  std::string blob(reinterpret_cast<const char*>(bytes), length);
  PQfreemem(bytes);
  return blob;
}

std::optional<double> Row::optional_real(int column) const {
  if (is_null(column)) return std::nullopt;
  return real(column);
}

std::optional<int64_t> Row::optional_int64(int column) const {
  if (is_null(column)) return std::nullopt;
  return int64(column);
}

int64_t Rows::affected() const {
  const char* count = PQcmdTuples(result_.get());
  return count[0] == '\0' ? 0 : std::strtoll(count, nullptr, 10);
}

// ---- errors ---------------------------------------------------------------

Status status_of_sqlstate(const std::string& sqlstate, const std::string& message) {
  const std::string text = message + (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")");
  const std::string category = sqlstate.substr(0, 2);
  if (sqlstate == "23505") return Status::already_exists(text);
  if (sqlstate == "40001" || sqlstate == "40P01") return Status::aborted(text);
  if (sqlstate == "53300" || sqlstate == "53100" || sqlstate == "53200") return Status::resource_exhausted(text);
  if (sqlstate.empty() || category == "08" || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") {
    return Status::unavailable(text);
  }
  if (category == "22" || category == "23") return Status::invalid_argument(text);
  return Status::internal(text);
}

Status Connection::error(const PGresult* result, const std::string& sql) const {
  const char* state = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  std::string message = trimmed(result == nullptr ? PQerrorMessage(conn_) : PQresultErrorMessage(result));
  if (message.empty()) message = trimmed(PQerrorMessage(conn_));
  const std::string sqlstate = state == nullptr ? "" : state;
  if (sqlstate.empty() && usable()) return Status::internal(display_ + ": postgresql: " + message + " in `" + sql + "`");
  return status_of_sqlstate(sqlstate, display_ + ": postgresql: " + message);
}

// ---- connections ----------------------------------------------------------

Result<std::unique_ptr<Connection>> Connection::open(const std::string& conninfo, const std::string& display) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  std::unique_ptr<Connection> connection(new Connection(conn, display));
  if (conn == nullptr) return Status::resource_exhausted("connecting to " + display + ": out of memory");
  if (PQstatus(conn) == CONNECTION_OK) {
    PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);  // NOTICEs are not errors: not printed
    // A client stopped inside a transaction (SIGSTOP, a stalled host) must
    // not hold its row locks for ever: another replica's claim skips locked
    // jobs, so a job locked by a paused replica would never be taken over.
    AGNX_RETURN_IF_ERROR(connection->exec("SET idle_in_transaction_session_timeout = '" +
                                          std::to_string(kLongestIdleTransaction.count()) + "ms'")
                             .status());
    return connection;
  }
  const std::string message = "connecting to " + display + ": " + trimmed(PQerrorMessage(conn));
  if (message.find("too many clients") != std::string::npos ||
      message.find("too many connections") != std::string::npos) {
    return Status::resource_exhausted(message);
  }
  // Refused credentials stay refused until the URI changes: not kUnavailable, which callers retry.
  if (PQconnectionNeedsPassword(conn) == 1 || message.find("authentication failed") != std::string::npos ||
      message.find("no pg_hba.conf entry") != std::string::npos) {
    return Status::failed_precondition(message + " (check the user and password of the store URI)");
  }
  return Status::unavailable(message);
}

Result<Rows> Connection::exec(const std::string& sql, const Params& params) { return run(sql, params, false); }

Result<Rows> Connection::exec_prepared(const std::string& sql, const Params& params) {
  return run(sql, params, true);
}

Status Connection::end(const std::string& end) {
  if (!pending_begin_.empty()) {
    pending_begin_.clear();
    return {};
  }
  return exec(end).status();
}

Result<Rows> Connection::run(const std::string& sql, const Params& params, bool prepared) {
  const std::string* name = nullptr;
  bool prepare = false;
  if (prepared) {
    const auto [entry, inserted] = prepared_.try_emplace(sql, "agnx_" + std::to_string(next_statement_++));
    name = &entry->second;
    prepare = inserted;
  }
  const std::size_t parse_index = pending_begin_.empty() ? 0 : 1;
  Result<std::vector<Rows>> sent = pipeline(sql, params, name, prepare);
  if (!sent.ok() && prepare) prepared_.erase(sql);
  AGNX_ASSIGN_OR_RETURN(std::vector<Rows> results, std::move(sent));
  const auto failed = [](const Rows& rows) {
    const ExecStatusType status = PQresultStatus(rows.result_.get());
    return status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK;
  };
  if (prepare && (results.size() <= parse_index || failed(results[parse_index]))) prepared_.erase(sql);
  for (const Rows& rows : results) {
    if (failed(rows)) return error(rows.result_.get(), sql);
  }
  if (results.size() != parse_index + (prepare ? 2 : 1)) {
    broken_ = true;
    return error(nullptr, sql);
  }
  return std::move(results.back());
}

Result<std::vector<Rows>> Connection::pipeline(const std::string& sql, const Params& params, const std::string* name,
                                               bool prepare) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  for (const auto& value : params.values_) {
    if (value && value->find('\0') != std::string::npos && params.formats_[values.size()] == 0) {
      return Status::invalid_argument("a text value holds a NUL character, which PostgreSQL text cannot store");
    }
    values.push_back(value ? value->c_str() : nullptr);
    lengths.push_back(value ? static_cast<int>(value->size()) : 0);
  }
  const int count = static_cast<int>(values.size());
  const std::string begin = std::exchange(pending_begin_, "");
  if (PQenterPipelineMode(conn_) != 1) {
    broken_ = true;
    return error(nullptr, sql);
  }
  bool sent = begin.empty() || PQsendQueryParams(conn_, begin.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
  if (sent && prepare) sent = PQsendPrepare(conn_, name->c_str(), sql.c_str(), count, nullptr) == 1;
  if (sent && name != nullptr) {
    sent = PQsendQueryPrepared(conn_, name->c_str(), count, values.data(), lengths.data(), params.formats_.data(),
                               0) == 1;
  } else if (sent) {
    sent = PQsendQueryParams(conn_, sql.c_str(), count, nullptr, values.data(), lengths.data(), params.formats_.data(),
                             0) == 1;
  }
  if (!sent || PQpipelineSync(conn_) != 1) {
    broken_ = true;
    return error(nullptr, sql);
  }
  // Each statement's results end with a NULL; the pipeline's with its sync.
  std::vector<Rows> results;
  bool synced = false;
  for (int nulls = 0; !synced && nulls < 2 && PQstatus(conn_) == CONNECTION_OK;) {
    PGresult* result = PQgetResult(conn_);
    nulls = result == nullptr ? nulls + 1 : 0;
    synced = result != nullptr && PQresultStatus(result) == PGRES_PIPELINE_SYNC;
    if (synced) PQclear(result);
    if (result != nullptr && !synced) results.emplace_back(result);
  }
  if (!synced || PQexitPipelineMode(conn_) != 1) broken_ = true;
  return results;
}

Status Connection::script(const std::string& sql) {
  Rows rows(PQexec(conn_, sql.c_str()));
  const PGresult* result = rows.result_.get();
  const ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return {};
  return error(result, sql);
}

Result<std::vector<std::string>> Connection::wait_for_notices(std::chrono::milliseconds timeout, int wake_fd) {
  std::vector<std::string> payloads;
  const auto take_arrived = [&] {
    while (PGnotify* notify = PQnotifies(conn_)) {
      payloads.emplace_back(notify->extra);
      PQfreemem(notify);
    }
  };
  take_arrived();  // already read along with an earlier result
  if (!payloads.empty()) return payloads;
  pollfd ready[2] = {{PQsocket(conn_), POLLIN, 0}, {wake_fd, POLLIN, 0}};
  const int polled = ::poll(ready, wake_fd >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
  if (polled < 0 && errno != EINTR) return Status::internal("waiting for notices on " + display_ + ": poll failed");
  if (polled > 0 && (ready[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && PQconsumeInput(conn_) != 1) {
    broken_ = true;
    return Status::unavailable(display_ + ": postgresql: " + trimmed(PQerrorMessage(conn_)));
  }
  take_arrived();
  return payloads;
}

// ---- the pool -------------------------------------------------------------

Pool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->release(std::move(connection_));
}

Result<Pool::Lease> Pool::acquire() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [&] { return in_use_ < max_connections_; });
  ++in_use_;
  if (!idle_.empty()) {
    std::unique_ptr<Connection> connection = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(connection));
  }
  lock.unlock();
  auto opened = Connection::open(conninfo_, display_);
  if (!opened.ok()) {
    release(nullptr);
    return opened.status();
  }
  return Lease(*this, std::move(*opened));
}

void Pool::discard_idle() {
  std::vector<std::unique_ptr<Connection>> closed;
  std::lock_guard lock(mutex_);
  closed.swap(idle_);
}

void Pool::release(std::unique_ptr<Connection> connection) {
  {
    std::lock_guard lock(mutex_);
    --in_use_;
    if (connection != nullptr && connection->usable()) idle_.push_back(std::move(connection));
  }
  available_.notify_one();
}

}  // namespace agnx::store::pg
