"""A small Python client for agnx-server (the API in proto/agnapprox/v1/agnx.proto).

Runs with Debian's /usr/bin/python3 and its python3-grpcio and python3-protobuf. The gRPC
stubs are generated from proto/ by generate_stubs.sh (protoc 3.21 with Debian's
grpc_python_plugin); they are not committed. `load_stubs` finds them:

  1. the directory in $AGNX_PYTHON_STUBS (or passed as `stubs_dir`), as made by
     `examples/python/generate_stubs.sh DIR`;
  2. otherwise a cache directory (${XDG_CACHE_HOME:-~/.cache}/agnx/python-stubs/HASH, HASH
     of the proto file and the protoc version), generated there on first use.

Usage, from a training script:

    from agnx_client import Client

    with Client("127.0.0.1:50051", token=None) as agnx:
        submitted = agnx.submit_matching("lenet", "model.pt", "calib.npy", lambda_=0.5,
                                         library="evoapprox", test_x="test_x.npy",
                                         test_y="test_y.npy")
        agnx.log_param(submitted.run_id, "train.epochs", 3)
        agnx.log_metric(submitted.run_id, "train.float_top1", 0.90)
        for progress in agnx.watch(submitted.job_id):
            print(progress.stage, progress.percent)
        result, result_json = agnx.result(submitted.run_id)
        for layer in result.info.layers:
            print(layer.name, layer.multiplier_name)

A sweep (search -> match -> retrain -> evaluate per lambda, on the server):

        submitted = agnx.submit_training("lenet", "sweep", "train_x.npy", "train_y.npy",
                                         model_path="float.pt", calib_path="calib.npy",
                                         lambdas=[0.25, 0.5, 1, 2], test_x="test_x.npy",
                                         test_y="test_y.npy", search_epochs=1, retrain_epochs=1)
        for progress in agnx.watch(submitted.job_id):
            print(progress.point, progress.points, progress.stage, progress.epoch, progress.step)
        sweep, sweep_json = agnx.get_sweep(submitted.run_id)
        for i in sweep.pareto:
            point = sweep.points[i]
            print(getattr(point, "lambda"), point.relative_energy, point.top1.retrained)

Errors of the server (and of unreadable input files) raise `AgnxError`, whose `code` is
the gRPC status name (e.g. "NOT_FOUND") and whose `message` is the server's message.
"""

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types

import grpc

CHUNK_SIZE = 1 << 20  # uploads go in 1 MiB messages, like the C++ client's
MAX_RECEIVE_BYTES = 64 << 20  # a MatchingResult with every candidate can exceed gRPC's 4 MiB
DEFAULT_ADDRESS = "127.0.0.1:50051"

_HERE = os.path.dirname(os.path.abspath(__file__))
_PROTO = os.path.join(_HERE, "..", "..", "proto", "agnapprox", "v1", "agnx.proto")
_GENERATE = os.path.join(_HERE, "generate_stubs.sh")

pb = None  # agnapprox.v1.agnx_pb2 once load_stubs ran
pb_grpc = None  # agnapprox.v1.agnx_pb2_grpc


class AgnxError(Exception):
    """A failed call: `code` is the gRPC status name, `message` the server's message."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @classmethod
    def from_rpc(cls, error):
        code = error.code() if hasattr(error, "code") else None
        name = code.name if code is not None else "UNKNOWN"
        details = error.details() if hasattr(error, "details") else str(error)
        return cls(name, details or str(error))


def _cache_dir():
    try:
        protoc = subprocess.run(["protoc", "--version"], capture_output=True, text=True,
                                check=False).stdout.strip()
    except OSError:
        protoc = ""
    with open(_PROTO, "rb") as f:
        digest = hashlib.sha256(f.read() + protoc.encode()).hexdigest()[:16]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "agnx", "python-stubs", digest)


def _generate(out_dir):
    """Runs generate_stubs.sh into a temporary sibling of out_dir, then renames it into place."""
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
    done = subprocess.run([_GENERATE, tmp], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise AgnxError("FAILED_PRECONDITION",
                        f"cannot generate the gRPC stubs with {_GENERATE}: {done.stderr.strip()}")
    try:
        os.rename(tmp, out_dir)
    except OSError:  # another process got there first: use its copy
        shutil.rmtree(tmp, ignore_errors=True)


def _load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_stubs(stubs_dir=None):
    """Imports the generated modules (see the module comment for where they are looked for)
    and returns (agnx_pb2, agnx_pb2_grpc).

    They are loaded from their files rather than through sys.path, so that an installed
    `agnapprox` package (the upstream Python library) does not hide the stubs' `agnapprox.v1`.
    """
    global pb, pb_grpc
    if pb is not None:
        return pb, pb_grpc
    stubs_dir = stubs_dir or os.environ.get("AGNX_PYTHON_STUBS")
    if not stubs_dir:
        if not os.path.exists(_PROTO):
            raise AgnxError("FAILED_PRECONDITION",
                            f"no proto file at {_PROTO}: run generate_stubs.sh DIR from an agnx "
                            "checkout and set AGNX_PYTHON_STUBS=DIR")
        stubs_dir = _cache_dir()
        if not os.path.exists(os.path.join(stubs_dir, "agnapprox", "v1", "agnx_pb2_grpc.py")):
            _generate(stubs_dir)
    package_dir = os.path.join(stubs_dir, "agnapprox", "v1")
    if not os.path.exists(os.path.join(package_dir, "agnx_pb2_grpc.py")):
        raise AgnxError("FAILED_PRECONDITION",
                        f"no agnapprox/v1/agnx_pb2_grpc.py under {stubs_dir}: "
                        f"run {_GENERATE} {stubs_dir}")
    if "agnapprox.v1" not in sys.modules:  # the package the generated code imports from
        package = types.ModuleType("agnapprox.v1")
        package.__path__ = [package_dir]
        sys.modules["agnapprox.v1"] = package
    package = sys.modules["agnapprox.v1"]
    pb = _load_module("agnapprox.v1.agnx_pb2", os.path.join(package_dir, "agnx_pb2.py"))
    package.agnx_pb2 = pb
    pb_grpc = _load_module("agnapprox.v1.agnx_pb2_grpc", os.path.join(package_dir, "agnx_pb2_grpc.py"))
    package.agnx_pb2_grpc = pb_grpc
    return pb, pb_grpc


def _read_chunks(path):
    with open(path, "rb") as f:
        while True:
            chunk = f.read(CHUNK_SIZE)
            if not chunk:
                return
            yield chunk


class Client:
    """A connection to agnx-server. Thread-safe (gRPC channels are); use as a context manager
    or call close().

    address   host:port (default $AGNX_SERVER, else 127.0.0.1:50051)
    token     bearer token sent as `authorization: Bearer TOKEN` (default $AGNX_TOKEN)
    timeout   seconds per unary call and per upload (None: no deadline); watch() has none
    tls       use TLS, with the CA certificates in the PEM file ca_file (None: system roots)
    """

    def __init__(self, address=None, token=None, timeout=60.0, tls=False, ca_file=None,
                 stubs_dir=None):
        load_stubs(stubs_dir)
        self.address = address or os.environ.get("AGNX_SERVER") or DEFAULT_ADDRESS
        token = token if token is not None else os.environ.get("AGNX_TOKEN", "")
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout = timeout
        options = [("grpc.max_receive_message_length", MAX_RECEIVE_BYTES)]
        if tls:
            root = None
            if ca_file:
                with open(ca_file, "rb") as f:
                    root = f.read()
            credentials = grpc.ssl_channel_credentials(root_certificates=root)
            self._channel = grpc.secure_channel(self.address, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(self.address, options=options)
        self.tracking = pb_grpc.TrackingStub(self._channel)
        self.matching = pb_grpc.MatchingStub(self._channel)
        self.multipliers = pb_grpc.MultipliersStub(self._channel)
        self.training = pb_grpc.TrainingStub(self._channel)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request, timeout="default"):
        try:
            return method(request, metadata=self._metadata,
                          timeout=self.timeout if timeout == "default" else timeout)
        except grpc.RpcError as e:
            raise AgnxError.from_rpc(e) from None

    # ------------------------------------------------------------ tracking

    def get_or_create_experiment(self, name):
        """The experiment named `name`, created if it does not exist (an Experiment message)."""
        try:
            return self._call(self.tracking.GetExperimentByName, pb.GetExperimentByNameRequest(name=name))
        except AgnxError as e:
            if e.code != "NOT_FOUND":
                raise
        try:
            return self._call(self.tracking.CreateExperiment, pb.CreateExperimentRequest(name=name))
        except AgnxError as e:
            if e.code != "ALREADY_EXISTS":  # created meanwhile by someone else
                raise
            return self._call(self.tracking.GetExperimentByName, pb.GetExperimentByNameRequest(name=name))

    def create_run(self, experiment_id, run_name=""):
        """A new RUNNING run (a Run message); finish it with update_run(run_id, "FINISHED")."""
        return self._call(self.tracking.CreateRun,
                          pb.CreateRunRequest(experiment_id=experiment_id, run_name=run_name))

    def update_run(self, run_id, status):
        """Sets a run's status: RUNNING, FINISHED, FAILED or KILLED."""
        return self._call(self.tracking.UpdateRun, pb.UpdateRunRequest(run_id=run_id, status=status))

    def get_run(self, run_id):
        """The Run: info, params, tags and the latest value of each metric."""
        return self._call(self.tracking.GetRun, pb.GetRunRequest(run_id=run_id))

    def log_param(self, run_id, key, value):
        """Logs a param (immutable: logging a different value for a key fails)."""
        self._call(self.tracking.LogParam, pb.LogParamRequest(run_id=run_id, key=key, value=str(value)))

    def log_metric(self, run_id, key, value, step=0, timestamp_ms=0):
        """Appends a value to a metric's history (timestamp 0: the server's time)."""
        metric = pb.Metric(key=key, value=float(value), step=step, timestamp=timestamp_ms)
        self._call(self.tracking.LogMetric, pb.LogMetricRequest(run_id=run_id, metric=metric))

    def set_tag(self, run_id, key, value):
        self._call(self.tracking.SetTag, pb.SetTagRequest(run_id=run_id, key=key, value=str(value)))

    def log_batch(self, run_id, params=None, metrics=None, tags=None, step=0):
        """Logs dicts of params, metrics (key -> value) and tags in one call."""
        request = pb.LogBatchRequest(run_id=run_id)
        for key, value in (params or {}).items():
            request.params[key] = str(value)
        for key, value in (tags or {}).items():
            request.tags[key] = str(value)
        for key, value in (metrics or {}).items():
            request.metrics.append(pb.Metric(key=key, value=float(value), step=step))
        self._call(self.tracking.LogBatch, request)

    def metric_history(self, run_id, key):
        """Every logged value of a metric (Metric messages)."""
        return list(self._call(self.tracking.GetMetricHistory,
                               pb.GetMetricHistoryRequest(run_id=run_id, key=key)).metrics)

    # ------------------------------------------------------------ matching

    def submit_matching(self, experiment, model_path, calib_path, lambda_, sigma=None,
                        library="builtin", samples=512, seed=0, test_x=None, test_y=None,
                        run_name="", pin_exact=(), idempotency_key=""):
        """Uploads a model snapshot and its calibration data (and optionally test inputs and
        labels) in 1 MiB chunks and queues a matching job. Returns the SubmitMatchingResponse
        (run_id, job_id) once the inputs and the job are durable.

        experiment       experiment name (created by the server if it does not exist)
        model_path       TorchScript model whose conv/linear layers carry `stdev` buffers
        calib_path       calibration inputs (.npy or torch.save'd tensor)
        lambda_          the AGN lambda the model was trained with (recorded with the run)
        sigma            {layer: sigma} overriding the model's stdev buffers
        library          multiplier library ("builtin", or one the server offers)
        samples, seed    the sample population of the error prediction
        test_x, test_y   test inputs and int64 labels: the result then has accuracies
        pin_exact        layers that must use an exact multiplier
        idempotency_key  a retry with the same key returns the first job
        """
        if (test_x is None) != (test_y is None):
            raise AgnxError("INVALID_ARGUMENT", "test_x and test_y go together")
        files = [("model", model_path), ("calibration", calib_path)]
        if test_x is not None:
            files += [("test_x", test_x), ("test_y", test_y)]
        for field, path in files:  # fail before opening the stream
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                raise AgnxError("INVALID_ARGUMENT", f"{field}: cannot read {path}")
        header = pb.MatchingHeader(experiment=experiment, run_name=run_name, library=library or "",
                                   num_samples=samples or 0, seed=seed or 0,
                                   pin_exact=list(pin_exact), idempotency_key=idempotency_key,
                                   sigma=dict(sigma or {}))
        setattr(header, "lambda", float(lambda_))  # `lambda` is a Python keyword

        def requests():
            yield pb.SubmitMatchingRequest(header=header)
            for field, path in files:
                for chunk in _read_chunks(path):
                    yield pb.SubmitMatchingRequest(**{field: chunk})

        return self._call(self.matching.SubmitMatching, requests())

    def watch(self, job_id):
        """Yields the job's JobProgress messages until the one with `final` set, which is
        yielded too. Fields: job_id, state, stage, step and steps (within the stage), percent
        (of the whole job), message, final; training stages ("search", "retrain") also set
        epoch and epochs (step/steps then count the stage's batches over all its epochs), and
        a sweep sets point and points (lambda `point`, from 1, of `points`; 0 outside a
        lambda). Works for every kind of job: matching, search, retrain, sweep."""
        stream = self.matching.WatchJob(pb.GetJobRequest(job_id=job_id), metadata=self._metadata)
        try:
            for progress in stream:
                yield progress
                if progress.final:
                    return
        except grpc.RpcError as e:
            raise AgnxError.from_rpc(e) from None
        finally:
            stream.cancel()
        raise AgnxError("UNAVAILABLE", f"job {job_id}: the progress stream ended before the job did")

    def wait(self, job_id, on_progress=None):
        """Watches a job to its end, calling on_progress(JobProgress) for each message;
        returns the final JobProgress."""
        last = None
        for last in self.watch(job_id):
            if on_progress:
                on_progress(last)
        return last

    def get_job(self, job_id):
        """The Job: kind ("matching", "search", "retrain", "sweep"), run_id, state (QUEUED,
        RUNNING, SUCCEEDED, FAILED, CANCELLED), attempts, progress (0..1), error."""
        return self._call(self.matching.GetJob, pb.GetJobRequest(job_id=job_id))

    def cancel_job(self, job_id):
        """Cancels a job (a training job stops at its next batch); returns the Job."""
        return self._call(self.matching.CancelJob, pb.GetJobRequest(job_id=job_id))

    def result(self, run_id):
        """The run's MatchingResult message and its `json` field parsed: the full MatchingInfo
        with agnapprox's gs_results.json field names (layers with every candidate, ...)."""
        result = self._call(self.matching.GetMatchingResult, pb.GetMatchingResultRequest(run_id=run_id))
        return result, json.loads(result.json)

    def query_energy(self, experiment):
        """The experiment's EnergyPoint messages (lambda, relative energy, accuracies, pareto)."""
        return list(self._call(self.matching.QueryEnergy, pb.QueryEnergyRequest(experiment=experiment)).points)

    # ------------------------------------------------------------ training

    def submit_training(self, experiment, kind, train_x, train_y, model_path=None, calib_path=None,
                        lambdas=(), test_x=None, test_y=None, library="", source_run="",
                        search_epochs=None, retrain_epochs=None, sigma_max=None, samples=None,
                        seed=0, run_name="", idempotency_key=""):
        """Uploads a training job's inputs in 1 MiB chunks (model, training inputs and labels,
        calibration, then test inputs and labels) and queues it. Returns the
        SubmitMatchingResponse (run_id, job_id) once the inputs and the job are durable; the
        server first loads the model and the training data in a worker, so a model or data that
        cannot train is refused here (INVALID_ARGUMENT) rather than by a failed job.

        experiment       experiment name (created by the server if it does not exist)
        kind             "search" (AGN gradient search at one lambda), "retrain" (approximate
                         retraining of the matched run `source_run`) or "sweep" (search ->
                         match -> retrain -> evaluate per lambda, one child run each)
        train_x, train_y training inputs (float .npy or torch.save'd tensor, [N, ...]) and
                         integer labels [N]
        model_path       float TorchScript model (search, sweep; retrain uses the source run's)
        calib_path       calibration inputs (sweep: it matches)
        lambdas          search: one; sweep: 1-64; retrain: none
        test_x, test_y   test inputs and labels: accuracies (a sweep's retrained top-1)
        library          multiplier library ("": builtin; retrain: the source run's)
        search_epochs, retrain_epochs, sigma_max, samples
                         None: the server's defaults (1, 3, 0.5, 512)
        seed             training and sampling seed
        idempotency_key  a retry with the same key returns the first job
        """
        if (test_x is None) != (test_y is None):
            raise AgnxError("INVALID_ARGUMENT", "test_x and test_y go together")
        files = [("model", model_path), ("train_x", train_x), ("train_y", train_y),
                 ("calibration", calib_path), ("test_x", test_x), ("test_y", test_y)]
        files = [(field, path) for field, path in files if path is not None]
        for field, path in files:  # fail before opening the stream
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                raise AgnxError("INVALID_ARGUMENT", f"{field}: cannot read {path}")
        header = pb.TrainingHeader(kind=kind, experiment=experiment, run_name=run_name,
                                   lambdas=[float(l) for l in lambdas], library=library or "",
                                   source_run=source_run or "", seed=seed or 0,
                                   idempotency_key=idempotency_key)
        # proto3 `optional` fields: left unset, the server uses its defaults.
        for field, value in [("search_epochs", search_epochs), ("retrain_epochs", retrain_epochs),
                             ("sigma_max", sigma_max), ("num_samples", samples)]:
            if value is not None:
                setattr(header, field, value)

        def requests():
            yield pb.SubmitTrainingRequest(header=header)
            for field, path in files:
                for chunk in _read_chunks(path):
                    yield pb.SubmitTrainingRequest(**{field: chunk})

        return self._call(self.training.SubmitTraining, requests())

    def get_sweep(self, run_id):
        """A sweep run's finished points and Pareto front: the Sweep message (points with
        lambda, run_id of the child run, sigma per layer, relative_energy, top1.float /
        quantized / approximate / retrained; pareto: indices into points, relative energy
        against retrained top-1) and its `json` field parsed ({"run_id", "points", "pareto"};
        a point's "top1" holds only the accuracies it has). Works while the sweep runs (the
        points so far); a run that is not a sweep is INVALID_ARGUMENT."""
        sweep = self._call(self.training.GetSweep, pb.GetSweepRequest(run_id=run_id))
        return sweep, json.loads(sweep.json)

    # ------------------------------------------------------------ multipliers

    def list_libraries(self):
        """The Library messages the server offers (name, metric, size, metric_max, builtin)."""
        return list(self._call(self.multipliers.ListLibraries, pb.ListLibrariesRequest()).libraries)
