# Shared by the scripts in this folder. Source it; do not run it.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"            # git-ignored: data, logs, pid files
TANSU_VERSION="0.6.0"
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1m[%s]\033[0m %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

pg_bindir() { pg_config --bindir 2>/dev/null; }

# Runs a command as the postgres user when we are root (initdb refuses root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Gives a directory to the postgres user when we are root.
pg_own() {
  if [ "$(id -u)" = 0 ]; then chown -R postgres: "$1"; fi
}

wait_port() { # host port seconds
  local host=$1 port=$2 secs=${3:-30} i=0
  while ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
    i=$((i + 1)); [ "$i" -gt $((secs * 10)) ] && return 1; sleep 0.1
  done
}

# wait_ready PORT [SECONDS]: waits for a service's /readyz on 127.0.0.1:PORT
# (30 s by default); non-zero if it never answered.
wait_ready() {
  local i
  for i in $(seq 1 $(( ${2:-30} * 10 ))); do
    curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_postgres DIR PORT [extra postgres -c options...]
# Creates the cluster on first use, then starts it (no-op when running).
start_postgres() {
  local dir=$1 port=$2; shift 2
  local bin; bin=$(pg_bindir) || die "PostgreSQL is not installed (scripts/install.sh)"
  mkdir -p "$dir"; pg_own "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  fi
  if as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then return 0; fi
  local opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400"
  for o in "$@"; do opts="$opts -c $o"; done
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$opts" start >/dev/null \
    || { tail -20 "$dir/server.log" >&2; die "PostgreSQL did not start"; }
}

stop_postgres() { # DIR
  local bin; bin=$(pg_bindir) || return 0
  [ -f "$1/data/PG_VERSION" ] || return 0
  as_pg "$bin/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
}

create_databases() { # PORT db...
  local port=$1; shift
  for db in "$@"; do
    if ! psql -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
      psql -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE \"$db\"" >/dev/null
    fi
  done
}

# start_tansu DIR PORT STORAGE-URL: starts the broker in the background,
# writes DIR/tansu.pid, waits for its port.
start_tansu() {
  local dir=$1 port=$2 storage=$3
  mkdir -p "$dir"
  command -v tansu >/dev/null || die "tansu is not installed (scripts/install.sh)"
  (cd "$dir" && RUST_LOG=${TANSU_LOG:-warn} exec tansu broker \
      --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine "$storage" >"$dir/tansu.log" 2>&1) &
  echo $! >"$dir/tansu.pid"
  wait_port 127.0.0.1 "$port" 30 || { tail -20 "$dir/tansu.log" >&2; die "tansu did not start"; }
}

# create_topics PORT [PREFIX]: the chat topics, idempotently: a topic that
# exists already is fine, any other failure stops the script with tansu's
# own words.
create_topics() {
  local port=$1 prefix=${2:-}
  local t parts out
  for t in chat.messages:6 chat.typing:3 chat.sessions:1; do
    parts=${t##*:}; t=${t%%:*}
    if ! out=$(tansu topic create "$prefix$t" --partitions "$parts" --broker "tcp://127.0.0.1:$port" 2>&1); then
      grep -q "already exists" <<<"$out" || die "creating topic $prefix$t: $out"
    fi
  done
}

# kill_pidfile FILE: stops the process named in FILE (TERM, then KILL).
kill_pidfile() {
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# build_bins [cargo flags...]: builds every binary of the workspace. Every
# script builds the same set, so features unify the same way and one
# script's build is not undone by the next (building a subset of the
# packages re-resolves their dependencies' features and rebuilds them).
build_bins() {
  (cd "$ROOT" && cargo build -j2 --workspace --bins "$@")
}
