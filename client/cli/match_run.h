// The work of `agnx match` (core/ and LibTorch): capture and select on the
// calibration data, pin layers, observe errors, evaluate accuracies, print
// the result table or matching_info_to_json. Writes only to io's streams.
#pragma once

#include "client/cli/match.h"

namespace agnx::cli {

// Returns 0, 1 for inconsistent options, 2 for unreadable or rejected inputs.
int run_match(const MatchOptions& options, const Io& io);

}  // namespace agnx::cli
