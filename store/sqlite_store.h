// SqliteTrackingStore: the TrackingStore on one SQLite database in WAL mode
// plus a content-addressed artifact directory.
//
// Data directory layout:
//   <data_dir>/tracking.db (+ -wal, -shm)   the database
//   <data_dir>/artifacts/<sha[0:2]>/<sha>   artifact contents
//
// open() applies pending schema migrations (or refuses a database that is
// newer than the binary or whose applied migrations were edited). All writes
// go through one GroupCommitWriter (group commit, a SAVEPOINT per write, the
// caller acknowledged after COMMIT); reads use a pool of read-only
// connections, each read inside one transaction (a consistent snapshot).
// Prepared statements are cached per connection. Foreign keys are enforced
// and a busy timeout covers other processes (e.g. `migrate`); a transaction
// still locked out after it is retried with backoff until busy_deadline_ms.
//
// Faults: an artifact file that cannot be written whole is removed again
// (kResourceExhausted when the disk is full, naming the artifact); a write
// transaction that fails (disk full, I/O error) is rolled back, and the
// other writes of its group are committed without it.
//
// Thread safety: every member may be called from any number of threads.
// Several processes may open the same directory and write artifacts while
// one runs gc (a file stored within gc's grace is kept), but two gc runs
// must not overlap: within a process they wait for each other (and for the
// artifact writes in flight), across processes the caller sees to it.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <shared_mutex>

#include "store/artifact_files.h"
#include "store/group_commit.h"
#include "store/reader_pool.h"
#include "store/tracking_store.h"

namespace agnx::store {

struct SqliteStoreOptions {
  std::filesystem::path data_dir;  // created if missing
  std::size_t readers = 4;         // read connections
  std::size_t max_group = 1024;    // writes per transaction at most
  int busy_timeout_ms = 10000;  // SQLite's wait for a lock, per attempt
  // How long a read or a write locked out by another process is retried in
  // all before it fails with kUnavailable.
  int busy_deadline_ms = 30000;
  // FULL: a commit survives power loss; NORMAL: it survives a process crash.
  bool synchronous_full = true;
};

class SqliteTrackingStore final : public TrackingStore {
 public:
  static Result<std::unique_ptr<SqliteTrackingStore>> open(const SqliteStoreOptions& options);
  // The database file within a data directory.
  static std::filesystem::path database_path(const std::filesystem::path& data_dir);

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

  Result<int64_t> gc(std::chrono::seconds grace) override;
  Status backup(const std::filesystem::path& destination) override;
  void set_write_observer(WriteObserver* observer) override { writer_->set_observer(observer); }

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

 private:
  SqliteTrackingStore(std::unique_ptr<GroupCommitWriter> writer, std::unique_ptr<ReaderPool> readers,
                      ArtifactFiles artifacts)
      : writer_(std::move(writer)), readers_(std::move(readers)), artifacts_(std::move(artifacts)) {}

  // The sha256 of artifact `path` of run `run_id`; kNotFound if none.
  Result<std::string> artifact_sha256(const std::string& run_id, const std::string& path);

  std::unique_ptr<GroupCommitWriter> writer_;
  std::unique_ptr<ReaderPool> readers_;
  ArtifactFiles artifacts_;
  // Shared while an artifact is stored and referenced, exclusive in gc.
  std::shared_mutex artifact_gc_mutex_;
};

}  // namespace agnx::store
