#include "store/entities.h"

#include <array>
#include <utility>

namespace agnx::store {
namespace {

constexpr std::array<std::pair<Lifecycle, const char*>, 2> kLifecycles{{
    {Lifecycle::kActive, "active"}, {Lifecycle::kDeleted, "deleted"}}};
constexpr std::array<std::pair<RunStatus, const char*>, 4> kRunStatuses{{{RunStatus::kRunning, "RUNNING"},
                                                                         {RunStatus::kFinished, "FINISHED"},
                                                                         {RunStatus::kFailed, "FAILED"},
                                                                         {RunStatus::kKilled, "KILLED"}}};
constexpr std::array<std::pair<JobState, const char*>, 5> kJobStates{{{JobState::kQueued, "QUEUED"},
                                                                      {JobState::kRunning, "RUNNING"},
                                                                      {JobState::kSucceeded, "SUCCEEDED"},
                                                                      {JobState::kFailed, "FAILED"},
                                                                      {JobState::kCancelled, "CANCELLED"}}};

template <typename E, std::size_t N>
const char* name_of(const std::array<std::pair<E, const char*>, N>& names, E value) {
  for (const auto& [e, name] : names) {
    if (e == value) return name;
  }
  return "?";
}

template <typename E, std::size_t N>
Result<E> parse(const std::array<std::pair<E, const char*>, N>& names, std::string_view name, const char* what) {
  for (const auto& [e, spelling] : names) {
    if (name == spelling) return e;
  }
  return Status::invalid_argument(std::string("unknown ") + what + " '" + std::string(name) + "'");
}

}  // namespace

const char* lifecycle_name(Lifecycle lifecycle) { return name_of(kLifecycles, lifecycle); }
const char* run_status_name(RunStatus status) { return name_of(kRunStatuses, status); }
const char* job_state_name(JobState state) { return name_of(kJobStates, state); }

Result<Lifecycle> parse_lifecycle(std::string_view name) { return parse(kLifecycles, name, "lifecycle stage"); }
Result<RunStatus> parse_run_status(std::string_view name) { return parse(kRunStatuses, name, "run status"); }
Result<JobState> parse_job_state(std::string_view name) { return parse(kJobStates, name, "job state"); }

bool is_terminal(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kFailed || state == JobState::kCancelled;
}

}  // namespace agnx::store
