#!/usr/bin/env bash
# Runs examples/train_lenet_agn.py with a tiny budget and checks what it exports:
# model.pt loads and carries a positive 0-d float `stdev` buffer on each of its five
# conv/linear layers, the data files have the right shapes and dtypes, summary.json
# has its fields. Usage: train_lenet_agn_test.sh [PROJECT_SOURCE_DIR]. ~15-30 s.
set -euo pipefail

src=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
py=/usr/bin/python3
if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
  echo "FAIL: $py cannot import torch and numpy; install python3-torch python3-numpy (scripts/setup.sh)" >&2
  exit 1
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Usage errors are reported, not raised as tracebacks.
if "$src/examples/train_lenet_agn.py" --epochs 1 >"$out/usage.txt" 2>&1; then
  echo "FAIL: missing --out was accepted" >&2
  exit 1
fi
grep -q -- "--out" "$out/usage.txt" || { echo "FAIL: no usage message naming --out" >&2; exit 1; }
if "$src/examples/train_lenet_agn.py" --out "$out/x" --data-dir "$out/nowhere" >"$out/missing.txt" 2>&1; then
  echo "FAIL: a missing data directory was accepted" >&2
  exit 1
fi
grep -q "dataset-fashion-mnist" "$out/missing.txt" || {
  echo "FAIL: missing data does not name the package to install:" >&2; cat "$out/missing.txt" >&2; exit 1; }

"$src/examples/train_lenet_agn.py" --out "$out/run" --epochs 1 --agn-epochs 1 \
  --train-limit 3000 --seed 1 --lambda 0.5

shared=${AGNX_SHARED_DIR:-$src/../shared}
"$py" - "$out/run" "$shared/models/lenet5_fmnist_stdev.pt" <<'EOF'
import json, os, sys
import numpy as np
import torch

d = sys.argv[1]
layers = ["conv1.0", "conv2.0", "linear1", "linear2", "linear3"]
failures = []

def check(cond, what):
    if not cond:
        failures.append(what)

m = torch.jit.load(os.path.join(d, "model.pt"))
mods = dict(m.named_modules())
for name in layers:
    check(name in mods, f"model.pt has no submodule {name}")
    if name not in mods:
        continue
    bufs = dict(mods[name].named_buffers())
    s = bufs.get("stdev")
    check(s is not None, f"{name} has no stdev buffer")
    if s is not None:
        check(s.dim() == 0 and s.dtype == torch.float32, f"{name}.stdev is {s.dtype} {tuple(s.shape)}")
        check(float(s) > 0, f"{name}.stdev = {float(s)} is not positive")
stdev_layers = [n for n, mod in mods.items() if "stdev" in dict(mod.named_buffers(recurse=False))]
check(stdev_layers == layers, f"layers with stdev: {stdev_layers}")
check("aten::randn" not in str(m.inlined_graph), "model.pt still adds noise")
ref_path = sys.argv[2]
if os.path.isfile(ref_path):  # same parameters and buffers as the reference snapshot
    ref = torch.jit.load(ref_path)
    mine = [(k, tuple(v.shape)) for k, v in m.state_dict().items()]
    theirs = [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    check(mine == theirs, f"state dict differs from {ref_path}: {mine} vs {theirs}")
else:
    print(f"note: {ref_path} absent, not compared with the reference snapshot")

calib_pt = torch.load(os.path.join(d, "calib.pt"))
calib_np = np.load(os.path.join(d, "calib.npy"))
test_x = np.load(os.path.join(d, "test_x.npy"))
test_y = np.load(os.path.join(d, "test_y.npy"))
check(isinstance(calib_pt, torch.Tensor) and calib_pt.dtype == torch.float32
      and tuple(calib_pt.shape) == (256, 1, 28, 28), "calib.pt is not float32 [256,1,28,28]")
check(calib_np.dtype == np.float32 and calib_np.shape == (256, 1, 28, 28), "calib.npy shape/dtype")
check(np.array_equal(calib_np, calib_pt.numpy()), "calib.npy differs from calib.pt")
check(test_x.dtype == np.float32 and test_x.shape == (2000, 1, 28, 28), "test_x.npy shape/dtype")
check(test_y.dtype == np.int64 and test_y.shape == (2000,), "test_y.npy shape/dtype")
check(test_y.min() >= 0 and test_y.max() <= 9, "test_y.npy labels outside 0..9")
check(abs(float(calib_np.mean()) - 0.0) < 0.2 and abs(float(calib_np.std()) - 1.0) < 0.2,
      f"calib not normalized: mean {calib_np.mean():.3f} std {calib_np.std():.3f}")

with torch.no_grad():
    out = m(torch.from_numpy(test_x[:500]))
check(tuple(out.shape) == (500, 10), f"model output shape {tuple(out.shape)}")
acc = (out.argmax(1).numpy() == test_y[:500]).mean()
check(acc > 0.5, f"top-1 on 500 test images is {acc:.3f}")

s = json.load(open(os.path.join(d, "summary.json")))
for key in ["lambda", "sigma", "opcount", "float_top1_test", "seed", "train_seconds", "layers"]:
    check(key in s, f"summary.json has no {key}")
if not failures:
    check(s["lambda"] == 0.5 and s["seed"] == 1, "summary.json lambda/seed")
    check(s["layers"] == layers and sorted(s["sigma"]) == sorted(layers), "summary.json layers")
    check(s["opcount"] == {"conv1.0": 117600, "conv2.0": 240000, "linear1": 48000,
                           "linear2": 10080, "linear3": 840}, f"opcount {s['opcount']}")
    for n in layers:
        check(abs(s["sigma"][n] - float(dict(mods[n].named_buffers())["stdev"])) < 1e-6,
              f"summary sigma of {n} differs from the model's stdev")
    check(0 < s["float_top1_test"] <= 1, "float_top1_test out of range")

if failures:
    print("FAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
    sys.exit(1)
print(f"ok: 5 layers with stdev {[round(s['sigma'][n], 4) for n in layers]}, "
      f"top-1 {s['float_top1_test']:.3f}, {s['train_seconds']} s training")
EOF
