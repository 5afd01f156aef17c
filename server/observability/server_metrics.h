// ServerMetrics: the metrics of agnx-server's store, jobs and warm worker,
// in a registry that GET /metrics renders (the gRPC calls' families are
// added by grpc_call_observer, server/observability/grpc_observer.h):
//
//   agnx_store_write_group_size        histogram  writes per group commit (SQLite)
//   agnx_store_write_queue_depth       gauge      writes waiting for the writer (SQLite)
//   agnx_jobs{state,kind}              gauge      the store's jobs, every state of each kind seen
//   agnx_warm_workers                  gauge      warm agnx-worker processes up (0 or 1)
//   agnx_warm_worker_steps             gauge      job steps running in its children
//
// The jobs are counted from the store at each render (on PostgreSQL: every
// replica's); a store error leaves agnx_jobs without samples and is logged.
//
// Thread safety: safe for concurrent use. Not copyable.
#pragma once

#include "server/observability/metrics.h"
#include "server/worker_pool.h"
#include "store/tracking_store.h"
#include "store/write_observer.h"

namespace agnx::server {

class ServerMetrics final : public store::WriteObserver {
 public:
  // Registers the families and observes `store`'s writes until destroyed.
  // `store` and `warm_worker` (null: none) must outlive this object.
  ServerMetrics(store::TrackingStore& store, const WorkerPool* warm_worker);
  ~ServerMetrics() override;
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  MetricsRegistry& registry() { return registry_; }

  void write_group(std::size_t writes) override;
  void write_queue_depth(std::size_t depth) override;

 private:
  store::TrackingStore& store_;
  MetricsRegistry registry_;
  Histogram& group_size_;
  Gauge& queue_depth_;
};

}  // namespace agnx::server
