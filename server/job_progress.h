// JobProgressView: a job's live state as WatchJob reports it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "store/entities.h"

namespace agnx::server {

struct JobProgressView {
  store::JobState state = store::JobState::kQueued;
  std::string stage = "queued";
  std::size_t step = 0;
  std::size_t steps = 0;
  std::size_t epoch = 0;   // training stages
  std::size_t epochs = 0;
  std::size_t point = 0;   // sweeps: lambda `point` of `points`
  std::size_t points = 0;
  double fraction = 0.0;  // of the whole job
  std::string message;
  uint64_t version = 0;  // increases with every change, per replica
};

}  // namespace agnx::server
