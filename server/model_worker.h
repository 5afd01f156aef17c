// Runs the LibTorch part of a matching job in an agnx-worker process
// (server/worker/protocol.h) and supervises it: its progress is forwarded,
// and a worker that crashes, runs past its time limit or is cancelled is
// killed and reported, while the server goes on serving.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>

#include "core/library.h"
#include "core/progress.h"
#include "core/selection.h"
#include "core/status.h"
#include "server/worker/protocol.h"
#include "server/worker/request.h"

namespace agnx::server {

class WorkerPool;

// The limits and resources of one worker.
struct WorkerOptions {
  std::filesystem::path executable;        // agnx-worker; empty: default_worker_executable()
  std::size_t threads = 1;                 // LibTorch and selection threads
  std::chrono::seconds time_limit{3600};   // wall time of one worker
  std::size_t memory_limit_mb = 8192;      // RLIMIT_DATA of the worker (0: none)
  // The warm worker that forks workers (server/worker_pool.h), not owned;
  // nullptr, or while it is down: a fresh `executable` per worker.
  WorkerPool* pool = nullptr;
};

// agnx-worker next to the running executable.
std::filesystem::path default_worker_executable();

// The inputs of a job, as bytes, for its job directory. A view: the request
// and the bytes it refers to must outlive it (it is built, written to a job
// directory and dropped within one call).
struct JobInputs {
  const MatchingRequest& request;
  std::string_view model;
  std::string_view calibration;
  std::string_view test_x;  // empty without test data
  std::string_view test_y;
};

// A scratch directory under a parent directory (a job's files, an import's
// tables), removed with everything in it when the object is destroyed.
// Movable, not copyable; one owner, not to be shared between threads while
// it is written.
class JobDirectory {
 public:
  // Creates a fresh, empty directory in `parent`. Errors: kIoError.
  static Result<JobDirectory> create(const std::filesystem::path& parent);
  // Creates a fresh directory in `parent` and writes a matching job's
  // `inputs` to it. Errors: kIoError naming the file that could not be written.
  static Result<JobDirectory> create(const std::filesystem::path& parent, const JobInputs& inputs);

  // Writes file `name` of the directory. Errors: kIoError naming it.
  Status write(const std::string& name, std::string_view bytes) const;
  // Makes file `name` of the directory the file `source` without copying its
  // bytes (a hard link; a copy only where no link can be made, e.g. across
  // file systems). Neither may be modified afterwards. Errors: kIoError
  // naming both.
  Status link(const std::string& name, const std::filesystem::path& source) const;

  JobDirectory(JobDirectory&& other) noexcept;
  JobDirectory& operator=(JobDirectory&&) = delete;
  ~JobDirectory();

  const std::filesystem::path& path() const { return path_; }

 private:
  explicit JobDirectory(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

// What a worker reports while it runs, and the flag that stops it. The
// callbacks run on the calling thread.
struct WorkerCallbacks {
  ProgressCallback on_progress;
  std::function<void(const worker::MetricReport&)> on_metric;
  const std::atomic<bool>* cancelled = nullptr;  // checked every 50 ms
};

// Runs `agnx-worker MODE` on `job` (forked by options.pool when it is up)
// and waits for it: OK when it exited 0,
// its reported error, kAborted when it crashed or ran past the time limit
// (with the stage and its last output), kCancelled once `cancelled` became
// true (the worker is killed).
Status run_in_worker(const WorkerOptions& options, const std::string& mode, const JobDirectory& job,
                     const std::string& library_metric, const WorkerCallbacks& callbacks);

// Checks a submission in a worker: OK, the worker's error naming the field
// at fault (kInvalidArgument, kNotFound), or kAborted when the worker
// failed (a signal, the time limit), with the reason.
Status validate_in_worker(const WorkerOptions& options, const JobDirectory& job);

// Runs the matching of `job` with `library` in a worker. Errors: the
// worker's (named), kAborted when it failed, kCancelled once `cancelled`
// becomes true (checked every 50 ms).
Result<MatchingInfo> match_in_worker(const WorkerOptions& options, const JobDirectory& job,
                                     const MultiplierLibrary& library, const ProgressCallback& on_progress,
                                     const std::atomic<bool>* cancelled);

}  // namespace agnx::server
