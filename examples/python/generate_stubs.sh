#!/usr/bin/env bash
# Generates the Python gRPC stubs of the agnx API into OUT_DIR:
#   OUT_DIR/agnapprox/v1/agnx_pb2.py       messages (python3-protobuf)
#   OUT_DIR/agnapprox/v1/agnx_pb2_grpc.py  service stubs (python3-grpcio)
#
# Uses protoc 3.21 (Debian's protobuf-compiler) with Debian's grpc_python_plugin
# (protobuf-compiler-grpc): python3-grpc-tools in Debian 12 bundles a protoc too old for
# proto3 `optional`. Generated code is not committed; agnx_client.py runs this script
# itself when it finds no stubs.
set -euo pipefail

if (($# != 1)) || [[ $1 == -h || $1 == --help ]]; then
  echo "usage: $0 OUT_DIR    (generates agnapprox/v1/agnx_pb2{,_grpc}.py under OUT_DIR)" >&2
  [[ ${1:-} == -h || ${1:-} == --help ]] && exit 0
  exit 1
fi
out=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
protoc=${PROTOC:-protoc}
plugin=${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}

command -v "$protoc" >/dev/null || { echo "$0: no protoc (apt-get install protobuf-compiler)" >&2; exit 2; }
[[ -x $plugin ]] || { echo "$0: no $plugin (apt-get install protobuf-compiler-grpc)" >&2; exit 2; }

mkdir -p "$out"
out=$(cd "$out" && pwd)  # protoc runs from the repository root
cd "$root"
"$protoc" -I proto --python_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python="$plugin" proto/agnapprox/v1/agnx.proto
