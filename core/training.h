// Training a model snapshot: the method's two training steps around matching.
//
//  - AGN gradient search (../shared/spec/matching.md, "AGN gradient search"):
//    every conv/linear output y (bias included) becomes
//        y + N(0, 1) * std(y) * |s_l|
//    where std(y) is the standard deviation of the whole batch output of the
//    layer, DETACHED (the noise scale does not push the weights), and s_l is
//    a learned scalar per layer starting at sigma_init. The loss is
//        cross_entropy - lambda * sum_l (opcount_l / total_opcount) * min(|s_l|, sigma_max)
//    Weights and s_l train together with Adam (separate learning rates, both
//    cosine-decayed to 0 over the run). Afterwards the batch-norm running
//    statistics are recomputed without noise (cumulative average over the
//    first batchnorm_images training images, whatever momentum the snapshot
//    compiled in), and each layer's `stdev` buffer is set to |s_l|.
//
//  - Approximate retraining: each conv/linear forward computes what
//    deployment computes (core/deploy.h: the input quantized with the layer's
//    calibrated input scale, the weights with max|w|/127 of the CURRENT
//    weights, products from the chosen multiplier's table, dequantized, plus
//    bias), as the float op on the fake-quantized operands plus the summed
//    product errors approx(x, w) - x*w (a LUT GEMM over the error table),
//    dequantized: equal to deployment up to float32 rounding, and exactly the
//    fake-quantized float forward for an exact multiplier. Backward is a
//    straight-through estimator: the float op's gradient at the
//    fake-quantized operands (rounding and clamping pass gradients through
//    unchanged). The input
//    scales the model was trained with are kept (recalibrating them with a
//    float pass undoes the retraining, see the spec's pitfall); the weight
//    scales in the MatchingInfo are updated to the retrained weights, so
//    evaluate_accuracy on the result measures exactly what deployment gives.
//    Batch-norm statistics are recomputed on the approximate network.
//
// Both run in train mode (batch norm on batch statistics) and leave the
// model in eval mode. Determinism: the same seed and thread count give the
// same weights, sigma and metrics (shuffling and noise use private
// generators seeded from `seed`).
//
// Not thread-safe: a Model is trained by one thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/multiplier.h"
#include "core/progress.h"
#include "core/selection.h"
#include "core/status.h"
#include "core/tensor.h"

namespace agnx {

// Inputs and their class labels.
struct LabelledData {
  FloatTensor inputs;            // [N, ...]
  std::vector<int64_t> labels;   // N labels in [0, classes)
};

// Per-epoch figures: "loss", "cross_entropy", "train_top1", ... and, for
// the search, "noise_term" and "sigma.LAYER".
struct EpochMetrics {
  std::size_t epoch = 0;  // from 1
  std::map<std::string, double> values;
};
using EpochCallback = std::function<void(const EpochMetrics&)>;

// What every training run takes.
struct TrainingOptions {
  std::size_t epochs = 1;        // 1..kMaxEpochs
  std::size_t batch_size = 256;
  uint64_t seed = 0;
  std::size_t num_threads = 1;   // LibTorch intra-op threads and LUT GEMM threads
  // Progress: stage "search" or "retrain", done/total the batch within
  // epoch `epoch` of `epochs`.
  ProgressCallback on_progress;
  EpochCallback on_epoch;        // after each epoch, before the next starts
  // Polled before every batch; once true the run ends with kCancelled.
  const std::atomic<bool>* cancelled = nullptr;
};
inline constexpr std::size_t kMaxEpochs = 1000;

// Checks that `model` can train on `data` without training it: at least
// two images, one label per image, a batch norm that can train, images the
// model takes (two of them run through it) and labels within its classes.
// Errors name the cause, as agn_search's do ("training labels: ...").
Status check_training_data(const Model& model, const LabelledData& data);

struct AgnSearchOptions {
  double lambda = 0.5;                 // >= 0, finite
  double sigma_max = 0.5;              // the regularizer stops rewarding noise past it
  double sigma_init = 0.1;
  double weight_learning_rate = 5e-4;  // Adam
  double sigma_learning_rate = 1e-2;   // Adam
  std::size_t batchnorm_images = 10000;
  TrainingOptions training;
};

struct AgnSearchResult {
  std::map<std::string, double> sigma;        // |s_l| per layer
  std::map<std::string, int64_t> opcount;     // multiplications per input sample
  std::vector<EpochMetrics> epochs;
};

// Learns each layer's sigma on `train` and trains the weights with it.
// On success the model holds the trained weights, recomputed batch-norm
// statistics and a `stdev` buffer per layer (added where missing).
// Errors (each names its cause): options out of range (lambda, epochs,
// learning rates), labels of the wrong count or outside the model's
// classes, inputs the model rejects, a snapshot that cannot train (a traced
// batch norm fixed in eval mode), a loss that is not finite (naming the
// epoch and batch; epochs before it were reported), a cancellation.
Result<AgnSearchResult> agn_search(Model& model, const LabelledData& train, const AgnSearchOptions& options);

struct RetrainOptions {
  double learning_rate = 1e-3;   // SGD with momentum 0.9, cosine-decayed
  std::size_t batchnorm_images = 10000;
  TrainingOptions training;
  const LabelledData* test = nullptr;  // with it, "test_top1" per epoch
};

struct RetrainResult {
  std::vector<EpochMetrics> epochs;
};

// Retrains `model` with layer i computed through multipliers[i], using the
// input scales recorded in `info` (from capture). On success the model holds
// the retrained weights and batch-norm statistics, and info's weight scales
// are those of the retrained weights. Errors: as agn_search, and a matching
// whose layers or scales do not fit the model.
Result<RetrainResult> approximate_retrain(Model& model, MatchingInfo& info,
                                          std::span<const Multiplier* const> multipliers, const LabelledData& train,
                                          const RetrainOptions& options);

// One training step's pieces, for tests and benchmarks: the loss of one
// batch (mean cross entropy) with layers computed as `mode` says, its
// backward pass, and the gradients of every parameter in module order.
enum class ForwardMode { kFloat, kAgnNoise, kApproximate };
struct StepResult {
  FloatTensor logits;
  std::vector<FloatTensor> gradients;
};
// kAgnNoise uses sigma 0.1 per layer; kApproximate uses `info`'s input
// scales and `multipliers`. The model runs in train mode; its weights do not
// change (gradients are returned, not applied).
Result<StepResult> training_step(Model& model, const LabelledData& batch, ForwardMode mode,
                                 const MatchingInfo* info, std::span<const Multiplier* const> multipliers,
                                 std::size_t num_threads);

}  // namespace agnx
