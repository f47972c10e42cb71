#!/usr/bin/env bash
# Remakes the screenshots of docs/STUDY.md against a running local stack
# (scripts/run.sh --release --gateways 2 --detach; a fresh one, for the
# slow-consumer count): the inspector under a
# traced fanout load, one trace's waterfall, and back-pressure (two clients
# that stop reading, their queues filling, then their 1008 closes).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
OUT=docs/study; mkdir -p "$OUT"
export JWT_SECRET; JWT_SECRET=$(cat "$ROOT/.local/jwt_secret")
INSPECT=http://127.0.0.1:${GATEWAY_PORT:-8180}/inspect
GATEWAYS="ws://127.0.0.1:${GATEWAY_PORT:-8180}/ws,ws://127.0.0.1:$((${GATEWAY_PORT:-8180} + 1))/ws"
LG=target/release/loadgen
shoot() { (cd e2e && node shoot.mjs "$@"); }

log "fanout with traces, over both gateways"
$LG fanout -n 1000 --conversations 100 --members 10 --senders 100 --rate 100 --duration 20 \
  --trace-sample 50 --gateways "$GATEWAYS" --quiet >"$OUT/fanout-traced.txt" 2>&1 &
lg=$!
busy='Number(document.querySelector("#rate").textContent.replace(/,/g, "")) > 200 && document.querySelector("#waterfall").dataset.hops > 8'
shoot "$INSPECT" "../$OUT/inspector-under-load.png" "$busy"
shoot "$INSPECT" "../$OUT/trace-waterfall.png" "$busy" "#trace-section"
wait "$lg"

log "broadcast with two clients that stop reading"
$LG broadcast -n 40 --senders 10 --rate 100 --body-bytes 3900 --duration 40 --stall 2 --fault-at 3 \
  --stall-secs 30 --fault-cmd true --gateways "ws://127.0.0.1:${GATEWAY_PORT:-8180}/ws" --quiet \
  >"$OUT/back-pressure.txt" 2>&1 &
lg=$!
shoot "$INSPECT" "../$OUT/back-pressure-queue.png" \
  '[...document.querySelectorAll("#sessions td.hot")].some((td) => Number(td.textContent.replace(/,/g, "")) > 100)'
shoot "$INSPECT" "../$OUT/back-pressure-closed.png" 'Number(document.querySelector("#slow").textContent) >= 2'
wait "$lg"
log "screenshots and loadgen reports in $OUT/"
