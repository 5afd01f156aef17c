// TrackingStore: the whole contract of agnx's experiment tracking, after
// MLflow's AbstractStore. Backends (SQLite, PostgreSQL) implement it.
//
// Writes. Every run write funnels into log_batch (log_metric, log_param and
// set_tag are conveniences over it), and a backend may group concurrent
// writes into one transaction; a write returns only after its data is
// committed, and a failing write leaves nothing of itself behind and never
// affects another caller's write. Params are immutable: logging the same value
// again is fine, a different one is an error (kInvalidArgument). Writes to a
// deleted run or a missing run fail (kFailedPrecondition / kNotFound).
//
// Idempotent writes. create_experiment, create_run and log_batch take
// WriteOptions: with an idempotency key, the first call that commits records
// the key in its own transaction, and every later call with that key writes
// nothing and returns the first call's result (the experiment, the run as it
// is now, OK). So a client may retry such a write after losing the answer
// (a crash, a lost connection) without writing twice. Reusing a key for
// another kind of write or another target is kInvalidArgument.
//
// Faults. A write that finds the disk full fails with kResourceExhausted and
// leaves nothing of itself behind; later writes succeed once space returns.
// A database locked by another process is waited for (and retried) up to a
// backend's deadline, then the call fails with kUnavailable, having written
// nothing.
//
// Filter grammar of search_runs (a subset of MLflow's):
//   filter     := comparison ( "AND" comparison )*        (keywords any case)
//   comparison := entity "." key op value
//   entity     := "params" | "metrics" | "tags" | "attributes"
//   key        := [A-Za-z0-9_./:-]+ | "`" any but "`" "`"
//                 attributes keys: status, run_name, start_time
//   op         := "=" | "!=" | "<" | "<=" | ">" | ">=" | "LIKE"
//   value      := "'" string "'" | '"' string '"' | number   (inf allowed, NaN not)
// metrics.* and attributes.start_time take numbers and every op but LIKE;
// params.*, tags.*, attributes.status and attributes.run_name take strings
// and =, !=, LIKE (case-sensitive, % and _ wildcards). A run without the
// named metric, param or tag does not match. An empty filter matches all.
//
// Order: order_by holds "entity.key [ASC|DESC]" for the same keys (default
// ASC); runs missing a key sort last. The default order, and the final tie
// breaker of any order, is start_time descending, then run_id ascending, so
// pages are stable while no run is added or removed.
//
// Pages: max_results in [1, 50000] (default 1000). next_page_token is empty on
// the last page, otherwise an opaque string to pass back with the same
// request to get the next page; a token from another request is an error.
//
// Thread safety: implementations are safe to call from any number of threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/entities.h"
#include "store/idempotency_key.h"
#include "store/notices.h"
#include "store/write_observer.h"

namespace agnx::store {

enum class ViewType { kActiveOnly, kDeletedOnly, kAll };

struct SearchRunsRequest {
  std::vector<int64_t> experiment_ids;  // at least one
  std::string filter;
  ViewType view = ViewType::kActiveOnly;
  std::vector<std::string> order_by;
  int max_results = 1000;
  std::string page_token;
};

struct WriteOptions {
  // Empty, or 1-128 letters, digits and . _ : - (see "Idempotent writes").
  std::string idempotency_key;
};

// kInvalidArgument unless `key` is a well-formed idempotency key.
Status validate_idempotency_key(const std::string& key);

// gc forgets idempotency keys older than this.
inline constexpr int64_t kIdempotencyKeyRetentionMs = int64_t{7} * 24 * 3600 * 1000;

// gc's default grace for artifact files: it keeps unreferenced files younger
// than this, which a replica may have just stored and is about to reference.
inline constexpr std::chrono::seconds kDefaultArtifactGrace{3600};

struct RunPage {
  std::vector<Run> runs;
  std::string next_page_token;  // empty on the last page
};

// Per (library, metric), the points with an "approximate_top1" accuracy that
// no other point of the group dominates (at most the energy and at least the
// accuracy, strictly better in one). Sorted by library, metric, energy, then
// accuracy descending; equal points are all kept.
std::vector<EnergyPoint> pareto_front(std::vector<EnergyPoint> points);

// Artifact content to store under a run's relative path.
struct ArtifactContent {
  std::string path;
  std::string_view content;
  // Optional: a file holding exactly `content`, which the store may
  // hard-link instead of writing the bytes again (ArtifactFiles::put).
  std::filesystem::path same_bytes;
};

// A job together with its run, stored in one write by submit_job.
struct JobSubmission {
  int64_t experiment_id = 0;
  std::string run_name;
  std::string user_id;
  int64_t start_time = 0;
  std::string kind;                      // the job's kind, non-empty
  RunBatch batch;                        // the run's params, tags (and metrics)
  std::vector<ArtifactContent> artifacts;  // distinct paths
  std::string job_id_tag;                // if set, the run gets this tag with the job's id
};

struct SubmittedJob {
  RunInfo run;
  int64_t job_id = 0;
  bool created = false;  // false: an idempotent retry found the first submission
};

// The store's public contract. Every write's arguments are checked here
// (store_policy.h) before its backend sees them; a backend implements the
// protected do_* primitives and the reads, and applies store_policy.h's
// rules on stored rows inside its transactions.
class TrackingStore {
 public:
  virtual ~TrackingStore() = default;

  // Experiments. Names are unique among all experiments (kAlreadyExists).
  Result<int64_t> create_experiment(const std::string& name, const WriteOptions& options = {});
  virtual Result<Experiment> get_experiment(int64_t experiment_id) = 0;
  virtual Result<Experiment> get_experiment_by_name(const std::string& name) = 0;
  virtual Result<std::vector<Experiment>> list_experiments(ViewType view) = 0;  // by id
  Status delete_experiment(int64_t experiment_id);   // and its runs
  Status restore_experiment(int64_t experiment_id);  // and its runs

  // Runs. create_run starts a RUNNING run in an active experiment.
  Result<RunInfo> create_run(int64_t experiment_id, const std::string& run_name, const std::string& user_id,
                             int64_t start_time, const WriteOptions& options = {});
  virtual Result<Run> get_run(const std::string& run_id) = 0;
  // Sets the status and, for a terminal status, the end time (now if unset).
  Status update_run(const std::string& run_id, RunStatus status, std::optional<int64_t> end_time);
  Status delete_run(const std::string& run_id);
  Status restore_run(const std::string& run_id);
  virtual Result<RunPage> search_runs(const SearchRunsRequest& request) = 0;

  // Run data. log_batch is the one write primitive; at most 1000 metrics,
  // 100 params and 100 tags per call. Keys are non-empty.
  Status log_batch(const std::string& run_id, const RunBatch& batch, const WriteOptions& options = {});
  Status log_metric(const std::string& run_id, const Metric& metric);
  Status log_param(const std::string& run_id, const std::string& key, const std::string& value);
  Status set_tag(const std::string& run_id, const std::string& key, const std::string& value);
  // Every value logged for `key`, by step, then timestamp, then logging order.
  virtual Result<std::vector<Metric>> get_metric_history(const std::string& run_id, const std::string& key) = 0;

  // Matching results. Stores `record` and `batch` in one transaction: a reader
  // sees both or neither. A run has at most one result (kAlreadyExists).
  // With `lease`, a job's result: written only while its job is RUNNING under
  // that lease (kAborted otherwise, see JobLease).
  Status log_matching(const std::string& run_id, const MatchingRecord& record, const RunBatch& batch,
                      const std::optional<JobLease>& lease = std::nullopt);
  virtual Result<MatchingRecord> get_matching(const std::string& run_id) = 0;
  // Every active FINISHED run of the experiment with a matching result, by
  // lambda, then start time.
  virtual Result<std::vector<EnergyPoint>> energy_points(int64_t experiment_id) = 0;
  // pareto_front(energy_points(experiment_id)).
  Result<std::vector<EnergyPoint>> pareto_front(int64_t experiment_id);

  // Artifacts. `path` is relative, without "..", empty components or NUL.
  // Logging the same path again replaces the reference.
  Result<ArtifactInfo> log_artifact(const std::string& run_id, const std::string& path, std::string_view content);
  virtual Result<std::vector<ArtifactInfo>> list_artifacts(const std::string& run_id) = 0;  // by path
  virtual Result<std::string> read_artifact(const std::string& run_id, const std::string& path) = 0;
  // The local file holding artifact `path` of run `run_id`, unverified, to
  // read or hard-link, never to modify; it stays while the run references it.
  // Errors: kNotFound (no such artifact, or its file is missing).
  virtual Result<std::filesystem::path> artifact_file(const std::string& run_id, const std::string& path) = 0;

  // Jobs. update_job follows apply_job_update (store_policy.h).
  Result<int64_t> create_job(const std::string& kind, std::optional<std::string> run_id);
  Status update_job(int64_t job_id, const JobUpdate& update);
  virtual Result<Job> get_job(int64_t job_id) = 0;
  virtual Result<std::vector<Job>> list_jobs(std::optional<JobState> state) = 0;  // by creation

  // A job submission as one write: the run (as create_run), its batch, its
  // artifacts and a QUEUED job of `kind` for it commit together or not at all.
  // With an idempotency key, a retry writes nothing and returns the first
  // submission's run (as it is now) and job, with created false.
  Result<SubmittedJob> submit_job(const JobSubmission& submission, const WriteOptions& options = {});

  // Job leases (JobLease): how replicas sharing a store run each job once.
  // Times are the store's clock, so replicas' clocks need not agree.
  //
  // Claims the oldest job that is QUEUED or RUNNING under an expired lease
  // for `owner`, leased for `duration` (store_policy.h claim()). Concurrent
  // claims never return the same job. nullopt when no job is claimable.
  Result<std::optional<ClaimedJob>> claim_job(const std::string& owner, std::chrono::milliseconds duration,
                                              int64_t max_attempts);
  // Extends `lease` to `duration` from now; returns the job as stored (its
  // cancel_requested). kAborted when the lease was lost.
  Result<Job> renew_lease(const JobLease& lease, std::chrono::milliseconds duration);
  // Ends every lease `owner` holds now: a restarted replica that keeps its
  // name makes its interrupted jobs claimable at once. Returns their count.
  Result<int64_t> release_leases(const std::string& owner);
  // Asks job `job_id` to stop (store_policy.h request_cancel()); a QUEUED job
  // ends CANCELLED with its run KILLED in the same write. Returns the job as
  // it is after the request.
  Result<Job> request_cancel(int64_t job_id);

  // Multiplier libraries (names unique, kAlreadyExists).
  Status put_library(const StoredLibrary& library);
  virtual Result<StoredLibrary> get_library(const std::string& name) = 0;
  virtual Result<std::vector<std::string>> list_libraries() = 0;  // names, sorted

  // Maintenance. gc removes deleted runs (and deleted experiments) for good,
  // forgets idempotency keys older than kIdempotencyKeyRetentionMs, and then
  // removes the artifact files no run references that were last stored more
  // than `grace` ago (ArtifactFiles::remove_unreferenced; a file stored since,
  // also again, is kept: servers sharing the artifacts may be about to
  // reference it); it returns the number of files removed. Two gc runs never
  // overlap (see the backends). backup writes a consistent copy of the
  // database while the store stays online.
  virtual Result<int64_t> gc(std::chrono::seconds grace) = 0;
  virtual Status backup(const std::filesystem::path& destination) = 0;

  // Notices between the replicas sharing this store (store/notices.h).
  // send_notice delivers `payload` (at most kMaxNoticeBytes, else
  // kInvalidArgument) to every subscription of every replica; errors: the
  // store's (kUnavailable while it is out of reach). subscribe_notices calls
  // `handler` with each notice from now on, until the subscription is
  // destroyed. A store one server has to itself (SQLite) has no one to tell:
  // send_notice does nothing and subscribe_notices returns null.
  Status send_notice(std::string_view payload);
  virtual std::unique_ptr<NoticeSubscription> subscribe_notices(NoticeHandler /*handler*/) { return nullptr; }

  // Monitoring: the backend reports its write path to `observer` (null:
  // stop) from now on, if it has anything to report (store/write_observer.h);
  // the observer must stay valid while writes may run. By default nothing.
  virtual void set_write_observer(WriteObserver* /*observer*/) {}

 protected:
  // The backend's writes, called with checked arguments (see the public
  // member of the same name for each contract). Idempotency keys are empty
  // or well-formed; update_run's end_time is set for a terminal status.
  virtual Result<int64_t> do_create_experiment(const std::string& name, const WriteOptions& options) = 0;
  // The lifecycle stage of an experiment and its runs, or of one run.
  virtual Status do_set_experiment_lifecycle(int64_t experiment_id, Lifecycle lifecycle) = 0;
  virtual Status do_set_run_lifecycle(const std::string& run_id, Lifecycle lifecycle) = 0;
  virtual Result<RunInfo> do_create_run(int64_t experiment_id, const std::string& run_name,
                                        const std::string& user_id, int64_t start_time,
                                        const WriteOptions& options) = 0;
  virtual Status do_update_run(const std::string& run_id, RunStatus status, std::optional<int64_t> end_time) = 0;
  virtual Status do_log_batch(const std::string& run_id, const RunBatch& batch, const WriteOptions& options) = 0;
  virtual Status do_log_matching(const std::string& run_id, const MatchingRecord& record, const RunBatch& batch,
                                 const std::optional<JobLease>& lease) = 0;
  virtual Result<ArtifactInfo> do_log_artifact(const std::string& run_id, const std::string& path,
                                               std::string_view content) = 0;
  virtual Result<int64_t> do_create_job(const std::string& kind, std::optional<std::string> run_id) = 0;
  virtual Status do_update_job(int64_t job_id, const JobUpdate& update) = 0;
  virtual Result<SubmittedJob> do_submit_job(const JobSubmission& submission, const WriteOptions& options) = 0;
  virtual Result<std::optional<ClaimedJob>> do_claim_job(const std::string& owner, std::chrono::milliseconds duration,
                                                         int64_t max_attempts) = 0;
  virtual Result<Job> do_renew_lease(const JobLease& lease, std::chrono::milliseconds duration) = 0;
  virtual Result<int64_t> do_release_leases(const std::string& owner) = 0;
  virtual Result<Job> do_request_cancel(int64_t job_id) = 0;
  virtual Status do_put_library(const StoredLibrary& library) = 0;
  virtual Status do_send_notice(std::string_view /*payload*/) { return {}; }
};

}  // namespace agnx::store
