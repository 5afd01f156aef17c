// Capture (agnapprox's get_feature_maps): from a model snapshot and
// calibration data to the per-layer statistics the selection needs, exactly
// as ../shared/spec/matching.md ("Quantization", "Features, outputs,
// distributions", "Sample population") defines them.
//
// Two passes over the calibration data, in batches, through the FLOAT model
// in eval mode: the first finds each layer's input scale (one scale over the
// whole calibration set); the second quantizes each layer's input and
// weights, accumulates the exact integer outputs' moments (out_std) and the
// global input histogram, and copies out the sampled feature rows, drawn
// up front. Memory stays bounded by the batch: no layer's unfolded feature
// matrix is ever materialized.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/library.h"
#include "core/model.h"
#include "core/progress.h"
#include "core/selection.h"
#include "core/status.h"
#include "core/tensor.h"

namespace agnx {

struct CaptureOptions {
  std::size_t num_samples = 512;  // sampled feature rows per layer
  uint64_t seed = 0;              // layer i draws with std::mt19937_64(seed + i)
  std::size_t batch_size = 64;    // calibration images per forward pass
  std::size_t num_threads = 1;    // LibTorch intra-op threads and selection threads
  // |sigma| per layer name; layers not listed use their submodule's stdev.
  std::map<std::string, double> sigma;
  // Row indices per layer name that replace the seeded draw (to reproduce a
  // stored draw, such as the fixtures' sample_rows).
  std::map<std::string, std::vector<uint64_t>> sample_rows;
  ProgressCallback on_progress;
};

// Everything captured of one layer.
struct LayerCapture {
  LayerStats stats;
  int64_t rows = 0;  // feature rows over the calibration data
  OperandDistribution x_dist_global{};
  double input_scale = 1.0;
  double weight_scale = 1.0;
};

// Captures every layer of `model` on `calibration` [N, ...].
// Errors: an empty calibration set, inputs the model rejects (the message
// names the model and LibTorch's complaint), an unknown layer in
// options.sigma or options.sample_rows, a non-finite sigma, a layer without
// sigma, an injected row outside the layer's rows, a layer applied twice in
// one forward pass.
Result<std::vector<LayerCapture>> capture_layers(const Model& model, const FloatTensor& calibration,
                                                 const CaptureOptions& options);

// capture_layers, then select_multipliers over `library`. The MatchingInfo
// records the seed, num_samples and per layer rows, scales and x_dist_global.
Result<MatchingInfo> select_multipliers(const Model& model, const FloatTensor& calibration,
                                        const MultiplierLibrary& library, const CaptureOptions& options);

}  // namespace agnx
