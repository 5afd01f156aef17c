// agnx-server: the matching engine and the tracking store behind gRPC.
//
//   agnx-server [--listen ADDR] [--data-dir DIR] [--workers N] ...   serve
//               [--auth-tokens FILE] [--tls-cert FILE --tls-key FILE]
//   agnx-server migrate [--dry-run] [--data-dir DIR | --store URI]    schema migrations
//   agnx-server gc [--grace-seconds N] [--data-dir DIR | --store URI] collect deleted runs' artifacts
//   agnx-server backup FILE [--data-dir DIR | --store URI]            online copy of the database
//   agnx-server migrate-store --from sqlite:DIR --to postgresql://... copy a store to PostgreSQL
#include <CLI/CLI.hpp>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <semaphore.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <functional>
#include <random>
#include <thread>

#include "core/lut_directory.h"
#include "server/auth/server_security.h"
#include "server/http/http_server.h"
#include "server/job_runner.h"
#include "server/library_registry.h"
#include "server/matching_service.h"
#include "server/observability/grpc_observer.h"
#include "server/observability/log.h"
#include "server/observability/server_metrics.h"
#include "server/training_service.h"
#include "server/multipliers_service.h"
#include "server/tracking_service.h"
#include "server/worker_pool.h"
#include "store/open_store.h"
#include "store/store_copy.h"

namespace {

using namespace agnx;

struct ServeOptions {
  std::string listen = "127.0.0.1:50051";
  std::string data_dir = "agnx-data";
  std::string store;  // a store URI (store/open_store.h); empty: sqlite:DATA_DIR
  std::size_t workers = 1;
  std::size_t threads_per_job = 0;  // 0: hardware threads / workers
  std::size_t max_upload_mb = 512;
  std::size_t max_calibration_mb = 256;
  std::size_t max_training_upload_mb = server::kDefaultMaxTrainingUploadBytes >> 20;
  std::string worker;                  // agnx-worker; empty: next to this executable
  std::size_t job_time_limit_s = 3600;
  std::size_t job_memory_mb = 8192;
  bool warm_worker = true;             // fork job steps from a warm agnx-worker
  std::vector<std::string> library_dirs;  // NAME=DIR[,signed|,unsigned]
  std::string http;                       // dashboard address; empty: no dashboard
  std::string auth_tokens;                // tokens file; empty: no authentication
  std::string tls_cert, tls_key;          // PEM files; empty: plain text
  std::string log_level = "info";         // server/observability/log.h
  std::string replica_id;                 // empty: "local" on SQLite, HOST:PID:RANDOM otherwise
  double job_lease_s = 30.0;
};

// Idle gRPC threads kept for the next calls (see serve()).
constexpr int kMaxIdleCallThreads = 64;

int fail(const std::string& what) {
  std::fprintf(stderr, "agnx-server: %s\n", what.c_str());
  return 2;
}

// NAME=DIR[,signed|,unsigned]: a LUT directory offered as library NAME.
Result<MultiplierLibrary> load_library_flag(const std::string& flag) {
  const auto equals = flag.find('=');
  if (equals == std::string::npos || equals == 0) {
    return Status::invalid_argument("--library-dir " + flag + ": expected NAME=DIR[,signed|,unsigned]");
  }
  std::string dir = flag.substr(equals + 1), only;
  if (const auto comma = dir.rfind(','); comma != std::string::npos) {
    only = dir.substr(comma + 1);
    dir.resize(comma);
    if (only != "signed" && only != "unsigned") {
      return Status::invalid_argument("--library-dir " + flag + ": the suffix must be ,signed or ,unsigned");
    }
  }
  AGNX_ASSIGN_OR_RETURN(const MultiplierLibrary all, load_lut_directory(dir));
  return all.filtered(flag.substr(0, equals), [&](const Multiplier& m) {
    return only.empty() || m.is_signed() == (only == "signed");
  });
}

// SIGINT/SIGTERM start a clean shutdown; SIGHUP re-reads the tokens file.
// Handlers, not a blocked mask and sigwait: some threads (started by
// libraries before serve() runs) do not block the signals, and the default
// action on one of them killed the process at once, without letting running
// jobs finish. The handlers run on any thread and only set a flag and post a
// semaphore (async-signal-safe) that wait_for_termination_signal waits on.
sem_t signal_posted;
std::atomic<int> termination_signal{0};
std::atomic<bool> reload_requested{false};

void on_termination_signal(int signal) {
  termination_signal.store(signal);
  sem_post(&signal_posted);
}

void on_reload_signal(int) {
  reload_requested.store(true);
  sem_post(&signal_posted);
}

void install_signal_handlers() {
  sem_init(&signal_posted, 0, 0);
  struct sigaction action {};
  sigemptyset(&action.sa_mask);
  action.sa_handler = on_termination_signal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  action.sa_handler = on_reload_signal;
  sigaction(SIGHUP, &action, nullptr);
}

// Returns SIGINT or SIGTERM once one arrives, calling `reload` for every
// SIGHUP before.
int wait_for_termination_signal(const std::function<void()>& reload) {
  while (true) {
    while (sem_wait(&signal_posted) != 0 && errno == EINTR) {
    }
    if (const int signal = termination_signal.load(); signal != 0) return signal;
    if (reload_requested.exchange(false)) reload();
  }
}

// SIGHUP: the tokens file again. A bad file keeps the tokens in use; the
// message names the file and line, never a token.
void reload_tokens(const std::string& file, server::Authenticator* authenticator) {
  if (authenticator == nullptr) {
    std::printf("agnx-server: SIGHUP: no --auth-tokens, nothing to re-read\n");
  } else if (auto table = server::TokenTable::load(file); !table.ok()) {
    std::fprintf(stderr, "agnx-server: SIGHUP: --auth-tokens: %s; keeping the %zu token(s) in use\n",
                 table.status().message().c_str(), authenticator->size());
  } else {
    authenticator->replace(std::move(*table));
    std::printf("agnx-server: SIGHUP: %zu bearer token(s) from %s\n", authenticator->size(), file.c_str());
  }
  std::fflush(stdout);
}

// The store --store names, else the SQLite store in --data-dir.
std::string store_uri(const ServeOptions& options) {
  return options.store.empty() ? "sqlite:" + options.data_dir : options.store;
}

Status load_libraries(server::LibraryRegistry& libraries, const std::vector<std::string>& flags) {
  AGNX_RETURN_IF_ERROR(libraries.load_stored());
  for (const auto& flag : flags) {
    AGNX_ASSIGN_OR_RETURN(MultiplierLibrary library, load_library_flag(flag));
    AGNX_RETURN_IF_ERROR(libraries.add(std::move(library)));
  }
  return {};
}

// A SQLite store has one server: "local", taken back by its next start. On a
// shared store each process is its own replica.
std::string default_replica_id(const store::StoreLocation& location) {
  if (location.scheme == "sqlite") return "local";
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "host");
  std::random_device random;
  char id[320];
  std::snprintf(id, sizeof id, "%s:%d:%08x", host, static_cast<int>(::getpid()), random());
  return id;
}

// How jobs run: workers, threads, the model worker and its limits, and the
// directory of job files (tmp/ in the store's directory).
Result<server::JobRunnerOptions> job_runner_options(const ServeOptions& options) {
  AGNX_ASSIGN_OR_RETURN(const store::StoreLocation location, store::parse_store_uri(store_uri(options)));
  const std::size_t workers = std::max<std::size_t>(options.workers, 1);
  const std::size_t threads = options.threads_per_job
                                  ? options.threads_per_job
                                  : std::max<std::size_t>(1, std::thread::hardware_concurrency() / workers);
  const std::filesystem::path worker =
      options.worker.empty() ? server::default_worker_executable() : std::filesystem::path(options.worker);
  if (::access(worker.c_str(), X_OK) != 0) {
    return Status::failed_precondition("the model worker " + worker.string() +
                                       " is missing or not executable (see --worker)");
  }
  server::JobRunnerOptions job_options;
  job_options.workers = workers;
  job_options.replica_id = options.replica_id.empty() ? default_replica_id(location) : options.replica_id;
  job_options.lease = std::chrono::milliseconds(static_cast<int64_t>(options.job_lease_s * 1000));
  job_options.worker = {worker, threads, std::chrono::seconds(options.job_time_limit_s), options.job_memory_mb};
  job_options.work_dir = location.directory / "tmp";
  return job_options;
}

void print_listening(const ServeOptions& options, int port, const server::JobRunnerOptions& jobs,
                     const server::HttpServer* dashboard, const std::vector<std::string>& notices) {
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  std::printf("agnx-server listening on %s:%d (store %s, %zu workers x %zu threads, warm worker %s)\n",
              host.c_str(), port, store::redact_store_uri(store_uri(options)).c_str(), jobs.workers, jobs.worker.threads,
              jobs.worker.pool ? "on" : "off");
  if (dashboard) {
    const std::string http_host = options.http.substr(0, options.http.rfind(':'));
    std::printf("agnx-server dashboard on %s://%s:%u/\n", options.tls_cert.empty() ? "http" : "https",
                http_host.c_str(), dashboard->port());
  }
  for (const auto& notice : notices) std::printf("agnx-server: %s\n", notice.c_str());
  std::fflush(stdout);
}

// Serves until SIGINT or SIGTERM (SIGHUP re-reads the tokens), then stops
// accepting calls and lets running jobs finish.
void serve_until_signal(grpc::Server& server, const ServeOptions& options, server::Authenticator* authenticator) {
  std::thread waiter([&] {
    const int received = wait_for_termination_signal([&] { reload_tokens(options.auth_tokens, authenticator); });
    std::printf("agnx-server: %s, shutting down\n", received == SIGINT ? "SIGINT" : "SIGTERM");
    std::fflush(stdout);
    server.Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  });
  server.Wait();
  waiter.join();
}

Result<std::unique_ptr<server::HttpServer>> start_dashboard(const ServeOptions& options, store::TrackingStore& store,
                                                            const server::LibraryRegistry& libraries,
                                                            const server::ServerSecurity& security,
                                                            const server::MetricsRegistry& metrics) {
  if (options.http.empty()) return std::unique_ptr<server::HttpServer>();
  server::HttpOptions http;
  http.metrics = &metrics;
  http.listen = options.http;
  http.authenticator = security.authenticator;
  http.libraries = &libraries;
  http.tls_cert_file = options.tls_cert;  // HTTPS with gRPC's certificate
  http.tls_key_file = options.tls_key;
  auto started = server::HttpServer::start(store, http);
  if (!started.ok()) return started.status().with_context("--http " + options.http);
  return std::move(*started);
}

int serve(const ServeOptions& options) {
  install_signal_handlers();
  // A write beyond a file size limit (RLIMIT_FSIZE) then fails with EFBIG,
  // which the store reports like a full disk, instead of killing the server.
  std::signal(SIGXFSZ, SIG_IGN);
  const auto log_level = server::parse_log_level(options.log_level);
  if (!log_level.ok()) return fail("--log-level: " + log_level.status().message());
  server::set_log_level(*log_level);
  auto security = server::configure_security(
      {options.listen, options.http, options.auth_tokens, options.tls_cert, options.tls_key});
  if (!security.ok()) return fail(security.status().message());
  server::Authenticator* authenticator = security->authenticator.get();
  auto opened = store::open_store(store_uri(options));
  if (!opened.ok()) return fail(opened.status().message());
  store::TrackingStore& tracking = **opened;
  server::LibraryRegistry libraries(tracking);
  if (const Status s = load_libraries(libraries, options.library_dirs); !s.ok()) return fail(s.message());
  auto job_options = job_runner_options(options);
  if (!job_options.ok()) return fail(job_options.status().message());
  std::unique_ptr<server::WorkerPool> warm_worker;  // outlives the jobs
  if (options.warm_worker) {
    warm_worker = std::make_unique<server::WorkerPool>(job_options->worker.executable);
    job_options->worker.pool = warm_worker.get();
  }
  server::ServerMetrics metrics(tracking, warm_worker.get());

  server::JobRunner jobs(tracking, libraries, *job_options);
  const std::size_t max_upload = options.max_upload_mb << 20;
  server::TrackingService tracking_service(tracking, max_upload, authenticator);
  server::MatchingService matching_service(tracking, libraries, jobs, {max_upload, options.max_calibration_mb << 20},
                                           authenticator);
  server::TrainingService training_service(tracking, libraries, jobs, job_options->worker, job_options->work_dir,
                                           options.max_training_upload_mb << 20, authenticator);
  server::MultipliersService multipliers_service(libraries, job_options->work_dir, max_upload);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, security->credentials, &port);
  builder.SetMaxReceiveMessageSize(64 << 20);
  // gRPC's sync server keeps at most MAX_POLLERS idle threads and starts a
  // thread whenever its last idle one takes a call; with the default (2),
  // concurrent clients made it start and join a thread for nearly every call
  // (issue 17's profile). Idle threads are cheap; keep enough for busy times.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, kMaxIdleCallThreads);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(server::grpc_call_observer(metrics.registry()));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  for (grpc::Service* service : std::initializer_list<grpc::Service*>{&tracking_service, &matching_service,
                                                                      &training_service, &multipliers_service}) {
    builder.RegisterService(service);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) return fail("cannot listen on " + options.listen);
  if (const Status s = jobs.start(); !s.ok()) return fail(s.message());
  auto dashboard = start_dashboard(options, tracking, libraries, *security, metrics.registry());
  if (!dashboard.ok()) return fail(dashboard.status().message());

  print_listening(options, port, *job_options, dashboard->get(), security->notices);
  serve_until_signal(*server, options, authenticator);
  if (*dashboard) (*dashboard)->stop();
  jobs.stop();  // running jobs finish; queued ones wait for a claim (another replica's or the next start's)
  return 0;
}

int migrate(const std::string& uri, bool dry_run) {
  const auto migrations = store::migrate_store(uri, dry_run);
  if (!migrations.ok()) return fail(migrations.status().message());
  std::printf("%s %zu migration(s)%s\n", dry_run ? "pending:" : "applied", migrations->size(),
              migrations->empty() ? "" : ":");
  for (const auto& label : *migrations) std::printf("  %s\n", label.c_str());
  return 0;
}

// `migrate-store`: copies, then prints per table "TABLE N -> N" (or JSON).
int migrate_to_postgres(const std::string& from, const std::string& to, bool json) {
  const auto copy = store::copy_store(from, to);
  if (!copy.ok()) return fail(copy.status().message());
  std::string lines;
  std::string objects;
  for (const store::TableCount& t : copy->tables) {
    const std::string source = std::to_string(t.source_rows);
    const std::string target = std::to_string(t.target_rows);
    lines += t.table + " " + source + " -> " + target + "\n";
    objects += std::string(objects.empty() ? "" : ", ") + "{\"table\": \"" + t.table + "\", \"source_rows\": " +
               source + ", \"target_rows\": " + target + "}";
  }
  const std::string files = std::to_string(copy->artifact_files);
  if (json) std::printf("{\"tables\": [%s], \"artifact_files\": %s}\n", objects.c_str(), files.c_str());
  if (!json) std::printf("%sartifact files: %s\n", lines.c_str(), files.c_str());
  return 0;
}

// The options of `agnx-server` serving (its default command).
void add_serve_options(CLI::App& app, ServeOptions& options) {
  app.add_option("--listen", options.listen, "address to listen on (port 0: any free port)")->capture_default_str();
  app.add_option("--data-dir", options.data_dir, "SQLite database and artifacts (short for --store sqlite:DIR)")
      ->capture_default_str();
  app.add_option("--store", options.store, "the tracking store's URI: sqlite:DIR or postgresql://USER@HOST/DB?data_dir=DIR "
                 "(store/open_store.h; default: sqlite:DATA_DIR)");
  app.add_option("--workers", options.workers, "matching jobs run at once")->capture_default_str();
  app.add_option("--replica-id", options.replica_id,
                 "this server's name among the replicas of one store, as the owner of its jobs' leases; a replica "
                 "restarted under the same name takes its interrupted jobs back at once (default: local on SQLite, "
                 "HOST:PID:RANDOM on PostgreSQL)");
  app.add_option("--job-lease-seconds", options.job_lease_s,
                 "a running job's lease, renewed every third of it; a replica that dies leaves its jobs to the "
                 "others once it expires")
      ->check(CLI::Range(0.3, 3600.0))
      ->capture_default_str();
  app.add_option("--threads-per-job", options.threads_per_job, "threads of each job (0: cores / workers)");
  app.add_option("--max-upload-mb", options.max_upload_mb, "largest upload accepted")->capture_default_str();
  app.add_option("--max-training-upload-mb", options.max_training_upload_mb,
                 "largest training submission accepted (model, training and test data)")
      ->capture_default_str();
  app.add_option("--max-calibration-mb", options.max_calibration_mb, "largest calibration data of a job")
      ->capture_default_str();
  app.add_option("--job-time-limit", options.job_time_limit_s,
                 "seconds a job's model worker may run before it is killed and the job fails")
      ->capture_default_str();
  app.add_option("--job-memory-mb", options.job_memory_mb,
                 "memory (RLIMIT_DATA) of a job's model worker, in MiB (0: no limit)")
      ->capture_default_str();
  app.add_option("--worker", options.worker,
                 "the agnx-worker executable that loads and runs snapshots (default: next to agnx-server)");
  app.add_option("--warm-worker", options.warm_worker,
                 "fork each job step's worker from an agnx-worker kept running with LibTorch loaded (on), or "
                 "start a fresh agnx-worker per step (off)")
      ->capture_default_str();
  app.add_option("--http", options.http,
                 "also serve the dashboard and its JSON API, e.g. 127.0.0.1:8080 (HTTPS only with --tls-cert)");
  app.add_option("--library-dir", options.library_dirs,
                 "offer a LUT directory as a library: NAME=DIR[,signed|,unsigned] (repeatable)");
  app.add_option("--auth-tokens", options.auth_tokens,
                 "require bearer tokens: a file of 'TOKEN USER ROLE' lines (role reader, writer or admin), "
                 "not readable by others; SIGHUP re-reads it");
  app.add_option("--tls-cert", options.tls_cert,
                 "serve gRPC, and the --http dashboard, over TLS with this PEM certificate chain");
  app.add_option("--tls-key", options.tls_key, "the PEM private key of --tls-cert");
  app.add_option("--log-level", options.log_level,
                 "error, warn, info (job state changes) or debug (also every gRPC call); "
                 "one JSON object per line on stderr")
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"agnx-server: approximate multiplier matching jobs and experiment tracking over gRPC.\n"
               "Examples:\n"
               "  agnx-server --listen 127.0.0.1:50051 --data-dir ./agnx-data\n"
               "  agnx-server --library-dir evoapprox=../shared/evoapprox,signed --workers 2\n"
               "  agnx-server --listen 0.0.0.0:50051 --auth-tokens /etc/agnx/tokens \\\n"
               "              --tls-cert server.pem --tls-key server.key\n"
               "  agnx-server migrate --dry-run --data-dir ./agnx-data\n"
               "Without --auth-tokens and --tls-cert, --listen and --http must be loopback addresses."};
  ServeOptions options;
  add_serve_options(app, options);

  bool dry_run = false;
  CLI::App* migrate_command = app.add_subcommand("migrate", "apply pending schema migrations and exit");
  migrate_command->add_flag("--dry-run", dry_run, "only list the pending migrations");
  CLI::App* gc_command = app.add_subcommand("gc", "remove deleted runs and unreferenced artifacts, then exit");
  int64_t grace_seconds = store::kDefaultArtifactGrace.count();
  gc_command
      ->add_option("--grace-seconds", grace_seconds,
                   "keep unreferenced artifact files stored less than this long ago (a server may be about to "
                   "reference them)")
      ->check(CLI::Range(int64_t{0}, int64_t{INT32_MAX}))
      ->capture_default_str();
  std::string backup_file;
  CLI::App* backup_command = app.add_subcommand("backup", "write a consistent copy of the database, then exit");
  backup_command->add_option("FILE", backup_file, "destination")->required();
  std::string copy_from;
  std::string copy_to;
  bool copy_json = false;
  CLI::App* copy_command = app.add_subcommand(
      "migrate-store", "copy a whole SQLite store into an empty PostgreSQL store, compare the row counts, then exit");
  copy_command->add_option("--from", copy_from, "the SQLite store: sqlite:DIR (only read; a server may keep using it)")
      ->required();
  copy_command
      ->add_option("--to", copy_to,
                   "the empty PostgreSQL store: postgresql://USER@HOST/DB?data_dir=DIR (migrated first; the "
                   "artifact files go to DIR/artifacts, hard-linked where possible)")
      ->required();
  copy_command->add_flag("--json", copy_json, "print the row counts as JSON");
  copy_command->footer("All rows commit in one transaction, only if every table's row count matches; exit 2 "
                       "otherwise.\nExample:\n  agnx-server migrate-store --from sqlite:./agnx-data \\\n"
                       "      --to 'postgresql://agnx@db.example/agnx?data_dir=/srv/agnx'");
  for (CLI::App* sub : {migrate_command, gc_command, backup_command}) {
    sub->add_option("--data-dir", options.data_dir, "SQLite database and artifacts (short for --store sqlite:DIR)")
        ->capture_default_str();
    sub->add_option("--store", options.store, "the tracking store's URI: sqlite:DIR or postgresql://...?data_dir=DIR");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }

  if (*migrate_command) return migrate(store_uri(options), dry_run);
  if (*copy_command) return migrate_to_postgres(copy_from, copy_to, copy_json);
  if (*gc_command || *backup_command) {
    auto tracking = store::open_store(store_uri(options));
    if (!tracking.ok()) return fail(tracking.status().message());
    if (*backup_command) {
      if (const Status s = (*tracking)->backup(backup_file); !s.ok()) return fail(s.message());
      std::printf("backup written to %s\n", backup_file.c_str());
      return 0;
    }
    const auto removed = (*tracking)->gc(std::chrono::seconds(grace_seconds));
    if (!removed.ok()) return fail(removed.status().message());
    std::printf("removed %lld artifact file(s)\n", static_cast<long long>(*removed));
    return 0;
  }
  return serve(options);
}
