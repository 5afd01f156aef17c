#!/usr/bin/python3
"""Runs examples/python/submit_after_training.py and sweep.py against a live agnx-server.

Generates the stubs with examples/python/generate_stubs.sh into a temporary directory,
starts the real server on 127.0.0.1:0 with a temporary data directory (and ../shared's
signed EvoApprox multipliers as library `evoapprox`), lays out ../shared's LeNet5 snapshot
the way examples/train_lenet_agn.py writes its outputs (model.pt, calib.npy, test_x.npy,
test_y.npy and summary.json) and runs the example on it. Checks: the job succeeds, the
result has the five layers and the printed table names them, the accuracies are printed,
the training figures landed on the run, and a bad library is reported (exit 2, the server's
message). Then the client calls the example does not make, each against what the server
stored: create_run, log_param (immutable), log_metric + metric_history, update_run, get_job,
query_energy, list_libraries; submit_training + get_job + cancel_job on a long search job
(it ends CANCELLED); and examples/python/sweep.py on a small sweep (float LeNet5, 2 lambdas,
1 search and 1 retraining epoch, ../shared's 2000 test images as training and test data):
its progress names lambda i of 2, the stage, epoch and batch; get_sweep has 2 points with
sigma for the 5 layers, relative energy in (0, 1], retrained top-1 > 0.5 and the Pareto
front of those points; the table, `sweep.py --attach RUN --json`, the child runs,
query_energy and the children's retraining metrics agree with it. ~90 s (~150 s on a busy
machine), most of it the sweep. Exit code 77 (a skip for ctest) without the server binary,
python3-grpcio, python3-protobuf or ../shared (the last a failure under CI=true).

  /usr/bin/python3 tests/examples/python_client_test.py --server-binary build/server/agnx-server
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
LAYERS = ["conv1.0", "conv2.0", "linear1", "linear2", "linear3"]
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLE = os.path.join(ROOT, "examples", "python", "submit_after_training.py")
SWEEP = os.path.join(ROOT, "examples", "python", "sweep.py")
SWEEP_LAMBDAS = [0.25, 2.0]


def skip(message):
    print("SKIP: " + message)
    sys.exit(SKIP)


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def expect_error(code, call, *args, **kwargs):
    """Runs call(*args, **kwargs), which must raise AgnxError `code`; returns the error."""
    from agnx_client import AgnxError
    try:
        call(*args, **kwargs)
    except AgnxError as e:
        check(e.code == code, f"{call.__name__}{args}: raised {e}, expected {code}")
        return e
    fail(f"{call.__name__}{args} did not raise {code}")


def start_server(binary, data_dir, args):
    """Starts agnx-server on an ephemeral port; returns (process, "127.0.0.1:PORT")."""
    log = open(os.path.join(os.path.dirname(data_dir), "server.log"), "w")
    process = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--data-dir", data_dir, *args],
                               stdout=subprocess.PIPE, stderr=log, text=True)
    line = process.stdout.readline()  # "agnx-server listening on HOST:PORT ..."
    marker = "listening on "
    if marker not in line:
        process.kill()
        process.wait()
        with open(log.name) as f:
            fail(f"agnx-server did not start: {line.strip()} {f.read().strip()}")
    return process, line.split(marker, 1)[1].split()[0]


def stop_server(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_example(args, env, timeout=50, script=EXAMPLE):
    started = time.monotonic()
    done = subprocess.run(["/usr/bin/python3", script, *args], env=env, capture_output=True,
                          text=True, timeout=timeout)
    print(f"$ {os.path.basename(script)} {' '.join(args)}  ({time.monotonic() - started:.1f} s, "
          f"exit {done.returncode})")
    print(done.stdout, end="")
    print(done.stderr, end="", file=sys.stderr)
    return done


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server-binary", required=True)
    p.add_argument("--shared", default=os.environ.get("AGNX_SHARED_DIR") or os.path.join(ROOT, "..", "shared"))
    args = p.parse_args()

    if not os.access(args.server_binary, os.X_OK):
        skip(f"no agnx-server binary at {args.server_binary} (build it: ninja -C build agnx-server)")
    try:
        import grpc  # noqa: F401
        import google.protobuf  # noqa: F401
    except ImportError as e:
        skip(f"/usr/bin/python3 cannot import gRPC or Protobuf ({e}): apt-get install python3-grpcio "
             "python3-protobuf (scripts/setup.sh)")
    models = os.path.join(args.shared, "models")
    if not os.path.isdir(models):
        missing = f"the reference material is missing: no {models} (../shared or $AGNX_SHARED_DIR)"
        if os.environ.get("CI") == "true":
            fail(missing + "; under CI=true that is a failure")
        skip(missing)
    if not os.access("/usr/bin/grpc_python_plugin", os.X_OK):
        fail("no /usr/bin/grpc_python_plugin: apt-get install protobuf-compiler-grpc (scripts/setup.sh)")

    tmp = tempfile.mkdtemp(prefix="agnx-python-client-")
    server = None
    try:
        stubs = os.path.join(tmp, "stubs")
        generated = subprocess.run([os.path.join(ROOT, "examples", "python", "generate_stubs.sh"), stubs],
                                   capture_output=True, text=True)
        if generated.returncode != 0:
            fail(f"generate_stubs.sh failed: {generated.stderr}")
        env = dict(os.environ, AGNX_PYTHON_STUBS=stubs, PYTHONDONTWRITEBYTECODE="1")
        env.pop("AGNX_SERVER", None)
        env.pop("AGNX_TOKEN", None)

        # A training script's outputs, from ../shared's LeNet5 snapshot and its summary.
        train = os.path.join(tmp, "train")
        os.mkdir(train)
        for source, name in [("lenet5_fmnist_stdev.pt", "model.pt"), ("lenet5_fmnist_calib.npy", "calib.npy"),
                             ("lenet5_fmnist_test_x.npy", "test_x.npy"), ("lenet5_fmnist_test_y.npy", "test_y.npy"),
                             ("lenet5_fmnist.json", "summary.json")]:
            if not os.path.exists(os.path.join(models, source)):
                skip(f"the reference material is incomplete: no {os.path.join(models, source)}")
            os.symlink(os.path.join(models, source), os.path.join(train, name))

        server_args = ["--workers", "1"]
        evoapprox = os.path.join(args.shared, "evoapprox")
        library = "builtin"
        if os.path.isdir(evoapprox):
            server_args += ["--library-dir", f"evoapprox={evoapprox},signed"]
            library = "evoapprox"
        server, address = start_server(args.server_binary, os.path.join(tmp, "data"), server_args)
        print(f"agnx-server on {address}, library {library}")

        result_file = os.path.join(tmp, "result.json")
        done = run_example([train, "--server", address, "--token", "test-token", "--experiment", "python-client",
                            "--library", library, "--samples", "128", "--save-json", result_file], env)
        if done.returncode != 0:
            fail(f"the example exited {done.returncode}")
        out = done.stdout
        for expected in ["submitted: run ", "SUCCEEDED", "relative energy: ", "accuracy top1: float ",
                         "logged ", f"library: {library}"]:
            if expected not in out:
                fail(f"the output lacks {expected!r}")
        table = out[out.index("LAYER"):].splitlines()
        for layer in LAYERS:
            if not any(line.split()[:1] == [layer] for line in table):
                fail(f"the printed table has no row for layer {layer}")
        progress_lines = [line for line in out.splitlines() if line.startswith("[")]
        if len(progress_lines) < 3:
            fail(f"expected a progress line per stage, got {progress_lines}")

        with open(result_file) as f:
            result = json.load(f)
        names = [layer["name"] for layer in result["layers"]]
        if names != LAYERS:
            fail(f"the result's layers are {names}, expected {LAYERS}")
        if not 0 < result["relative_energy_consumption"] <= 1:
            fail(f"relative energy {result['relative_energy_consumption']} is not in (0, 1]")
        if "accuracy" not in result:
            fail("the result has no accuracies although test data was submitted")

        # The training's params and metrics and the job's metrics are on the same run.
        sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
        os.environ["AGNX_PYTHON_STUBS"] = stubs
        from agnx_client import AgnxError, Client
        run_id = out.split("submitted: run ", 1)[1].split()[0]
        with Client(address, timeout=10) as agnx:
            run = agnx.get_run(run_id)
            metrics = {m.key: m.value for m in run.metrics}
            for key in ["relative_energy", "approximate_top1", "train.float_top1_test"]:
                if key not in metrics:
                    fail(f"run {run_id} has no metric {key}: {sorted(metrics)}")
            for key, value in [("train.lambda", "0.5"), ("train.model", "lenet5_fmnist"), ("library", library)]:
                if run.params.get(key) != value:
                    fail(f"run {run_id}: param {key} is {run.params.get(key)!r}, expected {value!r}")
            final_result, parsed = agnx.result(run_id)
            if [layer.name for layer in final_result.info.layers] != LAYERS or parsed["layers"][0]["name"] != "conv1.0":
                fail("result() disagrees with the example's output")
            try:
                list(agnx.watch(999999))
                fail("watch of an unknown job did not raise")
            except AgnxError as e:
                if e.code != "NOT_FOUND":
                    fail(f"watch of an unknown job raised {e}, expected NOT_FOUND")
            try:
                agnx.get_run("no-such-run")
                fail("get_run of an unknown run did not raise")
            except AgnxError as e:
                if e.code != "NOT_FOUND":
                    fail(f"get_run of an unknown run raised {e}, expected NOT_FOUND")

        # A library the server does not offer: exit 2 with the server's message, no traceback.
        done = run_example([train, "--server", address, "--library", "no-such-library"], env, timeout=30)
        if done.returncode != 2 or "no-such-library" not in done.stderr or "Traceback" in done.stderr:
            fail(f"an unknown library gave exit {done.returncode} and stderr {done.stderr!r}")

        job_id = int(out.split("submitted: run ", 1)[1].split("job ", 1)[1].split()[0])
        with Client(address, timeout=30) as agnx:
            check_tracking_calls(agnx, run_id, job_id, library)
            check_cancel(agnx, models)
        check_sweep(address, env, models, stubs)
        print("PASS: python client example against a live agnx-server")
        return 0
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)


def check_tracking_calls(agnx, matched_run, matched_job, library):
    """The client's tracking, job, energy and library calls against what the server stored."""
    experiment = agnx.get_or_create_experiment("python-client")
    run = agnx.create_run(experiment.experiment_id, "by-hand")
    run_id = run.info.run_id
    check(run.info.status == "RUNNING" and run.info.run_name == "by-hand"
          and run.info.experiment_id == experiment.experiment_id, f"create_run returned {run.info}")
    agnx.log_param(run_id, "epochs", 3)
    agnx.log_param(run_id, "epochs", 3)  # the same value again is no change
    e = expect_error("INVALID_ARGUMENT", agnx.log_param, run_id, "epochs", 4)
    check("immutable" in e.message, f"changing a param: {e}")
    losses = [0.9, 0.5, 0.25]
    for step, loss in enumerate(losses):
        agnx.log_metric(run_id, "loss", loss, step=step)
    history = [(m.step, m.value) for m in agnx.metric_history(run_id, "loss")]
    check(history == list(enumerate(losses)), f"metric_history: {history}")
    check(all(m.timestamp > 0 for m in agnx.metric_history(run_id, "loss")), "metrics without the server's time")
    check(agnx.metric_history(run_id, "no-such-metric") == [], "a metric never logged has a history")
    finished = agnx.update_run(run_id, "FINISHED")
    check(finished.info.status == "FINISHED" and finished.info.HasField("end_time")
          and finished.info.end_time >= finished.info.start_time, f"update_run returned {finished.info}")
    run = agnx.get_run(run_id)
    check(run.info.status == "FINISHED" and run.params == {"epochs": "3"}
          and {m.key: m.value for m in run.metrics} == {"loss": 0.25}, f"get_run after the updates: {run}")
    expect_error("INVALID_ARGUMENT", agnx.update_run, run_id, "NO-SUCH-STATUS")

    job = agnx.get_job(matched_job)
    check(job.kind == "matching" and job.run_id == matched_run and job.state == "SUCCEEDED"
          and job.progress == 1.0, f"get_job({matched_job}) returned {job}")
    expect_error("NOT_FOUND", agnx.get_job, 999999)

    result, _ = agnx.result(matched_run)
    points = agnx.query_energy("python-client")  # the matched run; the by-hand run has no result
    check([p.run_id for p in points] == [matched_run], f"query_energy runs: {[p.run_id for p in points]}")
    point = points[0]
    check(getattr(point, "lambda") == 0.5 and point.library == library and point.pareto
          and point.relative_energy == result.info.relative_energy_consumption
          and point.accuracies.get("approximate_top1") == result.info.accuracy.approximate_top1,
          f"query_energy point {point} against the result {result.info.relative_energy_consumption}")
    expect_error("NOT_FOUND", agnx.query_energy, "no-such-experiment")

    libraries = {lib.name: lib for lib in agnx.list_libraries()}
    check("builtin" in libraries and libraries["builtin"].builtin and libraries["builtin"].size > 0,
          f"list_libraries: {libraries}")
    if library != "builtin":
        check(library in libraries and not libraries[library].builtin and libraries[library].size > 0
              and libraries[library].metric, f"list_libraries has no usable {library}: {libraries}")
    print(f"tracking calls, get_job, query_energy, list_libraries ({sorted(libraries)}): ok")


def check_cancel(agnx, models):
    """submit_training of a long search job, cancelled once it trains: it ends CANCELLED."""
    data = {k: os.path.join(models, f"lenet5_fmnist_{k}.npy") for k in ["test_x", "test_y", "calib"]}
    model = os.path.join(models, "lenet5_fmnist.pt")
    # Refused before any job: a file missing here, a sweep without calibration data there.
    e = expect_error("INVALID_ARGUMENT", agnx.submit_training, "python-training", "sweep", data["test_x"],
                     data["test_y"], model_path=os.path.join(models, "missing.pt"), lambdas=[1])
    check("missing.pt" in e.message, f"a missing model: {e}")
    e = expect_error("INVALID_ARGUMENT", agnx.submit_training, "python-training", "sweep", data["test_x"],
                     data["test_y"], model_path=model, lambdas=[1])
    check("calibration" in e.message, f"a sweep without calibration data: {e}")

    started = time.monotonic()
    submitted = agnx.submit_training("python-training", "search", data["test_x"], data["test_y"],
                                     model_path=model, lambdas=[0.5], search_epochs=50, seed=1,
                                     run_name="to-cancel")
    job = agnx.get_job(submitted.job_id)
    check(job.kind == "search" and job.run_id == submitted.run_id, f"get_job of the search: {job}")
    watching = agnx.watch(submitted.job_id)
    for progress in watching:
        check(not progress.final, f"the 50-epoch search ended before it was cancelled: {progress}")
        if progress.stage == "search" and progress.step >= 1:
            check(progress.epochs == 50 and progress.epoch == 1, f"search progress {progress}")
            break
    watching.close()
    cancelled = agnx.cancel_job(submitted.job_id)  # answers once the job has stopped
    check(cancelled.job_id == submitted.job_id and cancelled.state == "CANCELLED", f"cancel_job returned {cancelled}")
    check(agnx.get_run(submitted.run_id).info.status == "KILLED", "the cancelled search's run is not KILLED")
    expect_error("FAILED_PRECONDITION", agnx.cancel_job, submitted.job_id)
    final = agnx.wait(submitted.job_id)
    check(final.state == "CANCELLED", f"the cancelled search ended {final.state}: {final.message}")
    check(agnx.get_job(submitted.job_id).state == "CANCELLED", "get_job after the cancel")
    e = expect_error("INVALID_ARGUMENT", agnx.get_sweep, submitted.run_id)
    check("not a sweep" in e.message, f"get_sweep of a search run: {e}")
    expect_error("NOT_FOUND", agnx.get_sweep, "no-such-run")
    print(f"submit_training, cancel_job: the search ended CANCELLED ({time.monotonic() - started:.1f} s)")


def pareto_of(points):
    """Indices of the points no other point dominates (energy <=, retrained top-1 >=, one strictly)."""
    def dominates(a, b):
        return (a.relative_energy <= b.relative_energy and a.top1.retrained >= b.top1.retrained
                and (a.relative_energy < b.relative_energy or a.top1.retrained > b.top1.retrained))
    return [i for i, p in enumerate(points) if not any(dominates(q, p) for q in points)]


def check_sweep(address, env, models, stubs):
    """examples/python/sweep.py on a small sweep, checked through get_sweep and the child runs."""
    from agnx_client import Client

    def model_file(name):
        return os.path.join(models, f"lenet5_fmnist{name}")

    # Usage errors exit 1 before any call.
    done = run_example(["--model", "m.pt", "--train-x", "x", "--train-y", "y", "--calib", "c", "--lambdas", "1,x"],
                       env, timeout=30, script=SWEEP)
    check(done.returncode == 1 and "--lambdas: 'x' is not a number" in done.stderr, "a bad --lambdas")

    data = ["--train-x", model_file("_test_x.npy"), "--train-y", model_file("_test_y.npy"),
            "--calib", model_file("_calib.npy"), "--test-x", model_file("_test_x.npy"),
            "--test-y", model_file("_test_y.npy")]
    done = run_example(["--server", address, "--experiment", "python-sweep", "--model", model_file(".pt"), *data,
                        "--lambdas", ",".join(f"{l:g}" for l in SWEEP_LAMBDAS), "--library", "builtin",
                        "--search-epochs", "1", "--retrain-epochs", "1", "--samples", "64", "--seed", "5"],
                       env, timeout=500, script=SWEEP)
    check(done.returncode == 0, f"sweep.py exited {done.returncode}")
    out = done.stdout
    check("submitted: sweep run " in out, "sweep.py did not print the submission")
    run_id = out.split("submitted: sweep run ", 1)[1].split()[0]
    job_id = int(out.split("submitted: sweep run ", 1)[1].split("job ", 1)[1].split(":")[0])
    progress = [line for line in out.splitlines() if line.startswith("[")]
    for i, lam in enumerate(SWEEP_LAMBDAS, 1):
        for stage in ["search", "retrain"]:
            prefix = f"lambda {i} of {len(SWEEP_LAMBDAS)} ({lam:g}): {stage}  epoch 1/1  batch "
            check(any(prefix in line for line in progress), f"no progress line with {prefix!r}: {progress}")
    check(progress[-1].endswith("SUCCEEDED"), f"the last progress line is {progress[-1]!r}")

    with Client(address, timeout=30, stubs_dir=stubs) as agnx:
        sweep, summary = agnx.get_sweep(run_id)
        check(sweep.run_id == run_id and [getattr(p, "lambda") for p in sweep.points] == SWEEP_LAMBDAS,
              f"get_sweep points: {[getattr(p, 'lambda') for p in sweep.points]}")
        for point in sweep.points:
            lam = getattr(point, "lambda")
            check(sorted(point.sigma) == LAYERS and all(s > 0 for s in point.sigma.values()),
                  f"lambda {lam}: sigma {dict(point.sigma)}")
            check(0 < point.relative_energy <= 1, f"lambda {lam}: relative energy {point.relative_energy}")
            check(point.top1.retrained > 0.5, f"lambda {lam}: retrained top-1 {point.top1.retrained}")
            check(0.5 < point.top1.float <= 1, f"lambda {lam}: float top-1 {point.top1.float}")
        check(len(sweep.pareto) >= 1 and list(sweep.pareto) == pareto_of(sweep.points),
              f"pareto {list(sweep.pareto)}, the points' front is {pareto_of(sweep.points)}")
        check(summary["run_id"] == run_id and summary["pareto"] == list(sweep.pareto)
              and [p["run_id"] for p in summary["points"]] == [p.run_id for p in sweep.points]
              and [p["top1"]["retrained"] for p in summary["points"]] == [p.top1.retrained for p in sweep.points],
              f"the parsed json disagrees with the message: {summary}")

        # The table: a row per lambda with its energy and retrained top-1, the front marked.
        table = out[out.index("LAMBDA  REL_ENERGY"):].splitlines()
        for i, point in enumerate(sweep.points):
            row = next((line.split() for line in table if line.split()[:1] == [f"{getattr(point, 'lambda'):g}"]), None)
            check(row is not None and row[1] == f"{point.relative_energy:.4g}" and row[5] == f"{point.top1.retrained:.4g}"
                  and (row[6] == "*") == (i in sweep.pareto) and row[-1] == point.run_id,
                  f"the table's row for lambda {getattr(point, 'lambda')}: {row}")
        check(f"Pareto front (relative energy vs retrained top-1), {len(sweep.pareto)} of 2 points:" in out,
              "no Pareto front line")

        # The children: FINISHED runs of the sweep, with their retraining epochs and matching.
        for index, point in enumerate(sweep.points):
            child = agnx.get_run(point.run_id)
            check(child.info.status == "FINISHED" and child.tags.get("mlflow.parentRunId") == run_id
                  and child.tags.get("agnx.sweep_index") == str(index), f"child run {child.info} {dict(child.tags)}")
            retrain_loss = agnx.metric_history(point.run_id, "retrain.loss")
            check([m.step for m in retrain_loss] == [1], f"retrain.loss of lambda {getattr(point, 'lambda')}: {retrain_loss}")
        energy = {p.run_id: p.relative_energy for p in agnx.query_energy("python-sweep")}
        check(energy == {p.run_id: p.relative_energy for p in sweep.points},
              f"query_energy of the sweep's experiment: {energy}")
        job = agnx.get_job(job_id)
        check(job.kind == "sweep" and job.run_id == run_id and job.state == "SUCCEEDED", f"the sweep's job: {job}")

    # --attach RUN --json: the finished sweep, stdout exactly the JSON, progress on stderr.
    done = run_example(["--server", address, "--attach", run_id, "--json"], env, timeout=60, script=SWEEP)
    check(done.returncode == 0 and json.loads(done.stdout) == summary and "SUCCEEDED" in done.stderr,
          f"sweep.py --attach --json: exit {done.returncode}")
    done = run_example(["--server", address, "--attach", sweep.points[0].run_id], env, timeout=60, script=SWEEP)
    check(done.returncode == 2 and "is not a sweep" in done.stderr, "--attach of a child run")
    print(f"sweep.py: 2 points, front {list(sweep.pareto)}, retrained top-1 "
          f"{[round(p.top1.retrained, 4) for p in sweep.points]}")


if __name__ == "__main__":
    sys.exit(main())
