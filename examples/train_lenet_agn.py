#!/usr/bin/python3
"""Train LeNet5 on Fashion-MNIST, learn per-layer noise tolerance (sigma) by AGN
gradient search, and export what agnx needs: a TorchScript model whose conv/linear
layers carry a `stdev` buffer, calibration data and test data.

Run with Debian's /usr/bin/python3 (python3-torch 1.13, CPU; python3-numpy). Data comes
from Debian's dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist, IDX
gzip files); nothing is downloaded.

Phases
  1. Float training: LeNet5 (layers conv1.0, conv2.0, linear1, linear2, linear3; the
     architecture, parameters and buffers of ../shared/models/lenet5_fmnist_stdev.pt), Adam,
     batch 256, learning rate 3e-3 with cosine decay to 0 over --epochs epochs.
  2. AGN gradient search (../shared/spec/matching.md): during training each conv/linear
     output y becomes  y + N(0, 1) * std(y) * |s_l|  (forward hook; std over the whole
     batch output, detached, so the noise scale does not push the weights), and the loss is
        cross_entropy - lambda * sum_l (opcount_l / total_opcount) * min(|s_l|, sigma_max).
     Weights keep training (Adam, lr 5e-4) together with the s_l (Adam, lr 1e-2) for
     --agn-epochs epochs, both with cosine decay so s_l settles.
     Choices: sigma_max = 0.5 (past it the regulariser stops rewarding more noise),
     initial s_l = 0.1 for every layer.
     The batch-norm running statistics gathered under noise would be too wide for the
     noise-free model, so afterwards they are recomputed without noise (a no-grad
     forward pass over the first 10000 training images, cumulative average).
  3. Export the plain architecture (hooks removed, no noise in the graph) with a float
     0-d buffer `stdev` = |s_l| registered on each conv/linear submodule.

opcount of a layer, for one input sample: conv  C_out * H_out * W_out * C_in/groups * kh * kw,
linear  in_features * out_features.

Outputs in --out DIR
  model.pt      torch.jit.save(torch.jit.script(model.eval())): scripted, not frozen/traced
  calib.pt      torch.save of float32 [256,1,28,28]: the first 256 training images, normalized
  calib.npy     the same tensor, numpy.save
  test_x.npy    float32 [2000,1,28,28]: the first 2000 test images, normalized
  test_y.npy    int64 [2000]: their labels
  summary.json  lambda, sigma and opcount per layer, float top-1 (full test set and the
                2000 exported images) of the exported model, seed, training seconds, ...

Normalization: (pixel / 255 - 0.2860) / 0.3530.
Speed: OMP_WAIT_POLICY=PASSIVE unless set (idle OpenMP threads sleep rather than spin;
2-3x faster when the 2 cores are shared, same results).
Determinism: torch and numpy seeded with --seed, torch.use_deterministic_algorithms(True),
a fixed thread count; shuffling uses a seeded torch.Generator.
"""

import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

DATA_DIR_DEFAULT = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530
N_CALIB, N_TEST_EXPORT = 256, 2000
SIGMA_MAX = 0.5
SIGMA_INIT = 0.1
BATCH = 256
LR_FLOAT, LR_AGN_WEIGHTS, LR_AGN_SIGMA = 3e-3, 5e-4, 1e-2
BN_RECALIB_IMAGES = 10000


def parse_args(argv):
    p = argparse.ArgumentParser(
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train LeNet5 on Fashion-MNIST, learn per-layer sigma by AGN gradient "
        "search and export model.pt (with `stdev` buffers), calib.pt/.npy, test_x.npy, "
        "test_y.npy and summary.json for agnx. Run with /usr/bin/python3 (Debian's "
        "python3-torch).",
        epilog="""outputs in DIR:
  model.pt      TorchScript (scripted) LeNet5; conv1.0 conv2.0 linear1 linear2 linear3
                each carry a 0-d float buffer `stdev` = the learned sigma
  calib.pt      float32 [256,1,28,28] normalized training images (torch.save)
  calib.npy     the same, numpy
  test_x.npy    float32 [2000,1,28,28] first 2000 test images, normalized
  test_y.npy    int64 [2000] their labels
  summary.json  lambda, sigma, opcount, float top-1, seed, training seconds

defaults take about 1 minute on 2 idle cores (3 float epochs + 1 AGN epoch).
example: examples/train_lenet_agn.py --out /tmp/lenet --lambda 0.5""")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output directory (created if missing; files in it are overwritten)")
    p.add_argument("--lambda", dest="lam", type=float, default=0.5, metavar="L",
                   help="AGN regularisation weight: larger learns larger sigma "
                   "(more tolerated noise, cheaper multipliers, lower accuracy) (default 0.5)")
    p.add_argument("--epochs", type=int, default=3, metavar="N",
                   help="float training epochs (default 3)")
    p.add_argument("--agn-epochs", type=int, default=1, metavar="N",
                   help="AGN gradient search epochs (default 1)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--threads", type=int, default=2, metavar="N",
                   help="torch intra-op threads (default 2)")
    p.add_argument("--train-limit", type=int, default=0, metavar="N",
                   help="use only the first N training images (0 = all 60000; for quick tests)")
    p.add_argument("--data-dir", default=DATA_DIR_DEFAULT, metavar="DIR",
                   help="Fashion-MNIST IDX .gz files (default %(default)s, from Debian's "
                   "dataset-fashion-mnist package)")
    a = p.parse_args(argv)
    if a.epochs < 1 or a.agn_epochs < 1:
        p.error("--epochs and --agn-epochs must be at least 1")
    if a.threads < 1:
        p.error("--threads must be at least 1")
    if a.train_limit < 0:
        p.error("--train-limit must be 0 (all) or positive")
    if a.lam < 0 or not math.isfinite(a.lam):
        p.error("--lambda must be a finite number >= 0")
    return a


def die(msg):
    print(f"train_lenet_agn: error: {msg}", file=sys.stderr)
    sys.exit(1)


# Idle OpenMP threads sleep instead of spinning: on 2 cores shared with other processes
# (the demo's server, builds) spinning threads made training 2-3x slower; results are
# unchanged. Must be set before torch loads libgomp; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover - depends on the interpreter
    die(f"{e}. Run this script with Debian's /usr/bin/python3 and install python3-torch and "
        f"python3-numpy (apt-get install -y python3-torch python3-numpy; "
        f"scripts/setup.sh does it).")


# ---------------------------------------------------------------- data

def read_idx(path, kind):
    """Reads an IDX gzip file: kind 'images' -> uint8 [N,28,28], 'labels' -> uint8 [N]."""
    if not os.path.isfile(path):
        die(f"{path} is missing. Install Debian's dataset-fashion-mnist package "
            f"(apt-get install -y dataset-fashion-mnist; scripts/setup.sh does it) or pass "
            f"--data-dir.")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        die(f"cannot read {path}: {e}")
    want_magic, ndim = (2051, 3) if kind == "images" else (2049, 1)
    if len(raw) < 4 + 4 * ndim:
        die(f"{path}: truncated IDX header")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != want_magic:
        die(f"{path}: IDX magic {magic}, expected {want_magic} ({kind})")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        die(f"{path}: {data.size} bytes of data, header says {dims}")
    return data.reshape(dims)


def load_split(data_dir, prefix):
    x = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"), "images")
    y = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"), "labels")
    if len(x) != len(y):
        die(f"{data_dir}: {prefix} has {len(x)} images but {len(y)} labels")
    xt = torch.from_numpy(x.astype(np.float32) / 255.0).sub_(MEAN).div_(STD).unsqueeze(1)
    yt = torch.from_numpy(y.astype(np.int64))
    return xt.contiguous(), yt


# ---------------------------------------------------------------- model

class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2, bias=False), nn.BatchNorm2d(6),
                                   nn.ReLU(), nn.MaxPool2d(2))
        self.conv2 = nn.Sequential(nn.Conv2d(6, 16, 5, bias=False), nn.BatchNorm2d(16),
                                   nn.ReLU(), nn.MaxPool2d(2))
        # No bias where batch norm follows (it would cancel), as in the reference snapshot
        # ../shared/models/lenet5_fmnist_stdev.pt.
        self.linear1 = nn.Linear(400, 120, bias=False)
        self.bn1 = nn.BatchNorm1d(120)
        self.linear2 = nn.Linear(120, 84, bias=False)
        self.bn2 = nn.BatchNorm1d(84)
        self.linear3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.conv1(x))
        x = torch.reshape(x, [x.size(0), -1])
        x = F.relu(self.bn1(self.linear1(x)))
        x = F.relu(self.bn2(self.linear2(x)))
        return self.linear3(x)


def approx_layers(model):
    """(name, module) of every conv/linear, in execution order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def opcounts(model):
    """Multiplications per layer for one input sample."""
    shapes = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: shapes.__setitem__(n, o.shape))
             for n, m in approx_layers(model)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    model.train(was_training)
    for h in hooks:
        h.remove()
    ops = {}
    for n, m in approx_layers(model):
        if isinstance(m, nn.Conv2d):
            _, c_out, h_out, w_out = shapes[n]
            kh, kw = m.kernel_size
            ops[n] = c_out * h_out * w_out * (m.in_channels // m.groups) * kh * kw
        else:
            ops[n] = m.in_features * m.out_features
    return ops


# ---------------------------------------------------------------- training

def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def cosine(step, total, base):
    return base * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))


def run_epochs(tag, model, opt_groups, x, y, epochs, gen, t0, extra_loss=None, on_epoch=None):
    """Shared loop: shuffled batches, cosine-decayed learning rates, progress lines."""
    opt = torch.optim.Adam([g for g in opt_groups])
    base_lrs = [g["lr"] for g in opt_groups]
    steps_per_epoch = math.ceil(len(x) / BATCH)
    total = epochs * steps_per_epoch
    step = 0
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        loss_sum, ce_sum, correct, seen = 0.0, 0.0, 0, 0
        for i in range(0, len(x), BATCH):
            idx = perm[i:i + BATCH]
            if len(idx) < 2:  # BatchNorm1d needs more than one sample
                continue
            for g, lr in zip(opt.param_groups, base_lrs):
                g["lr"] = cosine(step, total, lr)
            out = model(x[idx])
            ce = F.cross_entropy(out, y[idx])
            loss = ce + (extra_loss() if extra_loss is not None else 0.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            n = len(idx)
            loss_sum += loss.item() * n
            ce_sum += ce.item() * n
            correct += (out.argmax(1) == y[idx]).sum().item()
            seen += n
        line = (f"[{tag}] epoch {epoch}/{epochs}  loss {loss_sum / seen:.4f}  "
                f"ce {ce_sum / seen:.4f}  train acc {correct / seen:.4f}")
        if on_epoch is not None:
            line += on_epoch()
        print(f"{line}  elapsed {time.time() - t0:.1f}s", flush=True)


def agn_search(model, x, y, lam, epochs, gen, t0):
    """Learns s_l per conv/linear layer; returns {name: |s_l|}."""
    layers = approx_layers(model)
    ops = opcounts(model)
    total_ops = float(sum(ops.values()))
    s = {n: nn.Parameter(torch.tensor(SIGMA_INIT)) for n, _ in layers}

    def noise_hook(name):
        def hook(mod, inp, out):
            if not mod.training:
                return out
            return out + torch.randn_like(out) * out.detach().std() * s[name].abs()
        return hook

    hooks = [m.register_forward_hook(noise_hook(n)) for n, m in layers]

    def reg():
        return -lam * sum((ops[n] / total_ops) * torch.clamp(s[n].abs(), max=SIGMA_MAX)
                          for n, _ in layers)

    def show():
        return "  sigma " + " ".join(f"{n}={s[n].abs().item():.4f}" for n, _ in layers)

    try:
        run_epochs("agn", model,
                   [{"params": list(model.parameters()), "lr": LR_AGN_WEIGHTS},
                    {"params": list(s.values()), "lr": LR_AGN_SIGMA}],
                   x, y, epochs, gen, t0, extra_loss=reg, on_epoch=show)
    finally:
        for h in hooks:
            h.remove()
    return {n: float(s[n].detach().abs()) for n, _ in layers}, ops


# ---------------------------------------------------------------- main

def recalibrate_batchnorm(model, x, batch=500):
    """Recomputes BatchNorm running mean/var from x (no noise, no gradient)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over all batches
    model.train()
    with torch.no_grad():
        for i in range(0, len(x), batch):
            if len(x[i:i + batch]) > 1:
                model(x[i:i + batch])
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.eval()


def main(argv):
    args = parse_args(argv)
    t_start = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(args.seed)

    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        die(f"cannot create output directory {args.out}: {e}")

    x_train, y_train = load_split(args.data_dir, "train")
    x_test, y_test = load_split(args.data_dir, "t10k")
    if args.train_limit:
        x_train, y_train = x_train[:args.train_limit], y_train[:args.train_limit]
    if len(x_train) < N_CALIB:
        die(f"need at least {N_CALIB} training images for calibration, have {len(x_train)}")
    print(f"data: {len(x_train)} train, {len(x_test)} test images from {args.data_dir} "
          f"({time.time() - t_start:.1f}s)", flush=True)

    model = LeNet5()
    t_train = time.time()
    test_acc = lambda: f"  test acc {evaluate(model, x_test, y_test):.4f}"
    run_epochs("float", model, [{"params": list(model.parameters()), "lr": LR_FLOAT}],
               x_train, y_train, args.epochs, gen, t_train, on_epoch=test_acc)
    float_before_agn = evaluate(model, x_test, y_test)

    sigma, ops = agn_search(model, x_train, y_train, args.lam, args.agn_epochs, gen, t_train)
    recalibrate_batchnorm(model, x_train[:BN_RECALIB_IMAGES])
    train_seconds = time.time() - t_train

    for name, m in approx_layers(model):
        m.register_buffer("stdev", torch.tensor(sigma[name], dtype=torch.float32))
    model.eval()
    top1 = evaluate(model, x_test, y_test)
    top1_export = evaluate(model, x_test[:N_TEST_EXPORT], y_test[:N_TEST_EXPORT])

    calib = x_train[:N_CALIB].clone()
    test_x = x_test[:N_TEST_EXPORT].numpy().astype(np.float32)
    test_y = y_test[:N_TEST_EXPORT].numpy().astype(np.int64)
    try:
        torch.jit.save(torch.jit.script(model), os.path.join(args.out, "model.pt"))
        torch.save(calib, os.path.join(args.out, "calib.pt"))
        np.save(os.path.join(args.out, "calib.npy"), calib.numpy())
        np.save(os.path.join(args.out, "test_x.npy"), test_x)
        np.save(os.path.join(args.out, "test_y.npy"), test_y)
        summary = {
            "model": "lenet5_fmnist",
            "layers": [n for n, _ in approx_layers(model)],
            "lambda": args.lam,
            "sigma": sigma,
            "opcount": ops,
            "float_top1_test": top1,
            "float_top1_test_2000": top1_export,
            "float_top1_test_before_agn": float_before_agn,
            "seed": args.seed,
            "epochs": args.epochs,
            "agn_epochs": args.agn_epochs,
            "train_images": len(x_train),
            "threads": args.threads,
            "sigma_max": SIGMA_MAX,
            "sigma_init": SIGMA_INIT,
            "train_seconds": round(train_seconds, 1),
            "total_seconds": round(time.time() - t_start, 1),
        }
        with open(os.path.join(args.out, "summary.json"), "w") as f:
            json.dump(summary, f, indent=2)
            f.write("\n")
    except (OSError, RuntimeError) as e:
        die(f"cannot write outputs to {args.out}: {e}")

    print(f"float top-1 (10000 test images): {top1:.4f} (before AGN {float_before_agn:.4f}); "
          f"first {N_TEST_EXPORT}: {top1_export:.4f}")
    print("sigma: " + ", ".join(f"{n} {v:.4f}" for n, v in sigma.items()))
    print(f"wrote model.pt calib.pt calib.npy test_x.npy test_y.npy summary.json to {args.out} "
          f"(training {train_seconds:.1f}s, total {time.time() - t_start:.1f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
