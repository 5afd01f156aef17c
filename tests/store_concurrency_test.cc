#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "store/sqlite_store.h"
#include "tests/support/temp_dir.h"

namespace agnx::store {
namespace {

TEST(StoreConcurrency, ThirtyTwoWritersLoseNothingWhileReadersRun) {
  constexpr int kWriters = 32;
  constexpr int kMetricsPerWriter = 2000;
  testing::TempDir dir;
  SqliteStoreOptions options;
  options.data_dir = dir.path();
  auto store = std::move(*SqliteTrackingStore::open(options));
  const int64_t experiment = *store->create_experiment("concurrency");
  std::vector<std::string> runs;
  for (int i = 0; i < 4; ++i) runs.push_back(store->create_run(experiment, "r", "u", i)->run_id);

  std::atomic<int> write_errors{0};
  std::atomic<int> read_errors{0};
  std::atomic<int> reads{0};
  std::atomic<bool> writing{true};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      SearchRunsRequest request;
      request.experiment_ids = {experiment};
      request.filter = "metrics.m >= 0";
      while (writing.load()) {
        const bool ok = r == 0 ? store->search_runs(request).ok()
                               : store->get_metric_history(runs[0], "m").ok() && store->get_run(runs[1]).ok();
        if (!ok) ++read_errors;
        ++reads;
      }
    });
  }
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const std::string& run_id = runs[static_cast<std::size_t>(w % 4)];
      for (int i = 0; i < kMetricsPerWriter; ++i) {
        if (!store->log_metric(run_id, {"m", static_cast<double>(i), w, i}).ok()) ++write_errors;
      }
    });
  }
  for (auto& t : writers) t.join();
  writing = false;
  for (auto& t : readers) t.join();

  EXPECT_EQ(write_errors.load(), 0);
  EXPECT_EQ(read_errors.load(), 0);
  EXPECT_GT(reads.load(), 0);
  std::size_t rows = 0;
  for (const std::string& run_id : runs) rows += store->get_metric_history(run_id, "m")->size();
  EXPECT_EQ(rows, static_cast<std::size_t>(kWriters * kMetricsPerWriter));
  EXPECT_EQ(store->get_run(runs[0])->metrics.at("m").step, kMetricsPerWriter - 1);
}

TEST(StoreConcurrency, AFailingWriteDoesNotRollBackOthersInItsGroup) {
  constexpr int kThreads = 8;
  constexpr int kWrites = 300;
  testing::TempDir dir;
  SqliteStoreOptions options;
  options.data_dir = dir.path();
  options.synchronous_full = false;
  auto store = std::move(*SqliteTrackingStore::open(options));
  const std::string run_id = store->create_run(*store->create_experiment("e"), "r", "u", 0)->run_id;
  ASSERT_TRUE(store->log_param(run_id, "fixed", "1").ok());
  std::atomic<int> good_ok{0};
  std::atomic<int> bad_ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        RunBatch batch;
        batch.metrics = {{"m", 1.0, t, i}};
        if (t % 2 == 1) batch.params = {{"fixed", "2"}};  // always rejected
        if (store->log_batch(run_id, batch).ok()) ++(t % 2 == 1 ? bad_ok : good_ok);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good_ok.load(), kThreads / 2 * kWrites);
  EXPECT_EQ(bad_ok.load(), 0);
  EXPECT_EQ(store->get_metric_history(run_id, "m")->size(), static_cast<std::size_t>(kThreads / 2 * kWrites));
}

TEST(StoreConcurrency, ReadersNeverSeeAHalfWrittenMatchingResult) {
  constexpr int kRuns = 150;
  testing::TempDir dir;
  SqliteStoreOptions options;
  options.data_dir = dir.path();
  options.synchronous_full = false;
  auto store = std::move(*SqliteTrackingStore::open(options));
  const int64_t experiment = *store->create_experiment("e");
  std::vector<std::string> runs;
  for (int i = 0; i < kRuns; ++i) runs.push_back(store->create_run(experiment, "r", "u", i)->run_id);

  MatchingRecord record;
  record.lambda = 0.5;
  record.info.library = "lib";
  record.info.metric = "power";
  record.info.metric_max = 2.0;
  for (int l = 0; l < 20; ++l) {
    LayerInfo layer;
    layer.name = "layer" + std::to_string(l);
    layer.fan_in = layer.opcount = 10;
    layer.multiplier_name = "m";
    layer.multiplier_performance_metric = 1.0;
    layer.candidates = {{"m", 1.0, 0.0, 0.5}, {"n", 2.0, 0.0, 0.0}};
    record.info.layers.push_back(layer);
  }
  std::atomic<bool> writing{true};
  std::atomic<int> torn{0};
  std::atomic<int> seen{0};
  std::thread reader([&] {
    while (writing.load()) {
      for (const std::string& run_id : runs) {
        const auto matching = store->get_matching(run_id);
        if (!matching.ok()) continue;
        ++seen;
        const auto run = store->get_run(run_id);
        if (matching->info.layers.size() != 20 || matching->info.layers.back().candidates.size() != 2 ||
            !run->metrics.contains("approximate_top1") || !run->params.contains("lambda")) {
          ++torn;
        }
      }
    }
  });
  for (const std::string& run_id : runs) {
    RunBatch batch;
    batch.metrics = {{"approximate_top1", 0.75, 1, 0}};
    batch.params = {{"lambda", "0.5"}};
    ASSERT_TRUE(store->log_matching(run_id, record, batch).ok());
  }
  writing = false;
  reader.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(seen.load(), 0);
}

}  // namespace
}  // namespace agnx::store
