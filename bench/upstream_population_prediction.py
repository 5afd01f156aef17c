"""The upstream agnapprox population_prediction in NumPy, as the baseline of
population_prediction_bench.

It follows agnapprox.utils.error_stats the way upstream vectorizes it: per
sampled row a to_distribution histogram (np.unique), then per multiplier and
row one error_prediction over the whole 256x256 error map (np.meshgrid of the
two distributions), aggregated with Eq. 15/16.

Usage: upstream_population_prediction.py WORKLOAD.json RESULT.json
WORKLOAD.json (written by the benchmark):
  {"layers": [{"name", "fan_in", "samples": int8 .npy [rows, fan_in],
               "w_dist": float64 .npy [256]}],
   "multipliers": [{"name", "emap": float64 .npy [256, 256], the error map}]}
RESULT.json: {"seconds": wall time of the predictions,
              "predictions": [layer][multiplier] = [mean, std]}.
The inputs are loaded before the clock starts; the histograms of the sampled
rows are timed, as the benchmark times agnx's.
"""
import json
import sys
import time

import numpy as np


def to_distribution(tensor, min_val, max_val):
    num_range = np.arange(min_val, max_val + 1)
    counts = np.zeros_like(num_range, dtype=np.float64)
    nums, freqs = np.unique(tensor.flatten().astype(np.int32), return_counts=True)
    counts[nums - min_val] = freqs.astype(np.float64)
    return num_range, counts / np.sum(freqs)


def error_prediction(emap, x_dist, w_dist, fan_in):
    prob_x, prob_w = np.meshgrid(x_dist.astype(np.float64), w_dist.astype(np.float64), indexing="ij")
    mean = np.sum(emap * prob_x * prob_w)
    std = np.sqrt(np.sum(((emap - mean) ** 2) * prob_x * prob_w)) / np.sqrt(fan_in)
    return mean, std


def population_prediction(emap, x_multidist, w_dist, fan_in):
    means, stds = [], []
    for x_dist in x_multidist:
        mean, std = error_prediction(emap, x_dist, w_dist, fan_in)
        means.append(mean)
        stds.append(std)
    means, stds = np.array(means), np.array(stds)
    n = x_multidist.shape[0]
    return np.mean(means), np.sqrt((np.sum(means**2 + stds**2) - np.sum(means) ** 2 / n) / n)


def main(workload_path, result_path):
    with open(workload_path) as f:
        workload = json.load(f)
    emaps = [np.load(m["emap"]) for m in workload["multipliers"]]
    layers = [(np.load(l["samples"]), np.load(l["w_dist"]), float(l["fan_in"])) for l in workload["layers"]]
    start = time.perf_counter()
    predictions = []
    for samples, w_dist, fan_in in layers:
        x_multidist = np.array([to_distribution(row, -128, 127)[1] for row in samples])
        predictions.append([list(population_prediction(emap, x_multidist, w_dist, fan_in)) for emap in emaps])
    seconds = time.perf_counter() - start
    with open(result_path, "w") as f:
        json.dump({"seconds": seconds, "predictions": predictions}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
