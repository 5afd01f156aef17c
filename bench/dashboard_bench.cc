// Benchmark of the dashboard's JSON API at scale: one experiment with N runs
// (default 10,000), each FINISHED with a matching result (5 layers x 13
// candidates, like LeNet5 over signed EvoApprox), params and metrics. Then,
// over HTTP on loopback (a fresh connection per request, as a browser tab's
// first load), the latency of what the dashboard's pages fetch:
//   runs page       /api/experiments/ID/runs?max_results=50 (first and a later page)
//   filtered page   ...?filter=metrics.approximate_top1 > 0.5&order_by=metrics.relative_energy ASC
//   energy          /api/experiments/ID/energy   (the whole plot: every point, one call)
//   pareto          /api/experiments/ID/pareto
//   run, matching   /api/runs/RUN_ID and /api/runs/RUN_ID/matching
// Prints median and p95 over R repetitions and the response sizes.
//
// Usage: dashboard_bench [--runs N] [--repetitions R] [--writers W] [--serve]
// --serve keeps serving afterwards (prints "port N", stops when stdin closes),
// to time the dashboard pages in a browser at that size.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "server/http/http_server.h"
#include "store/sqlite_store.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace agnx;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void check(const Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, status.to_string().c_str());
  std::exit(1);
}

// A LeNet5-sized matching result whose energy and chosen multipliers vary with i.
MatchingInfo matching_for(std::size_t i) {
  MatchingInfo info;
  info.library = "evoapprox signed";
  info.metric = "PDK45_PWR";
  info.metric_max = 0.425;
  info.seed = 0;
  info.num_samples = 512;
  const char* names[] = {"conv1.0", "conv2.0", "linear1", "linear2", "linear3"};
  const int64_t opcounts[] = {117600, 240000, 48000, 10080, 840};
  for (std::size_t l = 0; l < 5; ++l) {
    LayerInfo layer;
    layer.name = names[l];
    layer.fan_in = 25 + static_cast<int64_t>(l) * 100;
    layer.opcount = opcounts[l];
    layer.sigma = 0.1;
    layer.out_std = 1000.0;
    layer.max_std = 100.0;
    for (std::size_t c = 0; c < 13; ++c) {
      layer.candidates.push_back({"mul8s_" + std::to_string(c), 0.05 + 0.03 * static_cast<double>(c),
                                  -1.0 + 0.1 * static_cast<double>(c), 200.0 / static_cast<double>(c + 1)});
    }
    const std::size_t chosen = 2 + (i * 7 + l * 3) % 11;
    layer.multiplier_name = layer.candidates[chosen].name;
    layer.multiplier_performance_metric = layer.candidates[chosen].metric;
    layer.mul_std = layer.candidates[chosen].std;
    info.layers.push_back(std::move(layer));
  }
  return info;
}

struct Timing {
  double median_ms = 0, p95_ms = 0;
  std::size_t bytes = 0;
};

Timing measure(uint16_t port, const std::string& target, int repetitions) {
  std::vector<double> ms;
  Timing timing;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = Clock::now();
    const testing::HttpReply reply = testing::http_get(port, target);
    ms.push_back(seconds_since(start) * 1e3);
    if (reply.status != 200) {
      std::fprintf(stderr, "%s: HTTP %d %s\n", target.c_str(), reply.status, reply.body.substr(0, 300).c_str());
      std::exit(1);
    }
    timing.bytes = reply.body.size();
  }
  std::sort(ms.begin(), ms.end());
  timing.median_ms = ms[ms.size() / 2];
  timing.p95_ms = ms[std::min(ms.size() - 1, static_cast<std::size_t>(0.95 * static_cast<double>(ms.size())))];
  return timing;
}

struct BenchOptions {
  std::size_t runs = 10000;
  std::size_t writers = 8;
  int repetitions = 20;
  bool serve = false;
};

// The options in argv; false (after printing the usage) on a bad one.
bool parse_options(int argc, char** argv, BenchOptions& o) {
  const char* usage = "usage: dashboard_bench [--runs N] [--repetitions R] [--writers W] [--serve]\n";
  for (int i = 1; i < argc; i += 2) {
    if (!std::strcmp(argv[i], "--serve")) {
      o.serve = true;
      --i;
    } else if (i + 1 >= argc) {
      std::fputs(usage, stderr);
      return false;
    } else if (!std::strcmp(argv[i], "--runs")) o.runs = std::strtoul(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--repetitions")) o.repetitions = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--writers")) o.writers = std::strtoul(argv[i + 1], nullptr, 10);
    else {
      std::fputs(usage, stderr);
      return false;
    }
  }
  return o.runs > 0 && o.repetitions >= 1 && o.writers > 0;
}

// Fills `experiment` with o.runs FINISHED runs with matching results from
// o.writers threads; returns the first run's id.
std::string fill(store::TrackingStore& store, int64_t experiment, const BenchOptions& o) {
  const auto fill_start = Clock::now();
  std::vector<std::thread> threads;
  std::vector<std::string> first_run(o.writers);
  for (std::size_t w = 0; w < o.writers; ++w) {
    threads.emplace_back([&, w] {
      for (std::size_t i = w; i < o.runs; i += o.writers) {
        auto run = store.create_run(experiment, "run-" + std::to_string(i), "bench", static_cast<int64_t>(i));
        check(run.status(), "create_run");
        const double lambda = 0.01 * static_cast<double>(i % 100 + 1);
        MatchingInfo info = matching_for(i);
        store::RunBatch batch;
        batch.params["lambda"] = std::to_string(lambda);
        batch.metrics.push_back({"approximate_top1", 0.9 - 0.5 * lambda + 0.001 * static_cast<double>(i % 37), 1, 0});
        batch.metrics.push_back({"relative_energy", info.relative_energy_consumption(), 1, 0});
        check(store.log_matching(run->run_id, {lambda, std::move(info)}, batch), "log_matching");
        check(store.update_run(run->run_id, store::RunStatus::kFinished, static_cast<int64_t>(i) + 1), "update_run");
        if (i == w) first_run[w] = run->run_id;
      }
    });
  }
  for (auto& t : threads) t.join();
  std::printf("filled %zu runs with matching results in %.1f s (%zu writer threads)\n", o.runs,
              seconds_since(fill_start), o.writers);
  return first_run[0];
}

// The store's share of the energy endpoint, without HTTP and JSON.
void time_energy_points(store::TrackingStore& store, int64_t experiment, int repetitions) {
  std::vector<double> ms;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = Clock::now();
    const auto points = store.energy_points(experiment);
    check(points.status(), "energy_points");
    ms.push_back(seconds_since(start) * 1e3);
  }
  std::sort(ms.begin(), ms.end());
  std::printf("store.energy_points alone: median %.2f ms\n", ms[ms.size() / 2]);
}

// The page token of page 6 of 50 runs: five tokens followed.
std::string sixth_page_token(uint16_t port, const std::string& base) {
  std::string token;
  for (int page = 0; page < 5; ++page) {
    const auto reply = testing::http_get(port, base + "/runs?max_results=50" +
                                                   (token.empty() ? "" : "&page_token=" + testing::url_encode(token)));
    const auto at = reply.body.rfind("\"next_page_token\":\"");
    token = reply.body.substr(at + 19, reply.body.find('"', at + 19) - at - 19);
  }
  return token;
}

void time_endpoints(uint16_t port, int64_t experiment, const std::string& first_run, const BenchOptions& o) {
  const std::string base = "/api/experiments/" + std::to_string(experiment);
  const std::string token = sixth_page_token(port, base);
  const std::pair<const char*, std::string> targets[] = {
      {"runs page 1 (50 runs)", base + "/runs?max_results=50"},
      {"runs page 6 (50 runs)", base + "/runs?max_results=50&page_token=" + testing::url_encode(token)},
      {"runs filtered+ordered", base + "/runs?max_results=50&filter=" +
                                    testing::url_encode("metrics.approximate_top1 > 0.5 AND params.lambda LIKE '0.1%'") +
                                    "&order_by=" + testing::url_encode("metrics.relative_energy ASC")},
      {"energy (all points)", base + "/energy"},
      {"pareto front", base + "/pareto"},
      {"one run", "/api/runs/" + first_run},
      {"one run's matching", "/api/runs/" + first_run + "/matching"},
      {"experiments", "/api/experiments"},
  };
  std::printf("%-24s %10s %10s %12s   (%zu runs, %d repetitions, new connection each)\n", "endpoint", "median ms",
              "p95 ms", "bytes", o.runs, o.repetitions);
  for (const auto& [label, target] : targets) {
    const Timing t = measure(port, target, o.repetitions);
    std::printf("%-24s %10.2f %10.2f %12zu\n", label, t.median_ms, t.p95_ms, t.bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions o;
  if (!parse_options(argc, argv, o)) return 2;
  testing::TempDir dir;
  store::SqliteStoreOptions options;
  options.data_dir = dir.path();
  options.synchronous_full = false;
  auto opened = store::SqliteTrackingStore::open(options);
  check(opened.status(), "open");
  store::SqliteTrackingStore& store = **opened;
  const int64_t experiment = *store.create_experiment("scale");
  const std::string first_run = fill(store, experiment, o);
  time_energy_points(store, experiment, o.repetitions);

  server::HttpOptions http;
  http.listen = "127.0.0.1:0";
  auto server = server::HttpServer::start(store, http);
  check(server.status(), "start");
  const uint16_t port = (*server)->port();
  time_endpoints(port, experiment, first_run, o);
  if (o.serve) {
    std::printf("port %u\n", static_cast<unsigned>(port));
    std::fflush(stdout);
    while (std::getchar() != EOF) {
    }
  }
  (*server)->stop();
  return 0;
}
