// The built-in multiplier library.
//
// Its metric is "cells": the gate count of the design synthesized by Yosys
// 0.23 with `synth -flatten; abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT;
// stat`. It always holds the exact signed multiplier, named "exact".
#pragma once

#include "core/library.h"

namespace agnx {

inline constexpr const char* kBuiltinLibraryName = "builtin";
inline constexpr const char* kCellsMetric = "cells";
inline constexpr const char* kExactMultiplierName = "exact";

// The built-in library (built once, then shared).
const MultiplierLibrary& builtin_library();

}  // namespace agnx
