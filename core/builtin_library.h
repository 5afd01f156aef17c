// The built-in multiplier library: every design of core/builtin_designs.h.
//
// Its metric is "cells": the gate count of the design's netlist synthesized
// by Yosys 0.23 with `synth -flatten; abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,
// ORNOT; stat` (on the 13 signed EvoApprox circuits this count correlates
// with their PDK45 power at Pearson 0.996). The counts are measured by
// tools/synth_builtins and compiled in from core/builtin_cells.inc; each
// multiplier also carries "relative_cells", its cells over those of "exact".
// The library always holds the exact signed multiplier, named "exact".
#pragma once

#include "core/library.h"

namespace agnx {

inline constexpr const char* kBuiltinLibraryName = "builtin";
inline constexpr const char* kCellsMetric = "cells";
inline constexpr const char* kRelativeCellsMetric = "relative_cells";
inline constexpr const char* kExactMultiplierName = "exact";
// The gates of the cost script's `abc -g` step.
inline constexpr const char* kAbcGates = "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT";

// The built-in library (built once, on first use, then shared).
const MultiplierLibrary& builtin_library();

}  // namespace agnx
