#!/usr/bin/env bash
# The method's whole loop on LeNet5, end to end on one machine:
#   1. installs what is needed and builds agnx (Release, in ./build),
#   2. writes Fashion-MNIST (Debian's dataset-fashion-mnist) as .npy files,
#   3. starts agnx-server on an embedded SQLite database under ./agnx-sweep,
#   4. submits a sweep of the FLOAT LeNet5 snapshot (../shared/models/lenet5_fmnist.pt,
#      or $MODEL) over lambdas $LAMBDAS: per lambda AGN search, matching, approximate
#      retraining and evaluation, one child run each; shows the progress and prints
#      the energy/accuracy points and the Pareto front.
#
#   ./scripts/sweep.sh                          # built-in multipliers, lambdas 0.25,0.5,1,2
#   LIBRARY=evoapprox ./scripts/sweep.sh        # EvoApprox's signed tables (../shared/evoapprox)
#   RETRAIN_EPOCHS=1 JSON=1 ./scripts/sweep.sh  # shorter; the result as JSON
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/serve_locally.sh

lambdas=${LAMBDAS:-0.25,0.5,1,2}
library=${LIBRARY:-builtin}
model=${MODEL:-../shared/models/lenet5_fmnist.pt}
calib=${CALIB:-../shared/models/lenet5_fmnist_calib.npy}
sweep_dir=${SWEEP_DIR:-agnx-sweep}
build_dir=${BUILD_DIR:-build}
json_flag=()
[[ -n ${JSON:-} ]] && json_flag=(--json)

step() { printf '\n== %s\n' "$*" >&2; }

step "setup and build"
./scripts/setup.sh >&2
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build_dir" --parallel "${JOBS:-2}" --target agnx-server agnx >&2
[[ -f $model && -f $calib ]] || { echo "sweep: $model or $calib is missing (../shared, or set MODEL and CALIB)" >&2; exit 1; }
started=$(date +%s)

step "Fashion-MNIST as uint8 .npy (60,000 training and 10,000 test images)"
data="$sweep_dir/fashion-mnist"
[[ -f $data/train_x.npy ]] || /usr/bin/python3 scripts/fashion_mnist_npy.py --uint8 --out "$data" >&2

step "starting agnx-server (data in $sweep_dir/data)"
server_args=(--listen 127.0.0.1:0 --data-dir "$sweep_dir/data" --threads-per-job "${THREADS:-2}")
if [[ $library == evoapprox ]]; then
  [[ -d ../shared/evoapprox ]] || { echo "LIBRARY=evoapprox needs ../shared/evoapprox" >&2; exit 1; }
  server_args+=(--library-dir "evoapprox=../shared/evoapprox,signed")
fi
server_log="$sweep_dir/server.log"
mkdir -p "$sweep_dir"
start_server "$build_dir/server/agnx-server" "$server_log" "${server_args[@]}"

step "sweeping lambdas $lambdas with the $library library"
"$build_dir/client/agnx" sweep --experiment lenet5-sweep --run-name "sweep-$library" \
  --model "$model" --calib "$calib" \
  --train-x "$data/train_x.npy" --train-y "$data/train_y.npy" \
  --test-x "$data/test_x.npy" --test-y "$data/test_y.npy" --uint8 0.00392156862745098,0.2860,0.3530 \
  --lambdas "$lambdas" --library "$library" \
  --search-epochs "${SEARCH_EPOCHS:-1}" --retrain-epochs "${RETRAIN_EPOCHS:-3}" --seed "${SEED:-0}" \
  --timeout 600 --wait "${json_flag[@]}"

echo >&2
echo "done in $(($(date +%s) - started)) s after setup and build" >&2
