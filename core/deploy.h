// Approximate evaluation (agnapprox's deploy_multipliers): run a model with
// each conv/linear layer computed as integer multiply-accumulate through a
// multiplier's product table, and measure what that does.
//
// A deployed layer quantizes its input with the layer's calibration scale and
// its weights per tensor (../shared/spec/matching.md, "Quantization"),
// accumulates LUT products in int32 (LutGemm), dequantizes with
// input_scale * weight_scale in float32 and adds the bias. Everything else in
// the model runs as it is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/capture.h"
#include "core/library.h"
#include "core/model.h"
#include "core/selection.h"
#include "core/status.h"
#include "core/tensor.h"

namespace agnx {

struct EvaluationOptions {
  std::size_t batch_size = 64;
  std::size_t num_threads = 1;  // LibTorch intra-op threads and LUT GEMM threads
  ProgressCallback on_progress;
};

// The outputs of `model` on `input` with layer i computed through
// multipliers[i], using the scales recorded in `info` (from capture).
// Errors: a layer count or name that does not match the model, a layer
// without scales, inputs the model rejects.
Result<FloatTensor> approximate_forward(const Model& model, const MatchingInfo& info,
                                        std::span<const Multiplier* const> multipliers, const FloatTensor& input,
                                        const EvaluationOptions& options);

// The multipliers that `info` chose, looked up in `library`.
// Errors: a chosen multiplier that `library` does not hold (named).
Result<std::vector<const Multiplier*>> chosen_multipliers(const MatchingInfo& info, const MultiplierLibrary& library);

// Top-1 and top-5 accuracy on (test_x, test_y) of the float model, the
// quantized model with exact multipliers and the model with `info`'s
// multipliers. Errors: sizes that differ (named), labels outside the model's
// classes, and those of approximate_forward.
Result<ModelAccuracy> evaluate_accuracy(const Model& model, const MatchingInfo& info,
                                        const MultiplierLibrary& library, const FloatTensor& test_x,
                                        std::span<const int64_t> test_y, const EvaluationOptions& options);

// Validates the error model per layer: on `calibration`, with the float
// model's activations as inputs, sets each layer's observed_mean and
// observed_std from y_approx - y_exact of its chosen multiplier.
Status observe_errors(const Model& model, MatchingInfo& info, const MultiplierLibrary& library,
                      const FloatTensor& calibration, const EvaluationOptions& options);

}  // namespace agnx
