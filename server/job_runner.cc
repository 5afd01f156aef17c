#include "server/job_runner.h"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "server/job_context.h"
#include "server/observability/log.h"

namespace agnx::server {

namespace {

constexpr auto kLongestTick = std::chrono::seconds(1);  // unwritten ends are retried at least this often
constexpr std::size_t kStageStartsKept = 64;            // a sweep's stages repeat per point
constexpr std::size_t kEndedViewsKept = 1000;           // WatchJob reads older ends from the store
constexpr auto kProgressNoticeEvery = std::chrono::milliseconds(200);  // per job, between stages

using SteadyClock = std::chrono::steady_clock;

// The info log line of `job` entering state `to` from `from` in attempt `attempt`.
void log_state_change(const store::Job& job, store::JobState from, store::JobState to, const std::string& error) {
  log(LogLevel::kInfo, "job state",
      {{"job_id", job.job_id},
       {"kind", job.kind},
       {"run_id", job.run_id.value_or("")},
       {"from", std::string(store::job_state_name(from))},
       {"to", std::string(store::job_state_name(to))},
       {"attempt", job.attempts},
       {"owner", job.owner.value_or("")},
       {"error", error}});
}

// Whether a renewal that failed with `error`, `since` the last one that
// succeeded, means another replica may run the job by now: the store was
// out of reach for a whole lease. (A store that refuses writes for another
// reason, a full disk, refuses every replica's claims too; the fence keeps
// the job's writes safe either way, this only saves the work.)
bool cut_off_for_a_lease(const Status& error, SteadyClock::duration since, std::chrono::milliseconds lease) {
  return error.code() == StatusCode::kUnavailable && since >= lease;
}

store::JobState end_state(const Status& outcome) {
  if (outcome.ok()) return store::JobState::kSucceeded;
  return outcome.code() == StatusCode::kCancelled ? store::JobState::kCancelled : store::JobState::kFailed;
}

store::RunStatus run_end_status(const Status& outcome) {
  if (outcome.ok()) return store::RunStatus::kFinished;
  return outcome.code() == StatusCode::kCancelled ? store::RunStatus::kKilled : store::RunStatus::kFailed;
}

}  // namespace

JobRunner::JobRunner(store::TrackingStore& store, const LibraryRegistry& libraries, const JobRunnerOptions& options)
    : store_(store), libraries_(libraries), options_(options), pool_(std::max<std::size_t>(options.workers, 1)) {}

JobRunner::~JobRunner() { stop(); }

Status JobRunner::start() {
  AGNX_ASSIGN_OR_RETURN(const int64_t released, store_.release_leases(options_.replica_id));
  if (released > 0) {
    log(LogLevel::kInfo, "leases released", {{"replica", options_.replica_id}, {"jobs", released}});
  }
  notices_ = store_.subscribe_notices([this](std::string_view payload) { on_notice(payload); });
  has_other_replicas_ = notices_ != nullptr;
  std::lock_guard lock(mutex_);
  claiming_ = true;
  coordinator_ = std::thread([this] { coordinate(); });
  return {};
}

void JobRunner::job_submitted() {
  wake_coordinator();
  send({JobNotice::Kind::kSubmitted, options_.replica_id, 0, {}});
}

void JobRunner::wake_coordinator() {
  {
    std::lock_guard lock(mutex_);
    wake_ = true;
  }
  coordinator_wakeup_.notify_all();
}

Result<JobDirectory> JobRunner::write_inputs(const JobInputs& inputs) {
  return JobDirectory::create(options_.work_dir, inputs);
}

Status JobRunner::check_inputs(const JobDirectory& job) { return validate_in_worker(options_.worker, job); }

Status JobRunner::fail(int64_t job_id, const Status& reason) {
  AGNX_ASSIGN_OR_RETURN(const store::Job job, store_.get_job(job_id));
  return finish(job, reason, std::nullopt);
}

Status JobRunner::cancel(int64_t job_id) {
  AGNX_ASSIGN_OR_RETURN(const store::Job job, store_.request_cancel(job_id));
  if (job.state == store::JobState::kCancelled) {  // it was QUEUED: ended with its run
    log_state_change(job, store::JobState::kQueued, job.state, job.error);
    publish(job_id, [&](JobProgressView& v) {
      v.state = job.state;
      v.stage = store::job_state_name(job.state);
      v.message = job.error;
    });
    return {};
  }
  {
    std::lock_guard lock(mutex_);
    if (const auto held = held_.find(job_id); held != held_.end()) {
      held->second.stop_flag->store(true);
      return {};
    }
  }
  send({JobNotice::Kind::kCancel, options_.replica_id, job_id, {}});
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
  {
    std::unique_lock lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    claiming_ = false;
    executed_.wait(lock, [&] { return executing_ == 0; });  // the coordinator keeps renewing their leases
    stopping_ = true;
  }
  coordinator_wakeup_.notify_all();
  if (coordinator_.joinable()) coordinator_.join();
  pool_.join();
  write_unwritten_ends();  // one last try: what stays unwritten is claimed again once its lease expires
  notices_.reset();
  notice_sender_.join();
}

void JobRunner::publish(int64_t job_id, const std::function<void(JobProgressView&)>& change) {
  std::optional<JobProgressView> to_notice;
  {
    std::lock_guard lock(mutex_);
    const bool milestone = apply_locked(job_id, change);
    const auto now = SteadyClock::now();
    auto& noticed = progress_noticed_[job_id];
    if (milestone || now - noticed >= kProgressNoticeEvery) {
      noticed = now;
      to_notice = progress_.at(job_id);
    }
    if (store::is_terminal(progress_.at(job_id).state)) progress_noticed_.erase(job_id);
  }
  changed_.notify_all();
  if (to_notice) send({JobNotice::Kind::kProgress, options_.replica_id, job_id, *to_notice});
}

bool JobRunner::apply_locked(int64_t job_id, const std::function<void(JobProgressView&)>& change) {
  JobProgressView& view = progress_[job_id];
  const std::string stage = view.stage;
  const store::JobState state = view.state;
  change(view);
  ++view.version;
  if (view.stage != stage) {
    std::deque<JobProgressView>& starts = stage_starts_[job_id];
    starts.push_back(view);
    if (starts.size() > kStageStartsKept) starts.pop_front();
  }
  if (store::is_terminal(view.state) && !store::is_terminal(state)) {
    ended_.push_back(job_id);
    if (ended_.size() > kEndedViewsKept) {
      progress_.erase(ended_.front());
      stage_starts_.erase(ended_.front());
      ended_.pop_front();
    }
  }
  return view.stage != stage || view.state != state;
}

// ---- notices --------------------------------------------------------------

void JobRunner::send(const JobNotice& notice) {
  if (!has_other_replicas_) return;  // no one to tell: not even encoded
  boost::asio::post(notice_sender_, [this, payload = encode_job_notice(notice)] {
    if (payload.empty()) return;
    if (const Status sent = store_.send_notice(payload); !sent.ok()) {
      log(LogLevel::kDebug, "sending a job notice", {{"error", sent.to_string()}});
    }
  });
}

void JobRunner::on_notice(std::string_view payload) {
  const std::optional<JobNotice> notice = decode_job_notice(payload);
  if (!notice || notice->sender == options_.replica_id) return;
  switch (notice->kind) {
    case JobNotice::Kind::kSubmitted:
      wake_coordinator();
      return;
    case JobNotice::Kind::kCancel: {
      std::lock_guard lock(mutex_);
      if (const auto held = held_.find(notice->job_id); held != held_.end()) held->second.stop_flag->store(true);
      return;
    }
    case JobNotice::Kind::kProgress: {
      {
        std::lock_guard lock(mutex_);
        if (held_.count(notice->job_id) > 0) return;  // run here now: this replica's own view is the news
        const auto seen = progress_.find(notice->job_id);
        if (seen != progress_.end() && store::is_terminal(seen->second.state)) return;
        apply_locked(notice->job_id, [&](JobProgressView& view) {
          const uint64_t version = view.version;
          view = notice->progress;
          view.version = version;
        });
      }
      changed_.notify_all();
      return;
    }
  }
}

// ---- the coordinator ------------------------------------------------------

void JobRunner::coordinate() {
  const auto tick = std::min<std::chrono::milliseconds>({options_.claim_poll, options_.lease / 3, kLongestTick});
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_ = false;
    lock.unlock();
    renew_leases();          // first: a lease that expired while the store refused writes is
    write_unwritten_ends();  // kept if no one took it, and its end written before
    claim_jobs();            // this replica could claim the job again
    lock.lock();
    coordinator_wakeup_.wait_for(lock, tick, [&] { return stopping_ || wake_; });
  }
}

void JobRunner::claim_jobs() {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (!claiming_ || executing_ >= std::max<std::size_t>(options_.workers, 1)) return;
      ++executing_;  // a worker slot for the claim, given back unless a job runs in it
    }
    auto claimed = store_.claim_job(options_.replica_id, options_.lease, options_.max_attempts);
    if (!claimed.ok() || !*claimed) {
      const std::string error = claimed.ok() ? "" : claimed.status().to_string();
      if (error != last_claim_error_ && !error.empty()) log(LogLevel::kWarn, "claiming a job", {{"error", error}});
      last_claim_error_ = error;  // logged once, not at every tick while it lasts
      std::lock_guard lock(mutex_);
      --executing_;
      executed_.notify_all();
      return;
    }
    store::ClaimedJob job = std::move(**claimed);
    {
      std::lock_guard lock(mutex_);
      held_[job.job.job_id] = {job.job, job.lease, std::make_shared<std::atomic<bool>>(job.job.cancel_requested),
                               SteadyClock::now()};
    }
    boost::asio::post(pool_, [this, job = std::move(job)] { execute(job); });
  }
}

void JobRunner::renew_leases() {
  const auto now = SteadyClock::now();
  std::vector<store::JobLease> due;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, held] : held_) {
      if (!held.lease_lost && now - held.renewed >= options_.lease / 3) due.push_back(held.lease);
    }
  }
  for (const store::JobLease& lease : due) {
    const Result<store::Job> renewed = store_.renew_lease(lease, options_.lease);
    std::lock_guard lock(mutex_);
    const auto it = held_.find(lease.job_id);
    if (it == held_.end()) continue;
    Held& held = it->second;
    if (renewed.ok()) {
      held.renewed = now;
      if (renewed->cancel_requested) held.stop_flag->store(true);
    } else if (renewed.status().code() == StatusCode::kAborted ||
               cut_off_for_a_lease(renewed.status(), now - held.renewed, options_.lease)) {
      held.lease_lost = true;  // another attempt may run it now: stop this one, write nothing
      held.stop_flag->store(true);
      log(LogLevel::kWarn, "job lease lost", {{"job_id", lease.job_id}, {"error", renewed.status().to_string()}});
    }
  }
}

void JobRunner::write_unwritten_ends() {
  std::vector<std::pair<int64_t, Status>> unwritten;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, held] : held_) {
      if (held.unwritten_outcome) unwritten.emplace_back(id, *held.unwritten_outcome);
    }
  }
  for (const auto& [job_id, outcome] : unwritten) write_end(job_id, outcome);
}

// ---- a job ----------------------------------------------------------------

void JobRunner::execute(const store::ClaimedJob& claimed) {
  const store::Job& job = claimed.job;
  log_state_change(job, job.attempts > 1 || claimed.exhausted ? store::JobState::kRunning : store::JobState::kQueued,
                   job.state, "");
  std::shared_ptr<std::atomic<bool>> stop_flag;
  {
    std::lock_guard lock(mutex_);
    stop_flag = held_.at(job.job_id).stop_flag;
  }
  Status outcome;
  if (claimed.exhausted) {
    outcome = Status::failed_precondition("interrupted " + std::to_string(job.attempts) +
                                          " times (the server stopped during the job); giving up");
  } else if (stop_flag->load()) {
    outcome = Status::cancelled("cancelled");
  } else {
    outcome = run_handler(claimed, stop_flag);
  }
  write_end(job.job_id, outcome);
  {
    std::lock_guard lock(mutex_);
    --executing_;
    wake_ = true;
  }
  executed_.notify_all();
  coordinator_wakeup_.notify_all();
}

Status JobRunner::run_handler(const store::ClaimedJob& claimed, const std::shared_ptr<std::atomic<bool>>& stop_flag) {
  const store::Job& job = claimed.job;
  publish(job.job_id, [](JobProgressView& v) {
    v.state = store::JobState::kRunning;
    v.stage = "starting";
  });
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
                               (void)store_.update_job(job.job_id, {std::nullopt, r.fraction, std::nullopt, claimed.lease});
                             }
                           },
                           stop_flag.get(), claimed.lease};
  const JobHandler handler = find_job_handler(job.kind);
  if (!handler) {
    return Status::failed_precondition("job " + std::to_string(job.job_id) + " is of unknown kind '" + job.kind + "'");
  }
  return handler(context, job);
}

void JobRunner::write_end(int64_t job_id, const Status& outcome) {
  std::unique_lock lock(mutex_);
  const Held& held = held_.at(job_id);
  if (held.lease_lost) {  // stopped because another attempt may own it now: its end is that attempt's
    held_.erase(job_id);
    return;
  }
  const store::Job job = held.job;
  const store::JobLease lease = held.lease;
  lock.unlock();
  const Status written = finish(job, outcome, lease);
  lock.lock();
  Held& entry = held_.at(job_id);
  ++entry.tries;
  if (written.code() == StatusCode::kAborted) {
    log(LogLevel::kWarn, "job lease lost", {{"job_id", job_id}, {"error", written.to_string()}});
  }
  if (written.ok() && entry.tries > 1) {
    std::fprintf(stderr, "agnx-server: job %lld: its end was written at try %d\n", static_cast<long long>(job_id),
                 entry.tries);
  }
  if (written.ok() || written.code() == StatusCode::kAborted) {
    held_.erase(job_id);
    return;
  }
  if (entry.tries == 1) {
    std::fprintf(stderr, "agnx-server: job %lld: writing its end: %s; trying again every second\n",
                 static_cast<long long>(job_id), written.to_string().c_str());
  }
  entry.unwritten_outcome = outcome;
}

Status JobRunner::finish(const store::Job& job, const Status& outcome, const std::optional<store::JobLease>& lease) {
  const store::JobState state = end_state(outcome);
  const store::JobUpdate update{state, outcome.ok() ? std::optional(1.0) : std::nullopt,
                                outcome.ok() ? std::nullopt : std::optional(outcome.message()), lease,
                                run_end_status(outcome)};
  const Status written = store_.update_job(job.job_id, update);
  if (written.ok()) log_state_change(job, job.state, state, outcome.ok() ? "" : outcome.message());
  if (written.code() == StatusCode::kAborted) return written;  // the attempt that holds the lease reports the end
  publish(job.job_id, [&](JobProgressView& v) {  // also when unwritten: followers learn how the job ended
    v.state = state;
    v.stage = store::job_state_name(state);
    v.fraction = outcome.ok() ? 1.0 : v.fraction;
    v.message = outcome.ok() ? "" : outcome.message();
  });
  return written;
}

}  // namespace agnx::server
