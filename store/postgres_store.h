// PostgresTrackingStore: the TrackingStore on a PostgreSQL database (libpq)
// plus a content-addressed artifact directory (store/artifact_files.h).
//
// open() connects (failing fast, kUnavailable naming the server, when it
// cannot be reached within the conninfo's connect_timeout), applies pending
// schema migrations under an advisory lock (store/postgres_migrations.h; a
// database newer than the binary is refused) and keeps a pool of up to
// max_connections connections.
//
// Transactions. Every call is one transaction on one pooled connection:
// writes in READ COMMITTED taking row locks in one order (the run's row
// first, SELECT ... FOR UPDATE, then its rows by sorted key), reads in
// REPEATABLE READ READ ONLY (one consistent snapshot). A transaction that
// fails with a serialization failure or a deadlock (kAborted), or loses its
// connection before COMMIT (kUnavailable), runs again on a fresh connection,
// up to max_attempts times in all. BEGIN travels with a transaction's first
// statement (one round trip, libpq pipeline mode), and the fixed statements
// of log_batch and of reading runs are prepared once per connection. A
// log_batch writes its metrics, history and latest values, in ONE statement
// (unnest of the batch's arrays): three round trips in all (BEGIN with the
// run's lock, the metrics, COMMIT).
//
// Errors follow store/postgres.h's SQLSTATE mapping; a server out of
// connections is kResourceExhausted.
//
// Notices (store/notices.h) travel by NOTIFY on kNoticeChannel, sent on a
// pooled connection; each subscription LISTENs on a connection of its own
// (store/postgres_notices.h).
//
// Maintenance. gc() works as on SQLite, under the session advisory lock
// kGcLockKey: while another gc (of any process) holds it, gc fails at once
// with kFailedPrecondition and removes nothing. Replicas may keep writing
// artifacts meanwhile: a file stored within the grace is kept. backup() is not
// offered (kFailedPrecondition naming pg_dump): back the database up with
// pg_dump and the artifact root with a file copy.
//
// Thread safety: every member may be called from any number of threads;
// several processes (replicas) may use one database.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <shared_mutex>
#include <string>

#include "store/artifact_files.h"
#include "store/postgres.h"
#include "store/tracking_store.h"

namespace agnx::store {

// The advisory lock gc holds ("agnx-gc\0"; the migrations use kMigrationLockKey).
inline constexpr int64_t kGcLockKey = 0x61676e782d676300;
// The LISTEN/NOTIFY channel of the store's notices (store/notices.h).
inline constexpr const char* kNoticeChannel = "agnx_notices";

struct PostgresStoreOptions {
  std::string conninfo;  // a libpq URI or key=value string, with connect_timeout
  std::string display;   // the server as named in errors, without a password
  std::filesystem::path artifact_root;  // ArtifactFiles' root, created if missing
  std::size_t max_connections = 8;
  int max_attempts = 5;  // per transaction (see "Transactions")
};

class PostgresTrackingStore final : public TrackingStore {
 public:
  static Result<std::unique_ptr<PostgresTrackingStore>> open(const PostgresStoreOptions& options);

  Result<Experiment> get_experiment(int64_t experiment_id) override;
  Result<Experiment> get_experiment_by_name(const std::string& name) override;
  Result<std::vector<Experiment>> list_experiments(ViewType view) override;

  Result<Run> get_run(const std::string& run_id) override;
  Result<RunPage> search_runs(const SearchRunsRequest& request) override;
  Result<std::vector<Metric>> get_metric_history(const std::string& run_id, const std::string& key) override;

  Result<MatchingRecord> get_matching(const std::string& run_id) override;
  Result<std::vector<EnergyPoint>> energy_points(int64_t experiment_id) override;

  Result<std::vector<ArtifactInfo>> list_artifacts(const std::string& run_id) override;
  Result<std::string> read_artifact(const std::string& run_id, const std::string& path) override;
  Result<std::filesystem::path> artifact_file(const std::string& run_id, const std::string& path) override;

  Result<Job> get_job(int64_t job_id) override;
  Result<std::vector<Job>> list_jobs(std::optional<JobState> state) override;

  Result<StoredLibrary> get_library(const std::string& name) override;
  Result<std::vector<std::string>> list_libraries() override;

  // A listener of its own connection on the channel kNoticeChannel.
  std::unique_ptr<NoticeSubscription> subscribe_notices(NoticeHandler handler) override;

  Result<int64_t> gc(std::chrono::seconds grace) override;
  // Always kFailedPrecondition: use pg_dump (see "Maintenance").
  Status backup(const std::filesystem::path& destination) override;

 protected:
  Result<int64_t> do_create_experiment(const std::string& name, const WriteOptions& options) override;
  Status do_set_experiment_lifecycle(int64_t experiment_id, Lifecycle lifecycle) override;
  Status do_set_run_lifecycle(const std::string& run_id, Lifecycle lifecycle) override;
  Result<RunInfo> do_create_run(int64_t experiment_id, const std::string& run_name, const std::string& user_id,
                                int64_t start_time, const WriteOptions& options) override;
  Status do_update_run(const std::string& run_id, RunStatus status, std::optional<int64_t> end_time) override;
  Status do_log_batch(const std::string& run_id, const RunBatch& batch, const WriteOptions& options) override;
  Status do_log_matching(const std::string& run_id, const MatchingRecord& record, const RunBatch& batch,
                         const std::optional<JobLease>& lease) override;
  Result<ArtifactInfo> do_log_artifact(const std::string& run_id, const std::string& path,
                                       std::string_view content) override;
  Result<int64_t> do_create_job(const std::string& kind, std::optional<std::string> run_id) override;
  Status do_update_job(int64_t job_id, const JobUpdate& update) override;
  Result<SubmittedJob> do_submit_job(const JobSubmission& submission, const WriteOptions& options) override;
  Result<std::optional<ClaimedJob>> do_claim_job(const std::string& owner, std::chrono::milliseconds duration,
                                                 int64_t max_attempts) override;
  Result<Job> do_renew_lease(const JobLease& lease, std::chrono::milliseconds duration) override;
  Result<int64_t> do_release_leases(const std::string& owner) override;
  Result<Job> do_request_cancel(int64_t job_id) override;
  Status do_put_library(const StoredLibrary& library) override;
  Status do_send_notice(std::string_view payload) override;  // NOTIFY on a pooled connection

 private:
  PostgresTrackingStore(const PostgresStoreOptions& options)
      : conninfo_(options.conninfo),
        display_(options.display),
        pool_(options.conninfo, options.display, options.max_connections),
        artifacts_(options.artifact_root),
        max_attempts_(options.max_attempts) {}

  // Runs `f(pg::Connection&) -> Status or Result<T>` in a write (read)
  // transaction, again while it may (see "Transactions"). `f` may run more
  // than once, so it must set, not accumulate, what it reports.
  template <typename F>
  auto write(F&& f) -> decltype(f(std::declval<pg::Connection&>()));
  template <typename F>
  auto read(F&& f) -> decltype(f(std::declval<pg::Connection&>()));
  template <typename F>
  auto transact(const char* begin, F& f) -> decltype(f(std::declval<pg::Connection&>()));

  // The sha256 of artifact `path` of run `run_id`; kNotFound if none.
  Result<std::string> artifact_sha256(const std::string& run_id, const std::string& path);
  // gc's work once `connection` holds the lock: deleted runs and old keys go
  // in one transaction on it (not retried), then the unreferenced files.
  Result<int64_t> collect_garbage(pg::Connection& connection, std::chrono::seconds grace);

  const std::string conninfo_;
  const std::string display_;
  pg::Pool pool_;
  ArtifactFiles artifacts_;
  const int max_attempts_;
  // Shared while an artifact is stored and referenced, exclusive in gc.
  std::shared_mutex artifact_gc_mutex_;
};

}  // namespace agnx::store
