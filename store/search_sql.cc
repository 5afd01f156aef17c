#include "store/search_sql.h"

#include <charconv>
#include <type_traits>

#include "store/search_filter.h"
#include "store/sha256.h"

namespace agnx::store {
namespace {

constexpr int kMaxResults = 50000;

const char* attribute_column(const std::string& key) {
  if (key == "status") return "runs.status";
  if (key == "run_name") return "runs.run_name";
  return "runs.start_time";
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
      where_ += " AND " + std::string(attribute_column(c.key)) + op + value;
      return;
    }
    where_ += std::string(" AND EXISTS (SELECT 1 FROM ") + table_of(c.entity) +
              " x WHERE x.run_id = runs.run_id AND x.key = " + bind(c.key) + " AND x.value" + op + value + ")";
  }

  // Params, tags and metrics to order by are LEFT JOINed (at most one row per
  // run and key), so a run without the key stays, with NULL.
  void order(const OrderKey& key) {
    std::string expression = attribute_column(key.key);
    if (key.entity != FilterEntity::kAttribute) {
      const std::string alias = std::string("o").append(std::to_string(++joins_count_));
      joins_ += std::string(" LEFT JOIN ") + table_of(key.entity) + " " + alias + " ON " + alias +
                ".run_id = runs.run_id AND " + alias + ".key = " + bind(key.key);
      expression = alias + ".value";
    }
    const std::string collated = expression + (is_text(key.entity, key.key) ? dialect_.text_order : "");
    order_ += expression + " IS NULL, " + collated + (key.ascending ? " ASC, " : " DESC, ");
  }

  SqlQuery build(const SearchRunsRequest& request, int64_t offset) && {
    std::string experiments;
    for (const int64_t id : request.experiment_ids) experiments += (experiments.empty() ? "" : ", ") + bind(id);
    std::string view;
    if (request.view == ViewType::kActiveOnly) view = " AND runs.lifecycle_stage = 'active'";
    if (request.view == ViewType::kDeletedOnly) view = " AND runs.lifecycle_stage = 'deleted'";
    query_.sql = std::string("SELECT ") + kRunColumns + " FROM runs" + joins_ + " WHERE runs.experiment_id IN (" + experiments +
                 ")" + view + where_ + " ORDER BY " + order_ + "runs.start_time DESC, runs.run_id" + dialect_.text_order + " ASC LIMIT " +
                 bind(int64_t{request.max_results} + 1) + " OFFSET " + bind(offset);
    return std::move(query_);
  }

 private:
  const SqlDialect& dialect_;
  SqlQuery query_;
  std::string joins_;
  int joins_count_ = 0;
  std::string where_;
  std::string order_;
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
