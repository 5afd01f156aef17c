#!/usr/bin/python3
"""Runs examples/python/submit_after_training.py against a live agnx-server.

Generates the stubs with examples/python/generate_stubs.sh into a temporary directory,
starts the real server on 127.0.0.1:0 with a temporary data directory (and ../shared's
signed EvoApprox multipliers as library `evoapprox`), lays out ../shared's LeNet5 snapshot
the way examples/train_lenet_agn.py writes its outputs (model.pt, calib.npy, test_x.npy,
test_y.npy and summary.json) and runs the example on it. Checks: the job succeeds, the
result has the five layers and the printed table names them, the accuracies are printed,
the training figures landed on the run, and a bad library is reported (exit 2, the server's
message). Exit code 77 (a skip for ctest) without the server binary, python3-grpcio,
python3-protobuf or ../shared.

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


def skip(message):
    print("SKIP: " + message)
    sys.exit(SKIP)


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


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


def run_example(args, env, timeout=50):
    started = time.monotonic()
    done = subprocess.run(["/usr/bin/python3", EXAMPLE, *args], env=env, capture_output=True,
                          text=True, timeout=timeout)
    print(f"$ submit_after_training.py {' '.join(args)}  ({time.monotonic() - started:.1f} s, "
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
        skip(f"the reference material is missing: no {models} (../shared or $AGNX_SHARED_DIR)")
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
        print("PASS: python client example against a live agnx-server")
        return 0
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
