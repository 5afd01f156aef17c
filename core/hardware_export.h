// The hardware handoff of a matching result: the chosen multipliers as
// Verilog modules, with self-checking testbenches, a script that simulates
// and synthesizes them, a manifest and a README.
//
// One module per distinct multiplier of the result, in the order the layers
// first use them. Every module has the same signed 8x8 interface:
//   module M(a, b, y); input [7:0] a; input [7:0] b; output [15:0] y;
// a (activation) and b (weight) two's complement, y their approximate
// product in two's complement (Multiplier::product, spec "Unsigned
// multipliers" for unsigned ones). Files, by relative name:
//   rtl/M.v       a built-in design (core/builtin_designs.h) whose table the
//                 multiplier has: its gate-level netlist; otherwise a
//                 behavioural model generated from the table, labelled so in
//                 its header comment. An unsigned multiplier's netlist or
//                 model is the module M__magnitude, which M wraps in
//                 sign-magnitude form.
//   tb/M_tb.v     applies all 65,536 operand pairs and compares y with
//   tb/M.hex      the table (line i: the 16-bit product of {a, b} = i), then
//                 prints "PASS M: ..." or "FAIL M: ..." .
//   run.sh        `sh run.sh [--no-synthesis]`: simulates every testbench with
//                 Icarus Verilog, synthesizes every module (and each netlist
//                 M__magnitude) with Yosys using the built-in library's cost
//                 script (core/builtin_library.h), prints "cells TOP N" per
//                 top; exits 1 if a testbench or a tool fails.
//   manifest.json the run, each layer (module, opcount, sigma, predicted and
//                 observed error std, metric, relative energy), each module.
//   README.md     a per-layer table and the energy breakdown by layer.
//
// Module names are "agnx_" followed by the multiplier's name with every run
// of characters other than ASCII letters and digits turned into one '_'
// (at most 48 of them), "_2", "_3", ... on a clash: no text of the run or
// library reaches a file name, and "__" never appears in one. The same
// result and library always give byte-identical files.
#pragma once

#include <string>
#include <vector>

#include "core/library.h"
#include "core/selection.h"
#include "core/status.h"

namespace agnx {

// What the export says about the run the result belongs to.
struct ExportedRun {
  std::string run_id;
  std::string run_name;
  double lambda = 0.0;
};

struct ExportedFile {
  std::string name;  // relative, '/'-separated, e.g. "rtl/agnx_exact.v"
  std::string content;
  bool executable = false;  // run.sh
};

// The files of the hardware handoff of `info`, whose multipliers must all be
// in `library`, sorted by name. Errors: a result without layers
// (kInvalidArgument); a chosen multiplier missing from `library`, or one
// whose product for some signed operand pair does not fit 16-bit two's
// complement (kFailedPrecondition, naming the layer or multiplier).
Result<std::vector<ExportedFile>> export_hardware(const MatchingInfo& info, const MultiplierLibrary& library,
                                                  const ExportedRun& run);

}  // namespace agnx
