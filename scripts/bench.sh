#!/usr/bin/env bash
# Benchmarks, release builds, on this machine (results go in BENCHMARKS.md).
#
#   scripts/bench.sh store                 # message-store: history pages, ingest
#   scripts/bench.sh gateway [RUNS]        # loadgen scenarios against a local release stack
#                                          # (fresh broker, database and gateway per run)
#   PIN=1 scripts/bench.sh gateway [RUNS]  # the same with the gateway alone on core 0 and
#                                          # everything else (loadgen, broker, PostgreSQL,
#                                          # message-store) on core 1 (taskset)
#
# SCENARIOS picks scenarios (default: idle fanout fanout-sustained broadcast);
# GATEWAY_BIN runs another gateway binary (an A/B against an older build).
# Sizes can be lowered through the environment (see the variables below) for a
# quick look; BENCHMARKS.md says which sizes each quoted number used.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
PIN=${PIN:-0}
if [ "$PIN" = 1 ] && [ -z "${BENCH_PINNED:-}" ]; then
  # Everything this script starts inherits core 1; the gateway is moved to core 0.
  BENCH_PINNED=1 exec taskset -c 1 "$0" "$@"
fi
GW_PIN=(); [ "$PIN" = 1 ] && GW_PIN=(taskset -c 0)
SCENARIOS=" ${SCENARIOS:-idle fanout fanout-sustained broadcast} "
"$ROOT/scripts/install.sh"
ulimit -n "$(ulimit -Hn)"   # sockets: as many open files as this machine allows
OUT=${BENCH_OUT:-$ROOT/target/bench}
mkdir -p "$OUT"

STACK=$(mktemp -d /tmp/chat-bench.XXXXXX); chmod 755 "$STACK"
mkdir -p "$STACK/pids" "$STACK/logs"
cleanup() {
  for f in "$STACK"/pids/*.pid; do [ -e "$f" ] && kill_pidfile "$f"; done
  kill_pidfile "$STACK/tansu/tansu.pid"
  stop_postgres "$STACK/pg"
  rm -rf "$STACK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PG_PORT=$(free_port)
start_postgres "$STACK/pg" "$PG_PORT" shared_buffers=512MB
export TEST_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT"

case "${1:-}" in
  store)
    KAFKA_PORT=$(free_port)
    start_tansu "$STACK/tansu" "$KAFKA_PORT" "memory://tansu/"
    export TEST_KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
    cargo run -j2 --release -p message-store --example bench -- \
      "${HISTORY_MESSAGES:-1000000}" "${HISTORY_REQUESTS:-1000}" "${INGEST_MESSAGES:-200000}" | tee "$OUT/store.txt"
    ;;
  gateway)
    RUNS=${2:-3}
    build_bins --release
    GATEWAY_BIN=${GATEWAY_BIN:-target/release/gateway}
    export JWT_SECRET="bench-$(head -c 12 /dev/urandom | base64 | tr -dc a-zA-Z0-9)" RUST_LOG=warn
    rm -f "$OUT"/*.json "$OUT"/*.metrics
    # Every measured run gets a fresh broker, message-store database and
    # gateway: tansu's memory storage slows down as it fills (a fetch costs
    # more with every record it holds), and a fresh gateway's RSS is the
    # baseline for memory per connection.
    bench_run() { # NAME RUN loadgen-args...
      local name=$1 run=$2 db k ms gw; shift 2
      [[ "$SCENARIOS" == *" $name "* ]] || return 0
      db="bench_${name//-/_}_$run"; k=$(free_port); ms=$(free_port); gw=$(free_port)
      start_tansu "$STACK/tansu" "$k" "memory://tansu/"
      create_topics "$k"
      create_databases "$PG_PORT" "$db"
      KAFKA_BOOTSTRAP="127.0.0.1:$k" target/release/message-store --port "$ms" \
        --database-url "$TEST_PG_URL/$db" >"$STACK/logs/ms-$name-$run.log" 2>&1 &
      echo $! >"$STACK/pids/ms.pid"
      KAFKA_BOOTSTRAP="127.0.0.1:$k" "${GW_PIN[@]}" "$GATEWAY_BIN" --port "$gw" --message-store-url "http://127.0.0.1:$ms" \
        --rate-per-sec 1000 --rate-burst 1000 >"$STACK/logs/gw-$name-$run.log" 2>&1 &
      echo $! >"$STACK/pids/gw.pid"
      for p in "$ms" "$gw"; do
        wait_ready "$p" || log "port $p: not ready after 30 s"
      done
      log "run $run/$RUNS: $name"
      target/release/loadgen "$@" --gateways "ws://127.0.0.1:$gw/ws" --message-store-url "http://127.0.0.1:$ms" \
        --gateway-pids "$(cat "$STACK/pids/gw.pid")" --source-addrs 127.0.0.2,127.0.0.3,127.0.0.4 \
        --workers 2 --threads 1 --quiet --out "$OUT/$name-$run.json" --plot "$OUT/$name-$run.png" | tail -13 \
        || log "run $run/$RUNS: $name FAILED (kept in $OUT/$name-$run.json)"
      curl -fsS "http://127.0.0.1:$gw/metrics" >"$OUT/$name-$run.metrics" || true
      kill_pidfile "$STACK/pids/gw.pid"; kill_pidfile "$STACK/pids/ms.pid"; kill_pidfile "$STACK/tansu/tansu.pid"
    }
    for run in $(seq 1 "$RUNS"); do
      bench_run idle "$run" idle -n "${IDLE_CONNECTIONS:-19000}" --ramp 20 --duration 5
      # The target: 1,000 conversations of 10, 5,000 messages/s in.
      bench_run fanout "$run" fanout -n "${FANOUT_CONNECTIONS:-10000}" --conversations "${FANOUT_CONVERSATIONS:-1000}" \
        --members 10 --senders "${FANOUT_SENDERS:-1000}" --rate "${FANOUT_RATE:-5000}" --duration 20 --ramp 20
      # The same shape at a rate this machine sustains with everything on it.
      bench_run fanout-sustained "$run" fanout -n "${FANOUT_CONNECTIONS:-10000}" --conversations "${FANOUT_CONVERSATIONS:-1000}" \
        --members 10 --senders "${FANOUT_SENDERS:-1000}" --rate "${SUSTAINED_RATE:-1000}" --duration 20 --ramp 20
      bench_run broadcast "$run" broadcast -n "${BROADCAST_CONNECTIONS:-5000}" --senders 2 --rate 20 \
        --duration 20 --ramp 15
    done
    python3 -c "import matplotlib" 2>/dev/null || python3 -m pip install -q matplotlib
    python3 "$ROOT/scripts/bench_summary.py" "$OUT" | tee "$OUT/summary.md"
    ;;
  *) sed -n '2,8p' "$0"; exit 2 ;;
esac
