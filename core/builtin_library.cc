#include "core/builtin_library.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "core/builtin_designs.h"

namespace agnx {
namespace {

struct CellCount {
  const char* name;
  int cells;
};

constexpr CellCount kCellCounts[] = {
#include "core/builtin_cells.inc"
};

// A design without a synthesized cell count is a broken build invariant: the
// table must be regenerated with tools/synth_builtins.
[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "agnx: built-in library: %s\n", message.c_str());
  std::abort();
}

MultiplierLibrary make_builtin_library() {
  std::map<std::string, double> cells;
  for (const CellCount& row : kCellCounts) cells[row.name] = row.cells;
  const double exact_cells = cells.at(kExactMultiplierName);
  std::vector<std::shared_ptr<const Multiplier>> multipliers;
  for (const BuiltinDesign& design : builtin_designs()) {
    const auto it = cells.find(design.name);
    if (it == cells.end()) die(design.name + " has no row in core/builtin_cells.inc; rerun tools/synth_builtins");
    auto multiplier = Multiplier::create(design.name, design.circuit.signedness(), design.circuit.product_table(),
                                         {{kCellsMetric, it->second}, {kRelativeCellsMetric, it->second / exact_cells}});
    if (!multiplier.ok()) die(multiplier.status().to_string());
    multipliers.push_back(std::make_shared<const Multiplier>(std::move(multiplier).value()));
  }
  auto library = MultiplierLibrary::create(kBuiltinLibraryName, kCellsMetric, std::move(multipliers));
  if (!library.ok()) die(library.status().to_string());
  return std::move(library).value();
}

}  // namespace

const MultiplierLibrary& builtin_library() {
  static const MultiplierLibrary library = make_builtin_library();
  return library;
}

}  // namespace agnx
