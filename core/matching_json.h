// JSON of a MatchingInfo.
//
// Field names follow agnapprox's gs_results.json so its readers work:
// top level `layers`, `metric_max`, `opcount`, `relative_energy_consumption`;
// per layer `name`, `multiplier_name`, `multiplier_performance_metric`,
// `opcount`, `fan_in`, `sigma`, `out_std`, `max_std`, `mul_std`. agnx adds
// `library`, `metric`, `seed`, `num_samples`, `accuracy` (`float_top1`,
// `float_top5`, `quantized_top1`, `quantized_top5`, `approximate_top1`,
// `approximate_top5`), and per layer `relative_opcount`,
// `relative_energy_consumption`, `sample_rows`, `w_dist`, `x_dist_global`,
// `rows`, `input_scale`, `weight_scale`, `observed_mean`, `observed_std` and
// `candidates` (sorted by name, each `name`, `metric`, `mean` per product and
// `std` = its mul_std).
// Doubles print so that they read back bit-identical; absent optional values
// are omitted, never null.
#pragma once

#include <string>
#include <string_view>

#include "core/selection.h"
#include "core/status.h"

namespace agnx {

// The JSON text of `info`, indented by `indent` spaces (-1: one line).
std::string matching_info_to_json(const MatchingInfo& info, int indent = 2);

// Parses what matching_info_to_json wrote (derived fields are ignored).
// Errors name the offending field, e.g. "layers[1].fan_in".
Result<MatchingInfo> matching_info_from_json(std::string_view text);

}  // namespace agnx
