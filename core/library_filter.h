// Named search spaces filtered from a library: by name prefix, signedness,
// error (MAE in percent of the output range, core/characterization.h) and
// metric range.
//
// Filtering never fails because of what it drops; what makes the result a
// poor search space comes back as warnings next to it, for the caller to
// show: the result has no error-free multiplier though the source had one
// (layers that tolerate no error, or less than any remaining multiplier
// makes, then find no fit), or the result is empty.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/library.h"
#include "core/status.h"

namespace agnx {

// Every set criterion must hold for a multiplier to be kept.
struct LibraryFilter {
  std::string name_prefix;              // "" keeps every name
  std::optional<Signedness> signedness;
  std::optional<double> max_mae_pct;    // characterize(m).mae_pct <= max_mae_pct
  std::optional<double> min_metric;     // in the library's metric
  std::optional<double> max_metric;
};

struct FilteredLibrary {
  MultiplierLibrary library;
  std::vector<std::string> warnings;
};

// The multipliers of `library` that pass `filter`, in the same order and
// with the same metric, as a library called `name`. Errors (InvalidArgument):
// an empty name, a bound that is not finite or is negative, or min_metric >
// max_metric.
Result<FilteredLibrary> filter_library(const MultiplierLibrary& library, std::string name, const LibraryFilter& filter);

}  // namespace agnx
