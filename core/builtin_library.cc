#include "core/builtin_library.h"

#include <memory>

namespace agnx {
namespace {

// Cell count of the signed 8x8 `assign y = a * b;` synthesized with the
// script in builtin_library.h (Yosys 0.23).
constexpr double kExactMultiplierCells = 404;

MultiplierLibrary make_builtin_library() {
  std::vector<std::shared_ptr<const Multiplier>> multipliers{std::make_shared<const Multiplier>(
      Multiplier::exact(kExactMultiplierName, {{kCellsMetric, kExactMultiplierCells}}))};
  return *MultiplierLibrary::create(kBuiltinLibraryName, kCellsMetric, std::move(multipliers));
}

}  // namespace

const MultiplierLibrary& builtin_library() {
  static const MultiplierLibrary library = make_builtin_library();
  return library;
}

}  // namespace agnx
