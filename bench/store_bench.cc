// Benchmark of the tracking store through its public API:
//  1. batched metric ingestion (SQLite): W writer threads, each logging
//     batches of B metrics to its own run, for B = 10 and B = 500, with
//     synchronous FULL (durable on power loss, the default) and NORMAL
//     (durable on a crash);
//  2. search_runs latency (p50, p90 of 21) with 10,000 and 100,000 runs in
//     one experiment, on SQLite and, with --postgres, on PostgreSQL: a
//     private throwaway cluster (tests/support/postgres_cluster.h, fsync off:
//     reads do not wait for the disk), the runs created the same way, then
//     ANALYZE (a bulk load leaves the planner's statistics empty until
//     autovacuum gets to it; --no-analyze measures before). --explain prints
//     each shape's PostgreSQL plan (EXPLAIN ANALYZE of search_runs' query)
//     and the query's own time, then with the page's reads of params, tags
//     and metrics per run (as search_runs) and batched (3 queries a page).
//     --hold keeps the cluster up for psql until stdin ends.
//
// Usage: store_bench [--writers W] [--runs N[,N...]] [--rows R] [--postgres]
//                    [--no-analyze] [--explain] [--hold]
// (--rows 0: search latency only).
#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "store/open_store.h"
#include "store/postgres.h"
#include "store/search_sql.h"
#include "store/sqlite_store.h"
#include "tests/support/command_line.h"
#include "tests/support/postgres_cluster.h"
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
void populate(agnx::store::TrackingStore& store, int64_t experiment, std::size_t count, std::size_t writers) {
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

double percentile(const std::vector<double>& sorted, double p) {
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

struct SearchCase {
  const char* name;
  std::string filter;
  std::vector<std::string> order_by;
};

const std::vector<SearchCase>& search_cases() {
  static const std::vector<SearchCase> cases = {
      {"default order, first 100", "", {}},
      {"metrics.approximate_top1 > 0.9 AND params.lr = '0.01'", "metrics.approximate_top1 > 0.9 AND params.lr = '0.01'", {}},
      {"tags.group = 'g3', order by metrics.approximate_top1 DESC", "tags.group = 'g3'", {"metrics.approximate_top1 DESC"}},
      {"attributes.run_name LIKE 'run12%'", "attributes.run_name LIKE 'run12%'", {}},
  };
  return cases;
}

agnx::store::SearchRunsRequest search_request(const SearchCase& c, int64_t experiment) {
  agnx::store::SearchRunsRequest request;
  request.experiment_ids = {experiment};
  request.filter = c.filter;
  request.order_by = c.order_by;
  request.max_results = 100;
  return request;
}

agnx::store::pg::Params query_params(const agnx::store::SqlQuery& query) {
  agnx::store::pg::Params params;
  for (const auto& value : query.parameters) std::visit([&](const auto& v) { params.add(v); }, value);
  return params;
}

// One search on `db` in a REPEATABLE READ READ ONLY transaction, as
// search_runs does it: the query, then the page's params, tags and latest
// metrics, per run (3 queries a run, as PostgresTrackingStore's
// load_run_data) or for the whole page at once (3 queries, run_id = ANY).
void page_reads(agnx::store::pg::Connection& db, const agnx::store::SqlQuery& query, bool per_run) {
  check(db.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").status(), "BEGIN");
  const auto rows = db.exec(query.sql, query_params(query));
  check(rows.status(), "query");
  std::vector<std::string> ids;
  for (int i = 0; i < rows->size() && i < 100; ++i) ids.push_back((*rows)[i].text(0));
  const char* reads[] = {"SELECT run_id, key, value FROM params WHERE run_id",
                         "SELECT run_id, key, value FROM tags WHERE run_id",
                         "SELECT run_id, key, value, timestamp, step FROM latest_metrics WHERE run_id"};
  for (const char* read : reads) {
    if (per_run) {
      for (const std::string& id : ids) {
        check(db.exec(std::string(read) + " = $1", agnx::store::pg::Params().add(id)).status(), "read");
      }
    } else {
      check(db.exec(std::string(read) + " = ANY($1::text[])", agnx::store::pg::Params().add_array(ids)).status(),
            "read");
    }
  }
  check(db.exec("COMMIT").status(), "COMMIT");
}

// On PostgreSQL: each shape's plan (EXPLAIN ANALYZE, BUFFERS) and the p50 of
// its query alone, of the query with the page's reads per run (what
// search_runs does) and with them batched (3 queries for the page).
void explain(agnx::store::pg::Connection& db, int64_t experiment) {
  for (const SearchCase& c : search_cases()) {
    const auto query = agnx::store::search_runs_query(search_request(c, experiment), 0, agnx::store::kPostgresDialect);
    check(query.status(), "search_runs_query");
    const auto params = query_params(*query);
    std::vector<double> alone, per_run, batched;
    for (int rep = 0; rep < 11; ++rep) {
      auto t = Clock::now();
      check(db.exec(query->sql, params).status(), "query");
      alone.push_back(seconds_since(t) * 1000.0);
      t = Clock::now();
      page_reads(db, *query, true);
      per_run.push_back(seconds_since(t) * 1000.0);
      t = Clock::now();
      page_reads(db, *query, false);
      batched.push_back(seconds_since(t) * 1000.0);
    }
    for (auto* v : {&alone, &per_run, &batched}) std::sort(v->begin(), v->end());
    std::printf("  plan of %s\n  (p50: the query alone %.2f ms; with the page's reads per run, as search_runs, %.2f ms; "
                "batched, 3 queries a page, %.2f ms):\n",
                c.name, percentile(alone, 50), percentile(per_run, 50), percentile(batched, 50));
    const auto plan = db.exec("EXPLAIN (ANALYZE, BUFFERS) " + query->sql, params);
    check(plan.status(), "EXPLAIN");
    for (int i = 0; i < plan->size(); ++i) std::printf("    %s\n", (*plan)[i].text(0).c_str());
  }
}

// search_runs' latency per shape on `store`, whose experiment `experiment`
// holds the runs.
void search_latency(agnx::store::TrackingStore& store, int64_t experiment) {
  for (const SearchCase& c : search_cases()) {
    const auto request = search_request(c, experiment);
    std::vector<double> ms, cpu_ms;
    std::size_t found = 0;
    for (int rep = 0; rep < 21; ++rep) {
      const auto t = Clock::now();
      const double cpu = thread_cpu_ms();
      const auto page = store.search_runs(request);
      cpu_ms.push_back(thread_cpu_ms() - cpu);
      ms.push_back(seconds_since(t) * 1000.0);
      check(page.status(), "search_runs");
      found = page->runs.size();
    }
    std::sort(ms.begin(), ms.end());
    std::sort(cpu_ms.begin(), cpu_ms.end());
    std::printf("  %-60s p50 %8.2f ms  p90 %8.2f ms (min %.2f; this thread's CPU p50 %.2f, %zu runs returned)\n",
                c.name, percentile(ms, 50), percentile(ms, 90), ms.front(), percentile(cpu_ms, 50), found);
  }
}

void sqlite_search(std::size_t runs, std::size_t writers) {
  agnx::testing::TempDir dir;
  auto store = open_store(dir.path(), false);
  const int64_t experiment = *store->create_experiment("search");
  const auto start = Clock::now();
  populate(*store, experiment, runs, writers);
  std::printf("search on SQLite, %zu runs (created in %.1f s by %zu threads):\n", runs, seconds_since(start), writers);
  search_latency(*store, experiment);
}

void postgres_search(std::size_t runs, std::size_t writers, bool analyze, bool print_plans, bool hold) {
  auto cluster = agnx::testing::PostgresCluster::shared();
  check(cluster.status(), "the PostgreSQL cluster");
  const auto database = (*cluster)->create_database();
  check(database.status(), "create database");
  agnx::testing::TempDir dir;
  auto store = agnx::store::open_store((*cluster)->store_uri(*database, dir.path()));
  check(store.status(), "open_store");
  const int64_t experiment = *(*store)->create_experiment("search");
  const auto start = Clock::now();
  populate(**store, experiment, runs, writers);
  const double created = seconds_since(start);
  auto db = agnx::store::pg::Connection::open((*cluster)->conninfo(*database), "the benchmark's database");
  check(db.status(), "connect");
  double analyzed = 0;
  if (analyze) {
    const auto began = Clock::now();
    check((*db)->exec("ANALYZE").status(), "ANALYZE");
    analyzed = seconds_since(began);
  }
  std::printf("search on PostgreSQL (%s; store pool of 8 connections), %zu runs (created in %.1f s by %zu threads), %s:\n",
              (*cluster)->settings().c_str(), runs, created, writers,
              analyze ? ("then ANALYZE (" + std::to_string(static_cast<int>(analyzed * 1000)) + " ms)").c_str()
                      : "no ANALYZE (--no-analyze; autovacuum may run one meanwhile)");
  search_latency(**store, experiment);
  if (print_plans) explain(**db, experiment);
  if (hold) {
    std::printf("holding the cluster until stdin ends: psql '%s' (%s)\n", (*cluster)->conninfo(*database).c_str(),
                "as root: runuser -u postgres -- psql ...");
    std::fflush(stdout);
    while (std::getchar() != EOF) {
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t writers = 32, rows = 320000;
  std::vector<std::size_t> run_counts = {10000, 100000};
  bool postgres = false, no_analyze = false, print_plans = false, hold = false;
  CLI::App app{"store_bench: the tracking store's metric ingestion (SQLite, synchronous FULL and NORMAL) and "
               "search_runs latency at 10,000 and 100,000 runs (SQLite, and PostgreSQL with --postgres)"};
  app.add_option("--writers", writers, "writer threads")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--rows", rows, "metrics per ingestion pass (0: search latency only)")->capture_default_str();
  app.add_option("--runs", run_counts, "run counts of the search passes")->delimiter(',')->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  app.add_flag("--postgres", postgres, "also search on a private PostgreSQL cluster");
  app.add_flag("--no-analyze", no_analyze, "PostgreSQL: search before ANALYZE (no planner statistics)");
  app.add_flag("--explain", print_plans, "PostgreSQL: print each query shape's plan and timings");
  app.add_flag("--hold", hold, "PostgreSQL: keep the cluster up for psql until stdin ends");
  if (const auto exit_status = agnx::testing::parse_command_line(app, argc, argv)) return *exit_status;
  const bool analyze = !no_analyze;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows in a log file
  std::printf("store_bench: %u hardware threads\n", std::thread::hardware_concurrency());
  for (const bool full : {true, false}) {
    if (rows == 0) continue;
    ingestion(writers, 10, rows / 4, full);
    ingestion(writers, 500, rows, full);
  }
  if (postgres && !agnx::testing::PostgresCluster::missing().empty()) {
    std::fprintf(stderr, "--postgres: %s\n", agnx::testing::PostgresCluster::missing().c_str());
    return 1;
  }
  for (const std::size_t runs : run_counts) {
    sqlite_search(runs, writers);
    if (postgres) postgres_search(runs, writers, analyze, print_plans, hold);
  }
  return 0;
}
