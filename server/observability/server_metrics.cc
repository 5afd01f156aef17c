#include "server/observability/server_metrics.h"

#include <map>
#include <set>
#include <utility>

#include "server/observability/log.h"

namespace agnx::server {

namespace {

constexpr store::JobState kJobStates[] = {store::JobState::kQueued, store::JobState::kRunning,
                                          store::JobState::kSucceeded, store::JobState::kFailed,
                                          store::JobState::kCancelled};

// Every state of each kind of the store's jobs, zeros included, so a job
// leaving a state takes that series to 0 rather than out of sight.
std::vector<GaugeSample> count_jobs(store::TrackingStore& store) {
  const auto jobs = store.list_jobs(std::nullopt);
  if (!jobs.ok()) {
    log(LogLevel::kWarn, "metrics: counting jobs", {{"error", jobs.status().to_string()}});
    return {};
  }
  std::set<std::string> kinds;
  std::map<std::pair<std::string, store::JobState>, int64_t> counts;
  for (const store::Job& job : *jobs) {
    kinds.insert(job.kind);
    ++counts[{job.kind, job.state}];
  }
  std::vector<GaugeSample> samples;
  for (const std::string& kind : kinds) {
    for (const store::JobState state : kJobStates) {
      const auto found = counts.find({kind, state});
      samples.push_back({{store::job_state_name(state), kind},
                         found == counts.end() ? 0.0 : static_cast<double>(found->second)});
    }
  }
  return samples;
}

}  // namespace

ServerMetrics::ServerMetrics(store::TrackingStore& store, const WorkerPool* warm_worker)
    : store_(store),
      group_size_(registry_
                      .histogram("agnx_store_write_group_size", "Writes committed together in one transaction.", {},
                                 {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024})
                      .with({})),
      queue_depth_(registry_.gauge("agnx_store_write_queue_depth", "Writes waiting for the store's writer.", {})
                       .with({})) {
  registry_.gauge_callback("agnx_jobs", "The store's jobs by state and kind.", {"state", "kind"},
                           [this] { return count_jobs(store_); });
  registry_.gauge_callback("agnx_warm_workers", "Warm agnx-worker processes up (0 or 1).", {}, [warm_worker] {
    return std::vector<GaugeSample>{{{}, warm_worker && warm_worker->warm_worker_pid() != 0 ? 1.0 : 0.0}};
  });
  registry_.gauge_callback("agnx_warm_worker_steps", "Job steps running in children of the warm agnx-worker.", {},
                           [warm_worker] {
                             const double running = warm_worker ? static_cast<double>(warm_worker->running()) : 0.0;
                             return std::vector<GaugeSample>{{{}, running}};
                           });
  store_.set_write_observer(this);
}

ServerMetrics::~ServerMetrics() { store_.set_write_observer(nullptr); }

void ServerMetrics::write_group(std::size_t writes) { group_size_.observe(static_cast<double>(writes)); }

void ServerMetrics::write_queue_depth(std::size_t depth) { queue_depth_.set(static_cast<double>(depth)); }

}  // namespace agnx::server
