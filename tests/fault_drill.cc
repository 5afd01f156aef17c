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
// With --postgres it starts a private throwaway PostgreSQL cluster
// (tests/support/postgres_cluster.h) and --replicas agnx-server replicas
// (default 3) on one store of it, each with its own --replica-id and port;
// client i writes through replica i % N, and each kill SIGKILLs a replica
// chosen at random and restarts it on its port under its name.
//
//   agnx-fault-drill --server build/server/agnx-server [--clients 32] [--kills 5]
//                    [--seconds 30] [--seed 1] [--postgres [--replicas 3]]
//
// Both modes end with the line "acked N stored N missing 0 duplicate 0"
// (stored counts every stored copy of a write) and PASS or FAIL.
//
// Exit status: 0 when no write gave up and nothing is missing or duplicated,
// 1 otherwise, 2 when the drill itself could not run (no server, bad flags),
// 77 (--postgres) when the PostgreSQL binaries are missing, except under
// CI=true, where that is a failure (1).
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "tests/support/command_line.h"
#include "tests/support/postgres_cluster.h"
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
  bool postgres = false;  // replicas on a private PostgreSQL cluster instead of one SQLite server
  int replicas = 3;       // with --postgres
};

constexpr int kSkipped = 77;  // ctest's SKIP_RETURN_CODE

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
  std::size_t stored = 0;  // every stored copy of a write: acknowledged + duplicates + unacknowledged found - missing
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
  t.stored = stored + t.duplicates;
  return t;
}

// One agnx-server of the drill: how to start it and, once started, the
// process (its address is kept for the restarts).
struct Replica {
  std::string name;                // "replica K" with --postgres, else "the server"
  std::filesystem::path data;      // --data-dir (ignored by the server when --store is given)
  std::vector<std::string> args;   // --store URI --replica-id K with --postgres
  std::string listen = "127.0.0.1:0";
  std::unique_ptr<testing::ServerProcess> process;
};

// Starts the server on replica.listen, trying again for a while if the port
// is still held by the process just killed; then it listens there for good.
Status start_server(const DrillOptions& options, Replica& replica) {
  Status last;
  for (int attempt = 0; attempt < 20; ++attempt) {
    std::vector<std::string> args = replica.args;
    args.insert(args.end(), {"--listen", replica.listen});
    auto server = testing::ServerProcess::start(options.server, replica.data, args);
    if (server.ok()) {
      replica.process = std::move(*server);
      replica.listen = replica.process->address();
      return {};
    }
    last = server.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return last;
}

// The private cluster of --postgres and one store URI of it for all
// replicas; the caller keeps the cluster until the replicas are gone.
Result<std::string> start_postgres(const testing::TempDir& dir, std::unique_ptr<testing::PostgresCluster>& cluster) {
  AGNX_ASSIGN_OR_RETURN(cluster, testing::PostgresCluster::start({}));
  AGNX_ASSIGN_OR_RETURN(const std::string database, cluster->create_database());
  return cluster->store_uri(database, dir.path() / "shared");
}

int run_drill(const DrillOptions& options) {
  if (options.postgres) {
    if (const std::string missing = testing::PostgresCluster::missing(); !missing.empty()) {
      const bool required = testing::shared_data_required();
      std::fprintf(stderr, "agnx-fault-drill: %s%s%s\n", AGNX_MISSING_POSTGRES_PREFIX, missing.c_str(),
                   required ? " (CI=true)" : "; skipped");
      return required ? 1 : kSkipped;
    }
  }
  testing::TempDir dir;
  std::unique_ptr<testing::PostgresCluster> cluster;  // outlives the replicas (destroyed after them)
  std::vector<Replica> replicas;
  if (options.postgres) {
    const auto uri = start_postgres(dir, cluster);
    if (!uri.ok()) {
      std::fprintf(stderr, "agnx-fault-drill: starting PostgreSQL: %s\n", uri.status().to_string().c_str());
      return 2;
    }
    for (int k = 0; k < options.replicas; ++k) {
      const std::string id = "r" + std::to_string(k);
      Replica& replica = replicas.emplace_back();
      replica.name = "replica " + std::to_string(k);
      replica.data = dir.path() / id;
      // No jobs run in the drill: no warm worker (LibTorch loaded at each of the many starts).
      replica.args = {"--store", *uri, "--replica-id", id, "--warm-worker", "off"};
    }
  } else {
    Replica& server = replicas.emplace_back();
    server.name = "the server";
    server.data = dir.path() / "data";
  }
  std::vector<client::Client> connections;  // one per replica, shared by its client threads
  for (Replica& replica : replicas) {
    if (const Status started = start_server(options, replica); !started.ok()) {
      std::fprintf(stderr, "agnx-fault-drill: %s\n", started.to_string().c_str());
      return 2;
    }
    connections.push_back(connect(replica.listen));  // every restart listens here again
  }
  if (options.postgres) {
    for (std::size_t k = 0; k < replicas.size(); ++k) {
      std::printf("replica %zu %s pid %d\n", k, replicas[k].listen.c_str(), static_cast<int>(replicas[k].process->pid()));
    }
    std::printf("store postgresql (private cluster, %s)\n", cluster->settings().c_str());
    std::fflush(stdout);
  }
  const client::Client& client = connections[0];
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
    const client::Client& through = connections[static_cast<std::size_t>(id) % connections.size()];
    clients.emplace_back([&, id] { write_runs(through, id, experiment->experiment_id(), stop, log); });
  }
  // Kills at random moments, spread over the first 80% of the drill, each of
  // a replica chosen at random (the one server without --postgres).
  std::mt19937 random(options.seed);
  const double slot = 0.8 * options.seconds / std::max(options.kills, 1);
  for (int kill = 0; kill < options.kills; ++kill) {
    const double at = slot * (kill + std::uniform_real_distribution<double>(0.3, 1.0)(random));
    Replica& victim = replicas[std::uniform_int_distribution<std::size_t>(0, replicas.size() - 1)(random)];
    std::this_thread::sleep_until(started + std::chrono::duration<double>(at));
    victim.process->kill_and_wait(SIGKILL);
    std::printf("killed %s at %.1f s\n", victim.name.c_str(),
                std::chrono::duration<double>(Clock::now() - started).count());
    std::fflush(stdout);
    if (const Status restarted = start_server(options, victim); !restarted.ok()) {
      stop = true;
      for (auto& c : clients) c.join();
      std::fprintf(stderr, "agnx-fault-drill: restarting %s: %s\n", victim.name.c_str(),
                   restarted.to_string().c_str());
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
  if (options.postgres) {
    std::printf("%d clients over %zu replicas, %d kills and restarts, %.1f s\n", options.clients, replicas.size(),
                options.kills, elapsed);
  } else {
    std::printf("%d clients, %d kills and restarts, %.1f s\n", options.clients, options.kills, elapsed);
  }
  const std::size_t acked = t->runs + t->batches;
  std::printf("acknowledged writes: %zu (%zu runs, %zu batches)\n", acked, t->runs, t->batches);
  std::printf("found afterwards:    %zu\n", t->found);
  std::printf("missing:             %zu\n", t->missing);
  std::printf("stored twice:        %zu\n", t->duplicates);
  std::printf("not acknowledged:    %zu (gave up after retries; %zu stored all the same)\n", t->failed,
              t->unacknowledged_found);
  std::printf("acked %zu stored %zu missing %zu duplicate %zu\n", acked, t->stored, t->missing, t->duplicates);
  const bool pass =
      t->failed == 0 && t->missing == 0 && t->duplicates == 0 && t->stored == acked && t->runs > 0;
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
  app.add_option("--seed", options.seed, "of the kill times (and, with --postgres, of the replicas killed)")
      ->capture_default_str();
  CLI::Option* postgres = app.add_flag("--postgres", options.postgres,
               "replicas on one store of a private PostgreSQL cluster (needs postgresql-15) instead of one "
               "SQLite server");
  app.add_option("--replicas", options.replicas, "agnx-server replicas with --postgres")
      ->capture_default_str()
      ->check(CLI::Range(1, 16))
      ->needs(postgres);
  if (const auto exit_status = agnx::testing::parse_command_line(app, argc, argv)) return *exit_status;
  return run_drill(options);
}
