#include "core/accuracy.h"

#include <cmath>
#include <string>

namespace agnx {

Result<std::vector<double>> topk_accuracy(std::span<const float> logits, std::size_t num_classes,
                                          std::span<const int64_t> targets, std::span<const int> ks) {
  const std::size_t n = targets.size();
  if (n == 0) return Status::invalid_argument("topk_accuracy: no targets");
  if (num_classes == 0 || logits.size() != n * num_classes) {
    return Status::invalid_argument("topk_accuracy: logits hold " + std::to_string(logits.size()) +
                                    " values, expected targets (" + std::to_string(n) + ") x classes (" +
                                    std::to_string(num_classes) + ")");
  }
  for (int k : ks) {
    if (k < 1) return Status::invalid_argument("topk_accuracy: k must be at least 1, got " + std::to_string(k));
  }
  std::vector<std::size_t> hits(ks.size(), 0);
  for (std::size_t i = 0; i < n; ++i) {
    if (targets[i] < 0 || static_cast<std::size_t>(targets[i]) >= num_classes) {
      return Status::invalid_argument("topk_accuracy: target " + std::to_string(targets[i]) + " of sample " +
                                      std::to_string(i) + " is not a class in [0, " + std::to_string(num_classes) +
                                      ")");
    }
    const float* row = logits.data() + i * num_classes;
    const auto target = static_cast<std::size_t>(targets[i]);
    std::size_t rank = 0;  // classes ranked above the target
    for (std::size_t c = 0; c < num_classes; ++c) {
      if (!std::isfinite(row[c])) {
        return Status::invalid_argument("topk_accuracy: logit " + std::to_string(c) + " of sample " +
                                        std::to_string(i) + " is not finite");
      }
      if (row[c] > row[target] || (row[c] == row[target] && c < target)) ++rank;
    }
    for (std::size_t j = 0; j < ks.size(); ++j) {
      if (rank < static_cast<std::size_t>(ks[j])) ++hits[j];
    }
  }
  std::vector<double> accuracy(ks.size());
  for (std::size_t j = 0; j < ks.size(); ++j) accuracy[j] = static_cast<double>(hits[j]) / static_cast<double>(n);
  return accuracy;
}

}  // namespace agnx
