// The SQL query of a search_runs request, for SQLite or PostgreSQL: its
// parsed filter (store/search_filter.h) and order as SQL with every value
// bound, never spliced, and its page tokens. Both backends share the query's
// shape; a SqlDialect holds where their spelling differs.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/status.h"
#include "store/rows.h"
#include "store/tracking_store.h"

namespace agnx::store {

// How a backend spells what the query needs.
struct SqlDialect {
  char placeholder;         // parameter N is written placeholder + N
  const char* real_cast;    // after a number's placeholder
  const char* like_escape;  // after a LIKE pattern: no escape character
  const char* text_order;   // after a text expression in ORDER BY: byte order
};

inline constexpr SqlDialect kSqliteDialect{'?', "", "", ""};
inline constexpr SqlDialect kPostgresDialect{'$', "::float8", " ESCAPE ''", " COLLATE \"C\""};

struct SqlQuery {
  std::string sql;
  std::vector<std::variant<int64_t, double, std::string>> parameters;  // for parameters 1, 2, ...
};

// SELECT kRunColumns of the page at `offset`, max_results + 1 rows (the extra
// one tells whether another page follows). Errors: a filter or order_by that
// does not parse, no experiment id, max_results out of range.
Result<SqlQuery> search_runs_query(const SearchRunsRequest& request, int64_t offset,
                                   const SqlDialect& dialect = kSqliteDialect);

// The offset a page token stands for; 0 for "". Errors: a token that is
// malformed or from a different request.
Result<int64_t> page_token_offset(const SearchRunsRequest& request);
// The token of the page at `offset` of `request`.
std::string page_token(const SearchRunsRequest& request, int64_t offset);

}  // namespace agnx::store
