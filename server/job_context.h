// What a job handler gets from the JobRunner, and the table of job kinds.
//
// A job kind is a handler: it reads its inputs from the store (artifacts of
// the job's run), runs its model work in agnx-worker processes and writes
// its results. Adding a kind touches its handler's own files and the table
// in job_kinds.cc, nothing in the runner.
#pragma once

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string_view>

#include "core/progress.h"
#include "core/status.h"
#include "server/library_registry.h"
#include "server/model_worker.h"
#include "store/tracking_store.h"

namespace agnx::server {

// The run tag that names a submitted run's job (scripts follow it).
inline constexpr const char* kJobIdTag = "agnx.job_id";

// A handler's progress: where it is and how much of the whole job is done.
struct JobReport {
  Progress progress;       // stage, step within it; epoch/epochs in training stages
  double fraction = 0.0;   // of the whole job, in [0, 1]
  std::size_t point = 0;   // a sweep: lambda `point` (from 1) of `points`; 0 otherwise
  std::size_t points = 0;
};

// The references outlive the handler call; `report` is called on the
// handler's thread. The runner owns everything here.
struct JobContext {
  store::TrackingStore& store;
  const LibraryRegistry& libraries;
  const WorkerOptions& worker;
  std::filesystem::path work_dir;                // job directories are made (and removed) here
  std::function<void(const JobReport&)> report;  // may be empty
  const std::atomic<bool>* cancelled = nullptr;  // polled while workers run; then kCancelled
  // The job's lease: fences the handler's result (log_matching), so an
  // attempt that lost its lease writes none.
  std::optional<store::JobLease> lease = {};
};

// Runs `job` to its end and writes its result. OK, or the reason it failed
// (kCancelled after a cancellation). A handler may be run again for the same
// job after a crash (at most max_attempts times): it must not write its
// result twice.
using JobHandler = Status (*)(const JobContext& context, const store::Job& job);

// The handler of job kind `kind`, or nullptr for an unknown kind.
JobHandler find_job_handler(std::string_view kind);

}  // namespace agnx::server
