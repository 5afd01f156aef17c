#!/usr/bin/env python3
"""Reproduces the README's figure behind the built-in library's `cells` metric:
the 13 signed EvoApprox 8x8 multipliers of ../shared/evoapprox/metrics.csv,
synthesized with the same Yosys script as the built-ins (tools/synthesis.cc),
have cell counts that correlate with their published PDK45 power (Pearson r).

The netlists are not in this repository: pass a checkout of
https://github.com/ehw-fit/evoapproxlib (its multiplers/8x8_signed/*/NAME.v).

    python3 tools/evoapprox_cells.py --library ~/evoapproxlib [--metrics ../shared/evoapprox/metrics.csv]

Prints one line per multiplier (name, cells, PDK45 power in mW), the cells of
a behavioural `a*b` for scale, and Pearson's r; exits 1 if a netlist is
missing or Yosys fails.
"""
import argparse
import csv
import math
import pathlib
import re
import subprocess
import sys
import tempfile

ABC_GATES = "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT"  # kAbcGates, core/builtin_library.h
BEHAVIOURAL = """module behavioural_mul8s(input signed [7:0] a, input signed [7:0] b, output signed [15:0] y);
  assign y = a * b;
endmodule
"""


def cells(verilog: pathlib.Path, top: str) -> int:
    script = f"read_verilog {verilog}; synth -flatten -top {top}; abc -g {ABC_GATES}; stat"
    report = subprocess.run(["yosys", "-p", script], capture_output=True, text=True)
    if report.returncode != 0:
        sys.exit(f"yosys failed on {verilog}: {report.stderr.strip()}")
    counts = re.findall(r"Number of cells:\s+(\d+)", report.stdout)
    if not counts:
        sys.exit(f"{verilog}: no 'Number of cells:' in Yosys' report")
    return int(counts[-1])


def netlist(library: pathlib.Path, name: str) -> pathlib.Path:
    found = sorted(library.glob(f"multiplers/8x8_signed/*/{name}.v"))
    if not found:
        sys.exit(f"{name}.v not found under {library}/multiplers/8x8_signed/")
    return found[0]


def pearson(xs, ys) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    return sxy / math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))


def main() -> None:
    here = pathlib.Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", type=pathlib.Path, required=True, help="a checkout of ehw-fit/evoapproxlib")
    parser.add_argument("--metrics", type=pathlib.Path, default=here.parent.parent / "shared/evoapprox/metrics.csv")
    args = parser.parse_args()

    with open(args.metrics, newline="") as f:
        signed = [row for row in csv.DictReader(f) if row["signed"] == "1"]
    counts, powers = [], []
    print(f"{'multiplier':<12} {'cells':>6} {'PDK45_PWR':>10}")
    for row in signed:
        counts.append(cells(netlist(args.library, row["name"]), row["name"]))
        powers.append(float(row["PDK45_PWR"]))
        print(f"{row['name']:<12} {counts[-1]:>6} {powers[-1]:>10.3f}")
    with tempfile.TemporaryDirectory() as scratch:
        behavioural = pathlib.Path(scratch) / "behavioural_mul8s.v"
        behavioural.write_text(BEHAVIOURAL)
        print(f"{'a*b':<12} {cells(behavioural, 'behavioural_mul8s'):>6}  (behavioural, for scale)")
    print(f"Pearson r (cells vs PDK45_PWR, {len(signed)} signed multipliers): {pearson(counts, powers):.3f}")


if __name__ == "__main__":
    main()
