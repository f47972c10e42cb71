#!/usr/bin/env bash
# Benchmarks, release builds, on this machine (results go in BENCHMARKS.md).
#
#   scripts/bench.sh store                 # message-store: history pages, ingest
#   scripts/bench.sh gateway [RUNS]        # loadgen scenarios against a local release stack
#
# Sizes can be lowered through the environment (see the variables below) for a
# quick look; BENCHMARKS.md says which sizes each quoted number used.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
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

PG_PORT=$(free_port); KAFKA_PORT=$(free_port)
start_postgres "$STACK/pg" "$PG_PORT" shared_buffers=512MB
start_tansu "$STACK/tansu" "$KAFKA_PORT" "memory://tansu/"
export TEST_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT" TEST_KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

case "${1:-}" in
  store)
    cargo run -j2 --release -p message-store --example bench -- \
      "${HISTORY_MESSAGES:-1000000}" "${HISTORY_REQUESTS:-1000}" "${INGEST_MESSAGES:-200000}" | tee "$OUT/store.txt"
    ;;
  gateway)
    RUNS=${2:-3}
    cargo build -j2 --release --bin message-store --bin gateway --bin loadgen
    create_databases "$PG_PORT" chat_messages
    create_topics "$KAFKA_PORT"
    export JWT_SECRET="bench-$(head -c 12 /dev/urandom | base64 | tr -dc a-zA-Z0-9)" KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT" RUST_LOG=warn
    MS_PORT=$(free_port); GW_PORT=$(free_port)
    target/release/message-store --port "$MS_PORT" --database-url "$TEST_PG_URL/chat_messages" >"$STACK/logs/ms.log" 2>&1 &
    echo $! >"$STACK/pids/ms.pid"
    target/release/gateway --port "$GW_PORT" --message-store-url "http://127.0.0.1:$MS_PORT" \
      --rate-per-sec 1000 --rate-burst 1000 >"$STACK/logs/gw.log" 2>&1 &
    echo $! >"$STACK/pids/gw.pid"
    for p in "$MS_PORT" "$GW_PORT"; do
      for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:$p/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    done
    GW_PID=$(cat "$STACK/pids/gw.pid")
    common=(--gateways "ws://127.0.0.1:$GW_PORT/ws" --message-store-url "http://127.0.0.1:$MS_PORT"
            --gateway-pids "$GW_PID" --source-addrs 127.0.0.2,127.0.0.3,127.0.0.4 --threads 2 --quiet)
    for run in $(seq 1 "$RUNS"); do
      log "run $run/$RUNS: idle"
      target/release/loadgen idle -n "${IDLE_CONNECTIONS:-5000}" --ramp 20 --duration 5 "${common[@]}" \
        --out "$OUT/idle-$run.json" | tail -12
      log "run $run/$RUNS: fanout"
      target/release/loadgen fanout -n "${FANOUT_CONNECTIONS:-2000}" --conversations "${FANOUT_CONVERSATIONS:-200}" \
        --members 10 --senders "${FANOUT_SENDERS:-200}" --rate "${FANOUT_RATE:-1000}" --duration 20 --ramp 10 \
        "${common[@]}" --out "$OUT/fanout-$run.json" | tail -12
      log "run $run/$RUNS: broadcast"
      target/release/loadgen broadcast -n "${BROADCAST_CONNECTIONS:-2000}" --senders 2 --rate 20 --duration 20 \
        --ramp 10 "${common[@]}" --out "$OUT/broadcast-$run.json" | tail -12
    done
    curl -fsS "http://127.0.0.1:$GW_PORT/metrics" >"$OUT/gateway-metrics.txt"
    python3 -c "import matplotlib" 2>/dev/null || python3 -m pip install -q matplotlib
    python3 "$ROOT/scripts/bench_summary.py" "$OUT" | tee "$OUT/summary.md"
    ;;
  *) sed -n '2,8p' "$0"; exit 2 ;;
esac
