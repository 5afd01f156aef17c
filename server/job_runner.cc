#include "server/job_runner.h"

#include <boost/asio/post.hpp>


#include "server/clock.h"
#include "server/matching_job.h"

namespace agnx::server {
namespace {

// Each stage's share of a job, in order; progress within a stage is linear.
struct StageShare {
  const char* stage;
  double start;
  double share;
};
constexpr StageShare kStages[] = {{"loading", 0.00, 0.05},    {"scales", 0.05, 0.15},     {"features", 0.20, 0.30},
                                  {"selection", 0.50, 0.05},  {"validation", 0.55, 0.15}, {"evaluation", 0.70, 0.28},
                                  {"saving", 0.98, 0.02}};

double fraction_of(const Progress& progress) {
  for (const auto& s : kStages) {
    if (progress.stage == s.stage) {
      const double within = progress.total ? static_cast<double>(progress.done) / static_cast<double>(progress.total) : 0.0;
      return s.start + s.share * within;
    }
  }
  return 0.0;
}

bool is_terminal(store::JobState state) {
  return state == store::JobState::kSucceeded || state == store::JobState::kFailed ||
         state == store::JobState::kCancelled;
}

}  // namespace

JobRunner::JobRunner(store::TrackingStore& store, const LibraryRegistry& libraries, const JobRunnerOptions& options)
    : store_(store), libraries_(libraries), options_(options), pool_(std::max<std::size_t>(options.workers, 1)) {}

JobRunner::~JobRunner() { stop(); }

void JobRunner::enqueue(int64_t job_id) {
  {
    std::lock_guard lock(mutex_);
    cancel_flags_.emplace(job_id, std::make_shared<std::atomic<bool>>(false));
    progress_.emplace(job_id, JobProgressView{});
  }
  boost::asio::post(pool_, [this, job_id] { run(job_id); });
}

Status JobRunner::check_inputs(const JobInputs& inputs) {
  AGNX_ASSIGN_OR_RETURN(const JobDirectory job, JobDirectory::create(options_.work_dir, inputs));
  return validate_in_worker(options_.worker, job);
}

void JobRunner::fail(int64_t job_id, const Status& reason) {
  const auto job = store_.get_job(job_id);
  if (job.ok()) finish(*job, reason);
}

Status JobRunner::resume() {
  for (const auto state : {store::JobState::kRunning, store::JobState::kQueued}) {
    AGNX_ASSIGN_OR_RETURN(const std::vector<store::Job> jobs, store_.list_jobs(state));
    for (const store::Job& job : jobs) {
      if (job.attempts >= options_.max_attempts) {
        finish(job, Status::failed_precondition("interrupted " + std::to_string(job.attempts) +
                                                " times (the server stopped during the job); giving up"));
      } else {
        enqueue(job.job_id);
      }
    }
  }
  return {};
}

Status JobRunner::cancel(int64_t job_id) {
  AGNX_ASSIGN_OR_RETURN(const store::Job job, store_.get_job(job_id));
  if (is_terminal(job.state)) {
    return Status::failed_precondition("job " + std::to_string(job_id) + " already ended " +
                                       store::job_state_name(job.state));
  }
  std::lock_guard lock(mutex_);
  const auto flag = cancel_flags_.find(job_id);
  if (flag != cancel_flags_.end()) flag->second->store(true);
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
  return progress_.at(job_id);
}

void JobRunner::stop() {
  if (stopping_.exchange(true)) return;
  pool_.join();  // queued handlers see stopping_ and return at once
}

void JobRunner::publish(int64_t job_id, const std::function<void(JobProgressView&)>& change) {
  {
    std::lock_guard lock(mutex_);
    JobProgressView& view = progress_[job_id];
    change(view);
    ++view.version;
  }
  changed_.notify_all();
}

void JobRunner::run(int64_t job_id) {
  if (stopping_) return;  // stays QUEUED or RUNNING in the store: resumed at the next start
  const auto job = store_.get_job(job_id);
  if (!job.ok() || is_terminal(job->state)) return;
  std::shared_ptr<std::atomic<bool>> cancelled;
  {
    std::lock_guard lock(mutex_);
    cancelled = cancel_flags_[job_id];
  }
  if (cancelled && cancelled->load()) return finish(*job, Status::failed_precondition("cancelled"));
  execute(*job);
}

void JobRunner::execute(const store::Job& job) {
  const Status started = store_.update_job(job.job_id, {store::JobState::kRunning, 0.0, std::nullopt});
  if (!started.ok()) return finish(job, started);
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
  JobContext context{store_, libraries_, options_.worker, options_.work_dir,
                     [&](const Progress& p) {
                       const double fraction = fraction_of(p);
                       publish(job.job_id, [&](JobProgressView& v) {
                         v.stage = p.stage;
                         v.step = p.done;
                         v.steps = p.total;
                         v.fraction = fraction;
                       });
                       if (p.stage != last_stage) {  // keep the stored progress current at each stage
                         last_stage = p.stage;
                         (void)store_.update_job(job.job_id, {std::nullopt, fraction, std::nullopt});
                       }
                     },
                     cancelled.get()};
  const Status outcome = job.run_id ? run_matching_job(context, *job.run_id)
                                    : Status::failed_precondition("job " + std::to_string(job.job_id) + " has no run");
  finish(job, outcome);
}

void JobRunner::finish(const store::Job& job, const Status& outcome) {
  const bool cancelled = !outcome.ok() && outcome.message() == "cancelled";
  const store::JobState state =
      outcome.ok() ? store::JobState::kSucceeded : cancelled ? store::JobState::kCancelled : store::JobState::kFailed;
  const store::RunStatus run_status =
      outcome.ok() ? store::RunStatus::kFinished : cancelled ? store::RunStatus::kKilled : store::RunStatus::kFailed;
  if (job.run_id) (void)store_.update_run(*job.run_id, run_status, now_ms());
  (void)store_.update_job(job.job_id, {state, outcome.ok() ? std::optional(1.0) : std::nullopt,
                                       outcome.ok() ? std::nullopt : std::optional(outcome.message())});
  publish(job.job_id, [&](JobProgressView& v) {
    v.state = state;
    v.stage = store::job_state_name(state);
    v.fraction = outcome.ok() ? 1.0 : v.fraction;
    v.message = outcome.ok() ? "" : outcome.message();
  });
}

}  // namespace agnx::server
