// A matching job's request: what a client asked for, once validated. It is
// stored with the job's run (inputs/request.json) and handed to the model
// worker in its job directory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/builtin_library.h"
#include "core/status.h"

namespace agnx::server {

struct MatchingRequest {
  double lambda = 0.0;
  std::string library = kBuiltinLibraryName;
  std::map<std::string, double> sigma;  // per layer; the others use stdev buffers
  std::size_t num_samples = 512;
  uint64_t seed = 0;
  std::vector<std::string> pin_exact;
  bool has_test_data = false;
};

std::string to_json(const MatchingRequest& request);

// Parses what to_json wrote. Errors: not a JSON object, a missing or
// mistyped field (named).
Result<MatchingRequest> matching_request_from_json(std::string_view text);

}  // namespace agnx::server
