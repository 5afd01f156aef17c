#!/usr/bin/python3
"""The end of a training script: hand the trained model to agnx-server and print the
energy-saving multiplier chosen for each layer.

Takes the outputs of examples/train_lenet_agn.py (model.pt, calib.npy, test_x.npy,
test_y.npy, summary.json) or any model/calibration files, then
  1. uses (or creates) the experiment,
  2. submits the matching job (model, calibration and test data in 1 MiB chunks),
  3. logs the training's params and metrics from summary.json to the job's run
     (params `train.*`, metrics `train.*`), so the run holds training and matching together,
  4. prints one progress line per stage while the job runs,
  5. prints the per-layer assignment table, the relative energy and the accuracies.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agnx_client import AgnxError, Client  # noqa: E402  (after the path set-up)

EPILOG = """examples:
  # after examples/train_lenet_agn.py --out /tmp/lenet, with agnx-server on 127.0.0.1:50051
  examples/python/submit_after_training.py /tmp/lenet --experiment lenet

  # any model and calibration data, another server, a library the server offers
  examples/python/submit_after_training.py --model m.pt --calib c.npy --lambda 0.5 \\
      --server agnx.example:50051 --token "$TOKEN" --library evoapprox --sigma conv1.0=0.15

files taken from DIR unless given: model.pt, calib.npy, test_x.npy + test_y.npy (if both
exist), summary.json (if it exists: its lambda, sigma and training figures are logged).
exit status: 0 job succeeded, 1 usage error, 2 server, input or job error.
The gRPC stubs are generated from proto/ on first use (see examples/python/README.md)."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 1, like the agnx command line
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def parse_args(argv):
    p = Parser(description=__doc__.split("\n\n")[0].replace("\n", " "),
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", nargs="?", metavar="DIR",
                   help="output directory of examples/train_lenet_agn.py")
    p.add_argument("--model", metavar="FILE", help="TorchScript model with `stdev` buffers (default DIR/model.pt)")
    p.add_argument("--calib", metavar="FILE", help="calibration inputs, .npy or .pt (default DIR/calib.npy)")
    p.add_argument("--test-x", metavar="FILE", help="test inputs .npy (default DIR/test_x.npy if present)")
    p.add_argument("--test-y", metavar="FILE", help="test labels .npy, int64 (default DIR/test_y.npy if present)")
    p.add_argument("--summary", metavar="FILE", help="training summary JSON (default DIR/summary.json if present)")
    p.add_argument("--server", default=None,
                   help="agnx-server address (default $AGNX_SERVER, else 127.0.0.1:50051)")
    p.add_argument("--token", default=None, help="bearer token (default $AGNX_TOKEN)")
    p.add_argument("--timeout", type=float, default=120.0, metavar="S",
                   help="seconds per call and for the upload (default 120; watching has none)")
    p.add_argument("--experiment", default="lenet-agn", help="experiment name (default %(default)s)")
    p.add_argument("--run-name", default="", help="run name (default: lambda-L)")
    p.add_argument("--lambda", dest="lam", type=float, default=None, metavar="L",
                   help="AGN lambda recorded with the run (default: the summary's, else 0)")
    p.add_argument("--sigma", action="append", default=[], metavar="LAYER=S",
                   help="override a layer's sigma (repeatable; others use the model's stdev buffers)")
    p.add_argument("--library", default="builtin", help="multiplier library (default %(default)s)")
    p.add_argument("--samples", type=int, default=512, help="sample rows per layer (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default %(default)s)")
    p.add_argument("--save-json", metavar="FILE",
                   help="also write the full result (gs_results.json field names) to FILE")
    args = p.parse_args(argv)

    def default(name, required):
        path = os.path.join(args.dir, name) if args.dir else None
        if path and (required or os.path.exists(path)):
            return path
        return None

    args.model = args.model or default("model.pt", True)
    args.calib = args.calib or default("calib.npy", True)
    if not args.model or not args.calib:
        p.error("give DIR or both --model and --calib")
    if args.test_x is None and args.test_y is None:
        args.test_x, args.test_y = default("test_x.npy", False), default("test_y.npy", False)
        if (args.test_x is None) != (args.test_y is None):
            args.test_x = args.test_y = None  # only one of them: no accuracies
    elif (args.test_x is None) != (args.test_y is None):
        p.error("--test-x and --test-y go together")
    args.summary = args.summary or default("summary.json", False)
    sigma = {}
    for item in args.sigma:
        layer, eq, value = item.partition("=")
        try:
            sigma[layer] = float(value)
        except ValueError:
            eq = ""
        if not eq or not layer:
            p.error(f"--sigma {item}: expected LAYER=NUMBER, e.g. conv1.0=0.15")
    args.sigma = sigma
    if args.samples < 1:
        p.error("--samples must be positive")
    return args


def training_record(summary):
    """The summary's scalar entries as params (configuration) and metrics (figures)."""
    params, metrics = {}, {}
    for key, value in summary.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            continue
        if isinstance(value, float) and key not in ("lambda", "sigma_max", "sigma_init"):
            metrics[f"train.{key}"] = value  # accuracies, seconds
        else:
            params[f"train.{key}"] = value  # model name, seed, epochs, lambda, ...
    for group in ("sigma", "opcount"):  # per-layer dicts
        for layer, value in (summary.get(group) or {}).items():
            params[f"train.{group}.{layer}"] = value
    return params, metrics


def fmt(value):
    return f"{value:.4g}"


def print_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def print_result(result):
    info = result.info
    rows = [[layer.name, layer.multiplier_name, fmt(layer.multiplier_performance_metric),
             fmt(layer.sigma), fmt(layer.max_std), fmt(layer.mul_std),
             fmt(layer.relative_energy_consumption)] for layer in info.layers]
    print_table(["LAYER", "MULTIPLIER", info.metric or "METRIC", "SIGMA", "MAX_STD", "MUL_STD",
                 "REL_ENERGY"], rows)
    print(f"library: {info.library}  metric: {info.metric}  lambda: {fmt(getattr(result, 'lambda'))}")
    print(f"relative energy: {fmt(info.relative_energy_consumption)}")
    if info.HasField("accuracy"):
        a = info.accuracy
        print(f"accuracy top1: float {fmt(a.float_top1)}  quantized {fmt(a.quantized_top1)}  "
              f"approximate {fmt(a.approximate_top1)}")
        print(f"accuracy top5: float {fmt(a.float_top5)}  quantized {fmt(a.quantized_top5)}  "
              f"approximate {fmt(a.approximate_top5)}")


def main(argv):
    args = parse_args(argv)
    summary = {}
    if args.summary:
        try:
            with open(args.summary) as f:
                summary = json.load(f)
        except (OSError, ValueError) as e:
            print(f"submit_after_training: {args.summary}: {e}", file=sys.stderr)
            return 2
    for path in (args.model, args.calib, args.test_x, args.test_y):
        if path is not None and not os.path.isfile(path):
            print(f"submit_after_training: {path}: no such file", file=sys.stderr)
            return 2
    lam = args.lam if args.lam is not None else float(summary.get("lambda", 0.0))
    run_name = args.run_name or f"lambda-{lam:g}"

    try:
        with Client(args.server, token=args.token, timeout=args.timeout) as agnx:
            experiment = agnx.get_or_create_experiment(args.experiment)
            print(f"experiment {experiment.name} (id {experiment.experiment_id}) on {agnx.address}")
            submitted = agnx.submit_matching(
                args.experiment, args.model, args.calib, lam, sigma=args.sigma,
                library=args.library, samples=args.samples, seed=args.seed,
                test_x=args.test_x, test_y=args.test_y, run_name=run_name)
            print(f"submitted: run {submitted.run_id}  job {submitted.job_id}", flush=True)

            params, metrics = training_record(summary)
            agnx.set_tag(submitted.run_id, "source", "examples/python/submit_after_training.py")
            if params or metrics:
                agnx.log_batch(submitted.run_id, params=params)
                for key, value in metrics.items():
                    agnx.log_metric(submitted.run_id, key, value)
                print(f"logged {len(params)} training params and {len(metrics)} metrics "
                      f"from {args.summary}", flush=True)

            last_stage = None
            final = None
            for progress in agnx.watch(submitted.job_id):
                final = progress
                if progress.stage != last_stage or progress.final:
                    # Stages: loading, scales, features, selection, validation, evaluation,
                    # saving; before and after them the stage is the job's state.
                    last_stage = progress.stage
                    line = f"[{progress.percent:5.1f}%] {progress.stage}"
                    if progress.stage != progress.state:
                        line += f" ({progress.steps} step{'s' if progress.steps != 1 else ''})"
                    print(line, flush=True)
            if final.state != "SUCCEEDED":
                print(f"submit_after_training: job {submitted.job_id} {final.state}: {final.message}",
                      file=sys.stderr)
                return 2

            result, result_json = agnx.result(submitted.run_id)
            print()
            print_result(result)
            candidates = sum(len(layer["candidates"]) for layer in result_json["layers"])
            print(f"run {submitted.run_id}: {len(result_json['layers'])} layers, "
                  f"{candidates} candidates considered")
            if args.save_json:
                with open(args.save_json, "w") as f:
                    json.dump(result_json, f, indent=1)
                print(f"wrote {args.save_json}")
    except AgnxError as e:
        print(f"submit_after_training: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"submit_after_training: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
