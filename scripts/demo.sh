#!/usr/bin/env bash
# The main job, end to end on one machine:
#   1. installs what is needed and builds agnx (Release, in ./build),
#   2. trains LeNet5 on Fashion-MNIST with AGN gradient search at lambda
#      $LAMBDA (examples/train_lenet_agn.py, Debian's python3-torch) and exports
#      it as TorchScript with per-layer `stdev` buffers, plus calibration and
#      test data,
#   3. starts agnx-server on an embedded SQLite database under ./agnx-demo,
#   4. submits the model through the `agnx` client, shows the job's progress,
#      and prints the per-layer multipliers, relative energy and accuracies.
#
#   ./scripts/demo.sh                 # lambda 0.5, built-in multipliers
#   LAMBDA=2 ./scripts/demo.sh        # a stronger push towards cheap multipliers
#   LIBRARY=evoapprox ./scripts/demo.sh   # EvoApprox's signed tables (needs ../shared/evoapprox)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/serve_locally.sh

lambda=${LAMBDA:-0.5}
library=${LIBRARY:-builtin}
demo_dir=${DEMO_DIR:-agnx-demo}
build_dir=${BUILD_DIR:-build}

step() { printf '\n== %s\n' "$*"; }

step "setup and build"
./scripts/setup.sh
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build_dir" --parallel "${JOBS:-2}" --target agnx-server agnx
started=$(date +%s)

step "training LeNet5 with AGN (lambda $lambda)"
mkdir -p "$demo_dir"
/usr/bin/python3 examples/train_lenet_agn.py --out "$demo_dir/model" --lambda "$lambda"

step "starting agnx-server (data in $demo_dir/data)"
server_args=(--listen 127.0.0.1:0 --data-dir "$demo_dir/data")
if [[ $library == evoapprox ]]; then
  [[ -d ../shared/evoapprox ]] || { echo "LIBRARY=evoapprox needs ../shared/evoapprox" >&2; exit 1; }
  server_args+=(--library-dir "evoapprox=../shared/evoapprox,signed")
fi
start_server "$build_dir/server/agnx-server" "$demo_dir/server.log" "${server_args[@]}"

step "submitting the model and waiting for the result"
model_dir="$demo_dir/model"
"$build_dir/client/agnx" submit --experiment lenet5-demo --run-name "lambda-$lambda" \
  --model "$model_dir/model.pt" --calib "$model_dir/calib.npy" \
  --test-x "$model_dir/test_x.npy" --test-y "$model_dir/test_y.npy" \
  --lambda "$lambda" --library "$library" --wait

step "the experiment's energy table"
"$build_dir/client/agnx" energy --experiment lenet5-demo

echo
echo "done in $(($(date +%s) - started)) s after setup and build"
