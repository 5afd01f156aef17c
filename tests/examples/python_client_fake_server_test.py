#!/usr/bin/python3
"""examples/python/agnx_client.py against an in-process fake server (python3-grpcio's own
server): what the client sends, exactly. Checks the bearer token metadata, the submission's
header (lambda, sigma, library, samples, seed, pin_exact) coming first, the files in 1 MiB
chunks in order (model, calibration, test inputs, test labels), watch() stopping after the
final message and raising on a stream that ends early, result() parsing the JSON, log_batch,
submit_training's header (kind, lambdas, the proto3 `optional` fields set only when given)
and files in order (model, training inputs and labels, calibration, test data), get_sweep
parsing the JSON, and errors as AgnxError with the status name. ~1 s. Exit code 77 (a skip for ctest) without
python3-grpcio or python3-protobuf.

  /usr/bin/python3 tests/examples/python_client_fake_server_test.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent import futures

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SKIP = 77
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
MIB = 1 << 20


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def main():
    try:
        import grpc
    except ImportError as e:
        print(f"SKIP: /usr/bin/python3 cannot import grpc ({e}): apt-get install python3-grpcio "
              "python3-protobuf (scripts/setup.sh)")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="agnx-python-fake-")
    try:
        stubs = os.path.join(tmp, "stubs")
        generated = subprocess.run([os.path.join(ROOT, "examples", "python", "generate_stubs.sh"), stubs],
                                   capture_output=True, text=True)
        check(generated.returncode == 0, f"generate_stubs.sh failed: {generated.stderr}")
        sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
        import agnx_client
        from agnx_client import AgnxError, Client
        pb, pb_grpc = agnx_client.load_stubs(stubs)

        seen = {"submit": [], "metadata": [], "batch": None, "training": []}

        class Matching(pb_grpc.MatchingServicer):
            def SubmitMatching(self, request_iterator, context):
                seen["metadata"].append(dict(context.invocation_metadata()))
                for request in request_iterator:
                    part = request.WhichOneof("part")
                    seen["submit"].append((part, request.header if part == "header" else len(getattr(request, part))))
                return pb.SubmitMatchingResponse(run_id="r1", job_id=7)

            def WatchJob(self, request, context):
                if request.job_id == 404:
                    context.abort(grpc.StatusCode.NOT_FOUND, "job 404 not found")
                yield pb.JobProgress(job_id=request.job_id, state="RUNNING", stage="loading", percent=5)
                if request.job_id == 8:
                    return  # ends without a final message
                yield pb.JobProgress(job_id=request.job_id, state="SUCCEEDED", stage="SUCCEEDED",
                                     percent=100, final=True)
                yield pb.JobProgress(job_id=request.job_id, state="SUCCEEDED", stage="after final")

            def GetMatchingResult(self, request, context):
                info = pb.MatchingInfo(library="builtin", layers=[pb.LayerInfo(name="conv1.0")])
                result = pb.MatchingResult(run_id=request.run_id, info=info,
                                           json=json.dumps({"layers": [{"name": "conv1.0", "candidates": []}]}))
                setattr(result, "lambda", 0.25)
                return result

        class Tracking(pb_grpc.TrackingServicer):
            def LogBatch(self, request, context):
                seen["batch"] = request
                return pb.LogResponse()

            def GetExperimentByName(self, request, context):
                context.abort(grpc.StatusCode.NOT_FOUND, f"experiment '{request.name}' not found")

            def CreateExperiment(self, request, context):
                return pb.Experiment(experiment_id=3, name=request.name)

        class Training(pb_grpc.TrainingServicer):
            def SubmitTraining(self, request_iterator, context):
                parts = []
                for request in request_iterator:
                    part = request.WhichOneof("part")
                    parts.append((part, request.header if part == "header" else len(getattr(request, part))))
                seen["training"].append(parts)
                return pb.SubmitMatchingResponse(run_id="s1", job_id=11)

            def GetSweep(self, request, context):
                if request.run_id != "s1":
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"run {request.run_id} is not a sweep")
                point = pb.SweepPoint(run_id="c1", sigma={"conv1.0": 0.1}, relative_energy=0.3,
                                      top1=pb.SweepTop1(retrained=0.9))
                setattr(point, "lambda", 0.25)
                summary = {"run_id": "s1", "pareto": [0],
                           "points": [{"lambda": 0.25, "run_id": "c1", "sigma": {"conv1.0": 0.1},
                                       "relative_energy": 0.3, "top1": {"retrained": 0.9}}]}
                return pb.Sweep(run_id="s1", points=[point], pareto=[0], json=json.dumps(summary))

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pb_grpc.add_TrainingServicer_to_server(Training(), server)
        pb_grpc.add_MatchingServicer_to_server(Matching(), server)
        pb_grpc.add_TrackingServicer_to_server(Tracking(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()

        files = {}
        for name, size in [("model.pt", 2 * MIB + 5), ("calib.npy", MIB), ("x.npy", 10), ("y.npy", 3)]:
            files[name] = os.path.join(tmp, name)
            with open(files[name], "wb") as f:
                f.write(b"\0" * size)

        with Client(f"127.0.0.1:{port}", token="s3cret", timeout=10) as agnx:
            submitted = agnx.submit_matching("exp", files["model.pt"], files["calib.npy"], 0.5,
                                             sigma={"conv1.0": 0.15}, library="evo", samples=64, seed=9,
                                             test_x=files["x.npy"], test_y=files["y.npy"], run_name="n",
                                             pin_exact=["linear3"], idempotency_key="k1")
            check((submitted.run_id, submitted.job_id) == ("r1", 7), f"submit returned {submitted}")
            check(seen["metadata"][0].get("authorization") == "Bearer s3cret",
                  f"no bearer token in the metadata: {seen['metadata'][0]}")
            kind, header = seen["submit"][0]
            check(kind == "header", f"the first message is {kind}, not the header")
            check(getattr(header, "lambda") == 0.5 and dict(header.sigma) == {"conv1.0": 0.15}
                  and header.library == "evo" and header.num_samples == 64 and header.seed == 9
                  and list(header.pin_exact) == ["linear3"] and header.experiment == "exp"
                  and header.run_name == "n" and header.idempotency_key == "k1", f"header {header}")
            parts = seen["submit"][1:]
            expected = [("model", MIB), ("model", MIB), ("model", 5), ("calibration", MIB), ("test_x", 10),
                        ("test_y", 3)]
            check(parts == expected, f"chunks {parts}, expected {expected}")

            states = [p.stage for p in agnx.watch(7)]
            check(states == ["loading", "SUCCEEDED"], f"watch yielded {states}")
            check(agnx.wait(7).final, "wait() did not return the final message")
            for job, code in [(8, "UNAVAILABLE"), (404, "NOT_FOUND")]:
                try:
                    list(agnx.watch(job))
                    fail(f"watch({job}) did not raise")
                except AgnxError as e:
                    check(e.code == code, f"watch({job}) raised {e}, expected {code}")

            result, parsed = agnx.result("r1")
            check(getattr(result, "lambda") == 0.25 and result.info.layers[0].name == "conv1.0",
                  f"result {result}")
            check(parsed["layers"][0]["name"] == "conv1.0", f"parsed JSON {parsed}")

            agnx.log_batch("r1", params={"epochs": 3}, metrics={"loss": 0.5}, tags={"t": "v"}, step=2)
            batch = seen["batch"]
            check(dict(batch.params) == {"epochs": "3"} and dict(batch.tags) == {"t": "v"}
                  and [(m.key, m.value, m.step) for m in batch.metrics] == [("loss", 0.5, 2)], f"batch {batch}")

            experiment = agnx.get_or_create_experiment("new")
            check(experiment.experiment_id == 3, f"get_or_create_experiment returned {experiment}")
            try:
                agnx.submit_matching("exp", os.path.join(tmp, "missing.pt"), files["calib.npy"], 0.5)
                fail("a missing model file was accepted")
            except AgnxError as e:
                check(e.code == "INVALID_ARGUMENT" and "missing.pt" in e.message, f"missing file: {e}")
            try:
                agnx.submit_matching("exp", files["model.pt"], files["calib.npy"], 0.5, test_x=files["x.npy"])
                fail("test_x without test_y was accepted")
            except AgnxError as e:
                check(e.code == "INVALID_ARGUMENT", f"test_x alone: {e}")

            # Training: a sweep with every file, then a retrain with no model nor calibration.
            submitted = agnx.submit_training("exp", "sweep", files["x.npy"], files["y.npy"],
                                             model_path=files["model.pt"], calib_path=files["calib.npy"],
                                             lambdas=[0.25, 2], test_x=files["x.npy"], test_y=files["y.npy"],
                                             library="evo", search_epochs=1, retrain_epochs=2, samples=64,
                                             seed=5, run_name="sw", idempotency_key="k2")
            check((submitted.run_id, submitted.job_id) == ("s1", 11), f"submit_training returned {submitted}")
            kind, header = seen["training"][0][0]
            check(kind == "header", f"the first training message is {kind}, not the header")
            check(header.kind == "sweep" and header.experiment == "exp" and list(header.lambdas) == [0.25, 2.0]
                  and header.library == "evo" and header.search_epochs == 1 and header.retrain_epochs == 2
                  and header.num_samples == 64 and header.seed == 5 and header.run_name == "sw"
                  and header.idempotency_key == "k2" and not header.HasField("sigma_max"),
                  f"training header {header}")
            parts = seen["training"][0][1:]
            expected = [("model", MIB), ("model", MIB), ("model", 5), ("train_x", 10), ("train_y", 3),
                        ("calibration", MIB), ("test_x", 10), ("test_y", 3)]
            check(parts == expected, f"training chunks {parts}, expected {expected}")

            agnx.submit_training("exp", "retrain", files["x.npy"], files["y.npy"], source_run="r1", sigma_max=0.4)
            kind, header = seen["training"][1][0]
            check(header.kind == "retrain" and header.source_run == "r1" and list(header.lambdas) == []
                  and header.sigma_max == 0.4 and header.library == ""
                  and not any(header.HasField(f) for f in ["search_epochs", "retrain_epochs", "num_samples"]),
                  f"retrain header {header}")
            parts = [part for part, _ in seen["training"][1][1:]]
            check(parts == ["train_x", "train_y"], f"retrain parts {parts}")
            try:
                agnx.submit_training("exp", "search", files["x.npy"], os.path.join(tmp, "missing.npy"),
                                     model_path=files["model.pt"], lambdas=[1])
                fail("missing training labels were accepted")
            except AgnxError as e:
                check(e.code == "INVALID_ARGUMENT" and "train_y" in e.message, f"missing train_y: {e}")
            check(len(seen["training"]) == 2, "a refused submission reached the server")

            sweep, summary = agnx.get_sweep("s1")
            check(getattr(sweep.points[0], "lambda") == 0.25 and sweep.points[0].top1.retrained == 0.9
                  and list(sweep.pareto) == [0], f"get_sweep returned {sweep}")
            check(summary["points"][0]["run_id"] == "c1" and summary["pareto"] == [0], f"parsed sweep {summary}")
            try:
                agnx.get_sweep("r1")
                fail("get_sweep of a run that is no sweep did not raise")
            except AgnxError as e:
                check(e.code == "INVALID_ARGUMENT" and "not a sweep" in e.message, f"get_sweep(r1): {e}")
        server.stop(None)
        print("PASS: agnx_client against a fake server")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
