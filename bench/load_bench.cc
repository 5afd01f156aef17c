// agnx-load: a load benchmark of agnx-server's tracking API over loopback.
//
//   agnx-load [--clients 32] [--seconds 10 | --requests N] [--metrics 10,100] [--server 127.0.0.1:PORT]
//
// Without --server it starts the built agnx-server on 127.0.0.1:0 with a
// temporary data directory (removed afterwards). For each batch size in
// --metrics (one pass each) it creates an experiment and one run per client,
// then every client thread, on its own channel and connection, sends
// LogBatch requests of that many metrics, one after the other, for --seconds
// (or --requests per client). It prints requests/s, metrics/s and the latency
// percentiles, then reads every metric's history back and checks that the
// server stored exactly the metrics it acknowledged. Exits 1 on any failed
// request (set-up calls included) or mismatch, 2 on a usage error or a server
// that does not start. Only loopback addresses are accepted (localhost,
// [::1], numeric 127.x.x.x): a tool for one's own machine, never another host's.
#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <thread>
#include <vector>

#include "agnapprox/v1/agnx.grpc.pb.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace {

namespace pb = agnapprox::v1;
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
};

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

// Client `c`'s LogBatch loop on its own channel, from `start` until the pass ends.
void drive_client(const std::shared_ptr<grpc::Channel>& channel, const std::string& run_id, const Options& options,
                  std::size_t batch, Clock::time_point stop, ClientResult& result) {
  auto stub = pb::Tracking::NewStub(channel);
  pb::LogBatchRequest request;
  request.set_run_id(run_id);
  for (std::size_t j = 0; j < batch; ++j) request.add_metrics()->set_key("m" + std::to_string(j));
  for (std::size_t i = 0; options.requests ? i < options.requests : Clock::now() < stop; ++i) {
    for (std::size_t j = 0; j < batch; ++j) {
      pb::Metric* m = request.mutable_metrics(static_cast<int>(j));
      m->set_value(static_cast<double>(i) * 0.5 + static_cast<double>(j));
      m->set_step(static_cast<int64_t>(i));  // distinct per request: no duplicate rows
    }
    pb::LogResponse response;
    const auto sent = Clock::now();
    const grpc::Status status = stub->LogBatch(context_with_deadline(60).get(), request, &response);
    result.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
    if (status.ok()) {
      ++result.ok;
    } else if (result.errors++ == 0) {
      result.first_error = std::to_string(status.error_code()) + ": " + status.error_message();
    }
  }
}

// Runs every client at once, each on a connection of its own; returns the seconds the pass took.
double drive_clients(const std::string& address, const std::vector<std::string>& runs, const Options& options,
                     std::size_t batch, std::vector<ClientResult>& results) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (std::size_t i = 0; i < options.clients; ++i) {
    channels.push_back(open_channel(address));
    channels.back()->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
  }
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  const auto duration = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds));
  Clock::time_point start;
  for (std::size_t c = 0; c < options.clients; ++c) {
    threads.emplace_back([&, c] {
      while (!go.load()) std::this_thread::yield();
      drive_client(channels[c], runs[c], options, batch, start + duration, results[c]);
    });
  }
  start = Clock::now();
  go.store(true);
  for (auto& t : threads) t.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Prints the pass's throughput and latencies; returns the acknowledged requests.
std::size_t report(const std::vector<ClientResult>& results, const Options& options, std::size_t batch, int pass,
                   double elapsed) {
  std::vector<double> latencies;
  std::size_t ok = 0, errors = 0;
  for (const auto& r : results) {
    latencies.insert(latencies.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    ok += r.ok;
    errors += r.errors;
    if (r.errors) std::fprintf(stderr, "agnx-load: a client's first error: %s\n", r.first_error.c_str());
  }
  std::sort(latencies.begin(), latencies.end());
  std::printf("pass %d: %zu clients x LogBatch of %zu metrics, %.1f s\n", pass, options.clients, batch, elapsed);
  std::printf("  requests   %zu ok, %zu errors\n", ok, errors);
  std::printf("  throughput %.0f requests/s, %.0f metrics/s\n", static_cast<double>(ok) / elapsed,
              static_cast<double>(ok * batch) / elapsed);
  std::printf("  latency ms p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", percentile(latencies, 50),
              percentile(latencies, 90), percentile(latencies, 99), latencies.empty() ? 0.0 : latencies.back());
  return ok;
}

// Reads back: every key of every run holds one entry per acknowledged request.
bool verify_stored(pb::Tracking::Stub& setup, const std::vector<std::string>& runs,
                   const std::vector<ClientResult>& results, std::size_t batch, std::size_t acknowledged_requests) {
  std::size_t stored = 0, mismatched_keys = 0;
  for (std::size_t c = 0; c < runs.size(); ++c) {
    for (std::size_t j = 0; j < batch; ++j) {
      pb::GetMetricHistoryRequest request;
      request.set_run_id(runs[c]);
      request.set_key("m" + std::to_string(j));
      pb::GetMetricHistoryResponse history;
      auto context = context_with_deadline(60);
      if (const auto s = setup.GetMetricHistory(context.get(), request, &history); !s.ok()) {
        std::fprintf(stderr, "agnx-load: GetMetricHistory: %s\n", s.error_message().c_str());
        return false;
      }
      stored += static_cast<std::size_t>(history.metrics_size());
      if (static_cast<std::size_t>(history.metrics_size()) != results[c].ok) ++mismatched_keys;
    }
  }
  const std::size_t acknowledged = acknowledged_requests * batch;
  std::printf("  verified   %zu metrics stored, %zu acknowledged%s\n", stored, acknowledged,
              stored == acknowledged && mismatched_keys == 0 ? "" : "  MISMATCH");
  std::fflush(stdout);
  return stored == acknowledged && mismatched_keys == 0;
}

// One pass; returns false on any error or mismatch.
bool run_pass(const std::string& address, const Options& options, std::size_t batch, int pass) {
  auto setup = pb::Tracking::NewStub(open_channel(address));
  const std::vector<std::string> runs = create_runs(*setup, options, batch, pass);
  if (runs.empty()) return false;
  std::vector<ClientResult> results(options.clients);
  const double elapsed = drive_clients(address, runs, options, batch, results);
  const std::size_t ok = report(results, options, batch, pass, elapsed);
  const bool no_errors = std::all_of(results.begin(), results.end(), [](const auto& r) { return r.errors == 0; });
  return verify_stored(*setup, runs, results, batch, ok) && no_errors && ok > 0;
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
  app.add_option("--server", server_address, "a running server on loopback (default: start one)");
  app.add_option("--server-binary", server_binary, "the agnx-server to start")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
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
  bool passed = true;
  int pass = 0;
  for (const std::size_t batch : options.metrics) passed = run_pass(server_address, options, batch, ++pass) && passed;
  std::printf("%s\n", passed ? "PASS: no errors, every acknowledged metric stored" : "FAIL");
  return passed ? 0 : 1;
}
