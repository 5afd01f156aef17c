// The tracking store's rules, apart from any backend.
//
// Two kinds of rule live here. Checks of a write's own arguments (check_*)
// run in TrackingStore before a backend sees the write, so no backend stores
// a malformed value. Rules that need the stored state (terminal job states,
// idempotency-key replay, immutable params, writes to deleted runs) are
// applied by a backend inside the transaction of the write, on the rows it
// read there: a backend reads and persists, these functions decide.
//
// All functions are pure and thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"
#include "store/entities.h"

namespace agnx::store {

// ---- a write's arguments --------------------------------------------------

inline constexpr std::size_t kMaxBatchMetrics = 1000;
inline constexpr std::size_t kMaxBatchParams = 100;
inline constexpr std::size_t kMaxBatchTags = 100;

// kInvalidArgument unless the batch is within the size limits, every key is
// non-empty and no metric value is NaN.
Status check_batch(const RunBatch& batch);
// kInvalidArgument, naming the field, unless every number is finite, the
// library and layers are named, metric_max > 0 and candidate names are unique
// per layer.
Status check_matching(const MatchingRecord& record);
// kInvalidArgument unless named and every table has 65536 products.
Status check_library(const StoredLibrary& library);
// kInvalidArgument unless a set progress lies in [0, 1].
Status check_job_update(int64_t job_id, const JobUpdate& update);
// kInvalidArgument unless `key` is empty or a well-formed idempotency key.
Status check_idempotency_key(const std::string& key);
// kInvalidArgument unless `owner` is 1-200 printable characters and
// `duration` is positive.
Status check_lease_terms(const std::string& owner, std::chrono::milliseconds duration);

// ---- a new run ------------------------------------------------------------

// A new run's id: 32 hex digits, 12 of the creation time in ms, then 20
// random ones. Ids of new runs sort after older ones, so inserts into the
// run-keyed tables append to their B-trees instead of dirtying random pages.
std::string new_run_id();

// ---- rules on stored rows, inside a write transaction ---------------------

// kFailedPrecondition unless the run is active.
Status require_active(const RunInfo& run);
// kFailedPrecondition unless the experiment is active.
Status require_active(const Experiment& experiment);

// `job` after `update` at time `now`. Entering RUNNING (also again, after a
// restart) counts an attempt and sets start_time; entering a terminal state
// sets end_time. kFailedPrecondition when the job has already ended and the
// update would change its state; kAborted when the update is fenced by a
// lease the job is no longer under (require_lease).
Result<Job> apply_job_update(Job job, const JobUpdate& update, int64_t now);

// kAborted, naming the job's state and holder, unless `job` is RUNNING under
// `lease` (its owner and attempt).
Status require_lease(const Job& job, const JobLease& lease);

// `job` (QUEUED, or RUNNING under an expired lease) claimed by `owner` at
// store time `now` until `lease_expires`. The claim counts an attempt unless
// the job already had `max_attempts` of them (then it is exhausted).
ClaimedJob claim(Job job, const std::string& owner, int64_t now, int64_t lease_expires, int64_t max_attempts);

// `job` with its lease extended to `lease_expires`; kAborted unless it is
// under `lease`.
Result<Job> renew(Job job, const JobLease& lease, int64_t lease_expires);

// `job` after a cancel request at time `now`: a QUEUED job ends CANCELLED; a
// RUNNING one gets cancel_requested for its owner to act on.
// kFailedPrecondition when it already ended.
Result<Job> request_cancel(Job job, int64_t now);

// What an idempotency key recorded: the kind of write, its target and its
// result (backend-defined text, e.g. an id).
struct KeyRecord {
  std::string kind;
  std::string target;
  std::string result;
};

// The earlier result a write must return instead of writing, given the key
// record the backend found (nullopt: none, write and record the key).
// kInvalidArgument when the key was used for another kind of write or target.
Result<std::optional<std::string>> replay(const std::string& key, const std::optional<KeyRecord>& found,
                                          const std::string& kind, const std::string& target);

// kInvalidArgument naming the run and both values unless `stored` == `value`
// (params are immutable).
Status require_same_param(const std::string& run_id, const std::string& key, const std::string& stored,
                          const std::string& value);

}  // namespace agnx::store
