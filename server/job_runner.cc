#include "server/job_runner.h"

#include <boost/asio/post.hpp>

#include <cstdio>
#include <utility>

#include "core/clock.h"
#include "server/job_context.h"
#include "server/observability/log.h"

namespace agnx::server {

namespace {
constexpr auto kRepairInterval = std::chrono::seconds(1);
constexpr std::size_t kStageStartsKept = 64;  // a sweep's stages repeat per point
}  // namespace

JobRunner::JobRunner(store::TrackingStore& store, const LibraryRegistry& libraries, const JobRunnerOptions& options)
    : store_(store),
      libraries_(libraries),
      options_(options),
      pool_(std::max<std::size_t>(options.workers, 1)),
      repairer_([this] { write_unwritten_ends(); }) {}

JobRunner::~JobRunner() { stop(); }

void JobRunner::enqueue(int64_t job_id) {
  {
    std::lock_guard lock(mutex_);
    cancel_flags_.emplace(job_id, std::make_shared<std::atomic<bool>>(false));
    progress_.emplace(job_id, JobProgressView{});
  }
  boost::asio::post(pool_, [this, job_id] { run(job_id); });
}

Result<JobDirectory> JobRunner::write_inputs(const JobInputs& inputs) {
  return JobDirectory::create(options_.work_dir, inputs);
}

Status JobRunner::check_inputs(const JobDirectory& job) { return validate_in_worker(options_.worker, job); }

Status JobRunner::fail(int64_t job_id, const Status& reason) {
  AGNX_ASSIGN_OR_RETURN(const store::Job job, store_.get_job(job_id));
  return finish(job, reason);
}

Status JobRunner::resume() {
  for (const auto state : {store::JobState::kRunning, store::JobState::kQueued}) {
    AGNX_ASSIGN_OR_RETURN(const std::vector<store::Job> jobs, store_.list_jobs(state));
    for (const store::Job& job : jobs) {
      if (job.attempts >= options_.max_attempts) {
        AGNX_RETURN_IF_ERROR(finish(job, Status::failed_precondition("interrupted " + std::to_string(job.attempts) +
                                                                     " times (the server stopped during the job); giving up")));
      } else {
        enqueue(job.job_id);
      }
    }
  }
  return {};
}

Status JobRunner::cancel(int64_t job_id) {
  AGNX_ASSIGN_OR_RETURN(const store::Job job, store_.get_job(job_id));
  if (store::is_terminal(job.state)) {
    return Status::failed_precondition("job " + std::to_string(job_id) + " already ended " +
                                       store::job_state_name(job.state));
  }
  bool started = false;
  {
    std::lock_guard lock(mutex_);
    const auto flag = cancel_flags_.find(job_id);
    if (flag != cancel_flags_.end()) flag->second->store(true);
    started = started_.contains(job_id);
  }
  if (!started) return finish(job, Status::cancelled("cancelled"));  // run() sees the flag and never starts it
  return {};
}

std::optional<JobProgressView> JobRunner::wait_for_change(int64_t job_id, uint64_t seen_version,
                                                          std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const auto changed = [&] {
    const auto it = progress_.find(job_id);
    return it != progress_.end() && it->second.version > seen_version;
  };
  if (!changed_.wait_for(lock, timeout, changed)) return std::nullopt;
  if (const auto starts = stage_starts_.find(job_id); starts != stage_starts_.end()) {
    for (const JobProgressView& start : starts->second) {
      if (start.version > seen_version) return start;
    }
  }
  return progress_.at(job_id);
}

void JobRunner::stop() {
  if (stopping_.exchange(true)) return;
  pool_.join();  // queued handlers see stopping_ and return at once
  {
    std::lock_guard lock(mutex_);
    repairing_ = false;
  }
  repair_wakeup_.notify_all();
  repairer_.join();
}

void JobRunner::publish(int64_t job_id, const std::function<void(JobProgressView&)>& change) {
  {
    std::lock_guard lock(mutex_);
    JobProgressView& view = progress_[job_id];
    const std::string stage = view.stage;
    change(view);
    ++view.version;
    if (view.stage != stage) {
      std::deque<JobProgressView>& starts = stage_starts_[job_id];
      starts.push_back(view);
      if (starts.size() > kStageStartsKept) starts.pop_front();
    }
  }
  changed_.notify_all();
}

void JobRunner::run(int64_t job_id) {
  if (stopping_) return;  // stays QUEUED or RUNNING in the store: resumed at the next start
  const auto job = store_.get_job(job_id);
  if (!job.ok() || store::is_terminal(job->state)) return;
  {
    std::lock_guard lock(mutex_);
    const auto flag = cancel_flags_.find(job_id);
    if (flag != cancel_flags_.end() && flag->second->load()) return;  // cancel() ended it
    started_.insert(job_id);
  }
  execute(*job);
}

namespace {

// The info log line of `job` (as it was) entering state `to` in attempt `attempt`.
void log_state_change(const store::Job& job, store::JobState to, int64_t attempt, const std::string& error) {
  log(LogLevel::kInfo, "job state",
      {{"job_id", job.job_id},
       {"kind", job.kind},
       {"run_id", job.run_id.value_or("")},
       {"from", std::string(store::job_state_name(job.state))},
       {"to", std::string(store::job_state_name(to))},
       {"attempt", attempt},
       {"error", error}});
}

}  // namespace

void JobRunner::execute(const store::Job& queued) {
  const Status started = store_.update_job(queued.job_id, {store::JobState::kRunning, 0.0, std::nullopt});
  if (!started.ok()) return end(queued, started);
  store::Job job = queued;  // as the store now holds it
  job.state = store::JobState::kRunning;
  ++job.attempts;
  log_state_change(queued, job.state, job.attempts, "");
  publish(job.job_id, [](JobProgressView& v) {
    v.state = store::JobState::kRunning;
    v.stage = "starting";
  });
  std::shared_ptr<std::atomic<bool>> cancelled;
  {
    std::lock_guard lock(mutex_);
    cancelled = cancel_flags_[job.job_id];
  }
  std::string last_stage;
  const JobContext context{store_, libraries_, options_.worker, options_.work_dir,
                           [&](const JobReport& r) {
                             publish(job.job_id, [&](JobProgressView& v) {
                               v.stage = r.progress.stage;
                               v.step = r.progress.done;
                               v.steps = r.progress.total;
                               v.epoch = r.progress.epoch;
                               v.epochs = r.progress.epochs;
                               v.point = r.point;
                               v.points = r.points;
                               v.fraction = r.fraction;
                             });
                             if (r.progress.stage != last_stage) {  // keep the stored progress current at each stage
                               last_stage = r.progress.stage;
                               (void)store_.update_job(job.job_id, {std::nullopt, r.fraction, std::nullopt});
                             }
                           },
                           cancelled.get()};
  const JobHandler handler = find_job_handler(job.kind);
  const Status outcome = handler ? handler(context, job)
                                 : Status::failed_precondition("job " + std::to_string(job.job_id) +
                                                               " is of unknown kind '" + job.kind + "'");
  end(job, outcome);
}

void JobRunner::end(const store::Job& job, const Status& outcome) {
  const Status written = finish(job, outcome);
  if (written.ok()) return;
  std::fprintf(stderr, "agnx-server: job %lld: writing its end: %s; trying again every second\n",
               static_cast<long long>(job.job_id), written.to_string().c_str());
  std::lock_guard lock(mutex_);
  unwritten_ends_.push_back({job, outcome});
}

void JobRunner::write_unwritten_ends() {
  std::unique_lock lock(mutex_);
  while (repairing_) {  // after stop() one last round: what stays unwritten resumes at the next start
    repair_wakeup_.wait_for(lock, kRepairInterval, [&] { return !repairing_; });
    std::vector<UnwrittenEnd> ends = std::exchange(unwritten_ends_, {});
    lock.unlock();
    std::erase_if(ends, [&](UnwrittenEnd& end) {
      ++end.tries;
      if (!write_end_again(end).ok()) return false;
      std::fprintf(stderr, "agnx-server: job %lld: its end was written at try %d\n",
                   static_cast<long long>(end.job.job_id), end.tries);
      return true;
    });
    lock.lock();
    unwritten_ends_.insert(unwritten_ends_.end(), ends.begin(), ends.end());
  }
}

Status JobRunner::end_run(const store::Job& job, const Status& outcome) {
  if (!job.run_id) return {};
  const store::RunStatus status = outcome.ok()                                ? store::RunStatus::kFinished
                                  : outcome.code() == StatusCode::kCancelled ? store::RunStatus::kKilled
                                                                              : store::RunStatus::kFailed;
  return store_.update_run(*job.run_id, status, now_ms());
}

Status JobRunner::write_end_again(const UnwrittenEnd& end) {
  AGNX_ASSIGN_OR_RETURN(const store::Job stored, store_.get_job(end.job.job_id));
  if (store::is_terminal(stored.state)) return end_run(end.job, end.outcome);  // an earlier try wrote the job's
  return finish(end.job, end.outcome);
}

Status JobRunner::finish(const store::Job& job, const Status& outcome) {
  const bool cancelled = outcome.code() == StatusCode::kCancelled;
  const store::JobState state =
      outcome.ok() ? store::JobState::kSucceeded : cancelled ? store::JobState::kCancelled : store::JobState::kFailed;
  const Status run_written = end_run(job, outcome);
  const Status job_written = store_.update_job(job.job_id, {state, outcome.ok() ? std::optional(1.0) : std::nullopt,
                                                            outcome.ok() ? std::nullopt : std::optional(outcome.message())});
  if (job_written.ok()) log_state_change(job, state, job.attempts, outcome.ok() ? "" : outcome.message());
  publish(job.job_id, [&](JobProgressView& v) {
    v.state = state;
    v.stage = store::job_state_name(state);
    v.fraction = outcome.ok() ? 1.0 : v.fraction;
    v.message = outcome.ok() ? "" : outcome.message();
  });
  return job_written.ok() ? run_written : job_written;
}

}  // namespace agnx::server
