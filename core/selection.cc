#include "core/selection.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <set>
#include <thread>

#include "core/error_model.h"

namespace agnx {
namespace {

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return buffer;
}

// Runs task(0) .. task(count - 1) on `num_threads` threads. Each task writes
// only its own output slot, so the results do not depend on the schedule.
void parallel_for(std::size_t count, std::size_t num_threads, const std::function<void(std::size_t)>& task) {
  const std::size_t workers = std::clamp<std::size_t>(num_threads, 1, std::max<std::size_t>(count, 1));
  if (workers == 1) {
    for (std::size_t i = 0; i < count; ++i) task(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::vector<std::jthread> threads;
  for (std::size_t t = 0; t < workers; ++t) {
    threads.emplace_back([&] {
      for (std::size_t i; (i = next.fetch_add(1)) < count;) task(i);
    });
  }
}

bool is_exact(const Multiplier& multiplier) {
  for (int x = kOperandMin; x <= kOperandMax; ++x) {
    for (int w = kOperandMin; w <= kOperandMax; ++w) {
      if (multiplier.product(x, w) != static_cast<int64_t>(x) * w) return false;
    }
  }
  return true;
}

// The LayerInfo of `layer` before a multiplier is chosen.
LayerInfo describe_layer(const LayerStats& layer) {
  LayerInfo info;
  info.name = layer.name;
  info.fan_in = layer.fan_in;
  info.opcount = layer.opcount;
  info.sigma = std::abs(layer.sigma);
  info.out_std = layer.out_std;
  info.max_std = layer.out_std * info.sigma;
  info.sample_rows = layer.sample_rows;
  info.w_dist.assign(layer.w_dist.begin(), layer.w_dist.end());
  return info;
}

// Chooses among the layer's candidates that `eligible` accepts (all if empty).
Status apply_choice(LayerInfo& layer, const std::function<bool(const CandidatePrediction&)>& eligible = {}) {
  std::vector<CandidatePrediction> pool;
  std::copy_if(layer.candidates.begin(), layer.candidates.end(), std::back_inserter(pool),
               [&](const auto& c) { return !eligible || eligible(c); });
  AGNX_ASSIGN_OR_RETURN(const std::size_t chosen, choose_candidate(pool, layer.max_std, layer.name));
  layer.multiplier_name = pool[chosen].name;
  layer.multiplier_performance_metric = pool[chosen].metric;
  layer.mul_std = pool[chosen].std;
  return {};
}

void sort_by_name(std::vector<CandidatePrediction>& candidates) {
  std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
}

}  // namespace

int64_t MatchingInfo::opcount() const {
  int64_t total = 0;
  for (const auto& layer : layers) total += layer.opcount;
  return total;
}

double MatchingInfo::relative_opcount(std::size_t i) const {
  return static_cast<double>(layers[i].opcount) / static_cast<double>(opcount());
}

double MatchingInfo::relative_energy_consumption(std::size_t i) const {
  return relative_opcount(i) * (layers[i].multiplier_performance_metric / metric_max);
}

double MatchingInfo::relative_energy_consumption() const {
  double total = 0.0;
  for (std::size_t i = 0; i < layers.size(); ++i) total += relative_energy_consumption(i);
  return total;
}

Status validate_layer(const LayerStats& layer) {
  if (layer.name.empty()) return Status::invalid_argument("a layer needs a name");
  const std::string where = "layer " + layer.name + ": ";
  if (layer.fan_in < 1) return Status::invalid_argument(where + "fan_in must be at least 1");
  if (layer.opcount < 1) return Status::invalid_argument(where + "opcount must be at least 1");
  if (!std::isfinite(layer.sigma)) return Status::invalid_argument(where + "sigma is not a finite number");
  if (!std::isfinite(layer.out_std) || layer.out_std < 0.0) {
    return Status::invalid_argument(where + "out_std must be a finite non-negative number");
  }
  AGNX_RETURN_IF_ERROR(validate_distribution(layer.w_dist, where + "w_dist"));
  if (layer.sample_features.rows == 0) return Status::invalid_argument(where + "no sampled feature rows");
  if (layer.sample_features.cols != static_cast<std::size_t>(layer.fan_in) ||
      layer.sample_features.values.size() != layer.sample_features.rows * layer.sample_features.cols) {
    return Status::invalid_argument(where + "sampled feature rows must be [num_samples, fan_in = " +
                                    std::to_string(layer.fan_in) + "]");
  }
  return {};
}

Result<std::size_t> choose_candidate(std::span<const CandidatePrediction> candidates, double max_std,
                                     const std::string& layer_name) {
  std::optional<std::size_t> best;
  std::optional<std::size_t> lowest_std;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const auto& c = candidates[i];
    if (!lowest_std || c.std < candidates[*lowest_std].std) lowest_std = i;
    if (!(c.std <= max_std)) continue;
    if (!best) {
      best = i;
      continue;
    }
    const auto& b = candidates[*best];
    if (std::tie(c.metric, c.std, c.name) < std::tie(b.metric, b.std, b.name)) best = i;
  }
  if (best) return *best;
  if (!lowest_std) return Status::invalid_argument("layer " + layer_name + ": the search space is empty");
  return Status::failed_precondition("layer " + layer_name + ": no multiplier fits: max_std is " + number(max_std) +
                                     ", the lowest predicted std is " + number(candidates[*lowest_std].std) + " (" +
                                     candidates[*lowest_std].name + ")");
}

Result<LayerInfo> select_layer_multiplier(const LayerStats& layer, const MultiplierLibrary& library) {
  AGNX_ASSIGN_OR_RETURN(MatchingInfo info, select_multipliers(std::span(&layer, 1), library));
  return std::move(info.layers.front());
}

Result<MatchingInfo> select_multipliers(std::span<const LayerStats> layers, const MultiplierLibrary& library,
                                        const SelectionOptions& options) {
  if (layers.empty()) return Status::invalid_argument("no layers to select multipliers for");
  if (library.empty()) return Status::invalid_argument("library " + library.name() + " is empty: nothing to select");
  std::set<std::string> names;
  for (const auto& layer : layers) {
    AGNX_RETURN_IF_ERROR(validate_layer(layer));
    if (!names.insert(layer.name).second) return Status::invalid_argument("two layers are named " + layer.name);
  }

  const std::size_t num_multipliers = library.size();
  std::vector<std::optional<RowHistograms>> histograms(layers.size());
  parallel_for(layers.size(), options.num_threads,
               [&](std::size_t l) { histograms[l] = RowHistograms::from_rows(layers[l].sample_features); });

  MatchingInfo info;
  info.library = library.name();
  info.metric = library.metric();
  info.metric_max = library.max_metric();
  for (const auto& layer : layers) {
    info.layers.push_back(describe_layer(layer));
    info.layers.back().candidates.resize(num_multipliers);
  }
  parallel_for(layers.size() * num_multipliers, options.num_threads, [&](std::size_t task) {
    const std::size_t l = task / num_multipliers, m = task % num_multipliers;
    const LayerStats& layer = layers[l];
    const Multiplier& multiplier = library.at(m);
    const auto moments = ActivationErrorMoments::from_errors(
        [&multiplier](std::size_t x, std::size_t w) { return multiplier.error_at(x, w); }, layer.w_dist,
        histograms[l]->support());
    const auto fan_in = static_cast<double>(layer.fan_in);
    const ErrorStats error = population_prediction(moments, *histograms[l], fan_in);
    info.layers[l].candidates[m] = {multiplier.name(), library.metric_of(multiplier), error.mean, error.std * fan_in};
  });
  for (LayerInfo& layer : info.layers) {
    sort_by_name(layer.candidates);
    AGNX_RETURN_IF_ERROR(apply_choice(layer));
  }
  return info;
}

Result<MatchingInfo> reselect(const MatchingInfo& info, const MultiplierLibrary& library,
                              const ReselectOptions& options) {
  if (!(options.sigma_scale > 0.0) || !std::isfinite(options.sigma_scale)) {
    return Status::invalid_argument("sigma_scale must be a positive number");
  }
  if (library.empty()) return Status::invalid_argument("library " + library.name() + " is empty: nothing to select");
  for (const auto& pinned : options.pinned_exact) {
    if (std::none_of(info.layers.begin(), info.layers.end(), [&](const auto& l) { return l.name == pinned; })) {
      return Status::not_found("pinned layer " + pinned + " is not a layer of this matching");
    }
  }
  std::set<std::string> exact_names;
  for (const auto& m : library.multipliers()) {
    if (is_exact(*m)) exact_names.insert(m->name());
  }

  MatchingInfo result = info;
  result.library = library.name();
  result.metric = library.metric();
  result.metric_max = library.max_metric();
  for (LayerInfo& layer : result.layers) {
    std::vector<CandidatePrediction> candidates;
    for (const auto& m : library.multipliers()) {
      const auto stored = std::find_if(layer.candidates.begin(), layer.candidates.end(),
                                       [&](const auto& c) { return c.name == m->name(); });
      if (stored == layer.candidates.end()) {
        return Status::failed_precondition("layer " + layer.name + ": no stored prediction for multiplier " +
                                           m->name() + "; run the matching with it to compare");
      }
      candidates.push_back({stored->name, library.metric_of(*m), stored->mean, stored->std});
    }
    sort_by_name(candidates);
    layer.candidates = std::move(candidates);
    layer.sigma *= options.sigma_scale;
    layer.max_std = layer.out_std * layer.sigma;
    const bool pinned = std::find(options.pinned_exact.begin(), options.pinned_exact.end(), layer.name) !=
                        options.pinned_exact.end();
    if (!pinned) {
      AGNX_RETURN_IF_ERROR(apply_choice(layer));
    } else if (exact_names.empty()) {
      return Status::failed_precondition("layer " + layer.name + " is pinned to an exact multiplier, but library " +
                                         library.name() + " holds none");
    } else {
      AGNX_RETURN_IF_ERROR(apply_choice(layer, [&](const auto& c) { return exact_names.contains(c.name); }));
    }
  }
  return result;
}

}  // namespace agnx
