// Runs jobs (each by its kind's handler, server/job_context.h) on a Boost.Asio
// thread pool, keeps their live progress, and shares the store's jobs with
// any number of other replicas on the same store.
//
// The store is the source of truth: a job row moves QUEUED -> RUNNING (an
// attempt) -> SUCCEEDED | FAILED | CANCELLED, and its run ends FINISHED,
// FAILED or KILLED with it, in one write. A runner claims jobs from the
// store (TrackingStore::claim_job) whenever it has a free worker: jobs
// submitted through any replica, and jobs whose replica died (its lease
// expired). It renews the lease of each job it runs every third of the lease;
// a job whose lease was lost (the store refuses the renewal, or the store was
// out of reach for a whole lease) is stopped and its worker killed, and every
// write of its end or result is fenced by the lease, so a replica that was
// paused or cut off past its lease cannot overwrite the newer attempt. A job
// is run at most `max_attempts` times in all; its result is written once
// (handlers are idempotent). A job end the store refuses (a full disk) is
// written again every second, its lease kept, until it is; one still
// unwritten at stop() stays RUNNING and another claim finishes it.
//
// Replicas tell each other through the store's notices (server/job_notice.h;
// on PostgreSQL, LISTEN/NOTIFY): a submission (every idle replica claims at
// once), a cancel (the job's replica stops it at once) and each job's live
// progress (at most every kProgressNoticeEvery per job, and at each new
// stage and the end), so WatchJob and CancelJob work alike on any replica.
// Notices may be lost; the store backs each of them: the claim poll, the
// cancel_requested flag read at each renewal, the stored state.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "server/job_notice.h"
#include "server/job_progress.h"
#include "server/library_registry.h"
#include "server/model_worker.h"
#include "store/tracking_store.h"

namespace agnx::server {

struct JobRunnerOptions {
  std::size_t workers = 1;      // jobs at once
  int64_t max_attempts = 3;
  // This replica's name as the owner of its jobs' leases: unique among the
  // replicas of a store. A replica restarted under the same name takes its
  // interrupted jobs back at once instead of after their leases expire.
  std::string replica_id = "local";
  std::chrono::milliseconds lease{30000};       // renewed every third of it
  std::chrono::milliseconds claim_poll{500};    // how often an idle runner looks for jobs
  WorkerOptions worker;         // each job's model worker: threads, limits
  std::filesystem::path work_dir;  // where job directories are made
};

class JobRunner {
 public:
  // `store` and `libraries` must outlive the runner. Claims nothing before
  // start().
  JobRunner(store::TrackingStore& store, const LibraryRegistry& libraries, const JobRunnerOptions& options);
  ~JobRunner();  // stop()
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Releases the leases this replica's name still holds (an earlier process
  // of it died) and starts claiming jobs.
  Status start();

  // A job was submitted here: every replica looks for claimable jobs now
  // rather than at its next poll.
  void job_submitted();

  // Writes a matching submission's `inputs` to a fresh job directory: the
  // one copy of their bytes on disk (the store links these files in).
  Result<JobDirectory> write_inputs(const JobInputs& inputs);
  // Checks the inputs written to `job` in a model worker with the jobs'
  // limits (validate_in_worker).
  Status check_inputs(const JobDirectory& job);

  // Ends job `job_id` (QUEUED) FAILED with `reason`, and its run. Errors: an
  // unknown job (kNotFound), one that already ended (kFailedPrecondition),
  // the store's.
  Status fail(int64_t job_id, const Status& reason);

  // Asks job `job_id` to stop (TrackingStore::request_cancel): a QUEUED job
  // ends CANCELLED (its run KILLED) before this returns and never runs; a
  // running one's handler stops at its next check (its worker is killed), at
  // once wherever it runs (a notice to its replica), or, should the notice
  // be lost, when its replica next renews its lease.
  // Errors: unknown job, or already ended.
  Status cancel(int64_t job_id);

  // The live state of job `job_id` after `seen_version`, waiting up to
  // `timeout` for a change: the state where the first stage begun since then
  // began (so a follower passing back each version sees every stage, also
  // short ones), else the latest state. nullopt when nothing changed here or
  // in another replica's notices (a job whose replica has not reported it yet
  // changes only in the store).
  std::optional<JobProgressView> wait_for_change(int64_t job_id, uint64_t seen_version,
                                                 std::chrono::milliseconds timeout);

  // Stops claiming jobs and waits for the running ones to finish (renewing
  // their leases meanwhile).
  void stop();

 private:
  // A job this runner claimed, until its end is written or its lease lost.
  struct Held {
    store::Job job;  // as claimed
    store::JobLease lease;
    std::shared_ptr<std::atomic<bool>> stop_flag;  // cancel requested, or lease lost
    std::chrono::steady_clock::time_point renewed;
    bool lease_lost = false;
    std::optional<Status> unwritten_outcome = {};  // the job ended; its end awaits a retry
    int tries = 0;                                 // of writing that end
  };

  // The coordinator thread: claims jobs for free workers, renews leases,
  // retries unwritten ends, until stop() and the last end.
  void coordinate();
  void claim_jobs();
  void renew_leases();
  void write_unwritten_ends();
  void wake_coordinator();
  // Notices: another replica's, and this one's, sent in order on a thread of
  // their own so a store out of reach holds up no job.
  void on_notice(std::string_view payload);
  void send(const JobNotice& notice);
  void execute(const store::ClaimedJob& claimed);
  // Runs the job's handler; its outcome.
  Status run_handler(const store::ClaimedJob& claimed, const std::shared_ptr<std::atomic<bool>>& stop_flag);
  // A change of a job this replica runs (or cancelled while QUEUED): told
  // to followers here and, as a notice, on other replicas.
  void publish(int64_t job_id, const std::function<void(JobProgressView&)>& change);
  // Under mutex_: applies `change` to the job's view and keeps its stage
  // starts; whether its stage or state changed.
  bool apply_locked(int64_t job_id, const std::function<void(JobProgressView&)>& change);
  // Writes the end of the job and its run, fenced by `lease` if given.
  Status finish(const store::Job& job, const Status& outcome, const std::optional<store::JobLease>& lease);
  // finish() for held job `job_id`, fenced by its lease, unless the lease
  // was lost; the job is forgotten once its end is written or fenced out,
  // else its end is kept for write_unwritten_ends() to try again.
  void write_end(int64_t job_id, const Status& outcome);

  store::TrackingStore& store_;
  const LibraryRegistry& libraries_;
  JobRunnerOptions options_;
  boost::asio::thread_pool pool_;

  std::mutex mutex_;
  std::condition_variable changed_;            // progress_
  std::condition_variable coordinator_wakeup_;
  bool claiming_ = false;   // start() .. stop()
  bool stopping_ = false;   // stop(): the coordinator ends
  bool stopped_ = false;
  bool wake_ = false;       // claim now: a job was submitted or a worker freed
  std::size_t executing_ = 0;  // claims and handlers under way (each a worker slot)
  std::condition_variable executed_;  // executing_ fell
  std::map<int64_t, Held> held_;
  std::string last_claim_error_;  // the coordinator's own
  std::map<int64_t, JobProgressView> progress_;
  std::map<int64_t, std::deque<JobProgressView>> stage_starts_;  // the last kStageStartsKept per job
  std::deque<int64_t> ended_;  // jobs whose view is final, oldest first; kEndedViewsKept are kept
  std::map<int64_t, std::chrono::steady_clock::time_point> progress_noticed_;  // when last sent, per job
  std::thread coordinator_;
  boost::asio::thread_pool notice_sender_{1};
  std::unique_ptr<store::NoticeSubscription> notices_;  // start() .. stop(); null without other replicas
  std::atomic<bool> has_other_replicas_{false};  // the store has notices (set by start())
};

}  // namespace agnx::server
