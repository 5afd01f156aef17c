// Benchmark of the tracking store (SQLite backend) through its public API:
//  1. batched metric ingestion: W writer threads, each logging batches of B
//     metrics to its own run, for B = 10 and B = 500, with synchronous FULL
//     (durable on power loss, the default) and NORMAL (durable on a crash);
//  2. search_runs latency with 10,000 and 100,000 runs in one experiment.
//
// Usage: store_bench [--writers W] [--runs N[,N...]] [--rows R]
// (--rows 0: search latency only).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite_store.h"
#include "tests/support/temp_dir.h"

namespace {

using agnx::store::Metric;
using agnx::store::RunBatch;
using agnx::store::SqliteStoreOptions;
using agnx::store::SqliteTrackingStore;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// This thread's CPU time in milliseconds: a search's cost apart from other
// processes on a shared machine (search_runs runs on the calling thread).
double thread_cpu_ms() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

std::unique_ptr<SqliteTrackingStore> open_store(const std::filesystem::path& dir, bool synchronous_full) {
  SqliteStoreOptions options;
  options.data_dir = dir;
  options.synchronous_full = synchronous_full;
  auto store = SqliteTrackingStore::open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().to_string().c_str());
    std::exit(1);
  }
  return std::move(*store);
}

void check(const agnx::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, status.to_string().c_str());
  std::exit(1);
}

void ingestion(std::size_t writers, std::size_t batch_size, std::size_t total_rows, bool synchronous_full) {
  agnx::testing::TempDir dir;
  auto store = open_store(dir.path(), synchronous_full);
  const int64_t experiment = *store->create_experiment("ingestion");
  std::vector<std::string> runs;
  for (std::size_t w = 0; w < writers; ++w) runs.push_back(store->create_run(experiment, "w", "bench", 0)->run_id);
  const std::size_t batches_per_writer = std::max<std::size_t>(1, total_rows / writers / batch_size);
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      RunBatch batch;
      batch.metrics.resize(batch_size);
      for (std::size_t b = 0; b < batches_per_writer; ++b) {
        for (std::size_t i = 0; i < batch_size; ++i) {
          const auto step = static_cast<int64_t>(b * batch_size + i);
          batch.metrics[i] = Metric{i % 2 == 0 ? "loss" : "acc", 1.0 / static_cast<double>(step + 1), step, step};
        }
        check(store->log_batch(runs[w], batch), "log_batch");
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = seconds_since(start);
  const double rows = static_cast<double>(writers * batches_per_writer * batch_size);
  std::printf("ingestion: %2zu writer threads, batches of %3zu, synchronous %-6s: %9.0f metrics/s (%.0f rows in %.2f s)\n",
              writers, batch_size, synchronous_full ? "FULL" : "NORMAL", rows / seconds, rows, seconds);
}

// Creates `count` runs with a metric, a param and a tag each, from `writers` threads.
void populate(SqliteTrackingStore& store, int64_t experiment, std::size_t count, std::size_t writers) {
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (std::size_t i = w; i < count; i += writers) {
        const auto run = store.create_run(experiment, std::string("run").append(std::to_string(i)), "bench", static_cast<int64_t>(i));
        check(run.status(), "create_run");
        RunBatch batch;
        batch.metrics = {{"approximate_top1", static_cast<double>(i % 1000) / 1000.0, 0, 0}};
        batch.params = {{"lr", i % 10 == 0 ? "0.01" : "0.1"}};
        batch.tags = {{"group", std::string("g").append(std::to_string(i % 7))}};
        check(store.log_batch(run->run_id, batch), "log_batch");
      }
    });
  }
  for (auto& t : threads) t.join();
}

void search_latency(std::size_t runs, std::size_t writers) {
  agnx::testing::TempDir dir;
  auto store = open_store(dir.path(), false);
  const int64_t experiment = *store->create_experiment("search");
  const auto start = Clock::now();
  populate(*store, experiment, runs, writers);
  std::printf("search, %zu runs (created in %.1f s by %zu threads):\n", runs, seconds_since(start), writers);
  struct Case {
    const char* name;
    std::string filter;
    std::vector<std::string> order_by;
  };
  const std::vector<Case> cases = {
      {"default order, first 100", "", {}},
      {"metrics.approximate_top1 > 0.9 AND params.lr = '0.01'", "metrics.approximate_top1 > 0.9 AND params.lr = '0.01'", {}},
      {"tags.group = 'g3', order by metrics.approximate_top1 DESC", "tags.group = 'g3'", {"metrics.approximate_top1 DESC"}},
      {"attributes.run_name LIKE 'run12%'", "attributes.run_name LIKE 'run12%'", {}},
  };
  for (const Case& c : cases) {
    agnx::store::SearchRunsRequest request;
    request.experiment_ids = {experiment};
    request.filter = c.filter;
    request.order_by = c.order_by;
    request.max_results = 100;
    std::vector<double> ms, cpu_ms;
    std::size_t found = 0;
    for (int rep = 0; rep < 11; ++rep) {
      const auto t = Clock::now();
      const double cpu = thread_cpu_ms();
      const auto page = store->search_runs(request);
      cpu_ms.push_back(thread_cpu_ms() - cpu);
      ms.push_back(seconds_since(t) * 1000.0);
      check(page.status(), "search_runs");
      found = page->runs.size();
    }
    std::sort(ms.begin(), ms.end());
    std::sort(cpu_ms.begin(), cpu_ms.end());
    std::printf("  %-60s median %8.2f ms (min %.2f; CPU median %.2f, %zu runs returned)\n", c.name, ms[ms.size() / 2],
                ms.front(), cpu_ms[cpu_ms.size() / 2], found);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t writers = 32, rows = 320000;
  std::vector<std::size_t> run_counts = {10000, 100000};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--writers") == 0) writers = std::max<std::size_t>(1, std::strtoul(argv[i + 1], nullptr, 10));
    if (std::strcmp(argv[i], "--rows") == 0) rows = std::strtoul(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--runs") == 0) {
      run_counts.clear();
      std::stringstream list(argv[i + 1]);
      for (std::string item; std::getline(list, item, ',');) run_counts.push_back(std::stoul(item));
    }
  }
  std::printf("store_bench: %u hardware threads\n", std::thread::hardware_concurrency());
  for (const bool full : {true, false}) {
    if (rows == 0) continue;
    ingestion(writers, 10, rows / 4, full);
    ingestion(writers, 500, rows, full);
  }
  for (const std::size_t runs : run_counts) search_latency(runs, writers);
  return 0;
}
