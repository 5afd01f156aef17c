// The built-in approximate multiplier designs, each a gate-level Circuit.
//
// Every design is defined once, bit by bit, as a Circuit; its product table
// and its Verilog netlist both come from that circuit. Families (parameter
// in the name; `s` = signed, `u` = unsigned):
//   exact, exact_u            Baugh-Wooley / unsigned array multiplier
//   trunc_{s,u}_kK            truncated: partial-product columns < K dropped
//                             (K = 1..8, 10, 12)
//   trunc_comp_{s,u}_kK       the same plus the rounded expected value of the
//                             dropped bits as a constant (constant correction)
//   bam_{s,u}_hH_vV           broken-array multiplier (Mahdiani et al.):
//                             partial products of rows b_j, j < H, and of
//                             columns < V dropped
//   perf_{s,u}_jJ_pP          partial-product perforation (Zervakis et al.):
//                             rows b_J .. b_{J+P-1} skipped, i.e. a * (b with
//                             those bits cleared)
//   drum_{s,u}_kK             DRUM (Hashemi et al.): each magnitude cut to K
//                             bits below its leading one, the last kept bit
//                             set to 1 (unbiased), then a KxK product shifted
//                             (K = 2..6; signed from 3)
//   mitchell_{s,u}_fF         Mitchell's logarithmic multiplier with F
//                             fraction bits (F = 7, 5, 3, 0; 7 keeps the
//                             whole fraction, 0 rounds operands down to
//                             powers of two)
//   ilm_{s,u}_iI              the iterative logarithmic multiplier (Babic et
//                             al.), an error-corrected logarithmic multiplier:
//                             I basic blocks, each approximating the error
//                             term (the product of the residues below the
//                             leading ones) left by the one before
//   roba_{s,u}                rounding-based (Zendegani et al.):
//                             Ar*B + A*Br - Ar*Br, Ar = A rounded to the
//                             nearest power of two (ties up)
// Signed designs of the last four families work on magnitudes and negate
// the product when the operand signs differ.
#pragma once

#include <string>
#include <vector>

#include "core/circuit.h"

namespace agnx {

struct BuiltinDesign {
  std::string name;
  std::string family;  // "exact", "trunc", "trunc_comp", "bam", "perf", "drum", "mitchell", "ilm", "roba"
  Circuit circuit;
};

// Every built-in design, "exact" first. Names are unique and valid Verilog
// identifiers.
std::vector<BuiltinDesign> builtin_designs();

}  // namespace agnx
