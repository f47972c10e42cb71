#!/usr/bin/env bash
# Idle scale-out benchmark: three gateway processes (one worker each) on this
# machine, each held by its own loadgen process (a process may hold at most
# 20,000 open files), connecting from distinct loopback source addresses.
#   scripts/bench-idle-3gw.sh [connections per gateway, default 18500]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
ulimit -n "$(ulimit -Hn)"
N=${1:-18500}
cargo build -j2 --release --bin message-store --bin gateway --bin loadgen
S=$(mktemp -d /tmp/chat-idle3.XXXXXX); chmod 755 "$S"
OUT=${BENCH_OUT:-$ROOT/target/bench}; mkdir -p "$OUT"
PG=$(free_port); K=$(free_port); MS=$(free_port)
start_postgres $S/pg $PG; create_databases $PG chat_messages
start_tansu $S/tansu $K memory://tansu/; create_topics $K
export JWT_SECRET=idle55k-secret-0123456789abcdef KAFKA_BOOTSTRAP=127.0.0.1:$K RUST_LOG=warn
target/release/message-store --port $MS --database-url postgres://postgres@127.0.0.1:$PG/chat_messages > $S/ms.log 2>&1 & echo $! > $S/ms.pid
GWS=()
for i in 0 1 2; do
  p=$(free_port); GWS+=($p)
  target/release/gateway --port $p --message-store-url http://127.0.0.1:$MS --workers 1 --conversation-arbiters 1 > $S/gw$i.log 2>&1 & echo $! > $S/gw$i.pid
done
for p in $MS ${GWS[@]}; do for _ in $(seq 1 300); do curl -fsS http://127.0.0.1:$p/readyz >/dev/null 2>&1 && break; sleep 0.1; done; done
for i in 0 1 2; do
  target/release/loadgen idle -n $N --ramp 100 --duration 15 --threads 1 --gateways ws://127.0.0.1:${GWS[$i]}/ws \
    --message-store-url http://127.0.0.1:$MS --source-addrs 127.0.1.$((i+1)),127.0.2.$((i+1)) --gateway-pids $(cat $S/gw$i.pid) --quiet --out $OUT/idle3gw-$i.json > $S/lg$i.log 2>&1 &
done
wait $(jobs -p | tail -3) 2>/dev/null || true
sleep 1
for i in 0 1 2; do grep -E "connected|memory per|PASS|FAIL|errors" $S/lg$i.log; done
for i in 0 1 2; do kill_pidfile $S/gw$i.pid; done; kill_pidfile $S/ms.pid; kill_pidfile $S/tansu/tansu.pid; stop_postgres $S/pg
rm -rf "$S"
