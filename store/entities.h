// The tracking store's entities, as plain values (MLflow's data model plus
// agnx's matching results, jobs and multiplier libraries).
//
// Times are milliseconds since the Unix epoch. Thread safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/selection.h"
#include "core/status.h"

namespace agnx::store {

enum class Lifecycle { kActive, kDeleted };
enum class RunStatus { kRunning, kFinished, kFailed, kKilled };
enum class JobState { kQueued, kRunning, kSucceeded, kFailed, kCancelled };

// "active"/"deleted"; "RUNNING"/"FINISHED"/...; "QUEUED"/"RUNNING"/...
const char* lifecycle_name(Lifecycle lifecycle);
const char* run_status_name(RunStatus status);
const char* job_state_name(JobState state);
// The inverses; errors name the unknown spelling.
Result<Lifecycle> parse_lifecycle(std::string_view name);
Result<RunStatus> parse_run_status(std::string_view name);
Result<JobState> parse_job_state(std::string_view name);

// SUCCEEDED, FAILED and CANCELLED: a job in these states never changes again.
bool is_terminal(JobState state);

struct Experiment {
  int64_t experiment_id = 0;
  std::string name;
  Lifecycle lifecycle = Lifecycle::kActive;
  int64_t creation_time = 0;
  int64_t last_update_time = 0;
};

struct RunInfo {
  std::string run_id;  // 32 hex digits
  int64_t experiment_id = 0;
  std::string run_name;
  std::string user_id;  // who created the run
  RunStatus status = RunStatus::kRunning;
  int64_t start_time = 0;
  std::optional<int64_t> end_time;
  Lifecycle lifecycle = Lifecycle::kActive;
};

struct Metric {
  std::string key;
  double value = 0.0;  // finite or infinite; NaN is rejected
  int64_t timestamp = 0;
  int64_t step = 0;
};

// A run with its params, tags and latest metric values.
struct Run {
  RunInfo info;
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> tags;
  std::map<std::string, Metric> metrics;  // the latest value per key
};

// What log_batch writes for one run; any part may be empty.
struct RunBatch {
  std::vector<Metric> metrics;
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> tags;
};

struct ArtifactInfo {
  std::string path;  // relative, '/'-separated
  int64_t size = 0;
  std::string sha256;
};

// A run's matching result: core's MatchingInfo plus the lambda it was run with.
struct MatchingRecord {
  double lambda = 0.0;
  MatchingInfo info;
};

struct Job {
  int64_t job_id = 0;
  std::optional<std::string> run_id;
  std::string kind;
  JobState state = JobState::kQueued;
  int64_t attempts = 0;
  double progress = 0.0;  // in [0, 1]
  std::string error;
  int64_t creation_time = 0;
  int64_t update_time = 0;
  std::optional<int64_t> start_time;
  std::optional<int64_t> end_time;
  // The lease of a RUNNING job (see JobLease): who runs it, until when by
  // the store's clock (ms since the epoch); unset before the first claim.
  std::optional<std::string> owner;
  std::optional<int64_t> lease_expires;
  bool cancel_requested = false;  // CancelJob asked its owner to stop it
};

// The right to run a job: a replica (`owner`) claimed job `job_id` for its
// attempt `attempt` and keeps the lease by renewing it. A write fenced by a
// lease (JobUpdate::lease, log_matching's) is applied only while the job is
// still RUNNING under this very claim, so a replica that lost its lease (it
// paused or lost the database past the lease's end, and another replica
// claimed the job) cannot overwrite a newer attempt.
struct JobLease {
  int64_t job_id = 0;
  std::string owner;
  int64_t attempt = 0;
};

// A job a replica claimed: RUNNING under `lease`. `exhausted`: its earlier
// attempts used up the allowed number, and the claimer is to end it FAILED
// instead of running it (the claim did not count an attempt).
struct ClaimedJob {
  Job job;
  JobLease lease;
  bool exhausted = false;
};

// A change of a job; unset fields stay. Setting kRunning counts an attempt
// and sets start_time (also on a RUNNING job: a restart after a crash);
// entering kSucceeded/kFailed/kCancelled sets end_time.
struct JobUpdate {
  std::optional<JobState> state;
  std::optional<double> progress;
  std::optional<std::string> error;
  // If set, the update is fenced: kAborted unless the job is RUNNING under
  // this lease.
  std::optional<JobLease> lease = {};
  // If set with a terminal state, the job's run (if it has one and it is
  // active) ends with this status at the job's end time, in the same write.
  std::optional<RunStatus> run_status = {};
};

struct StoredMultiplier {
  std::string name;
  bool is_signed = true;
  double metric = 0.0;
  std::vector<int32_t> products;  // 65536 entries, core's table layout
};

struct StoredLibrary {
  std::string name;
  std::string metric;
  double metric_max = 0.0;
  std::vector<StoredMultiplier> multipliers;  // sorted by name when read
};

// One point of an energy plot: a FINISHED run with a matching result.
struct EnergyPoint {
  std::string run_id;
  std::string run_name;
  double lambda = 0.0;
  std::string library;
  std::string metric;
  double relative_energy = 0.0;
  std::map<std::string, double> accuracies;  // latest metrics whose key contains "_top"
};

}  // namespace agnx::store
