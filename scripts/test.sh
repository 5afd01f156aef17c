#!/usr/bin/env bash
# Sets up, builds and runs every test of agnx (benchmarks excluded), then
# fuzzes each parser for a short bounded time (scripts/fuzz.sh, ~2 min).
#   ./scripts/test.sh            # Release build in ./build, fuzz targets in ./build-fuzz
#   BUILD_DIR=/tmp/b FUZZ_BUILD_DIR=/tmp/bf ./scripts/test.sh
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
# A test without a TIMEOUT of its own fails after 10 minutes rather than
# holding up the run (the longest, training_lenet_test, takes about 1).
ctest --test-dir "$build_dir" -j "${JOBS:-2}" -LE 'benchmark|demo' --output-on-failure --timeout 600
# Each parser's fuzz target, 20 s over its seed corpus (FUZZ_SECONDS, at most 30).
./scripts/fuzz.sh
