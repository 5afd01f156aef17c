// agnx-load: a load benchmark of agnx-server's tracking API over loopback.
//
//   agnx-load [--clients 32] [--seconds 10 | --requests N] [--metrics 10,100] [--keys K] [--server 127.0.0.1:PORT]
//             [--postgres [--postgres-fsync on|off] [--postgres-pool N]]
//
// Without --server it starts the built agnx-server on 127.0.0.1:0 with a
// temporary data directory (removed afterwards). For each batch size in
// --metrics (one pass each) it creates an experiment and one run per client,
// then every client thread, on its own channel and connection, sends
// LogBatch requests of that many metrics (under as many keys, or --keys keys
// at several steps each), one after the other, for --seconds
// (or --requests per client). It prints requests/s, metrics/s and the latency
// percentiles, then reads every metric's history back and checks that the
// server stored exactly the metrics it acknowledged. Then the same threads,
// batch size and duration call TrackingStore::log_batch directly on a store
// of their own, opened as agnx-server opens its default one (open_store of a
// temporary directory: same synchronous setting, same group commit), and it
// prints the store-alone figures, verified the same way. A closing table puts
// server and store alone side by side per batch size: their ratio is the
// server's overhead (gRPC, protobuf, threads). Exits 1 on any failed
// request (set-up calls included) or mismatch, 2 on a usage error or a server
// that does not start.
//
// With --postgres the same passes run a second time on PostgreSQL: it starts
// a private cluster (tests/support/postgres_cluster.h) with fsync,
// synchronous_commit and full_page_writes on (a commit is on disk when it is
// acknowledged, as with SQLite's synchronous=FULL; --postgres-fsync off for
// the test cluster's settings), a second agnx-server on it (--store
// postgresql://...), and the store-alone pass opens its own database of that
// cluster with open_store, as the server does; both stores keep up to
// --postgres-pool connections (the URI's pool_size). It prints the settings it read
// back from the cluster, and the closing table has both backends' columns. Only loopback addresses are accepted (localhost,
// [::1], numeric 127.x.x.x): a tool for one's own machine, never another host's.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "agnapprox/v1/agnx.grpc.pb.h"
#include "core/clock.h"
#include "store/open_store.h"
#include "store/postgres.h"
#include "tests/support/command_line.h"
#include "tests/support/postgres_cluster.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace {

namespace pb = agnapprox::v1;
namespace store = agnx::store;
using agnx::Result;
using agnx::Status;
using agnx::now_ms;
using Clock = std::chrono::steady_clock;

// HOST:PORT with HOST localhost, [::1] or a numeric 127.x.x.x address.
bool is_loopback(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string host = address.substr(0, colon);
  if (host == "localhost" || host == "[::1]") return true;
  in_addr ipv4{};
  return inet_pton(AF_INET, host.c_str(), &ipv4) == 1 && (ntohl(ipv4.s_addr) >> 24) == 127;
}

std::shared_ptr<grpc::Channel> open_channel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own, not a shared one
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<grpc::ClientContext> context_with_deadline(int seconds) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return context;
}

struct Options {
  std::size_t clients = 32;
  double seconds = 10;
  std::size_t requests = 0;  // per client; 0: --seconds bounds the pass
  std::vector<std::size_t> metrics{10, 100};
  std::size_t keys = 0;  // distinct keys per request; 0: one per metric
};

// What one request holds: `metrics` metrics under `keys` keys. Metric j of
// request i has key "m<j % keys>" and a step distinct per key and request,
// as a script that logs a few keys at many steps per batch; with as many
// keys as metrics, each key once per request at step i.
struct BatchShape {
  std::size_t metrics, keys;

  BatchShape(std::size_t metrics_per_request, std::size_t keys_per_request)
      : metrics(metrics_per_request),
        keys(keys_per_request == 0 ? metrics_per_request : std::min(keys_per_request, metrics_per_request)) {}
  std::string key(std::size_t j) const { return std::string("m").append(std::to_string(j % keys)); }
  int64_t step(std::size_t i, std::size_t j) const {
    const std::size_t steps_per_request = (metrics + keys - 1) / keys;
    return static_cast<int64_t>(i * steps_per_request + j / keys);
  }
  // How many of a request's metrics have key k.
  std::size_t per_request(std::size_t k) const { return (metrics - k + keys - 1) / keys; }
};

std::string describe(const BatchShape& shape) {
  return std::to_string(shape.metrics) + " metrics under " + std::to_string(shape.keys) + " keys";
}

struct ClientResult {
  std::vector<double> latencies_ms;
  std::size_t ok = 0, errors = 0;
  std::string first_error;
};

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

// A fresh experiment with one run per client; the run ids, or empty on an error.
std::vector<std::string> create_runs(pb::Tracking::Stub& setup, const Options& options, std::size_t batch, int pass) {
  pb::CreateExperimentRequest create;
  create.set_name("agnx-load-" + std::to_string(std::time(nullptr)) + "-" + std::to_string(pass) + "-" +
                  std::to_string(batch));
  pb::Experiment experiment;
  if (const auto s = setup.CreateExperiment(context_with_deadline(30).get(), create, &experiment); !s.ok()) {
    std::fprintf(stderr, "agnx-load: CreateExperiment: %s\n", s.error_message().c_str());
    return {};
  }
  std::vector<std::string> runs;
  for (std::size_t i = 0; i < options.clients; ++i) {
    pb::CreateRunRequest request;
    request.set_experiment_id(experiment.experiment_id());
    request.set_run_name("client-" + std::to_string(i));
    pb::Run run;
    if (const auto s = setup.CreateRun(context_with_deadline(30).get(), request, &run); !s.ok()) {
      std::fprintf(stderr, "agnx-load: CreateRun: %s\n", s.error_message().c_str());
      return {};
    }
    runs.push_back(run.info().run_id());
  }
  return runs;
}

// Calls `send(i, error)` for request i = 0, 1, ... until the pass ends (at
// `stop`, or after --requests), timing each; `send` returns whether the
// request was acknowledged and otherwise says why in `error`.
template <typename Send>
void drive_loop(const Options& options, Clock::time_point stop, ClientResult& result, Send send) {
  for (std::size_t i = 0; options.requests ? i < options.requests : Clock::now() < stop; ++i) {
    std::string error;
    const auto sent = Clock::now();
    const bool ok = send(i, error);
    result.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
    if (ok) {
      ++result.ok;
    } else if (result.errors++ == 0) {
      result.first_error = error;
    }
  }
}

// Metric j of request i: its value and a step distinct per request (no duplicate rows).
double metric_value(std::size_t i, std::size_t j) { return static_cast<double>(i) * 0.5 + static_cast<double>(j); }

// A client's LogBatch loop on its own channel.
void drive_client(const std::shared_ptr<grpc::Channel>& channel, const std::string& run_id, const Options& options,
                  const BatchShape& batch, Clock::time_point stop, ClientResult& result) {
  auto stub = pb::Tracking::NewStub(channel);
  pb::LogBatchRequest request;
  request.set_run_id(run_id);
  for (std::size_t j = 0; j < batch.metrics; ++j) request.add_metrics()->set_key(batch.key(j));
  drive_loop(options, stop, result, [&](std::size_t i, std::string& error) {
    for (std::size_t j = 0; j < batch.metrics; ++j) {
      pb::Metric* m = request.mutable_metrics(static_cast<int>(j));
      m->set_value(metric_value(i, j));
      m->set_step(batch.step(i, j));
    }
    pb::LogResponse response;
    const grpc::Status status = stub->LogBatch(context_with_deadline(60).get(), request, &response);
    if (!status.ok()) error = std::to_string(status.error_code()) + ": " + status.error_message();
    return status.ok();
  });
}

// A client's log_batch loop straight on the store, with the timestamp the
// server would give it (the time it arrives).
void drive_store_client(store::TrackingStore& tracking, const std::string& run_id, const Options& options,
                        const BatchShape& batch, Clock::time_point stop, ClientResult& result) {
  store::RunBatch request;
  for (std::size_t j = 0; j < batch.metrics; ++j) request.metrics.push_back({batch.key(j), 0, 0, 0});
  drive_loop(options, stop, result, [&](std::size_t i, std::string& error) {
    const int64_t now = now_ms();
    for (std::size_t j = 0; j < batch.metrics; ++j) {
      request.metrics[j].value = metric_value(i, j);
      request.metrics[j].timestamp = now;
      request.metrics[j].step = batch.step(i, j);
    }
    const Status status = tracking.log_batch(run_id, request);
    if (!status.ok()) error = status.to_string();
    return status.ok();
  });
}

// Runs `client(c, stop, result)` for every client c at once, each on a thread
// of its own; returns the seconds the pass took.
double run_clients(const Options& options, std::vector<ClientResult>& results,
                   const std::function<void(std::size_t, Clock::time_point, ClientResult&)>& client) {
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  const auto duration = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds));
  Clock::time_point start;
  for (std::size_t c = 0; c < options.clients; ++c) {
    threads.emplace_back([&, c] {
      while (!go.load()) std::this_thread::yield();
      client(c, start + duration, results[c]);
    });
  }
  start = Clock::now();
  go.store(true);
  for (auto& t : threads) t.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The server pass's clients, each on a connection of its own.
double drive_clients(const std::string& address, const std::vector<std::string>& runs, const Options& options,
                     const BatchShape& batch, std::vector<ClientResult>& results) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (std::size_t i = 0; i < options.clients; ++i) {
    channels.push_back(open_channel(address));
    channels.back()->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
  }
  return run_clients(options, results, [&](std::size_t c, Clock::time_point stop, ClientResult& result) {
    drive_client(channels[c], runs[c], options, batch, stop, result);
  });
}

// What a pass measured, for the closing table.
struct PassFigures {
  double metrics_per_s = 0, p50_ms = 0;
};

// Prints the pass's throughput and latencies; returns its figures and (in
// `ok`) the acknowledged requests.
PassFigures report(const std::vector<ClientResult>& results, const std::string& title, double elapsed,
                   std::size_t batch, std::size_t& ok) {
  std::vector<double> latencies;
  std::size_t errors = 0;
  ok = 0;
  for (const auto& r : results) {
    latencies.insert(latencies.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    ok += r.ok;
    errors += r.errors;
    if (r.errors) std::fprintf(stderr, "agnx-load: a client's first error: %s\n", r.first_error.c_str());
  }
  std::sort(latencies.begin(), latencies.end());
  const PassFigures figures{static_cast<double>(ok * batch) / elapsed, percentile(latencies, 50)};
  std::printf("%s, %.1f s\n", title.c_str(), elapsed);
  std::printf("  requests   %zu ok, %zu errors\n", ok, errors);
  std::printf("  throughput %.0f requests/s, %.0f metrics/s\n", static_cast<double>(ok) / elapsed,
              figures.metrics_per_s);
  std::printf("  latency ms p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", figures.p50_ms, percentile(latencies, 90),
              percentile(latencies, 99), latencies.empty() ? 0.0 : latencies.back());
  return figures;
}

// Reads back: every key of every run holds its entries of every acknowledged
// request. `stored(c, key)` is how many entries client c's run holds under
// `key`, or an error message.
bool verify_stored(const std::vector<ClientResult>& results, const BatchShape& batch, std::size_t acknowledged_requests,
                   const std::function<std::optional<std::size_t>(std::size_t, const std::string&)>& stored_count) {
  std::size_t stored = 0, mismatched_keys = 0;
  for (std::size_t c = 0; c < results.size(); ++c) {
    for (std::size_t k = 0; k < batch.keys; ++k) {
      const std::optional<std::size_t> count = stored_count(c, batch.key(k));
      if (!count) return false;
      stored += *count;
      if (*count != results[c].ok * batch.per_request(k)) ++mismatched_keys;
    }
  }
  const std::size_t acknowledged = acknowledged_requests * batch.metrics;
  std::printf("  verified   %zu metrics stored, %zu acknowledged%s\n", stored, acknowledged,
              stored == acknowledged && mismatched_keys == 0 ? "" : "  MISMATCH");
  std::fflush(stdout);
  return stored == acknowledged && mismatched_keys == 0;
}

bool no_errors(const std::vector<ClientResult>& results) {
  return std::all_of(results.begin(), results.end(), [](const auto& r) { return r.errors == 0; });
}

// One pass through the server; false on any error or mismatch.
bool run_pass(const std::string& address, const Options& options, std::size_t batch, int pass, PassFigures& figures) {
  auto setup = pb::Tracking::NewStub(open_channel(address));
  const std::vector<std::string> runs = create_runs(*setup, options, batch, pass);
  if (runs.empty()) return false;
  const BatchShape shape(batch, options.keys);
  std::vector<ClientResult> results(options.clients);
  const double elapsed = drive_clients(address, runs, options, shape, results);
  std::size_t ok = 0;
  figures = report(results, "pass " + std::to_string(pass) + ": " + std::to_string(options.clients) +
                                " clients x LogBatch of " + describe(shape),
                   elapsed, batch, ok);
  const bool verified = verify_stored(results, shape, ok, [&](std::size_t c, const std::string& key) {
    pb::GetMetricHistoryRequest request;
    request.set_run_id(runs[c]);
    request.set_key(key);
    pb::GetMetricHistoryResponse history;
    if (const auto s = setup->GetMetricHistory(context_with_deadline(60).get(), request, &history); !s.ok()) {
      std::fprintf(stderr, "agnx-load: GetMetricHistory: %s\n", s.error_message().c_str());
      return std::optional<std::size_t>();
    }
    return std::optional<std::size_t>(history.metrics_size());
  });
  return verified && no_errors(results) && ok > 0;
}

// A fresh experiment in `tracking` with one run per client; the run ids, or empty on an error.
std::vector<std::string> create_store_runs(store::TrackingStore& tracking, const Options& options, std::size_t batch) {
  const auto experiment = tracking.create_experiment("agnx-load-store-" + std::to_string(batch));
  if (!experiment.ok()) {
    std::fprintf(stderr, "agnx-load: store create_experiment: %s\n", experiment.status().to_string().c_str());
    return {};
  }
  std::vector<std::string> runs;
  for (std::size_t i = 0; i < options.clients; ++i) {
    const auto run = tracking.create_run(*experiment, "client-" + std::to_string(i), "", now_ms());
    if (!run.ok()) {
      std::fprintf(stderr, "agnx-load: store create_run: %s\n", run.status().to_string().c_str());
      return {};
    }
    runs.push_back(run->run_id);
  }
  return runs;
}

// The same pass on the store alone (no gRPC); false on any error or mismatch.
bool run_store_pass(store::TrackingStore& tracking, const Options& options, std::size_t batch, int pass,
                    PassFigures& figures) {
  const std::vector<std::string> runs = create_store_runs(tracking, options, batch);
  if (runs.empty()) return false;
  const BatchShape shape(batch, options.keys);
  std::vector<ClientResult> results(options.clients);
  const double elapsed = run_clients(options, results, [&](std::size_t c, Clock::time_point stop, ClientResult& r) {
    drive_store_client(tracking, runs[c], options, shape, stop, r);
  });
  std::size_t ok = 0;
  figures = report(results, "pass " + std::to_string(pass) + ", store alone: " + std::to_string(options.clients) +
                                " threads x log_batch of " + describe(shape),
                   elapsed, batch, ok);
  const bool verified = verify_stored(results, shape, ok, [&](std::size_t c, const std::string& key) {
    const auto history = tracking.get_metric_history(runs[c], key);
    if (!history.ok()) {
      std::fprintf(stderr, "agnx-load: store get_metric_history: %s\n", history.status().to_string().c_str());
      return std::optional<std::size_t>();
    }
    return std::optional<std::size_t>(history->size());
  });
  return verified && no_errors(results) && ok > 0;
}

// One backend's figures: per batch size, through the server and on the store alone.
struct BackendFigures {
  std::string name;
  std::vector<PassFigures> server, alone;
};

// The closing table: per batch size and backend, the server's and the store
// alone's metrics/s (p50 latency) and their ratio.
void print_comparison(const std::vector<std::size_t>& batches, const std::vector<BackendFigures>& backends,
                      std::size_t clients, std::size_t keys) {
  std::printf("\n%zu clients, %s; metrics/s (p50 latency)\n", clients,
              keys == 0 ? "one key per metric" : (std::to_string(keys) + " keys per request").c_str());
  std::printf("batch  backend     server metrics/s (p50)     store alone metrics/s (p50)   server/store\n");
  for (std::size_t i = 0; i < batches.size(); ++i) {
    for (const BackendFigures& b : backends) {
      const PassFigures& server = b.server[i];
      const PassFigures& alone = b.alone[i];
      std::printf("%5zu  %-10s  %10.0f (%8.2f ms)      %10.0f (%8.2f ms)          %5.0f%%\n", batches[i],
                  b.name.c_str(), server.metrics_per_s, server.p50_ms, alone.metrics_per_s, alone.p50_ms,
                  alone.metrics_per_s > 0 ? 100.0 * server.metrics_per_s / alone.metrics_per_s : 0.0);
    }
  }
}

// The PostgreSQL side of --postgres: a private cluster, a server on one
// database of it and a store on another.
struct PostgresSide {
  std::unique_ptr<agnx::testing::PostgresCluster> cluster;
  agnx::testing::TempDir files;  // the server's and the store's data_dir (artifacts, tmp)
  std::unique_ptr<agnx::testing::ServerProcess> server;
  std::unique_ptr<store::TrackingStore> alone;
};

// The cluster's settings that decide what a commit costs, as it reports them.
std::string durability_settings(agnx::testing::PostgresCluster& cluster) {
  auto db = store::pg::Connection::open(cluster.conninfo("postgres"), "the benchmark's cluster");
  if (!db.ok()) return db.status().to_string();
  auto rows = (*db)->exec(
      "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ' ' ORDER BY name) FROM pg_settings WHERE name IN "
      "('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'commit_delay', 'shared_buffers', "
      "'max_wal_size', 'server_version')");
  if (!rows.ok()) return rows.status().to_string();
  return (*rows)[0].text(0);
}

// Starts the cluster, the server on it and the store alone; an error names what failed.
Result<std::unique_ptr<PostgresSide>> start_postgres(const std::string& server_binary, bool fsync,
                                                     std::size_t pool_size) {
  if (const std::string why = agnx::testing::PostgresCluster::missing(); !why.empty()) {
    return Status::failed_precondition(why);
  }
  auto side = std::make_unique<PostgresSide>();
  AGNX_ASSIGN_OR_RETURN(side->cluster, agnx::testing::PostgresCluster::start({.durable = fsync}));
  AGNX_ASSIGN_OR_RETURN(const std::string server_db, side->cluster->create_database());
  AGNX_ASSIGN_OR_RETURN(const std::string alone_db, side->cluster->create_database());
  const std::string pool = "&pool_size=" + std::to_string(pool_size);
  const std::string uri = side->cluster->store_uri(server_db, side->files.path() / "server") + pool;
  AGNX_ASSIGN_OR_RETURN(side->server, agnx::testing::ServerProcess::start(server_binary, side->files.path() / "unused",
                                                                          {"--store", uri}));
  AGNX_ASSIGN_OR_RETURN(side->alone,
                        store::open_store(side->cluster->store_uri(alone_db, side->files.path() / "alone") + pool));
  std::printf("started %s on %s with --store %s\n", server_binary.c_str(), side->server->address().c_str(),
              uri.c_str());
  std::printf("PostgreSQL cluster (started in %.1f s): %s\n", side->cluster->start_seconds(),
              durability_settings(*side->cluster).c_str());
  return side;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"agnx-load: concurrent LogBatch load on an agnx-server over loopback.\n"
               "Examples:\n"
               "  agnx-load                                 # starts its own server, 32 clients, 10 s per pass\n"
               "  agnx-load --seconds 3 --metrics 10\n"
               "  agnx-load --server 127.0.0.1:50051 --requests 200"};
  Options options;
  std::string server_address;
  std::string server_binary = AGNX_SERVER_BINARY;
  app.add_option("--clients", options.clients, "concurrent clients, each with its own connection and run")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--seconds", options.seconds, "duration of each pass")->capture_default_str()->check(CLI::Range(0.1, 600.0));
  app.add_option("--requests", options.requests, "requests per client and pass instead of --seconds")
      ->check(CLI::Range(1, 10'000'000));
  app.add_option("--metrics", options.metrics, "metrics per LogBatch, one pass each")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--keys", options.keys,
                 "distinct keys per request, each at several steps (e.g. 2: loss and accuracy over many steps); "
                 "default: one key per metric, every key once per request, the shape that writes the most index pages")
      ->check(CLI::Range(1, 1000));
  app.add_option("--server", server_address, "a running server on loopback (default: start one)");
  app.add_option("--server-binary", server_binary, "the agnx-server to start")->capture_default_str();
  bool postgres = false;
  std::string postgres_fsync = "on";
  app.add_flag("--postgres", postgres,
               "also run every pass on PostgreSQL: a private cluster, a server with --store postgresql://... and "
               "the store alone on it");
  app.add_option("--postgres-fsync", postgres_fsync,
                 "on: fsync, synchronous_commit and full_page_writes on (durable, as in production); off: all three off "
                 "(the test cluster's settings)")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  std::size_t postgres_pool = store::kDefaultPoolSize;
  app.add_option("--postgres-pool", postgres_pool, "the PostgreSQL stores' most connections (the URI's pool_size)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  if (const auto exit_status = agnx::testing::parse_command_line(app, argc, argv)) return *exit_status;
  if (postgres && !server_address.empty()) {
    std::fprintf(stderr, "agnx-load: --postgres starts its own servers; it does not go with --server\n");
    return 2;
  }
  if (!server_address.empty() && !is_loopback(server_address)) {
    std::fprintf(stderr, "agnx-load: --server %s: only loopback addresses (127.x.x.x, localhost, [::1])\n",
                 server_address.c_str());
    return 2;
  }

  std::unique_ptr<agnx::testing::TempDir> data;
  std::unique_ptr<agnx::testing::ServerProcess> server;
  if (server_address.empty()) {
    data = std::make_unique<agnx::testing::TempDir>();
    auto started = agnx::testing::ServerProcess::start(server_binary, data->path() / "data");
    if (!started.ok()) {
      std::fprintf(stderr, "agnx-load: %s\n", started.status().to_string().c_str());
      return 2;
    }
    server = std::move(*started);
    server_address = server->address();
    std::printf("started %s on %s (data in %s)\n", server_binary.c_str(), server_address.c_str(),
                data->path().c_str());
  }
  agnx::testing::TempDir store_data;
  auto tracking = store::open_store("sqlite:" + (store_data.path() / "data").string());
  if (!tracking.ok()) {
    std::fprintf(stderr, "agnx-load: the store-alone pass's store: %s\n", tracking.status().to_string().c_str());
    return 2;
  }
  std::unique_ptr<PostgresSide> pg;
  if (postgres) {
    auto started = start_postgres(server_binary, postgres_fsync == "on", postgres_pool);
    if (!started.ok()) {
      std::fprintf(stderr, "agnx-load: --postgres: %s\n", started.status().to_string().c_str());
      return 2;
    }
    pg = std::move(*started);
  }
  std::fflush(stdout);
  bool passed = true;
  int pass = 0;
  std::vector<BackendFigures> backends{{"SQLite", {}, {}}};
  if (pg) backends.push_back({"PostgreSQL", {}, {}});
  for (BackendFigures& b : backends) {
    b.server.resize(options.metrics.size());
    b.alone.resize(options.metrics.size());
  }
  for (std::size_t i = 0; i < options.metrics.size(); ++i) {
    std::printf("\n-- SQLite --\n");
    passed = run_pass(server_address, options, options.metrics[i], ++pass, backends[0].server[i]) && passed;
    passed = run_store_pass(**tracking, options, options.metrics[i], pass, backends[0].alone[i]) && passed;
    if (pg) {
      std::printf("\n-- PostgreSQL --\n");
      passed = run_pass(pg->server->address(), options, options.metrics[i], ++pass, backends[1].server[i]) && passed;
      passed = run_store_pass(*pg->alone, options, options.metrics[i], pass, backends[1].alone[i]) && passed;
    }
  }
  print_comparison(options.metrics, backends, options.clients, options.keys);
  if (pg) {
    std::printf("PostgreSQL: %s (%s), the store's pool of %zu connections\n", pg->cluster->settings().c_str(),
                postgres_fsync == "on" ? "durable: each acknowledged commit is on disk"
                                       : "NOT durable: --postgres-fsync off",
                postgres_pool);
  }
  std::printf("%s\n", passed ? "PASS: no errors, every acknowledged metric stored" : "FAIL");
  return passed ? 0 : 1;
}
