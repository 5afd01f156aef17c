#include "core/multiplier.h"

#include <cmath>

#include "core/operands.h"

namespace agnx {

Result<Multiplier> Multiplier::create(std::string name, Signedness signedness, std::vector<int32_t> table,
                                      MetricMap metrics) {
  if (name.empty()) return Status::invalid_argument("a multiplier needs a name");
  if (table.size() != kTableSize) {
    return Status::invalid_argument("multiplier " + name + ": the product table has " + std::to_string(table.size()) +
                                    " entries, expected 65536 (256x256)");
  }
  for (const auto& [key, value] : metrics) {
    if (!std::isfinite(value)) {
      return Status::invalid_argument("multiplier " + name + ": metric " + key + " is not a finite number");
    }
  }
  return Multiplier(std::move(name), signedness, std::move(table), std::move(metrics));
}

Multiplier Multiplier::exact(std::string name, MetricMap metrics) {
  std::vector<int32_t> table(kTableSize);
  for (int x = kOperandMin; x <= kOperandMax; ++x) {
    for (int w = kOperandMin; w <= kOperandMax; ++w) table[operand_index(x) * 256 + operand_index(w)] = x * w;
  }
  return Multiplier(std::move(name), Signedness::kSigned, std::move(table), std::move(metrics));
}

std::optional<double> Multiplier::metric(const std::string& key) const {
  const auto it = metrics_.find(key);
  if (it == metrics_.end()) return std::nullopt;
  return it->second;
}

ErrorMap Multiplier::error_map() const {
  std::vector<double> errors(kTableSize);
  for (std::size_t x = 0; x < kOperandValues; ++x) {
    for (std::size_t w = 0; w < kOperandValues; ++w) errors[x * kOperandValues + w] = error_at(x, w);
  }
  return ErrorMap(std::move(errors));
}

}  // namespace agnx
