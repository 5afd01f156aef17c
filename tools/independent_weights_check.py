#!/usr/bin/python3
"""Reproduces the README's explanation of why the error model under-predicts on small layers
(section "The error model against what actually happens").

On one layer's captured operands from ../shared/reference (LAYER.features.npy, int8
[rows, fan_in]; LAYER.weights.npy, int8 [groups, fan_in, out]) and one EvoApprox table, it
prints the std of the error the multiplier adds to the layer's outputs, sum over the fan-in
of (table[x, w] - x*w); the std of the per-neuron mean of that error (each neuron keeps its
own weights, so its errors share a bias); and the same error std with every weight drawn
independently from the layer's weights, as the error model assumes (the mean over --draws
seeded draws).

    /usr/bin/python3 tools/independent_weights_check.py [--layer linear3] [--multiplier mul8s_1KR3]
"""
import argparse
import pathlib

import numpy as np


def main() -> None:
    shared = pathlib.Path(__file__).resolve().parent.parent.parent / "shared"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=pathlib.Path, default=shared, help="the reference material")
    parser.add_argument("--layer", default="linear3")
    parser.add_argument("--multiplier", default="mul8s_1KR3", help="a signed EvoApprox table")
    parser.add_argument("--draws", type=int, default=5)
    args = parser.parse_args()

    reference = args.shared / "reference/lenet5_fmnist"
    x = np.load(reference / f"{args.layer}.features.npy").astype(np.int64)
    weights = np.load(reference / f"{args.layer}.weights.npy").astype(np.int64)
    if weights.shape[0] != 1:
        raise SystemExit(f"{args.layer} is grouped ({weights.shape[0]} groups); pick an ungrouped layer")
    w = weights[0]  # [fan_in, out]
    table = np.fromfile(args.shared / f"evoapprox/{args.multiplier}.bin", dtype="<i4").reshape(256, 256)
    operands = np.arange(-128, 128)
    error = table.astype(np.int64) - np.outer(operands, operands)  # index = value + 128

    observed = error[x[:, :, None] + 128, w[None, :, :] + 128].sum(axis=1)  # [rows, out]
    independent = []
    for seed in range(args.draws):
        drawn = np.random.default_rng(seed).choice(w.reshape(-1), size=(x.shape[0], *w.shape))
        independent.append(error[x[:, :, None] + 128, drawn + 128].sum(axis=1).std())
    print(f"{args.layer} ({x.shape[0]} rows, fan-in {x.shape[1]}, {w.shape[1]} neurons), {args.multiplier}:")
    print(f"  error std, each neuron with its own weights: {observed.std():,.0f}")
    print(f"  std of the per-neuron mean error:            {observed.mean(axis=0).std():,.0f}")
    print(f"  error std, weights drawn independently:      {np.mean(independent):,.0f} "
          f"(mean of {args.draws} draws, {min(independent):,.0f} to {max(independent):,.0f})")


if __name__ == "__main__":
    main()
