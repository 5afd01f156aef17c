#include "store/search_filter.h"

#include <gtest/gtest.h>

#include "store/search_sql.h"

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

}  // namespace
}  // namespace agnx::store
