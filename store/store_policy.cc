#include "store/store_policy.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "core/clock.h"
#include "core/number_text.h"
#include "store/tracking_store.h"

namespace agnx::store {
namespace {

constexpr std::size_t kTableEntries = 256 * 256;

Status require_key(const std::string& key, const char* what) {
  if (key.empty()) return Status::invalid_argument(std::string(what) + " key is empty");
  return {};
}

Status require_finite(double value, const std::string& field) {
  if (!std::isfinite(value)) return Status::invalid_argument("matching result: " + field + " is not finite");
  return {};
}

Status check_candidates(const LayerInfo& layer, const std::string& at) {
  std::set<std::string> names;
  for (std::size_t c = 0; c < layer.candidates.size(); ++c) {
    const CandidatePrediction& candidate = layer.candidates[c];
    const std::string cat = at + ".candidates[" + std::to_string(c) + "]";
    if (!names.insert(candidate.name).second) {
      return Status::invalid_argument("matching result: " + cat + " repeats the name '" + candidate.name + "'");
    }
    AGNX_RETURN_IF_ERROR(require_finite(candidate.metric, cat + ".metric"));
    AGNX_RETURN_IF_ERROR(require_finite(candidate.mean, cat + ".mean"));
    AGNX_RETURN_IF_ERROR(require_finite(candidate.std, cat + ".std"));
  }
  return {};
}

Status check_layer(const LayerInfo& layer, std::size_t index) {
  const std::string at = "layers[" + std::to_string(index) + "]";
  if (layer.name.empty()) return Status::invalid_argument("matching result: " + at + ".name is empty");
  for (const auto& [value, field] : {std::pair{layer.sigma, "sigma"}, {layer.out_std, "out_std"},
                                     {layer.max_std, "max_std"}, {layer.mul_std, "mul_std"},
                                     {layer.multiplier_performance_metric, "multiplier_performance_metric"}}) {
    AGNX_RETURN_IF_ERROR(require_finite(value, at + "." + field));
  }
  return check_candidates(layer, at);
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

}  // namespace

Status check_lease_terms(const std::string& owner, std::chrono::milliseconds duration) {
  const bool printable = std::all_of(owner.begin(), owner.end(), [](char c) { return c > ' ' && c < 127; });
  if (owner.empty() || owner.size() > 200 || !printable) {
    return Status::invalid_argument("lease owner '" + owner + "' must be 1-200 printable characters without spaces");
  }
  if (duration.count() <= 0) return Status::invalid_argument("lease duration must be positive");
  return {};
}

std::string new_run_id() {
  thread_local std::mt19937_64 random(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  const auto put = [&](std::size_t begin, std::size_t digits, uint64_t bits) {
    for (std::size_t i = begin + digits; i-- > begin; bits >>= 4) id[i] = kHex[bits & 0xf];
  };
  put(0, 12, static_cast<uint64_t>(now_ms()));
  put(12, 4, random());
  put(16, 16, random());
  return id;
}

Status check_batch(const RunBatch& batch) {
  if (batch.metrics.size() > kMaxBatchMetrics || batch.params.size() > kMaxBatchParams ||
      batch.tags.size() > kMaxBatchTags) {
    return Status::invalid_argument("batch has " + std::to_string(batch.metrics.size()) + " metrics, " +
                                    std::to_string(batch.params.size()) + " params, " +
                                    std::to_string(batch.tags.size()) + " tags; at most " +
                                    std::to_string(kMaxBatchMetrics) + ", " + std::to_string(kMaxBatchParams) +
                                    ", " + std::to_string(kMaxBatchTags) + " are allowed");
  }
  for (const Metric& m : batch.metrics) {
    AGNX_RETURN_IF_ERROR(require_key(m.key, "metric"));
    if (std::isnan(m.value)) return Status::invalid_argument("metric '" + m.key + "' value is NaN");
  }
  for (const auto& [key, value] : batch.params) AGNX_RETURN_IF_ERROR(require_key(key, "param"));
  for (const auto& [key, value] : batch.tags) AGNX_RETURN_IF_ERROR(require_key(key, "tag"));
  return {};
}

Status check_matching(const MatchingRecord& record) {
  const MatchingInfo& info = record.info;
  AGNX_RETURN_IF_ERROR(require_finite(record.lambda, "lambda"));
  if (!(info.metric_max > 0.0) || !std::isfinite(info.metric_max)) {
    return Status::invalid_argument("matching result: metric_max must be finite and > 0");
  }
  if (info.layers.empty()) return Status::invalid_argument("matching result: layers is empty");
  if (info.library.empty()) return Status::invalid_argument("matching result: library is empty");
  for (std::size_t i = 0; i < info.layers.size(); ++i) AGNX_RETURN_IF_ERROR(check_layer(info.layers[i], i));
  return {};
}

Status check_library(const StoredLibrary& library) {
  if (library.name.empty()) return Status::invalid_argument("library name is empty");
  for (const StoredMultiplier& m : library.multipliers) {
    if (m.products.size() != kTableEntries) {
      return Status::invalid_argument("library '" + library.name + "': multiplier '" + m.name + "' has " +
                                      std::to_string(m.products.size()) + " products, not 65536");
    }
  }
  return {};
}

Status check_job_update(int64_t job_id, const JobUpdate& update) {
  if (update.progress && !(*update.progress >= 0.0 && *update.progress <= 1.0)) {
    return Status::invalid_argument("job " + std::to_string(job_id) + ": progress " +
                                    round_trip_text(*update.progress) + " is not in [0, 1]");
  }
  return {};
}

Status check_idempotency_key(const std::string& key) {
  if (key.empty()) return {};
  return validate_idempotency_key(key);
}

Status require_active(const RunInfo& run) {
  if (run.lifecycle == Lifecycle::kActive) return {};
  return Status::failed_precondition("run '" + run.run_id + "' is deleted; restore it before writing to it");
}

Status require_active(const Experiment& experiment) {
  if (experiment.lifecycle == Lifecycle::kActive) return {};
  return Status::failed_precondition("experiment " + std::to_string(experiment.experiment_id) + " is deleted");
}

Result<Job> apply_job_update(Job job, const JobUpdate& update, int64_t now) {
  if (update.lease) AGNX_RETURN_IF_ERROR(require_lease(job, *update.lease));
  if (update.state && (*update.state != job.state || *update.state == JobState::kRunning)) {
    if (is_terminal(job.state)) {
      return Status::failed_precondition("job " + std::to_string(job.job_id) + " is already " +
                                         job_state_name(job.state));
    }
    job.state = *update.state;
    if (job.state == JobState::kRunning) {
      ++job.attempts;
      job.start_time = now;
    }
    if (is_terminal(job.state)) job.end_time = now;
  }
  if (update.progress) job.progress = *update.progress;
  if (update.error) job.error = *update.error;
  job.update_time = now;
  return job;
}

Status require_lease(const Job& job, const JobLease& lease) {
  if (job.state == JobState::kRunning && job.owner == lease.owner && job.attempts == lease.attempt) return {};
  std::string now = job_state_name(job.state);
  if (job.state == JobState::kRunning) {
    now += " as attempt " + std::to_string(job.attempts) + " of " + job.owner.value_or("nobody");
  }
  return Status::aborted("job " + std::to_string(job.job_id) + ": the lease of attempt " +
                         std::to_string(lease.attempt) + " by " + lease.owner + " was lost; the job is " + now);
}

ClaimedJob claim(Job job, const std::string& owner, int64_t now, int64_t lease_expires, int64_t max_attempts) {
  const bool exhausted = job.attempts >= max_attempts;
  if (!exhausted) ++job.attempts;
  job.state = JobState::kRunning;
  job.owner = owner;
  job.lease_expires = lease_expires;
  job.start_time = now;
  job.update_time = now;
  return {job, {job.job_id, owner, job.attempts}, exhausted};
}

Result<Job> renew(Job job, const JobLease& lease, int64_t lease_expires) {
  AGNX_RETURN_IF_ERROR(require_lease(job, lease));
  job.lease_expires = lease_expires;
  return job;
}

Result<Job> request_cancel(Job job, int64_t now) {
  if (is_terminal(job.state)) {
    return Status::failed_precondition("job " + std::to_string(job.job_id) + " already ended " +
                                       job_state_name(job.state));
  }
  if (job.state == JobState::kRunning) {
    job.cancel_requested = true;
    return job;
  }
  return apply_job_update(std::move(job), {JobState::kCancelled, std::nullopt, std::string("cancelled")}, now);
}

Result<std::optional<std::string>> replay(const std::string& key, const std::optional<KeyRecord>& found,
                                          const std::string& kind, const std::string& target) {
  if (!found) return std::optional<std::string>();
  if (found->kind != kind || found->target != target) {
    return Status::invalid_argument("idempotency key '" + key + "' was used for " + found->kind + " of '" +
                                    found->target + "', not for " + kind + " of '" + target + "'");
  }
  return std::optional<std::string>(found->result);
}

Status require_same_param(const std::string& run_id, const std::string& key, const std::string& stored,
                          const std::string& value) {
  if (stored == value) return {};
  return Status::invalid_argument("param '" + key + "' of run '" + run_id + "' is already " + quoted(stored) +
                                  " and cannot change to " + quoted(value) + " (params are immutable)");
}

}  // namespace agnx::store
