#!/usr/bin/env bash
# Idle scale-out benchmark: three gateway processes (one HTTP worker each) on
# this machine, held by one loadgen run with three worker processes (a
# process may hold at most 20,000 open files here). User i goes to gateway
# i mod 3 from worker i mod 3, so each worker holds one gateway's share,
# from two loopback source addresses of its own.
#   scripts/bench-idle-3gw.sh [connections in all, default 55500] [runs, default 1]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
ulimit -n "$(ulimit -Hn)"
N=${1:-55500}
RUNS=${2:-1}
build_bins --release
S=$(mktemp -d /tmp/chat-idle3.XXXXXX); chmod 755 "$S"; mkdir -p "$S/pids"
cleanup() {
  for f in "$S"/pids/*.pid; do [ -e "$f" ] && kill_pidfile "$f"; done
  kill_pidfile "$S/tansu/tansu.pid"; stop_postgres "$S/pg"; rm -rf "$S"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
OUT=${BENCH_OUT:-$ROOT/target/bench}; mkdir -p "$OUT"
PG=$(free_port)
start_postgres "$S/pg" "$PG"
export JWT_SECRET="idle3-$(head -c 12 /dev/urandom | base64 | tr -dc a-zA-Z0-9)" RUST_LOG=warn
for run in $(seq 1 "$RUNS"); do
  # A fresh stack per run: RSS growth is measured from fresh gateways.
  K=$(free_port); MS=$(free_port)
  start_tansu "$S/tansu" "$K" memory://tansu/; create_topics "$K"
  create_databases "$PG" "idle3_$run"
  export KAFKA_BOOTSTRAP=127.0.0.1:$K
  target/release/message-store --port "$MS" --database-url "postgres://postgres@127.0.0.1:$PG/idle3_$run" \
    >"$S/ms.log" 2>&1 & echo $! >"$S/pids/ms.pid"
  urls=(); pids=()
  for i in 0 1 2; do
    p=$(free_port)
    target/release/gateway --port "$p" --message-store-url "http://127.0.0.1:$MS" --workers 1 \
      --conversation-arbiters 1 >"$S/gw$i.log" 2>&1 & echo $! >"$S/pids/gw$i.pid"
    urls+=("ws://127.0.0.1:$p/ws"); pids+=("$(cat "$S/pids/gw$i.pid")")
    wait_ready "$p" || log "port $p: not ready after 30 s"
  done
  log "run $run/$RUNS: $N idle connections over three gateways"
  target/release/loadgen idle -n "$N" --ramp 100 --duration 15 --workers 3 --threads 1 \
    --gateways "$(IFS=,; echo "${urls[*]}")" --gateway-pids "$(IFS=,; echo "${pids[*]}")" \
    --source-addrs 127.0.1.1,127.0.1.2,127.0.1.3,127.0.2.1,127.0.2.2,127.0.2.3 \
    --message-store-url "http://127.0.0.1:$MS" --quiet --out "$OUT/idle3gw-$run.json" | tail -12 \
    || log "run $run/$RUNS FAILED (kept in $OUT/idle3gw-$run.json)"
  for f in "$S"/pids/*.pid; do kill_pidfile "$f"; done
  kill_pidfile "$S/tansu/tansu.pid"
done
