#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang-14 in a tree of their own
# and runs each one over a copy of its seed corpus fuzz/corpus/NAME (so the
# repository is never written to), with its dictionary fuzz/dict/NAME.dict.
#   ./scripts/fuzz.sh                   # each target for FUZZ_SECONDS (default 20, at most 30)
#   ./scripts/fuzz.sh --corpus-only     # each seed once: a quick regression check
#   FUZZ_BUILD_DIR=/tmp/bf ./scripts/fuzz.sh   # default build-fuzz
# A crash, sanitizer report, leak, timeout (10 s per input) or out-of-memory
# (2 GB) fails the target: its input is saved as BUILD_DIR/artifacts/NAME-*
# and the script exits 1 once every target has run.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=()
case "${1:-}" in
  "") ;;
  --corpus-only) runs=(-runs=0) ;;
  *) echo "usage: $0 [--corpus-only]" >&2; exit 2 ;;
esac
seconds=${FUZZ_SECONDS:-20}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1 || seconds > 30)); then
  echo "fuzz: FUZZ_SECONDS must be a whole number of seconds from 1 to 30, not '$seconds'" >&2
  exit 2
fi
((${#runs[@]})) || runs=(-max_total_time="$seconds")

build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
cmake -S fuzz -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14
cmake --build "$build_dir" --parallel "${JOBS:-2}"

artifacts=$(realpath "$build_dir")/artifacts
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export UBSAN_OPTIONS=print_stacktrace=1

failed=0
for target in npy lut_table lut_directory run_filter matching_request; do
  cp -r "fuzz/corpus/$target" "$work/$target"
  options=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "-artifact_prefix=$artifacts/$target-")
  [[ -f fuzz/dict/$target.dict ]] && options+=("-dict=fuzz/dict/$target.dict")
  log=$work/$target.log
  start=$SECONDS
  if "$build_dir/fuzz_$target" "${options[@]}" "${runs[@]}" "$work/$target" >"$log" 2>&1; then
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz_$target: PASS ($executions executions in $((SECONDS - start)) s," \
         "corpus $(ls "$work/$target" | wc -l) inputs)"
  else
    # The report from its first line (sanitizer, libFuzzer or AGNX_FUZZ_CHECK), else the log's end.
    first=$(grep -n -m1 -E '==ERROR|runtime error|AGNX_FUZZ_CHECK failed' "$log" | cut -d: -f1 || true)
    if [[ -n $first ]]; then tail -n "+$first" "$log" | head -n 150; else tail -n 60 "$log"; fi
    echo "fuzz_$target: FAIL (input saved in $artifacts; rerun it with $build_dir/fuzz_$target FILE)"
    failed=1
  fi
done
exit "$failed"
