#include "store/search_filter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "store/search_sql.h"
#include "store/sqlite.h"
#include "store/sqlite_store.h"
#include "tests/support/temp_dir.h"

namespace agnx::store {
namespace {

TEST(SearchFilter, EmptyMatchesAll) {
  EXPECT_TRUE(parse_filter("")->empty());
  EXPECT_TRUE(parse_filter("   ")->empty());
}

TEST(SearchFilter, ParsesEveryEntityAndOperator) {
  const auto parsed = parse_filter(
      "metrics.acc >= 0.5 and params.lr = '0.1' AND tags.`odd key` LIKE \"x%\" AND attributes.status != 'FAILED' "
      "AND attribute.start_time < 1e12 AND attr.run_name = 'r' AND metric.loss<=-2 AND metrics.e > 3 "
      "AND metrics.f<4 AND metrics.g != 5 AND metrics.h = 6");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  ASSERT_EQ(parsed->size(), 11u);
  const auto& c = *parsed;
  EXPECT_EQ(c[0].entity, FilterEntity::kMetric);
  EXPECT_EQ(c[0].key, "acc");
  EXPECT_EQ(c[0].op, FilterOp::kGe);
  EXPECT_EQ(std::get<double>(c[0].value), 0.5);
  EXPECT_EQ(c[1].entity, FilterEntity::kParam);
  EXPECT_EQ(std::get<std::string>(c[1].value), "0.1");
  EXPECT_EQ(c[2].entity, FilterEntity::kTag);
  EXPECT_EQ(c[2].key, "odd key");
  EXPECT_EQ(c[2].op, FilterOp::kLike);
  EXPECT_EQ(std::get<std::string>(c[2].value), "x%");
  EXPECT_EQ(c[3].entity, FilterEntity::kAttribute);
  EXPECT_EQ(c[3].key, "status");
  EXPECT_EQ(c[3].op, FilterOp::kNe);
  EXPECT_EQ(c[4].key, "start_time");
  EXPECT_EQ(std::get<double>(c[4].value), 1e12);
  EXPECT_EQ(c[5].key, "run_name");
  EXPECT_EQ(c[6].op, FilterOp::kLe);
  EXPECT_EQ(std::get<double>(c[6].value), -2.0);
  EXPECT_EQ(c[7].op, FilterOp::kGt);
  EXPECT_EQ(c[8].op, FilterOp::kLt);
  EXPECT_EQ(c[9].op, FilterOp::kNe);
  EXPECT_EQ(c[10].op, FilterOp::kEq);
}

TEST(SearchFilter, KeysWithDotsSlashesAndDashes) {
  const auto parsed = parse_filter("metrics.val/top-1.acc > 0");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->front().key, "val/top-1.acc");
}

// The error of parsing `filter`, which must mention `position`.
void expect_error_at(const std::string& filter, std::size_t position, const std::string& expected) {
  const auto parsed = parse_filter(filter);
  ASSERT_FALSE(parsed.ok()) << filter;
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  const std::string message = parsed.status().message();
  EXPECT_NE(message.find("at position " + std::to_string(position) + " "), std::string::npos) << message;
  EXPECT_NE(message.find(expected), std::string::npos) << message;
}

TEST(SearchFilter, ErrorsPointAtTheOffendingPosition) {
  expect_error_at("metricz.acc > 1", 0, "params., metrics., tags. or attributes.");
  expect_error_at("metrics acc > 1", 7, "'.' after 'metrics'");
  expect_error_at("metrics. > 1", 8, "a key");
  expect_error_at("metrics.acc >> 1", 13, "a value");
  expect_error_at("metrics.acc ~ 1", 12, "comparison operator");
  expect_error_at("metrics.acc > 1 OR params.a = 'b'", 16, "AND or the end");
  expect_error_at("metrics.acc > 1 AND", 19, "params., metrics.");
  expect_error_at("params.lr = 'open", 12, "a string closed by '");
  expect_error_at("metrics.acc LIKE '1'", 12, "for the numeric acc");
  expect_error_at("params.lr > '1'", 10, "=, != or LIKE for the string lr");
  expect_error_at("metrics.acc > 'high'", 14, "a number for acc");
  expect_error_at("params.lr = 0.1", 12, "a quoted string for lr");
  expect_error_at("attributes.owner = 'me'", 11, "status, run_name or start_time");
  expect_error_at("tags.`` = 'x'", 5, "a non-empty key");
  expect_error_at("metrics.acc > 1x", 14, "a value");
  expect_error_at("metrics.acc > nan", 14, "a number, not NaN");
  expect_error_at("attributes.start_time != -NaN", 25, "a number, not NaN");
}

TEST(SearchFilter, OrderBy) {
  auto order = parse_order_by("metrics.acc DESC");
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(order->entity, FilterEntity::kMetric);
  EXPECT_FALSE(order->ascending);
  EXPECT_TRUE(parse_order_by("attributes.start_time")->ascending);
  EXPECT_TRUE(parse_order_by("params.lr asc")->ascending);
  const auto bad = parse_order_by("params.lr sideways");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("at position 10"), std::string::npos) << bad.status().to_string();
}

TEST(SearchQuery, ValuesAreBoundNeverSpliced) {
  SearchRunsRequest request;
  request.experiment_ids = {7};
  request.filter = "params.lr = 'x); DROP TABLE runs; --' AND metrics.acc > 0.25";
  const auto query = search_runs_query(request, 0);
  ASSERT_TRUE(query.ok()) << query.status().to_string();
  EXPECT_EQ(query->sql.find("DROP"), std::string::npos);
  EXPECT_EQ(query->sql.find("0.25"), std::string::npos);
  // experiment id, the key and value of each comparison, limit and offset.
  EXPECT_EQ(query->parameters.size(), 7u);
}

TEST(SearchQuery, OneShapeInEachDialect) {
  SearchRunsRequest request;
  request.experiment_ids = {7};
  request.filter = "tags.t LIKE 'a%' AND metrics.acc > 0.25";
  request.order_by = {"params.lr DESC"};
  const auto sqlite = search_runs_query(request, 0);
  const auto postgres = search_runs_query(request, 0, kPostgresDialect);
  ASSERT_TRUE(sqlite.ok() && postgres.ok());
  EXPECT_EQ(sqlite->parameters, postgres->parameters);
  EXPECT_EQ(sqlite->sql.find('$'), std::string::npos);
  EXPECT_NE(postgres->sql.find("x.value LIKE $1 ESCAPE ''"), std::string::npos) << postgres->sql;
  EXPECT_NE(postgres->sql.find("x.value > $3::float8"), std::string::npos) << postgres->sql;
  EXPECT_NE(postgres->sql.find("o1.value COLLATE \"C\" DESC"), std::string::npos) << postgres->sql;
  EXPECT_NE(sqlite->sql.find("x.value LIKE ?1)"), std::string::npos) << sqlite->sql;
  EXPECT_NE(sqlite->sql.find("runs.run_id ASC LIMIT ?"), std::string::npos) << sqlite->sql;
}

TEST(SearchQuery, RejectsBadRequests) {
  SearchRunsRequest request;
  EXPECT_FALSE(search_runs_query(request, 0).ok()) << "no experiment";
  request.experiment_ids = {1};
  request.max_results = 0;
  EXPECT_FALSE(search_runs_query(request, 0).ok());
  request.max_results = 10;
  request.page_token = "garbage";
  EXPECT_FALSE(page_token_offset(request).ok());
  request.page_token = page_token(request, 20);
  EXPECT_EQ(*page_token_offset(request), 20);
  request.filter = "metrics.a > 1";
  EXPECT_FALSE(page_token_offset(request).ok()) << "a token of another search";
}

// The steps of SQLite's plan for `query` (one line of EXPLAIN QUERY PLAN
// each, "SEARCH runs USING INDEX ..."), on the schema of a new store, with the
// query's values bound: a LIKE 'prefix%' becomes an index range only then.
std::vector<std::string> sqlite_plan(const SqlQuery& query) {
  agnx::testing::TempDir dir;
  SqliteStoreOptions options;
  options.data_dir = dir.path();
  EXPECT_TRUE(SqliteTrackingStore::open(options).ok());
  auto db = Connection::open(SqliteTrackingStore::database_path(dir.path()), Connection::Mode::kReadOnly, 1000, false);
  EXPECT_TRUE(db.ok()) << db.status().to_string();
  auto stmt = (*db)->prepare("EXPLAIN QUERY PLAN " + query.sql);
  EXPECT_TRUE(stmt.ok()) << stmt.status().to_string();
  for (std::size_t i = 0; i < query.parameters.size(); ++i) {
    std::visit([&](const auto& value) { stmt->bind(static_cast<int>(i + 1), value); }, query.parameters[i]);
  }
  std::vector<std::string> steps;
  while (*stmt->step()) steps.push_back(stmt->text(3));
  return steps;
}

// Whether one of `steps` is `step`.
bool has_step(const std::vector<std::string>& steps, const std::string& step) {
  return std::find(steps.begin(), steps.end(), step) != steps.end();
}

// The plan of a search of experiment 1 with `filter` and `order_by`, checked
// to read no table whole: every step on a table is a SEARCH through an index.
std::vector<std::string> checked_plan(const std::string& filter, const std::vector<std::string>& order_by) {
  SearchRunsRequest request;
  request.experiment_ids = {1};
  request.filter = filter;
  request.order_by = order_by;
  request.max_results = 100;
  const auto query = search_runs_query(request, 0);
  EXPECT_TRUE(query.ok()) << query.status().to_string();
  const std::vector<std::string> steps = sqlite_plan(*query);
  for (const std::string& step : steps) {
    for (const char* table : {"runs", "params", "tags", "metrics", "latest_metrics", "x", "o1", "o2"}) {
      EXPECT_NE(step.rfind(std::string("SCAN ") + table, 0), 0u) << filter << ": a full scan, " << step;
    }
  }
  return steps;
}

// The query shapes of bench/store_bench.cc, each served by the index named
// in migrations/0005_search_indexes.sql (or 0001), so that a search of 100k
// runs stays in milliseconds. Dropping one of them fails its test here.
constexpr const char* kPageIds = "LIST SUBQUERY 1";
constexpr const char* kPageRows = "SEARCH runs USING PRIMARY KEY (run_id=?)";
constexpr const char* kPageSort = "USE TEMP B-TREE FOR ORDER BY";
constexpr const char* kByExperiment =
    "SEARCH runs USING COVERING INDEX runs_by_experiment_stage (experiment_id=? AND lifecycle_stage=?)";

TEST(SearchPlan, DefaultOrderWalksRunsByExperimentStage) {
  // The ids in index order, with no sort and no run's row; then the page's rows.
  EXPECT_EQ(checked_plan("", {}), (std::vector<std::string>{kPageRows, kPageIds, kByExperiment, kPageSort}));
}

TEST(SearchPlan, MetricAndParamFilterProbesEachRunInOrder) {
  const auto steps = checked_plan("metrics.approximate_top1 > 0.9 AND params.lr = '0.01'", {});
  EXPECT_TRUE(has_step(steps, kByExperiment));
  EXPECT_EQ(std::count(steps.begin(), steps.end(), "SEARCH x USING PRIMARY KEY (run_id=? AND key=?)"), 2);
  EXPECT_EQ(std::count(steps.begin(), steps.end(), kPageSort), 1) << "only the page's rows are sorted";
}

TEST(SearchPlan, OrderByMetricWalksLatestMetricsByKey) {
  const auto steps = checked_plan("tags.group = 'g3'", {"metrics.approximate_top1 DESC"});
  EXPECT_TRUE(has_step(steps, "SEARCH o1 USING COVERING INDEX latest_metrics_by_key (key=?)"));
  EXPECT_TRUE(has_step(steps, "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY")) << "only ties are sorted";
  EXPECT_TRUE(has_step(steps, "SEARCH runs USING PRIMARY KEY (run_id=?)"));
}

TEST(SearchPlan, OrderByParamOrTagWalksItsKeyIndex) {
  EXPECT_TRUE(has_step(checked_plan("", {"params.lr ASC"}), "SEARCH o1 USING COVERING INDEX params_by_key (key=?)"));
  EXPECT_TRUE(has_step(checked_plan("", {"tags.group DESC", "metrics.a"}),
                       "SEARCH o1 USING COVERING INDEX tags_by_key (key=?)"));
}

TEST(SearchPlan, RunNamePrefixIsARangeOfRunsByName) {
  const auto steps = checked_plan("attributes.run_name LIKE 'run12%'", {});
  EXPECT_TRUE(has_step(steps, "SEARCH runs USING INDEX runs_by_name (experiment_id=? AND run_name>? AND run_name<?)"));
}

}  // namespace
}  // namespace agnx::store
