// Runs jobs (each by its kind's handler, server/job_context.h) on a Boost.Asio thread pool, keeps their live progress,
// and picks up jobs a previous server process left QUEUED or RUNNING.
//
// The store is the source of truth: a job row moves QUEUED -> RUNNING (an
// attempt) -> SUCCEEDED | FAILED | CANCELLED, and its run ends FINISHED,
// FAILED or KILLED with it. A job interrupted by a crash is run again at the
// next start, at most `max_attempts` times in all; its result is written
// once (handlers are idempotent). A job end the store refuses (a full disk)
// is written again every second until it is; one still unwritten at stop()
// stays RUNNING in the store and resumes at the next start.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/library_registry.h"
#include "server/model_worker.h"
#include "store/tracking_store.h"

namespace agnx::server {

// A job's live state, for WatchJob.
struct JobProgressView {
  store::JobState state = store::JobState::kQueued;
  std::string stage = "queued";
  std::size_t step = 0;
  std::size_t steps = 0;
  std::size_t epoch = 0;   // training stages
  std::size_t epochs = 0;
  std::size_t point = 0;   // sweeps: lambda `point` of `points`
  std::size_t points = 0;
  double fraction = 0.0;  // of the whole job
  std::string message;
  uint64_t version = 0;  // increases with every change
};

struct JobRunnerOptions {
  std::size_t workers = 1;      // jobs at once
  int64_t max_attempts = 3;
  WorkerOptions worker;         // each job's model worker: threads, limits
  std::filesystem::path work_dir;  // where job directories are made
};

class JobRunner {
 public:
  // `store` and `libraries` must outlive the runner.
  JobRunner(store::TrackingStore& store, const LibraryRegistry& libraries, const JobRunnerOptions& options);
  ~JobRunner();  // stop()
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Queues job `job_id` (a QUEUED row of the store).
  void enqueue(int64_t job_id);

  // Writes a matching submission's `inputs` to a fresh job directory: the
  // one copy of their bytes on disk (the store links these files in).
  Result<JobDirectory> write_inputs(const JobInputs& inputs);
  // Checks the inputs written to `job` in a model worker with the jobs'
  // limits (validate_in_worker).
  Status check_inputs(const JobDirectory& job);

  // Ends job `job_id` (QUEUED, not queued here) FAILED with `reason`, and its
  // run. Errors: an unknown job (kNotFound), one that already ended
  // (kFailedPrecondition), the store's.
  Status fail(int64_t job_id, const Status& reason);

  // Queues every QUEUED or RUNNING job of the store; one that used up its
  // attempts fails with a reason instead.
  Status resume();

  // Asks job `job_id` to stop: a job not yet begun ends CANCELLED before this
  // returns (with its run KILLED) and never runs; a running one's handler
  // stops at its next check (its worker is killed). Errors: unknown job, or
  // already ended.
  Status cancel(int64_t job_id);

  // The live state of job `job_id` after `seen_version`, waiting up to
  // `timeout` for a change: the state where the first stage begun since then
  // began (so a follower passing back each version sees every stage, also
  // short ones), else the latest state. nullopt when nothing changed.
  std::optional<JobProgressView> wait_for_change(int64_t job_id, uint64_t seen_version,
                                                 std::chrono::milliseconds timeout);

  // Stops taking jobs and waits for the running ones to finish. Jobs still
  // queued stay QUEUED in the store and resume at the next start.
  void stop();

 private:
  void run(int64_t job_id);
  void execute(const store::Job& job);
  void publish(int64_t job_id, const std::function<void(JobProgressView&)>& change);
  // Writes the job's end and its run's; the first store error, if any.
  Status finish(const store::Job& job, const Status& outcome);
  // Writes the end of the job's run (if it has one) for `outcome`.
  Status end_run(const store::Job& job, const Status& outcome);
  // finish() for a job this runner ran; an end the store refuses is logged
  // and left to the repairer.
  void end(const store::Job& job, const Status& outcome);
  // The repairer thread: writes the unwritten ends every second until stop().
  void write_unwritten_ends();

  struct UnwrittenEnd {
    store::Job job;
    Status outcome;
    int tries = 1;
  };
  // finish() for an unwritten end, or only its run's end when an earlier
  // try wrote the job's (which the store would refuse to end again).
  Status write_end_again(const UnwrittenEnd& end);

  store::TrackingStore& store_;
  const LibraryRegistry& libraries_;
  JobRunnerOptions options_;
  boost::asio::thread_pool pool_;
  std::atomic<bool> stopping_{false};

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int64_t, JobProgressView> progress_;
  std::map<int64_t, std::deque<JobProgressView>> stage_starts_;  // the last kStageStartsKept per job
  std::map<int64_t, std::shared_ptr<std::atomic<bool>>> cancel_flags_;
  std::set<int64_t> started_;  // jobs run() began: cancel() no longer ends them itself
  std::vector<UnwrittenEnd> unwritten_ends_;
  bool repairing_ = true;  // until stop() has joined the jobs
  std::condition_variable repair_wakeup_;
  std::thread repairer_;  // last member: started once the others exist
};

}  // namespace agnx::server
