#include "store/store_copy.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <span>

#include "store/artifact_files.h"
#include "store/migrations.h"
#include "store/open_store.h"
#include "store/postgres.h"
#include "store/postgres_migrations.h"
#include "store/sqlite.h"
#include "store/sqlite_store.h"

namespace agnx::store {
namespace {

constexpr int kBusyTimeoutMs = 10000;
// One INSERT holds at most this many rows, parameters (PostgreSQL takes
// 65535) and bytes of values.
constexpr std::size_t kMaxRowsPerInsert = 1000;
constexpr std::size_t kMaxParamsPerInsert = 30000;
constexpr std::size_t kMaxBytesPerInsert = std::size_t{16} << 20;

// How one table is copied.
struct TablePlan {
  std::string table;
  std::vector<std::string> columns;           // the source's, in order
  std::string rowid_column;                   // the target identity column the source's rowid fills, or ""
  std::vector<std::string> identity_columns;  // the target's
};

std::string identifier(std::string_view name) {
  std::string out = "\"";
  for (const char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + identifier(name);
  return out;
}

// The target's columns `plan` inserts, in the order of the source's select.
std::vector<std::string> insert_columns(const TablePlan& plan) {
  std::vector<std::string> columns = plan.columns;
  if (!plan.rowid_column.empty()) columns.push_back(plan.rowid_column);
  return columns;
}

// Runs `body` between BEGIN and COMMIT, or ROLLBACK if it fails; `run` runs
// one statement on the database.
template <typename Run, typename Body>
auto in_transaction(Run run, Body body) -> decltype(body()) {
  AGNX_RETURN_IF_ERROR(run("BEGIN"));
  auto result = body();
  const Status end = run(result.ok() ? "COMMIT" : "ROLLBACK");
  if (result.ok() && !end.ok()) return end;
  return result;
}

// The first column of every row of `stmt`.
Result<std::vector<std::string>> texts(Statement& stmt) {
  std::vector<std::string> out;
  while (true) {
    AGNX_ASSIGN_OR_RETURN(const bool row, stmt.step());
    if (!row) return out;
    out.push_back(stmt.text(0));
  }
}

// The source's database, read-only, at this binary's schema version.
Result<std::unique_ptr<Connection>> open_source(const StoreLocation& location) {
  const std::filesystem::path database = SqliteTrackingStore::database_path(location.directory);
  if (!std::filesystem::exists(database)) {
    return Status::not_found("no SQLite store at '" + location.display + "': " + database.string() + " is missing");
  }
  AGNX_ASSIGN_OR_RETURN(auto source, Connection::open(database, Connection::Mode::kReadOnly, kBusyTimeoutMs, false));
  AGNX_ASSIGN_OR_RETURN(const std::vector<Migration> pending, pending_migrations(*source, embedded_migrations()));
  if (!pending.empty()) {
    return Status::failed_precondition("the source store '" + location.display + "' lacks migration " +
                                       pending.front().label() + "; run `agnx-server migrate --store " +
                                       location.display + "` first");
  }
  return source;
}

// The source's tables to copy (all but SQLite's own and schema_migrations),
// each after the tables its foreign keys reference.
Result<std::vector<std::string>> tables_in_copy_order(Connection& source) {
  AGNX_ASSIGN_OR_RETURN(Statement list, source.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                                       "name NOT LIKE 'sqlite!_%' ESCAPE '!' AND "
                                                       "name != 'schema_migrations' ORDER BY name"));
  AGNX_ASSIGN_OR_RETURN(const std::vector<std::string> names, texts(list));
  std::map<std::string, std::set<std::string>> parents;
  for (const std::string& name : names) {
    AGNX_ASSIGN_OR_RETURN(Statement keys, source.prepare("SELECT DISTINCT \"table\" FROM "
                                                         "pragma_foreign_key_list(?1) WHERE \"table\" != ?1"));
    AGNX_ASSIGN_OR_RETURN(const std::vector<std::string> referenced, texts(keys.bind(1, name)));
    parents[name] = {referenced.begin(), referenced.end()};
  }
  std::vector<std::string> order;
  while (!parents.empty()) {
    const auto ready = std::ranges::find_if(parents, [&](const auto& entry) {
      return std::ranges::none_of(entry.second, [&](const std::string& p) { return parents.contains(p); });
    });
    if (ready == parents.end()) return Status::failed_precondition("the source's foreign keys form a cycle");
    order.push_back(ready->first);
    parents.erase(ready);
  }
  return order;
}

Result<TablePlan> plan_table(Connection& source, pg::Connection& target, const std::string& table) {
  TablePlan plan{table, {}, {}, {}};
  AGNX_ASSIGN_OR_RETURN(Statement info, source.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid"));
  AGNX_ASSIGN_OR_RETURN(plan.columns, texts(info.bind(1, table)));
  AGNX_ASSIGN_OR_RETURN(const pg::Rows rows,
                        target.exec("SELECT column_name, is_identity FROM information_schema.columns "
                                    "WHERE table_schema = current_schema() AND table_name = $1",
                                    pg::Params().add(table)));
  if (rows.empty()) return Status::failed_precondition("table " + table + " of the source is missing in the target");
  std::set<std::string> target_columns;
  for (int i = 0; i < rows.size(); ++i) {
    const std::string column = rows[i].text(0);
    target_columns.insert(column);
    if (rows[i].text(1) != "YES") continue;
    plan.identity_columns.push_back(column);
    if (std::ranges::find(plan.columns, column) == plan.columns.end()) plan.rowid_column = column;
  }
  for (const std::string& column : plan.columns) {
    if (!target_columns.contains(column)) {
      return Status::failed_precondition("column " + table + "." + column + " of the source is missing in the target");
    }
  }
  return plan;
}

Status check_target_empty(pg::Connection& target, const std::vector<TablePlan>& plans) {
  for (const TablePlan& plan : plans) {
    AGNX_ASSIGN_OR_RETURN(const pg::Rows rows,
                          target.exec("SELECT EXISTS (SELECT 1 FROM " + identifier(plan.table) + ")"));
    if (rows[0].text(0) == "t") {
      return Status::failed_precondition("the target store is not empty (table " + plan.table +
                                         " holds rows); migrate-store copies only into a new, empty database");
    }
  }
  return {};
}

// The plans of every table to copy, in copy order, once the target is found empty.
Result<std::vector<TablePlan>> plan_copy(Connection& source, pg::Connection& target) {
  AGNX_ASSIGN_OR_RETURN(const std::vector<std::string> tables, tables_in_copy_order(source));
  std::vector<TablePlan> plans;
  for (const std::string& table : tables) {
    AGNX_ASSIGN_OR_RETURN(TablePlan plan, plan_table(source, target, table));
    plans.push_back(std::move(plan));
  }
  AGNX_RETURN_IF_ERROR(check_target_empty(target, plans));
  return plans;
}

// Puts the artifact files the source references into the target's artifacts;
// returns how many.
Result<int64_t> copy_artifact_files(Connection& source, const std::filesystem::path& from_dir,
                                    const std::filesystem::path& to_dir) {
  const ArtifactFiles from(from_dir / "artifacts");
  const ArtifactFiles to(to_dir / "artifacts");
  AGNX_ASSIGN_OR_RETURN(Statement list, source.prepare("SELECT DISTINCT sha256 FROM artifacts"));
  AGNX_ASSIGN_OR_RETURN(const std::vector<std::string> shas, texts(list));
  for (const std::string& sha : shas) {
    AGNX_ASSIGN_OR_RETURN(const std::filesystem::path file, from.file(sha));
    AGNX_ASSIGN_OR_RETURN(const std::string content, from.get(sha));
    AGNX_RETURN_IF_ERROR(to.put(content, file).status());
  }
  return static_cast<int64_t>(shas.size());
}

// Adds the value of `column` of the current row as a parameter; returns its size.
std::size_t add_value(const Statement& row, int column, pg::Params& params) {
  switch (row.type(column)) {
    case SQLITE_NULL:
      params.add_null();
      return 0;
    case SQLITE_INTEGER:
      params.add(row.int64(column));
      return sizeof(int64_t);
    case SQLITE_FLOAT:
      params.add(row.real(column));
      return sizeof(double);
    case SQLITE_BLOB: {
      const std::string bytes = row.blob(column);
      params.add_bytes(std::as_bytes(std::span(bytes)));
      return bytes.size();
    }
    default: {
      const std::string text = row.text(column);
      params.add(text);
      return text.size();
    }
  }
}

// INSERT ... VALUES ($1, ...), ... of `rows` rows of `plan`.
std::string insert_sql(const TablePlan& plan, std::size_t rows) {
  const std::vector<std::string> columns = insert_columns(plan);
  std::string sql = "INSERT INTO " + identifier(plan.table) + " (" + joined(columns) + ")";
  if (!plan.identity_columns.empty()) sql += " OVERRIDING SYSTEM VALUE";
  sql += " VALUES ";
  std::size_t param = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ", (";
    for (std::size_t c = 0; c < columns.size(); ++c) sql += (c == 0 ? "$" : ", $") + std::to_string(++param);
    sql += ")";
  }
  return sql;
}

// Copies every row of `plan`'s table, many per INSERT.
Status copy_rows(Connection& source, pg::Connection& target, const TablePlan& plan) {
  std::string select = "SELECT " + joined(plan.columns);
  if (!plan.rowid_column.empty()) select += ", rowid";
  select += " FROM " + identifier(plan.table) + (plan.rowid_column.empty() ? "" : " ORDER BY rowid");
  AGNX_ASSIGN_OR_RETURN(Statement rows, source.prepare(select));
  const int width = static_cast<int>(insert_columns(plan).size());
  pg::Params params;
  std::size_t count = 0;
  std::size_t bytes = 0;
  while (true) {
    AGNX_ASSIGN_OR_RETURN(const bool row, rows.step());
    for (int c = 0; row && c < width; ++c) bytes += add_value(rows, c, params);
    count += row ? 1 : 0;
    const bool full = count == kMaxRowsPerInsert || params.size() + width > kMaxParamsPerInsert ||
                      bytes >= kMaxBytesPerInsert;
    if (count > 0 && (full || !row)) {
      AGNX_RETURN_IF_ERROR(target.exec(insert_sql(plan, count), params).status());
      params = pg::Params();
      count = 0;
      bytes = 0;
    }
    if (!row) return {};
  }
}

// Lets each identity sequence of `plan`'s table continue after its largest value.
Status reset_sequences(pg::Connection& target, const TablePlan& plan) {
  for (const std::string& column : plan.identity_columns) {
    AGNX_RETURN_IF_ERROR(target
                             .exec("SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX(" + identifier(column) +
                                       "), 0) + 1, false) FROM " + identifier(plan.table),
                                   pg::Params().add(identifier(plan.table)).add(column))
                             .status());
  }
  return {};
}

Result<int64_t> count_rows(Connection& source, const std::string& table) {
  AGNX_ASSIGN_OR_RETURN(Statement count, source.prepare("SELECT count(*) FROM " + identifier(table)));
  AGNX_RETURN_IF_ERROR(count.step().status());
  return count.int64(0);
}

Result<int64_t> count_rows(pg::Connection& target, const std::string& table) {
  AGNX_ASSIGN_OR_RETURN(const pg::Rows rows, target.exec("SELECT count(*) FROM " + identifier(table)));
  return rows[0].int64(0);
}

// Each table's rows in both databases; an error unless all agree.
Result<std::vector<TableCount>> compare_counts(Connection& source, pg::Connection& target,
                                               const std::vector<TablePlan>& plans) {
  std::vector<TableCount> counts;
  std::string differences;
  for (const TablePlan& plan : plans) {
    TableCount count{plan.table, 0, 0};
    AGNX_ASSIGN_OR_RETURN(count.source_rows, count_rows(source, plan.table));
    AGNX_ASSIGN_OR_RETURN(count.target_rows, count_rows(target, plan.table));
    if (count.source_rows != count.target_rows) {
      differences += "; " + plan.table + " " + std::to_string(count.source_rows) + " -> " +
                     std::to_string(count.target_rows);
    }
    counts.push_back(count);
  }
  if (!differences.empty()) {
    return Status::internal("row counts differ after the copy, nothing was committed" + differences);
  }
  return counts;
}

Result<std::vector<TableCount>> copy_tables(Connection& source, pg::Connection& target,
                                            const std::vector<TablePlan>& plans) {
  for (const TablePlan& plan : plans) {
    AGNX_RETURN_IF_ERROR(copy_rows(source, target, plan).with_context("copying table " + plan.table));
    AGNX_RETURN_IF_ERROR(reset_sequences(target, plan));
  }
  return compare_counts(source, target, plans);
}

}  // namespace

Result<StoreCopy> copy_store(std::string_view from, std::string_view to) {
  AGNX_ASSIGN_OR_RETURN(const StoreLocation from_location, parse_store_uri(from));
  AGNX_ASSIGN_OR_RETURN(const StoreLocation to_location, parse_store_uri(to));
  if (from_location.scheme != "sqlite") {
    return Status::invalid_argument("copy from '" + from_location.display + "': the source must be sqlite:DIR");
  }
  if (to_location.scheme != "postgresql") {
    return Status::invalid_argument("copy to '" + to_location.display + "': the target must be postgresql://...");
  }
  AGNX_ASSIGN_OR_RETURN(const auto source, open_source(from_location));
  AGNX_ASSIGN_OR_RETURN(const auto target, pg::Connection::open(to_location.conninfo, to_location.display));
  AGNX_RETURN_IF_ERROR(apply_postgres_migrations(*target).status());
  const auto run_source = [&](const std::string& sql) { return source->exec(sql); };
  const auto run_target = [&](const std::string& sql) { return target->script(sql); };
  return in_transaction(run_source, [&]() -> Result<StoreCopy> {
    AGNX_ASSIGN_OR_RETURN(const std::vector<TablePlan> plans, plan_copy(*source, *target));
    StoreCopy copy;
    AGNX_ASSIGN_OR_RETURN(copy.artifact_files,
                          copy_artifact_files(*source, from_location.directory, to_location.directory));
    AGNX_ASSIGN_OR_RETURN(copy.tables,
                          in_transaction(run_target, [&] { return copy_tables(*source, *target, plans); }));
    return copy;
  });
}

}  // namespace agnx::store
