// A small but complete MatchingInfo for tests of code that stores or serves
// matching results: two layers, one with every optional field set (capture
// details, observed errors), one without; accuracies set.
#pragma once

#include <string>

#include "core/selection.h"

namespace agnx::testing {

// Layer "conv1" uses "mul_a" (metric `metric_of_first`), layer "fc" the exact
// "mul_exact" (metric 100 = metric_max).
inline MatchingInfo sample_matching(const std::string& library, double metric_of_first) {
  MatchingInfo info;
  info.library = library;
  info.metric = "power";
  info.metric_max = 100.0;
  info.seed = 0xfedcba9876543210ull;
  info.num_samples = 512;
  LayerInfo a;
  a.name = "conv1";
  a.fan_in = 27;
  a.opcount = 1000;
  a.sigma = 0.125;
  a.out_std = 3.5;
  a.max_std = 0.4375;
  a.multiplier_name = "mul_a";
  a.multiplier_performance_metric = metric_of_first;
  a.mul_std = 0.25;
  a.candidates = {{"mul_a", metric_of_first, -0.5, 0.25}, {"mul_exact", 100.0, 0.0, 0.0}};
  a.sample_rows = {1, 5, 18446744073709551615ull};
  a.observed_mean = -0.25;
  a.observed_std = 0.3;
  a.rows = 50176;
  a.input_scale = 0.015926478430628777;
  a.weight_scale = 0.006315220147371292;
  a.w_dist.assign(256, 0.0);
  a.w_dist[128] = 1.0;
  a.x_dist_global.assign(256, 1.0 / 256);
  LayerInfo b = a;
  b.name = "fc";
  b.fan_in = 64;
  b.opcount = 3000;
  b.multiplier_name = "mul_exact";
  b.multiplier_performance_metric = 100.0;
  b.mul_std = 0.0;
  b.sample_rows.clear();
  b.observed_mean.reset();
  b.observed_std.reset();
  b.rows.reset();
  b.input_scale.reset();
  b.weight_scale.reset();
  b.w_dist.clear();
  b.x_dist_global.clear();
  info.layers = {a, b};
  info.accuracy = ModelAccuracy{0.892, 0.998, 0.8915, 0.998, 0.623, 0.959};
  return info;
}

}  // namespace agnx::testing
