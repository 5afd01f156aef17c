#!/usr/bin/env bash
# Sets up, builds and runs every test of agnx (benchmarks excluded).
#   ./scripts/test.sh            # Release build in ./build
#   BUILD_DIR=/tmp/b ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" --parallel "${JOBS:-2}"
# Benchmarks carry the label `benchmark` and are run on their own:
#   ctest --test-dir build -L benchmark --verbose
# The demo's pieces (label `demo`, e.g. training the example model) too:
#   ctest --test-dir build -L demo --output-on-failure
ctest --test-dir "$build_dir" -j "${JOBS:-2}" -LE 'benchmark|demo' --output-on-failure
