// agnx-fault-drill: exactly-once writes while the server crashes.
//
// Starts agnx-server on a loopback port with a temporary data directory and
// runs --clients client threads that create runs and log one metric batch
// per step through the client library, with retries on (so every such write
// carries an idempotency key, the same in each attempt). Meanwhile it
// SIGKILLs the server --kills times at random moments and restarts it on the
// same port and data directory. Then it reads everything back and prints the
// acknowledged writes and those found: every write must be acknowledged (a
// write whose retries gave up fails the drill: the server came back, so the
// retrying client must get through), every acknowledged write must be found
// exactly once, and no write may be stored twice.
//
//   agnx-fault-drill --server build/server/agnx-server [--clients 32] [--kills 5]
//                    [--seconds 30] [--seed 1]
//
// Exit status: 0 when no write gave up and nothing is missing or duplicated,
// 1 otherwise, 2 when the drill itself could not run (no server, bad flags).
#include <CLI/CLI.hpp>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace agnx;
using Clock = std::chrono::steady_clock;

constexpr int kStepsPerRun = 8;
constexpr const char* kMetric = "loss";

struct DrillOptions {
  std::string server;
  int clients = 32;
  int kills = 5;
  int seconds = 30;
  unsigned seed = 1;
};

// What one client was told was written: run names, and (run name, step) of batches.
struct ClientLog {
  std::vector<std::string> runs;
  std::vector<std::pair<std::string, int>> batches;
  int failed = 0;  // writes that gave up after their retries (not acknowledged)
};

client::Client connect(const std::string& address) {
  client::ClientOptions options;
  options.address = address;
  options.deadline = std::chrono::seconds(5);
  options.retry = {.max_attempts = 30,
                   .initial_backoff = std::chrono::milliseconds(50),
                   .max_backoff = std::chrono::milliseconds(500)};
  return std::move(*client::Client::connect(options));
}

// One client: runs named "c<id>-r<n>", each with kStepsPerRun batches.
void write_runs(const client::Client& client, int id, int64_t experiment_id, const std::atomic<bool>& stop,
                ClientLog& log) {
  for (int n = 0; !stop; ++n) {
    const std::string name = "c" + std::to_string(id) + "-r" + std::to_string(n);
    const auto run = client.create_run(experiment_id, name);
    if (!run.ok()) {
      ++log.failed;
      continue;
    }
    log.runs.push_back(name);
    for (int step = 0; step < kStepsPerRun && !stop; ++step) {
      client::pb::LogBatchRequest batch;
      batch.set_run_id(run->info().run_id());
      client::pb::Metric* metric = batch.add_metrics();
      metric->set_key(kMetric);
      metric->set_value(step);
      metric->set_step(step);
      if (client.log_batch(batch).ok()) {
        log.batches.emplace_back(name, step);
      } else {
        ++log.failed;
      }
    }
  }
}

struct Tally {
  std::size_t runs = 0, batches = 0, failed = 0;  // acknowledged runs and batches; writes given up
  std::size_t found = 0, missing = 0, duplicates = 0, unacknowledged_found = 0;
};

// Reads the experiment back and compares it with what was acknowledged.
client::Result<Tally> tally(const client::Client& client, int64_t experiment_id,
                            const std::vector<ClientLog>& logs) {
  client::pb::SearchRunsRequest search;
  search.add_experiment_ids(experiment_id);
  const auto runs = client.search_all_runs(search);
  if (!runs.ok()) return runs.status();
  std::map<std::string, int> runs_named;
  std::map<std::pair<std::string, int>, int> batches_stored;
  for (const auto& run : *runs) {
    ++runs_named[run.info().run_name()];
    const auto history = client.get_metric_history(run.info().run_id(), kMetric);
    if (!history.ok()) return history.status();
    for (const auto& metric : *history) ++batches_stored[{run.info().run_name(), static_cast<int>(metric.step())}];
  }
  Tally t;
  const auto count = [&](int stored) { ++(stored == 0 ? t.missing : t.found); };
  for (const ClientLog& log : logs) {
    t.runs += log.runs.size();
    t.batches += log.batches.size();
    t.failed += static_cast<std::size_t>(log.failed);
    for (const auto& name : log.runs) count(runs_named[name]);
    for (const auto& batch : log.batches) count(batches_stored[batch]);
  }
  // A duplicate is any write stored twice, acknowledged or not: each was sent once.
  for (const auto& [name, n] : runs_named) t.duplicates += static_cast<std::size_t>(std::max(0, n - 1));
  for (const auto& [batch, n] : batches_stored) t.duplicates += static_cast<std::size_t>(std::max(0, n - 1));
  std::size_t stored = 0;
  for (const auto& [name, n] : runs_named) stored += n > 0;
  for (const auto& [batch, n] : batches_stored) stored += n > 0;
  t.unacknowledged_found = stored - t.found;
  return t;
}

// Starts the server on `listen`, trying again for a while if the port is
// still held by the process just killed.
Result<std::unique_ptr<testing::ServerProcess>> start_server(const DrillOptions& options,
                                                            const std::filesystem::path& data,
                                                            const std::string& listen) {
  Status last;
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto server = testing::ServerProcess::start(options.server, data, {"--listen", listen});
    if (server.ok()) return server;
    last = server.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return last;
}

int run_drill(const DrillOptions& options) {
  testing::TempDir dir;
  const auto data = dir.path() / "data";
  auto server = start_server(options, data, "127.0.0.1:0");
  if (!server.ok()) {
    std::fprintf(stderr, "agnx-fault-drill: %s\n", server.status().to_string().c_str());
    return 2;
  }
  const std::string address = (*server)->address();  // every restart listens here again
  const client::Client client = connect(address);
  const auto experiment = client.create_experiment("fault-drill");
  if (!experiment.ok()) {
    std::fprintf(stderr, "agnx-fault-drill: %s\n", experiment.status().to_string().c_str());
    return 2;
  }

  const auto started = Clock::now();
  std::atomic<bool> stop{false};
  std::vector<ClientLog> logs(static_cast<std::size_t>(options.clients));
  std::vector<std::thread> clients;
  for (int id = 0; id < options.clients; ++id) {
    ClientLog& log = logs[static_cast<std::size_t>(id)];
    clients.emplace_back([&, id] { write_runs(client, id, experiment->experiment_id(), stop, log); });
  }
  // Kills at random moments, spread over the first 80% of the drill.
  std::mt19937 random(options.seed);
  const double slot = 0.8 * options.seconds / std::max(options.kills, 1);
  for (int kill = 0; kill < options.kills; ++kill) {
    const double at = slot * (kill + std::uniform_real_distribution<double>(0.3, 1.0)(random));
    std::this_thread::sleep_until(started + std::chrono::duration<double>(at));
    (*server)->kill_and_wait(SIGKILL);
    std::printf("killed the server at %.1f s\n", std::chrono::duration<double>(Clock::now() - started).count());
    std::fflush(stdout);
    server = start_server(options, data, address);
    if (!server.ok()) {
      stop = true;
      for (auto& c : clients) c.join();
      std::fprintf(stderr, "agnx-fault-drill: restarting: %s\n", server.status().to_string().c_str());
      return 2;
    }
  }
  std::this_thread::sleep_until(started + std::chrono::seconds(options.seconds));
  stop = true;
  for (auto& c : clients) c.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();

  const auto t = tally(client, experiment->experiment_id(), logs);
  if (!t.ok()) {
    std::fprintf(stderr, "agnx-fault-drill: reading back: %s\n", t.status().to_string().c_str());
    return 2;
  }
  std::printf("%d clients, %d kills and restarts, %.1f s\n", options.clients, options.kills, elapsed);
  std::printf("acknowledged writes: %zu (%zu runs, %zu batches)\n", t->runs + t->batches, t->runs, t->batches);
  std::printf("found afterwards:    %zu\n", t->found);
  std::printf("missing:             %zu\n", t->missing);
  std::printf("stored twice:        %zu\n", t->duplicates);
  std::printf("not acknowledged:    %zu (gave up after retries; %zu stored all the same)\n", t->failed,
              t->unacknowledged_found);
  const bool pass = t->failed == 0 && t->missing == 0 && t->duplicates == 0 && t->runs > 0;
  std::printf("%s\n", pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"agnx-fault-drill: clients write through the retrying client while the server is killed and "
               "restarted; every write must be acknowledged and stored exactly once."};
  DrillOptions options;
  app.add_option("--server", options.server, "the agnx-server binary")->required();
  app.add_option("--clients", options.clients, "client threads")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--kills", options.kills, "SIGKILLs and restarts")->capture_default_str()->check(CLI::Range(0, 100));
  app.add_option("--seconds", options.seconds, "duration of the writing")->capture_default_str()->check(
      CLI::Range(1, 3600));
  app.add_option("--seed", options.seed, "of the kill times")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return run_drill(options);
}
