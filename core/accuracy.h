// Top-k classification accuracy over plain arrays.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"

namespace agnx {

// For each k in `ks`, the fraction of the n samples whose target class is
// among the k highest of its logits. `logits` is [n, num_classes] row-major.
// Ties count against the target: a class with a logit equal to the target's
// ranks above it if its index is lower (as a stable descending sort would).
// Errors: n == 0, logits.size() != n * num_classes, a target outside
// [0, num_classes), a non-finite logit, or a k < 1 (each named).
Result<std::vector<double>> topk_accuracy(std::span<const float> logits, std::size_t num_classes,
                                          std::span<const int64_t> targets, std::span<const int> ks);

}  // namespace agnx
