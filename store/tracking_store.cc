#include "store/tracking_store.h"

#include <algorithm>
#include <limits>
#include <set>
#include <tuple>

#include "core/clock.h"
#include "store/artifact_files.h"
#include "store/store_policy.h"

namespace agnx::store {
namespace {

constexpr const char* kParetoAccuracy = "approximate_top1";

double accuracy_of(const EnergyPoint& p) { return p.accuracies.at(kParetoAccuracy); }

}  // namespace

std::vector<EnergyPoint> pareto_front(std::vector<EnergyPoint> points) {
  std::erase_if(points, [](const EnergyPoint& p) { return !p.accuracies.contains(kParetoAccuracy); });
  std::sort(points.begin(), points.end(), [](const EnergyPoint& a, const EnergyPoint& b) {
    return std::tuple(a.library, a.metric, a.relative_energy, -accuracy_of(a), a.run_id) <
           std::tuple(b.library, b.metric, b.relative_energy, -accuracy_of(b), b.run_id);
  });
  std::vector<EnergyPoint> front;
  // Sweep each group by energy: a point survives if it has the best accuracy
  // of its energy and beats every point of strictly lower energy.
  double best_lower = -std::numeric_limits<double>::infinity();  // best accuracy at lower energy
  double best_here = best_lower;                                // best accuracy at this energy
  for (std::size_t i = 0; i < points.size(); ++i) {
    const EnergyPoint& p = points[i];
    const bool new_group = i == 0 || p.library != points[i - 1].library || p.metric != points[i - 1].metric;
    if (new_group) {
      best_lower = best_here = -std::numeric_limits<double>::infinity();
    } else if (p.relative_energy != points[i - 1].relative_energy) {
      best_lower = std::max(best_lower, best_here);
    }
    if (new_group || p.relative_energy != points[i - 1].relative_energy) best_here = accuracy_of(p);
    if (accuracy_of(p) == best_here && accuracy_of(p) > best_lower) front.push_back(p);
  }
  return front;
}

Result<std::vector<EnergyPoint>> TrackingStore::pareto_front(int64_t experiment_id) {
  AGNX_ASSIGN_OR_RETURN(auto points, energy_points(experiment_id));
  return store::pareto_front(std::move(points));
}

Status validate_idempotency_key(const std::string& key) {
  if (is_idempotency_key(key)) return {};
  return Status::invalid_argument("idempotency key '" + key.substr(0, kMaxIdempotencyKeyLength) +
                                  "' is not 1-128 letters, digits and . _ : -");
}

Result<int64_t> TrackingStore::create_experiment(const std::string& name, const WriteOptions& options) {
  if (name.empty()) return Status::invalid_argument("experiment name is empty");
  AGNX_RETURN_IF_ERROR(check_idempotency_key(options.idempotency_key));
  return do_create_experiment(name, options);
}

Status TrackingStore::delete_experiment(int64_t experiment_id) {
  return do_set_experiment_lifecycle(experiment_id, Lifecycle::kDeleted);
}

Status TrackingStore::restore_experiment(int64_t experiment_id) {
  return do_set_experiment_lifecycle(experiment_id, Lifecycle::kActive);
}

Status TrackingStore::delete_run(const std::string& run_id) { return do_set_run_lifecycle(run_id, Lifecycle::kDeleted); }

Status TrackingStore::restore_run(const std::string& run_id) { return do_set_run_lifecycle(run_id, Lifecycle::kActive); }

Result<RunInfo> TrackingStore::create_run(int64_t experiment_id, const std::string& run_name,
                                          const std::string& user_id, int64_t start_time,
                                          const WriteOptions& options) {
  AGNX_RETURN_IF_ERROR(check_idempotency_key(options.idempotency_key));
  return do_create_run(experiment_id, run_name, user_id, start_time, options);
}

Status TrackingStore::update_run(const std::string& run_id, RunStatus status, std::optional<int64_t> end_time) {
  if (status != RunStatus::kRunning && !end_time) end_time = now_ms();
  return do_update_run(run_id, status, end_time);
}

Status TrackingStore::log_batch(const std::string& run_id, const RunBatch& batch, const WriteOptions& options) {
  AGNX_RETURN_IF_ERROR(check_batch(batch));
  AGNX_RETURN_IF_ERROR(check_idempotency_key(options.idempotency_key));
  return do_log_batch(run_id, batch, options);
}

Status TrackingStore::log_metric(const std::string& run_id, const Metric& metric) {
  RunBatch batch;
  batch.metrics.push_back(metric);
  return log_batch(run_id, batch);
}

Status TrackingStore::log_param(const std::string& run_id, const std::string& key, const std::string& value) {
  RunBatch batch;
  batch.params.emplace(key, value);
  return log_batch(run_id, batch);
}

Status TrackingStore::set_tag(const std::string& run_id, const std::string& key, const std::string& value) {
  RunBatch batch;
  batch.tags.emplace(key, value);
  return log_batch(run_id, batch);
}

Status TrackingStore::log_matching(const std::string& run_id, const MatchingRecord& record, const RunBatch& batch,
                                   const std::optional<JobLease>& lease) {
  AGNX_RETURN_IF_ERROR(check_batch(batch));
  AGNX_RETURN_IF_ERROR(check_matching(record));
  return do_log_matching(run_id, record, batch, lease);
}

Result<ArtifactInfo> TrackingStore::log_artifact(const std::string& run_id, const std::string& path,
                                                 std::string_view content) {
  AGNX_RETURN_IF_ERROR(validate_artifact_path(path));
  return do_log_artifact(run_id, path, content);
}

Result<int64_t> TrackingStore::create_job(const std::string& kind, std::optional<std::string> run_id) {
  if (kind.empty()) return Status::invalid_argument("job kind is empty");
  return do_create_job(kind, std::move(run_id));
}

Status TrackingStore::update_job(int64_t job_id, const JobUpdate& update) {
  AGNX_RETURN_IF_ERROR(check_job_update(job_id, update));
  return do_update_job(job_id, update);
}

Result<SubmittedJob> TrackingStore::submit_job(const JobSubmission& submission, const WriteOptions& options) {
  if (submission.kind.empty()) return Status::invalid_argument("job kind is empty");
  AGNX_RETURN_IF_ERROR(check_batch(submission.batch));
  AGNX_RETURN_IF_ERROR(check_idempotency_key(options.idempotency_key));
  std::set<std::string_view> paths;
  for (const ArtifactContent& artifact : submission.artifacts) {
    AGNX_RETURN_IF_ERROR(validate_artifact_path(artifact.path));
    if (!paths.insert(artifact.path).second) {
      return Status::invalid_argument("artifact '" + artifact.path + "' is given twice");
    }
  }
  return do_submit_job(submission, options);
}

Result<std::optional<ClaimedJob>> TrackingStore::claim_job(const std::string& owner,
                                                           std::chrono::milliseconds duration, int64_t max_attempts) {
  AGNX_RETURN_IF_ERROR(check_lease_terms(owner, duration));
  if (max_attempts < 1) return Status::invalid_argument("max_attempts must be at least 1");
  return do_claim_job(owner, duration, max_attempts);
}

Result<Job> TrackingStore::renew_lease(const JobLease& lease, std::chrono::milliseconds duration) {
  AGNX_RETURN_IF_ERROR(check_lease_terms(lease.owner, duration));
  return do_renew_lease(lease, duration);
}

Result<int64_t> TrackingStore::release_leases(const std::string& owner) {
  AGNX_RETURN_IF_ERROR(check_lease_terms(owner, std::chrono::milliseconds(1)));
  return do_release_leases(owner);
}

Result<Job> TrackingStore::request_cancel(int64_t job_id) { return do_request_cancel(job_id); }

Status TrackingStore::send_notice(std::string_view payload) {
  if (payload.size() > kMaxNoticeBytes) {
    return Status::invalid_argument("notice payload: " + std::to_string(payload.size()) + " bytes, at most " +
                                    std::to_string(kMaxNoticeBytes));
  }
  return do_send_notice(payload);
}

Status TrackingStore::put_library(const StoredLibrary& library) {
  AGNX_RETURN_IF_ERROR(check_library(library));
  return do_put_library(library);
}

}  // namespace agnx::store
