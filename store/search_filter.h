// The parsed form of search_runs' filter and order_by strings (grammar in
// tracking_store.h), independent of any SQL dialect.
//
// Errors are kInvalidArgument naming the 0-based character position and what
// was expected, e.g. "filter: at position 14 ('>> 1'): expected a value".
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"

namespace agnx::store {

enum class FilterEntity { kParam, kMetric, kTag, kAttribute };
enum class FilterOp { kEq, kNe, kLt, kLe, kGt, kGe, kLike };

// The SQL spelling of `op` ("=", "!=", ..., "LIKE").
const char* filter_op_sql(FilterOp op);

struct Comparison {
  FilterEntity entity = FilterEntity::kAttribute;
  std::string key;  // for attributes: "status", "run_name" or "start_time"
  FilterOp op = FilterOp::kEq;
  std::variant<std::string, double> value;  // double for metrics and start_time
};

struct OrderKey {
  FilterEntity entity = FilterEntity::kAttribute;
  std::string key;
  bool ascending = true;
};

// The comparisons of `filter`, all of which must hold; empty for "".
Result<std::vector<Comparison>> parse_filter(std::string_view filter);

// One order_by clause, "entity.key [ASC|DESC]".
Result<OrderKey> parse_order_by(std::string_view clause);

}  // namespace agnx::store
