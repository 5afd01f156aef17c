// Multiplier selection: the cheapest multiplier per layer whose predicted
// error stays within the layer's noise tolerance
// (../shared/spec/matching.md, "Selection").
//
// For each layer and each multiplier of the search space the error model
// predicts the error of the layer's outputs (mul_std = population std *
// fan_in). The chosen multiplier has the lowest metric among those with
// mul_std <= max_std = out_std * |sigma|; ties go to the lower mul_std, then
// to the name. Every candidate's prediction is kept in the LayerInfo, so a
// different search space can be re-selected later without the model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/library.h"
#include "core/operands.h"
#include "core/status.h"

namespace agnx {

// What the selection needs to know of one layer.
struct LayerStats {
  std::string name;                   // dotted module path, e.g. "conv1.0"
  int64_t fan_in = 0;                 // operands summed per output neuron
  int64_t opcount = 0;                // multiplications per input sample
  double sigma = 0.0;                 // learned tolerance; its magnitude is used
  double out_std = 0.0;               // population std of the exact integer outputs
  OperandDistribution w_dist{};       // distribution of the quantized weights
  Int8Matrix sample_features;         // the sampled feature rows [num_samples, fan_in]
  std::vector<uint64_t> sample_rows;  // their row indices (for reporting; may be empty)
};

// One multiplier's predicted error on one layer.
struct CandidatePrediction {
  std::string name;
  double metric = 0.0;  // the library metric
  double mean = 0.0;    // predicted error mean of ONE product
  double std = 0.0;     // mul_std: predicted error std of a neuron output
};

// The selection for one layer (agnapprox's LayerInfo plus the candidates).
struct LayerInfo {
  std::string name;
  int64_t fan_in = 0;
  int64_t opcount = 0;
  double sigma = 0.0;  // |sigma|
  double out_std = 0.0;
  double max_std = 0.0;  // out_std * sigma
  std::string multiplier_name;
  double multiplier_performance_metric = 0.0;
  double mul_std = 0.0;                        // the chosen candidate's std
  std::vector<CandidatePrediction> candidates;  // sorted by name
  std::vector<uint64_t> sample_rows;
  std::vector<double> w_dist;  // the weight distribution (256 bins)
  // From capturing a model (absent for layers given as statistics):
  std::optional<int64_t> rows;         // feature rows in the calibration data
  std::optional<double> input_scale;   // activation quantization scale
  std::optional<double> weight_scale;  // weight quantization scale
  std::vector<double> x_dist_global;   // distribution of every feature-row element (256 bins)
  // Measured on calibration data with the chosen multiplier deployed:
  // observed_mean = mean(y_approx - y_exact) / fan_in (per product),
  // observed_std = std(y_approx - y_exact) (neuron scale, like mul_std).
  std::optional<double> observed_mean;
  std::optional<double> observed_std;
};

// Top-1/top-5 accuracy (fractions) of the float model, the quantized model
// with exact multipliers, and the model with the chosen multipliers.
struct ModelAccuracy {
  double float_top1 = 0.0;
  double float_top5 = 0.0;
  double quantized_top1 = 0.0;
  double quantized_top5 = 0.0;
  double approximate_top1 = 0.0;
  double approximate_top5 = 0.0;
};

// The selection for a whole model (agnapprox's MatchingInfo).
struct MatchingInfo {
  std::vector<LayerInfo> layers;  // in execution order
  std::string library;            // the search space's name
  std::string metric;             // its metric key (unit)
  double metric_max = 0.0;        // the highest metric in the search space
  std::optional<uint64_t> seed;   // how the sample population was drawn
  std::optional<std::size_t> num_samples;
  std::optional<ModelAccuracy> accuracy;  // when evaluated on test data

  // Total multiplications per input sample.
  int64_t opcount() const;
  // opcount of layer `i` / opcount().
  double relative_opcount(std::size_t i) const;
  // relative_opcount(i) * metric of layer i / metric_max.
  double relative_energy_consumption(std::size_t i) const;
  // The sum over all layers: energy relative to all layers at metric_max.
  double relative_energy_consumption() const;
};

struct SelectionOptions {
  // Worker threads for the predictions (>= 1). Results do not depend on it.
  std::size_t num_threads = 1;
};

// Checks what the selection requires of a layer: a name, fan_in >= 1,
// opcount >= 1, finite sigma and out_std >= 0, a valid w_dist and at least one
// sampled row of fan_in operands. Errors name the layer and the field.
Status validate_layer(const LayerStats& layer);

// Predicts every multiplier of `library` on `layer` and chooses one.
// Errors: an invalid layer, an empty library, or no candidate within the
// layer's tolerance (the message names the layer, max_std and the best std).
Result<LayerInfo> select_layer_multiplier(const LayerStats& layer, const MultiplierLibrary& library);

// select_layer_multiplier for every layer, in parallel, plus the totals.
// Errors: no layers, or the first failing layer's error.
Result<MatchingInfo> select_multipliers(std::span<const LayerStats> layers, const MultiplierLibrary& library,
                                        const SelectionOptions& options = {});

// The index of the chosen candidate: the lowest metric with std <= max_std;
// ties go to the lower std, then to the name. NotFound-style error naming
// `layer_name` if none fits (FailedPrecondition).
Result<std::size_t> choose_candidate(std::span<const CandidatePrediction> candidates, double max_std,
                                     const std::string& layer_name);

struct ReselectOptions {
  double sigma_scale = 1.0;               // multiplies every layer's sigma (> 0)
  std::vector<std::string> pinned_exact;  // layers that must use an error-free multiplier
};

// Selects again from the stored candidate predictions of `info`, restricted
// to the multipliers of `library` (with its metric and metric_max), without
// recomputing any prediction. A pinned layer uses the cheapest candidate
// whose table is exact. Errors: a library multiplier with no stored
// prediction, an unknown pinned layer, no exact candidate for a pinned layer,
// a bad sigma_scale, or a layer that no candidate fits.
Result<MatchingInfo> reselect(const MatchingInfo& info, const MultiplierLibrary& library,
                              const ReselectOptions& options = {});

}  // namespace agnx
