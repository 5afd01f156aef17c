// A multiplier library: a named search space of multipliers that share ONE
// performance metric (../shared/spec/matching.md, "Libraries and metrics").
//
// The metric is named by its key in each multiplier's MetricMap (for example
// "PDK45_PWR" in mW for EvoApprox, "cells" for synthesized built-ins); that
// key is the library's unit, so two libraries of different units never mix.
// An imported library is used as it is: nothing is added to it. A library is
// immutable and safe to share between threads; multipliers are shared, not
// copied, between a library and the libraries filtered from it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/multiplier.h"
#include "core/status.h"

namespace agnx {

class MultiplierLibrary {
 public:
  // Errors: an empty name or metric, two multipliers of the same name, or a
  // multiplier that lacks the metric or has a negative one (named).
  static Result<MultiplierLibrary> create(std::string name, std::string metric,
                                          std::vector<std::shared_ptr<const Multiplier>> multipliers);

  const std::string& name() const { return name_; }
  // The metric key (and unit) used for selection and relative energy.
  const std::string& metric() const { return metric_; }
  std::size_t size() const { return multipliers_.size(); }
  bool empty() const { return multipliers_.empty(); }
  const Multiplier& at(std::size_t i) const { return *multipliers_[i]; }
  const std::vector<std::shared_ptr<const Multiplier>>& multipliers() const { return multipliers_; }

  // The multiplier called `name`, or nullptr.
  const Multiplier* find(const std::string& name) const;

  // The library metric of `multiplier`. REQUIRES: it belongs to this library.
  double metric_of(const Multiplier& multiplier) const { return *multiplier.metric(metric_); }

  // The highest metric in the library (metric_max). REQUIRES: !empty().
  double max_metric() const;

  // A library called `name` holding the multipliers for which `keep` is true,
  // in the same order and with the same metric. It may be empty.
  MultiplierLibrary filtered(std::string name, const std::function<bool(const Multiplier&)>& keep) const;

 private:
  MultiplierLibrary(std::string name, std::string metric, std::vector<std::shared_ptr<const Multiplier>> multipliers)
      : name_(std::move(name)), metric_(std::move(metric)), multipliers_(std::move(multipliers)) {}

  std::string name_;
  std::string metric_;
  std::vector<std::shared_ptr<const Multiplier>> multipliers_;
};

}  // namespace agnx
