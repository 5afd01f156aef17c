// The SQLite query of a search_runs request: its parsed filter and order as
// SQL with every value bound, never spliced, and its page tokens.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/status.h"
#include "store/tracking_store.h"

namespace agnx::store {

// The columns of a RunInfo, in read_run_info's order.
inline constexpr const char* kRunColumns =
    "runs.run_id, runs.experiment_id, runs.run_name, runs.user_id, runs.status, runs.start_time, runs.end_time, "
    "runs.lifecycle_stage";

struct SqlQuery {
  std::string sql;
  std::vector<std::variant<int64_t, double, std::string>> parameters;  // for ?1, ?2, ...
};

// SELECT kRunColumns of the page at `offset`, max_results + 1 rows (the extra
// one tells whether another page follows). Errors: a filter or order_by that
// does not parse, no experiment id, max_results out of range.
Result<SqlQuery> search_runs_query(const SearchRunsRequest& request, int64_t offset);

// The offset a page token stands for; 0 for "". Errors: a token that is
// malformed or from a different request.
Result<int64_t> page_token_offset(const SearchRunsRequest& request);
// The token of the page at `offset` of `request`.
std::string page_token(const SearchRunsRequest& request, int64_t offset);

}  // namespace agnx::store
