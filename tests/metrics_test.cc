// server/observability/: the metrics registry's Prometheus text (help and
// label escaping, cumulative histogram buckets with +Inf, _sum and _count,
// sampled gauges), its name checks and thread safety, and the structured
// log's levels and JSON lines.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <thread>
#include <vector>

#include "server/observability/log.h"
#include "server/observability/metrics.h"

namespace agnx::server {
namespace {

TEST(Metrics, CountersRenderWithHelpTypeAndEscapedLabels) {
  MetricsRegistry registry;
  CounterFamily& calls = registry.counter("agnx_calls_total", "Calls made.\nBy path \\ kind.", {"path", "kind"});
  calls.with({"a\"b", "x\\y\nz"}).increment();
  calls.with({"a\"b", "x\\y\nz"}).increment(2);
  calls.with({"plain", "k"}).increment();
  EXPECT_EQ(registry.render(),
            "# HELP agnx_calls_total Calls made.\\nBy path \\\\ kind.\n"
            "# TYPE agnx_calls_total counter\n"
            "agnx_calls_total{path=\"a\\\"b\",kind=\"x\\\\y\\nz\"} 3\n"
            "agnx_calls_total{path=\"plain\",kind=\"k\"} 1\n");
}

TEST(Metrics, AFamilyWithoutLabelsRendersZeroFromTheStart) {
  MetricsRegistry registry;
  registry.counter("agnx_a_total", "A.", {});
  Gauge& depth = registry.gauge("agnx_depth", "Depth.", {}).with({});
  EXPECT_EQ(registry.render(),
            "# HELP agnx_a_total A.\n# TYPE agnx_a_total counter\nagnx_a_total 0\n"
            "# HELP agnx_depth Depth.\n# TYPE agnx_depth gauge\nagnx_depth 0\n");
  depth.set(2.5);
  depth.add(-1);
  EXPECT_NE(registry.render().find("\nagnx_depth 1.5\n"), std::string::npos);
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  MetricsRegistry registry;
  HistogramFamily& latency = registry.histogram("agnx_seconds", "Latency.", {"method"}, {0.005, 0.125, 0.5, 1});
  Histogram& get = latency.with({"Get"});
  for (const double value : {0.0625, 0.125, 0.25, 0.75, 0.75, 7.0}) get.observe(value);
  EXPECT_EQ(registry.render(),
            "# HELP agnx_seconds Latency.\n"
            "# TYPE agnx_seconds histogram\n"
            "agnx_seconds_bucket{method=\"Get\",le=\"0.005\"} 0\n"
            "agnx_seconds_bucket{method=\"Get\",le=\"0.125\"} 2\n"  // a bound is inclusive
            "agnx_seconds_bucket{method=\"Get\",le=\"0.5\"} 3\n"
            "agnx_seconds_bucket{method=\"Get\",le=\"1\"} 5\n"
            "agnx_seconds_bucket{method=\"Get\",le=\"+Inf\"} 6\n"
            "agnx_seconds_sum{method=\"Get\"} 8.9375\n"
            "agnx_seconds_count{method=\"Get\"} 6\n");
}

TEST(Metrics, SampledGaugesAreAskedAtEachRender) {
  MetricsRegistry registry;
  int renders = 0;
  registry.gauge_callback("agnx_jobs", "Jobs.", {"state"}, [&] {
    ++renders;
    return std::vector<GaugeSample>{{{"QUEUED"}, static_cast<double>(renders)}, {{"too", "many"}, 9}};
  });
  EXPECT_EQ(registry.render(), "# HELP agnx_jobs Jobs.\n# TYPE agnx_jobs gauge\nagnx_jobs{state=\"QUEUED\"} 1\n");
  EXPECT_NE(registry.render().find("agnx_jobs{state=\"QUEUED\"} 2\n"), std::string::npos);
}

TEST(Metrics, BadNamesLabelCountsAndBoundsAreRefused) {
  MetricsRegistry registry;
  EXPECT_THROW(registry.counter("1bad", "x", {}), std::invalid_argument);
  EXPECT_THROW(registry.counter("bad-name", "x", {}), std::invalid_argument);
  EXPECT_THROW(registry.counter("ok_total", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(registry.counter("ok_total", "x", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h", "x", {"le"}, {1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h", "x", {}, {}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h", "x", {}, {1, 1}), std::invalid_argument);
  CounterFamily& family = registry.counter("ok_total", "x", {"a"});
  EXPECT_THROW(registry.gauge("ok_total", "x", {}), std::invalid_argument);  // taken
  EXPECT_THROW(family.with({}), std::invalid_argument);
  EXPECT_THROW(family.with({"1", "2"}), std::invalid_argument);
  EXPECT_EQ(registry.render(), "# HELP ok_total x\n# TYPE ok_total counter\n");
}

TEST(Metrics, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry registry;
  CounterFamily& counter = registry.counter("agnx_n_total", "N.", {"thread"});
  Histogram& histogram = registry.histogram("agnx_h", "H.", {}, {1}).with({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        counter.with({std::to_string(t % 2)}).increment();
        histogram.observe(i % 2 ? 0.5 : 2.0);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter.with({"0"}).value() + counter.with({"1"}).value(), 40000);
  const Histogram::Snapshot snapshot = histogram.snapshot();
  EXPECT_EQ(snapshot.cumulative, (std::vector<uint64_t>{20000, 40000}));
  EXPECT_EQ(snapshot.count, 40000u);
}

TEST(Log, LevelsParseAndFilter) {
  EXPECT_EQ(*parse_log_level("warn"), LogLevel::kWarn);
  EXPECT_FALSE(parse_log_level("verbose").ok());
  set_log_level(LogLevel::kInfo);
  EXPECT_TRUE(log_enabled(LogLevel::kError));
  EXPECT_TRUE(log_enabled(LogLevel::kInfo));
  EXPECT_FALSE(log_enabled(LogLevel::kDebug));
  set_log_level(LogLevel::kDebug);
  EXPECT_TRUE(log_enabled(LogLevel::kDebug));
  set_log_level(LogLevel::kInfo);
}

TEST(Log, ALineIsOneJsonObjectWithTheFieldsInOrder) {
  const std::string line = log_line(LogLevel::kInfo, "job state",
                                    {{"job_id", int64_t{7}}, {"error", std::string("bad \"x\"\n")}, {"ms", 1.5}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_TRUE(line.starts_with("{\"ts\":\"")) << line;
  const auto json = nlohmann::ordered_json::parse(line);
  std::vector<std::string> keys;
  for (const auto& item : json.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"ts", "level", "msg", "job_id", "error", "ms"}));
  EXPECT_EQ(json["level"], "info");
  EXPECT_EQ(json["msg"], "job state");
  EXPECT_EQ(json["job_id"], 7);
  EXPECT_EQ(json["error"], "bad \"x\"\n");
  EXPECT_EQ(json["ts"].get<std::string>().size(), std::string("2024-05-01T12:00:00.123Z").size());
}

}  // namespace
}  // namespace agnx::server
