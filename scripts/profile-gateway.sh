#!/usr/bin/env bash
# Profiles the release gateway with perf while loadgen runs the broadcast
# scenario (2,000 members, 20 msg/s) on a throwaway stack; prints the top
# symbols. Needs perf (Debian: linux-perf).
#   scripts/profile-gateway.sh [members]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null; }
ulimit -n "$(ulimit -Hn)"
MEMBERS=${1:-2000}
build_bins --release
S=$(mktemp -d /tmp/chat-profile.XXXXXX); chmod 755 "$S"
cleanup() {
  for f in "$S"/*.pid; do [ -e "$f" ] && kill_pidfile "$f"; done
  kill_pidfile "$S/tansu/tansu.pid"; stop_postgres "$S/pg"
}
trap cleanup EXIT
PG=$(free_port); K=$(free_port); MS=$(free_port); GW=$(free_port)
start_postgres "$S/pg" "$PG"; create_databases "$PG" chat_messages
start_tansu "$S/tansu" "$K" memory://tansu/; create_topics "$K"
export JWT_SECRET="profile-$(head -c 12 /dev/urandom | base64 | tr -dc a-zA-Z0-9)" KAFKA_BOOTSTRAP="127.0.0.1:$K" RUST_LOG=warn
target/release/message-store --port "$MS" --database-url "postgres://postgres@127.0.0.1:$PG/chat_messages" >"$S/ms.log" 2>&1 &
echo $! >"$S/ms.pid"
target/release/gateway --port "$GW" --message-store-url "http://127.0.0.1:$MS" --rate-per-sec 1000 --rate-burst 1000 >"$S/gw.log" 2>&1 &
echo $! >"$S/gw.pid"
for p in "$MS" "$GW"; do wait_ready "$p" || log "port $p: not ready after 30 s"; done
target/release/loadgen broadcast -n "$MEMBERS" --senders 2 --rate 20 --duration 20 --ramp 8 \
  --gateways "ws://127.0.0.1:$GW/ws" --message-store-url "http://127.0.0.1:$MS" --source-addrs 127.0.0.2 --quiet >"$S/lg.log" 2>&1 &
LG=$!
sleep 12
perf record -F 999 -g -p "$(cat "$S/gw.pid")" -o "$S/perf.data" -- sleep 10 >/dev/null 2>&1
wait "$LG" || true
tail -9 "$S/lg.log"
perf report -i "$S/perf.data" --stdio --no-children --sort dso 2>/dev/null | grep -E "^ +[0-9]" | head -5
perf report -i "$S/perf.data" --stdio --no-children --sort sym 2>/dev/null | grep -E "^ +[0-9]" | head -25
