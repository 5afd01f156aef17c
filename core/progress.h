// Progress of long work, for progress bars and job status.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace agnx {

struct Progress {
  std::string stage;  // e.g. "loading", "scales", "features", "selection", "evaluation"
  std::size_t done = 0;
  std::size_t total = 0;
  std::size_t epoch = 0;   // training stages: the epoch (from 1) of `epochs`; 0 elsewhere
  std::size_t epochs = 0;
};
using ProgressCallback = std::function<void(const Progress&)>;

}  // namespace agnx
