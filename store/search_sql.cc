#include "store/search_sql.h"

#include <charconv>
#include <type_traits>

#include "store/search_filter.h"
#include "store/sha256.h"

namespace agnx::store {
namespace {

constexpr int kMaxResults = 50000;

// The column of an attribute, in runs.
const char* attribute_column(const std::string& key) {
  if (key == "status") return "status";
  if (key == "run_name") return "run_name";
  return "start_time";
}

// kRunColumns of the table `name` rather than runs.
std::string run_columns(const std::string& name) {
  std::string columns = kRunColumns;
  for (std::size_t at = columns.find("runs."); at != std::string::npos; at = columns.find("runs.", at)) {
    columns.replace(at, 4, name);
    at += name.size();
  }
  return columns;
}

const char* table_of(FilterEntity entity) {
  switch (entity) {
    case FilterEntity::kParam: return "params";
    case FilterEntity::kMetric: return "latest_metrics";
    case FilterEntity::kTag: return "tags";
    case FilterEntity::kAttribute: break;
  }
  return "";
}

// A run's text column or a param's or tag's value, as opposed to a number.
bool is_text(FilterEntity entity, const std::string& key) {
  if (entity == FilterEntity::kAttribute) return key != "start_time";
  return entity != FilterEntity::kMetric;
}

// The query has one of two shapes (the indexes named are in migrations/0001
// and 0005). When the first order key is an attribute (or there is none),
// the page's run ids are found first, then their rows read and sorted again.
// The ids are read in the order of runs_by_experiment_stage, which holds
// every column the default order and view need, so no run's row is read
// until it is on the page; or, for a run_name LIKE 'prefix%', found through
// runs_by_name and sorted. Each param, tag and metric filter is an EXISTS
// probe of the run's row in that table, and each param, tag and metric to
// order by is LEFT JOINed (at most one row per run and key), so a run without
// the key stays, with NULL.
//
// When the first order key is a param, tag or metric, the runs having it come
// first in its order, the others after them. So the page is the first rows of
// "keyed" (the table of that key walked in value order through its (key,
// value) index, CROSS JOIN forcing that order in SQLite, each row joined to
// its run and stopping after offset + max_results + 1 matches) followed by
// "missing" (the runs without the key, in the order of the other keys), which
// is only read when keyed is shorter than that, then both sorted again. The
// walk reads the key's rows of every experiment until it has enough matches:
// a filter or an experiment that few of them pass makes it read more of the
// index, up to all of it (still no full sort of the runs).
class QueryBuilder {
 public:
  explicit QueryBuilder(const SqlDialect& dialect) : dialect_(dialect) {}

  // The placeholder of a new parameter `value` ("?N" in SQLite).
  template <typename T>
  std::string bind(T value) {
    query_.parameters.emplace_back(std::move(value));
    std::string placeholder = std::to_string(query_.parameters.size());
    placeholder.insert(placeholder.begin(), dialect_.placeholder);
    if constexpr (std::is_same_v<T, double>) placeholder += dialect_.real_cast;
    return placeholder;
  }

  void condition(const Comparison& c) {
    const std::string op = std::string(" ") + filter_op_sql(c.op) + " ";
    std::string value = std::holds_alternative<double>(c.value) ? bind(std::get<double>(c.value))
                                                                : bind(std::get<std::string>(c.value));
    if (c.op == FilterOp::kLike) value += dialect_.like_escape;
    if (c.entity == FilterEntity::kAttribute) {
      where_ += " AND runs." + std::string(attribute_column(c.key)) + op + value;
      const auto* pattern = std::get_if<std::string>(&c.value);
      if (c.op == FilterOp::kLike && c.key == "run_name" && pattern != nullptr && !pattern->empty() &&
          pattern->front() != '%' && pattern->front() != '_') {
        name_prefix_ = true;
      }
      return;
    }
    where_ += std::string(" AND EXISTS (SELECT 1 FROM ") + table_of(c.entity) +
              " x WHERE x.run_id = runs.run_id AND x.key = " + bind(c.key) + " AND x.value" + op + value + ")";
  }

  void order(const OrderKey& key) {
    const std::string column = attribute_column(key.key);
    Term term{"runs." + column, "page." + column, is_text(key.entity, key.key), key.ascending};
    if (key.entity != FilterEntity::kAttribute) {
      const std::string n = std::to_string(terms_.size() + 1);
      const std::string alias = "o" + n;
      const std::string key_placeholder = bind(key.key);
      const std::string join = std::string(" LEFT JOIN ") + table_of(key.entity) + " " + alias + " ON " + alias +
                               ".run_id = runs.run_id AND " + alias + ".key = " + key_placeholder;
      term.inner = alias + ".value";
      term.outer = "page.s" + n;
      selected_ += ", " + term.inner + " AS s" + n;
      if (terms_.empty()) {
        keyed_ = Keyed{table_of(key.entity), key_placeholder, join};
      } else {
        joins_ += join;
      }
    }
    terms_.push_back(std::move(term));
  }

  SqlQuery build(const SearchRunsRequest& request, int64_t offset) && {
    std::string experiments;
    for (const int64_t id : request.experiment_ids) experiments += (experiments.empty() ? "" : ", ") + bind(id);
    filter_ = " WHERE runs.experiment_id IN (" + experiments + ")";
    if (request.view == ViewType::kActiveOnly) filter_ += " AND runs.lifecycle_stage = 'active'";
    if (request.view == ViewType::kDeletedOnly) filter_ += " AND runs.lifecycle_stage = 'deleted'";
    filter_ += where_;
    const std::string page = " LIMIT " + bind(int64_t{request.max_results} + 1) + " OFFSET " + bind(offset);
    if (keyed_.table.empty()) {
      std::string ids_order = order_by(0, false);
      if (name_prefix_) {
        // The prefix's range of runs_by_name, then sorted: start_time + 0
        // keeps PostgreSQL from walking runs_by_experiment in start_time
        // order instead, filtering every run until it has a page (it
        // assumes the matches spread evenly; 'run12%' of 100k runs: 54 ms
        // against 0.7 ms). SQLite takes the range either way.
        for (std::size_t at = ids_order.find("runs.start_time"); at != std::string::npos;
             at = ids_order.find("runs.start_time", at)) {
          ids_order.replace(at, 15, "(runs.start_time + 0)");
          at += 21;
        }
      }
      const std::string ids = "SELECT runs.run_id FROM runs" + joins_ + filter_ + ids_order + page;
      query_.sql = std::string("SELECT ") + kRunColumns + " FROM runs" + joins_ + " WHERE runs.run_id IN (" + ids + ")" +
                   order_by(0, false);
    } else {
      query_.sql = keyed_query(bind(offset + request.max_results + 1)) + order_by(0, true) + page;
    }
    return std::move(query_);
  }

 private:
  struct Term {
    std::string inner;  // in a query on runs: runs.start_time, o1.value
    std::string outer;  // in keyed_query's outer query: page.start_time, page.s1
    bool text;
    bool ascending;
  };
  struct Keyed {
    std::string table;  // of the first order key; empty when it is an attribute
    std::string key;    // its placeholder
    std::string join;   // LEFT JOIN of it as o1
  };

  // " ORDER BY" the terms from `first`, then the final tie breakers. Each
  // term sorts NULL (a missing key) last, but the first in keyed, never NULL,
  // is its bare value, so that its index delivers the order.
  std::string order_by(std::size_t first, bool outer, bool keyed = false) const {
    std::string sql = " ORDER BY ";
    for (std::size_t i = first; i < terms_.size(); ++i) {
      const Term& term = terms_[i];
      const std::string& expression = outer ? term.outer : term.inner;
      if (!(keyed && i == 0)) sql += expression + " IS NULL, ";
      sql += expression + (term.text ? dialect_.text_order : "") + (term.ascending ? " ASC, " : " DESC, ");
    }
    const std::string table = outer ? "page" : "runs";
    return sql + table + ".start_time DESC, " + table + ".run_id" + dialect_.text_order + " ASC";
  }

  // The keyed and missing rows of the page (see above), up to `end` of each,
  // as the table "page": kRunColumns and the order keys' values s1, s2, ...
  std::string keyed_query(const std::string& end) const {
    const std::string columns = std::string(kRunColumns) + selected_;
    const std::string keyed = "SELECT " + columns + " FROM " + keyed_.table + " o1 CROSS JOIN runs" + joins_ + filter_ +
                              " AND o1.run_id = runs.run_id AND o1.key = " + keyed_.key + order_by(0, false, true) +
                              " LIMIT " + end;
    // The gate is tested before any run is read: SQLite, by the CROSS JOIN,
    // reads gate first; PostgreSQL, which reorders joins and would put gate
    // inside the join (after an anti join of every run with its key's rows,
    // ~150 ms at 100k runs), by the same count as a condition on no table, a
    // One-Time Filter over its InitPlan.
    const std::string missing = "SELECT " + columns + " FROM (SELECT count(*) AS n FROM keyed) AS gate CROSS JOIN runs" +
                                keyed_.join + joins_ + filter_ + " AND o1.run_id IS NULL AND gate.n < " + end +
                                " AND (SELECT count(*) FROM keyed) < " + end + order_by(1, false) + " LIMIT " + end;
    return "WITH keyed AS (" + keyed + ") SELECT " + run_columns("page") +
           " FROM (SELECT * FROM keyed UNION ALL SELECT * FROM (" + missing + ") AS missing) AS page";
  }

  const SqlDialect& dialect_;
  SqlQuery query_;
  std::string where_;     // " AND" each condition
  std::string filter_;    // " WHERE" the experiments, the view and where_
  std::string joins_;     // LEFT JOINs of the order keys but keyed_'s
  std::string selected_;  // ", o1.value AS s1" for each param, tag or metric order key
  std::vector<Term> terms_;
  Keyed keyed_;
  bool name_prefix_ = false;  // a run_name LIKE 'prefix...' among the conditions
};

// Identifies a request apart from its page token.
std::string fingerprint(const SearchRunsRequest& request) {
  std::string text = request.filter + '\0' + std::to_string(static_cast<int>(request.view)) + '\0' +
                     std::to_string(request.max_results);
  for (const int64_t id : request.experiment_ids) text += '\0' + std::to_string(id);
  for (const std::string& order : request.order_by) text += '\0' + order;
  return sha256_hex(text).substr(0, 16);
}

}  // namespace

Result<SqlQuery> search_runs_query(const SearchRunsRequest& request, int64_t offset, const SqlDialect& dialect) {
  if (request.experiment_ids.empty()) return Status::invalid_argument("search_runs: experiment_ids is empty");
  if (request.max_results < 1 || request.max_results > kMaxResults) {
    return Status::invalid_argument("search_runs: max_results " + std::to_string(request.max_results) +
                                    " is not in [1, " + std::to_string(kMaxResults) + "]");
  }
  AGNX_ASSIGN_OR_RETURN(const auto comparisons, parse_filter(request.filter));
  QueryBuilder builder(dialect);
  for (const Comparison& c : comparisons) builder.condition(c);
  for (const std::string& clause : request.order_by) {
    AGNX_ASSIGN_OR_RETURN(const OrderKey key, parse_order_by(clause));
    builder.order(key);
  }
  return std::move(builder).build(request, offset);
}

Result<int64_t> page_token_offset(const SearchRunsRequest& request) {
  const std::string& token = request.page_token;
  if (token.empty()) return int64_t{0};
  const std::size_t colon = token.find(':');
  int64_t offset = -1;
  const bool parsed = colon != std::string::npos &&
                      std::from_chars(token.data(), token.data() + colon, offset).ptr == token.data() + colon;
  if (!parsed || offset < 0 || token.substr(colon + 1) != fingerprint(request)) {
    return Status::invalid_argument("search_runs: page_token '" + token +
                                    "' is malformed or belongs to a different search");
  }
  return offset;
}

std::string page_token(const SearchRunsRequest& request, int64_t offset) {
  return std::to_string(offset) + ":" + fingerprint(request);
}

}  // namespace agnx::store
