#include "core/library_filter.h"

#include <cmath>

#include "core/characterization.h"

namespace agnx {
namespace {

Status check_bound(const std::optional<double>& bound, const std::string& what, const std::string& name) {
  if (bound && !(std::isfinite(*bound) && *bound >= 0.0)) {
    return Status::invalid_argument("filter " + name + ": " + what + " must be a finite number >= 0, got " +
                                    std::to_string(*bound));
  }
  return Status();
}

bool keeps(const LibraryFilter& filter, const MultiplierLibrary& library, const Multiplier& m) {
  if (!m.name().starts_with(filter.name_prefix)) return false;
  if (filter.signedness && m.signedness() != *filter.signedness) return false;
  const double metric = library.metric_of(m);
  if (filter.min_metric && metric < *filter.min_metric) return false;
  if (filter.max_metric && metric > *filter.max_metric) return false;
  return !filter.max_mae_pct || characterize(m).mae_pct <= *filter.max_mae_pct;
}

std::vector<std::string> error_free_names(const MultiplierLibrary& library) {
  std::vector<std::string> names;
  for (const auto& m : library.multipliers()) {
    if (characterize(*m).error_free()) names.push_back(m->name());
  }
  return names;
}

}  // namespace

Result<FilteredLibrary> filter_library(const MultiplierLibrary& library, std::string name, const LibraryFilter& filter) {
  if (name.empty()) return Status::invalid_argument("a filtered library needs a name");
  AGNX_RETURN_IF_ERROR(check_bound(filter.max_mae_pct, "max_mae_pct", name));
  AGNX_RETURN_IF_ERROR(check_bound(filter.min_metric, "min_metric", name));
  AGNX_RETURN_IF_ERROR(check_bound(filter.max_metric, "max_metric", name));
  if (filter.min_metric && filter.max_metric && *filter.min_metric > *filter.max_metric) {
    return Status::invalid_argument("filter " + name + ": min_metric " + std::to_string(*filter.min_metric) +
                                    " is above max_metric " + std::to_string(*filter.max_metric));
  }
  FilteredLibrary result{library.filtered(name, [&](const Multiplier& m) { return keeps(filter, library, m); }), {}};
  const std::vector<std::string> before = error_free_names(library);
  if (!before.empty() && error_free_names(result.library).empty()) {
    std::string dropped;
    for (const std::string& n : before) (dropped += dropped.empty() ? "" : ", ") += n;
    result.warnings.push_back("library " + name + " keeps no error-free multiplier of " + library.name() + " (" +
                              dropped + "): layers that tolerate less error than every remaining multiplier makes " +
                              "will find no fit");
  }
  if (result.library.empty()) {
    result.warnings.push_back("library " + name + " is empty: the filter keeps none of the " +
                              std::to_string(library.size()) + " multipliers of " + library.name());
  }
  return result;
}

}  // namespace agnx
