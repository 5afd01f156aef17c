#include "store/tracking_store.h"

#include <algorithm>
#include <limits>
#include <tuple>

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
  static constexpr std::size_t kMaxLength = 128;
  static constexpr const char* kAllowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-";
  if (key.empty() || key.size() > kMaxLength || key.find_first_not_of(kAllowed) != std::string::npos) {
    return Status::invalid_argument("idempotency key '" + key.substr(0, kMaxLength) +
                                    "' is not 1-128 letters, digits and . _ : -");
  }
  return {};
}

Result<int64_t> TrackingStore::create_experiment(const std::string& name) { return create_experiment(name, {}); }

Result<RunInfo> TrackingStore::create_run(int64_t experiment_id, const std::string& run_name,
                                          const std::string& user_id, int64_t start_time) {
  return create_run(experiment_id, run_name, user_id, start_time, {});
}

Status TrackingStore::log_batch(const std::string& run_id, const RunBatch& batch) {
  return log_batch(run_id, batch, {});
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

}  // namespace agnx::store
