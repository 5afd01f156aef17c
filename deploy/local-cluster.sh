#!/usr/bin/env bash
# deploy/local-cluster.sh: a team installation on one machine, to try it out.
# A private PostgreSQL cluster and N agnx-server replicas sharing its database
# and one artifact root, all kept in one directory. Run with --help.
set -euo pipefail

readonly PROGRAM=local-cluster.sh
readonly DATABASE=agnx
readonly PG_SUPERUSER=postgres  # the cluster's superuser and, as root, the system user running it
readonly STATE_FILE=local-cluster.state

usage() {
  cat <<'EOF'
Usage:
  deploy/local-cluster.sh up N DIR       start PostgreSQL and N agnx-server replicas in DIR
  deploy/local-cluster.sh restart K DIR  SIGKILL replica K and start it again on its port
  deploy/local-cluster.sh status DIR     the replicas that are running
  deploy/local-cluster.sh down DIR       stop the replicas and PostgreSQL
  deploy/local-cluster.sh --help

A team installation on one machine: a private PostgreSQL cluster (initdb'd
into DIR/pg, listening only on a Unix socket in DIR/pg, trust authentication,
fsync off: for trying things, not for data you want to keep) with a database
"agnx", and N agnx-server replicas on loopback ports chosen by the kernel,
sharing that database and one artifact root, DIR/artifacts, the way replicas
on several machines share one database and an NFS directory.

`up` prints one line per replica and the store URI, e.g.
  replica 1 127.0.0.1:41235 pid 5123
  replica 2 127.0.0.1:39017 pid 5124
  store postgresql://postgres@/agnx?host=/tmp/c/pg&data_dir=/tmp/c
Then, e.g.: agnx --server 127.0.0.1:41235 experiments create demo
`restart` prints the replica's new line (same port, new pid). `up` again
after `down` starts the same database anew. Each replica's output goes to
DIR/replica-K.log, PostgreSQL's to DIR/pg/postgres.log. As root, PostgreSQL
runs as the `postgres` system user, which owns DIR/pg; DIR must then be
reachable by that user (the script adds o+x to DIR itself).

DIR: letters, digits and / . _ - only (it goes into the store URI and the
socket path, which must stay under 108 bytes).

Environment:
  AGNX_BIN_DIR         the directory of agnx-server (and agnx-worker); else the
                       repository's build/server/, else $PATH
  AGNX_POSTGRES_BIN    PostgreSQL's binaries (default /usr/lib/postgresql/15/bin)
  AGNX_SERVER_ARGS     extra agnx-server flags, split at spaces, e.g.
                       "--workers 1 --warm-worker off" (kept for `restart`)
  AGNX_START_TIMEOUT   seconds a replica may take to listen (default 60)
  AGNX_STOP_TIMEOUT    seconds `down` waits after SIGTERM before SIGKILL
                       (default 20; running jobs are retried at the next start)

Exit status: 0 on success, 1 on a failure, 2 on a usage error.
EOF
}

die() {
  echo "$PROGRAM: $*" >&2
  exit 1
}

usage_error() {
  echo "$PROGRAM: $*" >&2
  echo "Run '$0 --help' for usage." >&2
  exit 2
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# Runs a PostgreSQL server-side command, as the postgres user when root.
as_pg() {
  if is_root; then
    runuser -u "$PG_SUPERUSER" -- "$@"
  else
    "$@"
  fi
}

positive_integer() { [[ $1 =~ ^[1-9][0-9]{0,2}$ ]]; }

# The absolute form of DIR, checked for characters the URI and socket path cannot take.
checked_dir() {
  local dir=$1
  [[ -n $dir ]] || usage_error "DIR is empty"
  [[ $dir =~ ^[A-Za-z0-9/._-]+$ ]] ||
    usage_error "DIR '$dir': use letters, digits and / . _ - only (it goes into the store URI and the socket path)"
  if [[ $dir != /* ]]; then dir="$PWD/$dir"; fi
  printf '%s\n' "${dir%/}"
}

find_server() {
  local here repo
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  repo=$(dirname "$here")
  if [[ -n ${AGNX_BIN_DIR:-} ]]; then
    [[ -x $AGNX_BIN_DIR/agnx-server ]] || die "AGNX_BIN_DIR=$AGNX_BIN_DIR has no executable agnx-server"
    printf '%s\n' "$(cd "$AGNX_BIN_DIR" && pwd)/agnx-server"
  elif [[ -x $repo/build/server/agnx-server ]]; then
    printf '%s\n' "$repo/build/server/agnx-server"
  elif command -v agnx-server >/dev/null 2>&1; then
    command -v agnx-server
  else
    die "agnx-server not found: build it (cmake --build build --target agnx-server agnx-worker), set AGNX_BIN_DIR or put it on PATH"
  fi
}

find_pg_bin() {
  local bin=${AGNX_POSTGRES_BIN:-/usr/lib/postgresql/15/bin} tool
  for tool in initdb pg_ctl postgres createdb psql; do
    [[ -x $bin/$tool ]] || die "$bin/$tool not found: install postgresql-15 (scripts/setup.sh) or set AGNX_POSTGRES_BIN"
  done
  if is_root; then
    getent passwd "$PG_SUPERUSER" >/dev/null || die "running as root needs the $PG_SUPERUSER system user (from postgresql-15)"
    command -v runuser >/dev/null 2>&1 || die "running as root needs runuser (util-linux) to run PostgreSQL as $PG_SUPERUSER"
  fi
  printf '%s\n' "$bin"
}

# Whether PID is a live (not zombie) process.
alive() {
  local pid=$1 state
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z ]]
}

# Whether PID is a live agnx-server of this cluster (a pid file may outlive its process).
is_replica() {
  local pid=$1 command
  alive "$pid" || return 1
  command=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $command == *"--store $STORE "* ]]
}

load_state() {
  [[ -f $DIR/$STATE_FILE ]] || die "$DIR holds no local cluster (no $DIR/$STATE_FILE): start one with '$0 up N $DIR'"
  # shellcheck source=/dev/null
  source "$DIR/$STATE_FILE"
}

replica_pid() { cat "$DIR/replica-$1.pid" 2>/dev/null || true; }
replica_port() { cat "$DIR/replica-$1.port" 2>/dev/null || true; }

pg_running() { as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg/data" status >/dev/null 2>&1; }

# Starts replica K listening on PORT (0: any free port) in a session of its
# own (its pid is its process group, which its workers share); its pid goes
# to DIR/replica-K.pid.
spawn_replica() {
  local k=$1 port=$2 log="$DIR/replica-$1.log"
  stat -c %s "$log" 2>/dev/null >"$DIR/replica-$k.offset" || echo 0 >"$DIR/replica-$k.offset"
  echo "--- $PROGRAM: starting replica $k on 127.0.0.1:$port at $(date -u +%FT%TZ)" >>"$log"
  # A server with job leases names its replica: replica K keeps its name
  # across restarts, and so takes its interrupted jobs back at once.
  local help naming=()
  help=$("$SERVER" --help 2>/dev/null || true)
  if [[ $help == *--replica-id* ]]; then naming=(--replica-id "local-cluster-$k"); fi
  setsid "$SERVER" --listen "127.0.0.1:$port" --store "$STORE" "${naming[@]}" "${SERVER_ARGS[@]}" \
    </dev/null >>"$log" 2>&1 &
  echo "$!" >"$DIR/replica-$k.pid"
}

# Waits until replica K prints its listening line; records and prints its
# line. Returns 1 (with its log on stderr) if it exits or times out first.
await_replica() {
  local k=$1 pid log="$DIR/replica-$1.log" offset port="" deadline
  pid=$(replica_pid "$k")
  offset=$(cat "$DIR/replica-$k.offset")
  deadline=$((SECONDS + ${AGNX_START_TIMEOUT:-60}))
  while :; do
    port=$(tail -c "+$((offset + 1))" "$log" |
      sed -n 's/^agnx-server listening on [^ ]*:\([0-9][0-9]*\) .*/\1/p' | head -n 1)
    [[ -z $port ]] || break
    if ! alive "$pid"; then
      echo "$PROGRAM: replica $k (pid $pid) exited before listening; $log ends:" >&2
      tail -c "+$((offset + 1))" "$log" | tail -n 20 >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "$PROGRAM: replica $k (pid $pid) did not listen within ${AGNX_START_TIMEOUT:-60} s; $log ends:" >&2
      tail -n 20 "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$port" >"$DIR/replica-$k.port"
  echo "replica $k 127.0.0.1:$port pid $pid"
}

# Sends SIGNAL to replica K's process group (the server and its workers).
signal_replica() {
  local k=$1 signal=$2 pid
  pid=$(replica_pid "$k")
  if is_replica "$pid"; then
    kill "-$signal" -- "-$pid" 2>/dev/null || kill "-$signal" "$pid" 2>/dev/null || true
  fi
}

# Waits up to SECONDS for the replicas K... to exit; returns 1 if one is left.
await_exit() {
  local seconds=$1 k left
  shift
  local deadline=$((SECONDS + seconds))
  while :; do
    left=0
    for k in "$@"; do
      if is_replica "$(replica_pid "$k")"; then left=1; fi
    done
    ((left)) || return 0
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

stop_replicas() {
  local timeout=$1 k all=()
  for ((k = 1; k <= N; k++)); do all+=("$k"); done
  for k in "${all[@]}"; do
    local pid
    pid=$(replica_pid "$k")
    # SIGTERM to the server alone: it stops taking calls and lets running jobs finish.
    if is_replica "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  if ! await_exit "$timeout" "${all[@]}"; then
    echo "$PROGRAM: replicas still running ${timeout} s after SIGTERM: SIGKILL" >&2
  fi
  for k in "${all[@]}"; do signal_replica "$k" KILL; done
  await_exit 10 "${all[@]}" || die "a replica survived SIGKILL (see $DIR/replica-*.pid)"
  for k in "${all[@]}"; do rm -f "$DIR/replica-$k.pid"; done
}

stop_postgres() {
  [[ -f $DIR/pg/data/PG_VERSION ]] || return 0
  if pg_running; then
    as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -m fast -w -t 30 stop >>"$DIR/pg/pg_ctl.log" 2>&1 ||
      as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -m immediate -w -t 30 stop >>"$DIR/pg/pg_ctl.log" 2>&1 ||
      die "could not stop PostgreSQL in $DIR/pg/data; see $DIR/pg/pg_ctl.log"
  fi
}

cmd_up() {
  (($# == 2)) || usage_error "up takes N and DIR"
  if ! positive_integer "$1" || (($1 > 64)); then usage_error "N '$1': give a number of replicas from 1 to 64"; fi
  N=$1
  DIR=$(checked_dir "$2")
  SERVER=$(find_server)
  PG_BIN=$(find_pg_bin)
  read -r -a SERVER_ARGS <<<"${AGNX_SERVER_ARGS:-}"
  local socket_dir="$DIR/pg"
  ((${#socket_dir} + 17 <= 107)) || usage_error "DIR '$DIR' is too long for a Unix socket path (DIR/pg/.s.PGSQL.5432 must stay under 108 bytes)"
  STORE="postgresql://$PG_SUPERUSER@/$DATABASE?host=$socket_dir&data_dir=$DIR"

  mkdir -p "$DIR"
  if [[ -f $DIR/$STATE_FILE ]]; then
    local k
    # shellcheck source=/dev/null
    (source "$DIR/$STATE_FILE" && for ((k = 1; k <= N; k++)); do
      pid=$(cat "$DIR/replica-$k.pid" 2>/dev/null || true)
      if is_replica "$pid"; then exit 1; fi
    done) || die "$DIR already runs a local cluster: '$0 down $DIR' first"
    pg_running && die "PostgreSQL of $DIR/pg is still running: '$0 down $DIR' first"
  fi

  # PostgreSQL: its directory (data, socket, log) belongs to the user running it.
  mkdir -p "$socket_dir"
  chmod 0755 "$socket_dir"
  if is_root; then
    chown "$PG_SUPERUSER:" "$socket_dir"
    if ! runuser -u "$PG_SUPERUSER" -- test -w "$socket_dir"; then
      chmod o+x "$DIR"
      runuser -u "$PG_SUPERUSER" -- test -w "$socket_dir" ||
        die "the $PG_SUPERUSER user cannot reach $socket_dir: give DIR's parent directories search permission (chmod o+x)"
    fi
  fi
  if [[ ! -f $socket_dir/data/PG_VERSION ]]; then
    as_pg "$PG_BIN/initdb" -D "$socket_dir/data" --no-sync -A trust -U "$PG_SUPERUSER" -E UTF8 --locale=C \
      --no-instructions >"$DIR/initdb.log" 2>&1 || die "initdb failed; see $DIR/initdb.log"
  fi
  as_pg "$PG_BIN/pg_ctl" -D "$socket_dir/data" -w -t 60 -l "$socket_dir/postgres.log" \
    -o "-c listen_addresses='' -k $socket_dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >>"$socket_dir/pg_ctl.log" 2>&1 ||
    die "PostgreSQL did not start; see $socket_dir/postgres.log and $socket_dir/pg_ctl.log"
  # From here on a failure stops what was started.
  trap 'stop_replicas 5 >/dev/null 2>&1 || true; stop_postgres >/dev/null 2>&1 || true' EXIT
  local exists
  exists=$("$PG_BIN/psql" -h "$socket_dir" -U "$PG_SUPERUSER" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" 2>>"$DIR/initdb.log") ||
    die "cannot connect to PostgreSQL on $socket_dir; see $DIR/initdb.log"
  if [[ $exists != 1 ]]; then
    "$PG_BIN/createdb" -h "$socket_dir" -U "$PG_SUPERUSER" "$DATABASE" >>"$DIR/initdb.log" 2>&1 ||
      die "createdb $DATABASE failed; see $DIR/initdb.log"
  fi

  {
    printf 'N=%q\nSTORE=%q\nSERVER=%q\nPG_BIN=%q\nSERVER_ARGS=(' "$N" "$STORE" "$SERVER" "$PG_BIN"
    if ((${#SERVER_ARGS[@]})); then printf ' %q' "${SERVER_ARGS[@]}"; fi
    printf ' )\n'
  } >"$DIR/$STATE_FILE"
  rm -f "$DIR"/replica-*.pid "$DIR"/replica-*.port
  local k line lines=()
  # Replicas start at once; the store's migrations take an advisory lock.
  for ((k = 1; k <= N; k++)); do spawn_replica "$k" 0; done
  for ((k = 1; k <= N; k++)); do
    line=$(await_replica "$k") || die "replica $k did not start; stopping the cluster"
    lines+=("$line")
  done
  trap - EXIT
  printf '%s\n' "${lines[@]}"
  echo "store $STORE"
}

cmd_restart() {
  (($# == 2)) || usage_error "restart takes K and DIR"
  positive_integer "$1" || usage_error "K '$1': give a replica number from 1"
  DIR=$(checked_dir "$2")
  load_state
  local k=$1 port
  ((k <= N)) || usage_error "K $k: the cluster in $DIR has replicas 1 to $N"
  port=$(replica_port "$k")
  [[ -n $port ]] || die "replica $k of $DIR has no recorded port (did '$0 up' finish?)"
  pg_running || die "PostgreSQL of $DIR is not running: '$0 up N $DIR' first"
  signal_replica "$k" KILL
  await_exit 10 "$k" || die "replica $k survived SIGKILL"
  # The port is free once the process is gone; a few tries cover a slow release.
  local attempt line
  for attempt in 1 2 3 4 5; do
    ((attempt == 1)) || sleep 0.5
    spawn_replica "$k" "$port"
    if line=$(await_replica "$k" 2>"$DIR/restart.err"); then
      echo "$line"
      return 0
    fi
  done
  cat "$DIR/restart.err" >&2
  die "replica $k did not start again on 127.0.0.1:$port"
}

cmd_status() {
  (($# == 1)) || usage_error "status takes DIR"
  DIR=$(checked_dir "$1")
  load_state
  local k pid
  for ((k = 1; k <= N; k++)); do
    pid=$(replica_pid "$k")
    if is_replica "$pid"; then
      echo "replica $k 127.0.0.1:$(replica_port "$k") pid $pid"
    else
      echo "replica $k down"
    fi
  done
  if pg_running; then echo "store $STORE"; else echo "store down (PostgreSQL in $DIR/pg is not running)"; fi
}

cmd_down() {
  (($# == 1)) || usage_error "down takes DIR"
  DIR=$(checked_dir "$1")
  load_state
  local timeout=${AGNX_STOP_TIMEOUT:-20}
  [[ $timeout =~ ^[0-9]+$ ]] || usage_error "AGNX_STOP_TIMEOUT '$timeout': give whole seconds"
  stop_replicas "$timeout"
  stop_postgres
}

main() {
  (($# > 0)) || usage_error "no command"
  local command=$1
  shift
  case $command in
    -h | --help | help) usage ;;
    up) cmd_up "$@" ;;
    restart) cmd_restart "$@" ;;
    status) cmd_status "$@" ;;
    down) cmd_down "$@" ;;
    *) usage_error "unknown command '$command'" ;;
  esac
}

main "$@"
