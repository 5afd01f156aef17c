// Synthesis of built-in designs with Yosys, shared by the generator tool
// tools/synth_builtins and the tests that re-synthesize sampled designs.
//
// The script is the one documented in core/builtin_library.h:
//   synth -flatten; abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT; stat
// and the reported "Number of cells" is the design's `cells` metric.
#pragma once

#include <filesystem>
#include <string>

#include "core/builtin_library.h"
#include "core/status.h"

namespace agnx {

// True if a `yosys` executable is on the PATH.
bool yosys_available();

// The cell count of module `top` of `verilog`, synthesized with the script
// above. Files go to `work_dir` (which must exist). Errors: yosys cannot be
// run or fails (the message names its log file), or its report has no cell
// count.
Result<int> synthesize_cells(const std::string& verilog, const std::string& top, const std::filesystem::path& work_dir);

}  // namespace agnx
