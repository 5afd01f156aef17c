#!/usr/bin/env bash
# Installs every Debian package that agnx's build, tests and demo need.
# Idempotent: packages already present are skipped, `apt-get update` runs at most once.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # core
  nlohmann-json3-dev
  # the LibTorch half of core (Debian's LibTorch 1.13, CPU) and a fast BLAS for it
  libtorch-dev libopenblas0-pthread
  # the API and the service: gRPC, Protobuf, Boost.Asio/Beast, command lines
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc grpc-proto
  libboost-dev libcli11-dev
  # the tracking store: SQLite, and OpenSSL: libcrypto for sha256, libssl for the dashboard's HTTPS
  libsqlite3-dev libssl-dev
  # its PostgreSQL backend (libpq), and the server binaries of the tests' throwaway cluster
  postgresql-15 libpq-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3-numpy
  # the parsers' fuzz targets (fuzz/, scripts/fuzz.sh): clang with libFuzzer and its sanitizers
  clang-14 libfuzzer-14-dev
  # the client's TLS test makes its certificate with the openssl tool
  openssl
  # the dashboard: Chart.js served locally (no CDN); its browser test: headless Chromium + Selenium
  libjs-chart.js chromium chromium-driver python3-selenium
  # built-in multipliers: synthesis (tools/synth_builtins, label `synthesis`) and netlist simulation
  yosys iverilog
  # examples/train_lenet_agn.py (the demo's model): PyTorch for /usr/bin/python3 and Fashion-MNIST
  python3-torch dataset-fashion-mnist
  # examples/python/: the Python client (stubs from protoc + protobuf-compiler-grpc's grpc_python_plugin)
  python3-grpcio python3-protobuf
  # deploy/compose.yaml's check in server_deploy_test (no Docker engine here: it is parsed, not run)
  python3-yaml
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
