#include "core/library.h"

#include <algorithm>
#include <set>

namespace agnx {

Result<MultiplierLibrary> MultiplierLibrary::create(std::string name, std::string metric,
                                                    std::vector<std::shared_ptr<const Multiplier>> multipliers) {
  if (name.empty()) return Status::invalid_argument("a library needs a name");
  if (metric.empty()) return Status::invalid_argument("library " + name + " needs a metric");
  std::set<std::string> names;
  for (const auto& m : multipliers) {
    if (!names.insert(m->name()).second) {
      return Status::invalid_argument("library " + name + " holds two multipliers named " + m->name());
    }
    const auto value = m->metric(metric);
    if (!value) {
      return Status::invalid_argument("library " + name + ": multiplier " + m->name() + " has no metric " + metric);
    }
    if (*value < 0.0) {
      return Status::invalid_argument("library " + name + ": multiplier " + m->name() + " has a negative " + metric);
    }
  }
  return MultiplierLibrary(std::move(name), std::move(metric), std::move(multipliers));
}

const Multiplier* MultiplierLibrary::find(const std::string& name) const {
  for (const auto& m : multipliers_) {
    if (m->name() == name) return m.get();
  }
  return nullptr;
}

double MultiplierLibrary::max_metric() const {
  double highest = metric_of(*multipliers_.front());
  for (const auto& m : multipliers_) highest = std::max(highest, metric_of(*m));
  return highest;
}

MultiplierLibrary MultiplierLibrary::filtered(std::string name,
                                              const std::function<bool(const Multiplier&)>& keep) const {
  std::vector<std::shared_ptr<const Multiplier>> kept;
  std::copy_if(multipliers_.begin(), multipliers_.end(), std::back_inserter(kept),
               [&keep](const auto& m) { return keep(*m); });
  return MultiplierLibrary(std::move(name), metric_, std::move(kept));
}

}  // namespace agnx
