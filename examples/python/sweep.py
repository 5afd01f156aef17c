#!/usr/bin/python3
"""Sweeps a float model over several lambdas on agnx-server and prints the energy/accuracy
trade-off.

For each lambda the server runs, as one job with one child run per lambda:
AGN gradient search (each layer's noise tolerance sigma), multiplier matching, approximate
retraining with the chosen multipliers, evaluation. This script
  1. submits the model, training data, calibration data and test data (1 MiB chunks),
  2. follows the job: lambda i of n, stage, epoch and batch,
  3. prints one row per lambda (relative energy, top-1 float / quantized / approximate /
     retrained, sigma per layer) and the Pareto front of relative energy against
     retrained top-1; with --json the sweep as the server gives it.
"""

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agnx_client import AgnxError, Client  # noqa: E402  (after the path set-up)

EPILOG = """examples:
  # LeNet5 of ../shared, its 2000 test images as training data (agnx-server on 127.0.0.1:50051)
  M=../shared/models
  examples/python/sweep.py --model $M/lenet5_fmnist.pt --train-x $M/lenet5_fmnist_test_x.npy \\
      --train-y $M/lenet5_fmnist_test_y.npy --calib $M/lenet5_fmnist_calib.npy \\
      --test-x $M/lenet5_fmnist_test_x.npy --test-y $M/lenet5_fmnist_test_y.npy \\
      --lambdas 0.25,0.5,1,2 --search-epochs 1 --retrain-epochs 1

  # the same sweep's points as JSON ({"run_id", "points", "pareto"}), progress on stderr
  examples/python/sweep.py ... --json > sweep.json

  # follow (or print) a sweep submitted earlier, e.g. after Ctrl-C
  examples/python/sweep.py --attach RUN_ID

Without --test-x/--test-y the points have no accuracies and the front is by energy alone.
exit status: 0 sweep succeeded, 1 usage error, 2 server, input or job error, 130 interrupted
(the job goes on on the server). The gRPC stubs are generated from proto/ on first use (see
examples/python/README.md)."""

MAX_LAMBDAS = 64  # the server's limit
PRINT_INTERVAL = 5.0  # seconds between progress lines within a stage when not on a terminal


class Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 1, like the agnx command line
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def parse_lambdas(text):
    """"0.25,0.5,1,2" -> [0.25, 0.5, 1.0, 2.0]; ValueError naming the bad item."""
    lambdas = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            raise ValueError(f"{item.strip()!r} is not a number") from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{item.strip()!r}: a lambda is a finite number >= 0")
        lambdas.append(value)
    if not 1 <= len(lambdas) <= MAX_LAMBDAS:
        raise ValueError(f"give 1 to {MAX_LAMBDAS} lambdas, not {len(lambdas)}")
    return lambdas


def parse_args(argv):
    p = Parser(description=__doc__.split("\n\n")[0].replace("\n", " "), epilog=EPILOG,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", default=None,
                   help="agnx-server address (default $AGNX_SERVER, else 127.0.0.1:50051)")
    p.add_argument("--token", default=None, help="bearer token (default $AGNX_TOKEN)")
    p.add_argument("--timeout", type=float, default=120.0, metavar="S",
                   help="seconds per call and for the upload (default 120; following the job has none)")
    p.add_argument("--experiment", default="sweep", help="experiment name (default %(default)s)")
    p.add_argument("--run-name", default="sweep",
                   help="the sweep's run name; its children are 'NAME lambda=L' (default %(default)s)")
    p.add_argument("--model", metavar="FILE", help="float TorchScript model (conv/linear layers)")
    p.add_argument("--train-x", metavar="FILE", help="training inputs, float .npy or .pt [N, ...]")
    p.add_argument("--train-y", metavar="FILE", help="training labels, integer .npy or .pt [N]")
    p.add_argument("--calib", metavar="FILE", help="calibration inputs for the matching, .npy or .pt")
    p.add_argument("--test-x", metavar="FILE", help="test inputs: the points get accuracies")
    p.add_argument("--test-y", metavar="FILE", help="test labels, int64")
    p.add_argument("--lambdas", metavar="L,L,...", help="the lambdas, e.g. 0.25,0.5,1,2 (1 to 64)")
    p.add_argument("--library", default="builtin", help="multiplier library (default %(default)s)")
    p.add_argument("--search-epochs", type=int, metavar="N", help="AGN search epochs per lambda (default: the server's, 1)")
    p.add_argument("--retrain-epochs", type=int, metavar="N", help="retraining epochs per lambda (default: the server's, 3)")
    p.add_argument("--sigma-max", type=float, metavar="S", help="largest sigma the search rewards (default: the server's, 0.5)")
    p.add_argument("--samples", type=int, metavar="N", help="sample rows per layer of the matching (default: the server's, 512)")
    p.add_argument("--seed", type=int, default=0, help="training and sampling seed (default %(default)s)")
    p.add_argument("--json", action="store_true",
                   help="print the sweep as JSON (GetSweep's json: run_id, points, pareto); progress goes to stderr")
    p.add_argument("--attach", metavar="RUN_ID",
                   help="follow and print a sweep submitted earlier instead of submitting one")
    args = p.parse_args(argv)

    files = ["model", "train_x", "train_y", "calib", "test_x", "test_y"]
    if args.attach:
        given = [f"--{name.replace('_', '-')}" for name in files + ["lambdas"] if getattr(args, name)]
        if given:
            p.error(f"--attach follows a submitted sweep: {', '.join(given)} not taken")
        return args
    missing = [f"--{name.replace('_', '-')}" for name in ["model", "train_x", "train_y", "calib", "lambdas"]
               if not getattr(args, name)]
    if missing:
        p.error(f"{', '.join(missing)} required (or --attach RUN_ID)")
    if (args.test_x is None) != (args.test_y is None):
        p.error("--test-x and --test-y go together")
    try:
        args.lambdas = parse_lambdas(args.lambdas)
    except ValueError as e:
        p.error(f"--lambdas: {e}")
    for name in ["search_epochs", "retrain_epochs", "samples"]:
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if args.sigma_max is not None and not (math.isfinite(args.sigma_max) and args.sigma_max > 0):
        p.error("--sigma-max must be a positive number")
    return args


def plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def fmt(value):
    return "-" if value is None else f"{value:.4g}"


def progress_line(progress, lambdas):
    """One line of a sweep's JobProgress: percent, lambda i of n, stage, epoch and batch."""
    line = f"[{progress.percent:5.1f}%] "
    if progress.point and not progress.final:
        lam = lambdas[progress.point - 1] if progress.point <= len(lambdas) else None
        line += f"lambda {progress.point} of {progress.points}"
        line += f" ({lam:g}): " if lam is not None else ": "
    line += progress.stage
    if progress.epochs:  # training stages: step/steps count batches over all the stage's epochs
        per_epoch = progress.steps // progress.epochs if progress.steps % progress.epochs == 0 else 0
        line += f"  epoch {progress.epoch}/{progress.epochs}"
        if per_epoch:
            line += f"  batch {progress.step - (progress.epoch - 1) * per_epoch}/{per_epoch}"
        else:
            line += f"  batch {progress.step}/{progress.steps}"
    elif progress.steps > 1 and progress.stage != progress.state:
        line += f"  {progress.step}/{progress.steps}"
    return line


def follow(agnx, job_id, lambdas, out, interval=PRINT_INTERVAL):
    """Prints the job's progress to `out` until it ends; returns the final JobProgress. On a
    terminal the line is rewritten for every message (a new line per lambda, stage and epoch);
    otherwise (a log file, a pipe) a line is printed when the lambda, the stage or the epoch
    changes, when a stage reaches its last step, and otherwise at most every `interval` s."""
    tty = out.isatty()
    last_key, last_line, width, final, printed = None, None, 0, None, 0.0
    for progress in agnx.watch(job_id):
        final = progress
        line = progress_line(progress, lambdas)
        key = (progress.point, progress.stage, progress.epoch)
        if tty:
            if key != last_key and last_key is not None:
                out.write("\n")  # keep a line per stage
                width = 0
            out.write("\r" + line.ljust(width))
            width = len(line)
        elif line != last_line and (key != last_key or progress.final or time.monotonic() - printed >= interval
                                    or (progress.steps > 1 and progress.step == progress.steps)):
            out.write(line + "\n")
            last_line, printed = line, time.monotonic()
        last_key = key
        out.flush()
    if tty:
        out.write("\n")
    return final


def print_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def print_sweep(summary):
    """The points (from GetSweep's JSON, where a missing accuracy is absent) and the front."""
    points, front = summary["points"], set(summary["pareto"])
    rows = []
    for i, point in enumerate(points):
        top1 = point.get("top1", {})
        rows.append([f"{point['lambda']:g}", fmt(point["relative_energy"]), fmt(top1.get("float")),
                     fmt(top1.get("quantized")), fmt(top1.get("approximate")), fmt(top1.get("retrained")),
                     "*" if i in front else "", point["run_id"]])
    print_table(["LAMBDA", "REL_ENERGY", "FLOAT_TOP1", "QUANT_TOP1", "APPROX_TOP1", "RETRAINED_TOP1",
                 "PARETO", "RUN"], rows)
    layers = sorted({layer for point in points for layer in point.get("sigma", {})})
    if layers:
        print()
        print_table(["SIGMA"] + layers,
                    [[f"lambda {point['lambda']:g}"] + [fmt(point["sigma"].get(layer)) for layer in layers]
                     for point in points])
    print()
    by_energy = sorted(summary["pareto"], key=lambda i: points[i]["relative_energy"])
    print(f"Pareto front (relative energy vs retrained top-1), {len(by_energy)} of {len(points)} points:")
    for i in by_energy:
        point = points[i]
        print(f"  lambda {point['lambda']:g}: relative energy {fmt(point['relative_energy'])}, "
              f"retrained top-1 {fmt(point.get('top1', {}).get('retrained'))}")


def main(argv):
    args = parse_args(argv)
    log = sys.stderr if args.json else sys.stdout  # with --json, stdout holds only the JSON
    run_id = job_id = None
    try:
        with Client(args.server, token=args.token, timeout=args.timeout) as agnx:
            if args.attach:
                run = agnx.get_run(args.attach)
                if run.tags.get("agnx.kind") != "sweep" or "agnx.job_id" not in run.tags:
                    print(f"sweep: run {args.attach} is not a sweep (tag agnx.kind is "
                          f"{run.tags.get('agnx.kind', 'unset')!r})", file=sys.stderr)
                    return 2
                run_id, job_id = args.attach, int(run.tags["agnx.job_id"])
                lambdas = [float(l) for l in run.params.get("lambdas", "").split(",") if l]
                print(f"sweep run {run_id}, job {job_id}: {plural(len(lambdas), 'lambda')} "
                      f"({', '.join(f'{l:g}' for l in lambdas)}) on {agnx.address}", file=log, flush=True)
            else:
                lambdas = args.lambdas
                submitted = agnx.submit_training(
                    args.experiment, "sweep", args.train_x, args.train_y, model_path=args.model,
                    calib_path=args.calib, lambdas=lambdas, test_x=args.test_x, test_y=args.test_y,
                    library=args.library, search_epochs=args.search_epochs,
                    retrain_epochs=args.retrain_epochs, sigma_max=args.sigma_max, samples=args.samples,
                    seed=args.seed, run_name=args.run_name)
                run_id, job_id = submitted.run_id, submitted.job_id
                print(f"submitted: sweep run {run_id}  job {job_id}: {plural(len(lambdas), 'lambda')} "
                      f"({', '.join(f'{l:g}' for l in lambdas)}), experiment {args.experiment}, "
                      f"on {agnx.address}", file=log, flush=True)

            final = follow(agnx, job_id, lambdas, log)
            if final.state != "SUCCEEDED":
                print(f"sweep: job {job_id} {final.state}: {final.message} "
                      f"(finished points: sweep.py --attach {run_id})", file=sys.stderr)
                return 2
            sweep, summary = agnx.get_sweep(run_id)
            if args.json:
                print(sweep.json)
            else:
                print()
                print(f"sweep run {run_id}: {plural(len(summary['points']), 'point')}")
                print_sweep(summary)
    except AgnxError as e:
        print(f"sweep: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"sweep: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if job_id is not None:
            print(f"\nsweep: stopped following; job {job_id} goes on on the server "
                  f"(sweep.py --attach {run_id} follows it again)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
