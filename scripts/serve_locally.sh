# Sourced by scripts/demo.sh and scripts/sweep.sh: start_server BINARY LOG ARGS...
# starts agnx-server in the background, stops it when the calling script
# exits, waits for its "listening on" line and exports AGNX_SERVER.
start_server() {
  local binary=$1 log=$2
  shift 2
  "$binary" "$@" > "$log" 2>&1 &
  server_pid=$!
  trap 'kill "$server_pid" 2> /dev/null; wait "$server_pid" 2> /dev/null || true' EXIT
  local address=""
  for _ in $(seq 1 100); do
    address=$(sed -n 's/^agnx-server listening on \([^ ]*\).*/\1/p' "$log")
    [[ -n $address ]] && break
    kill -0 "$server_pid" 2> /dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  [[ -n $address ]] || { echo "agnx-server did not start:" >&2; cat "$log" >&2; exit 1; }
  echo "agnx-server is listening on $address" >&2
  export AGNX_SERVER=$address
}
