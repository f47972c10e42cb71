#!/usr/bin/env bash
# System tests: starts a throwaway stack (PostgreSQL, tansu, every service)
# on free loopback ports, runs the Playwright tests of the web UI in headless
# Chromium and a loadgen smoke run, stops everything. Screenshots and the
# loadgen result go to e2e/artifacts/.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
cd "$ROOT"

if ! [ -x /usr/bin/chromium ]; then
  log "installing Debian's chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
(cd e2e && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error; })
build_bins

STACK=$(mktemp -d /tmp/chat-e2e.XXXXXX); chmod 755 "$STACK"
mkdir -p "$STACK/pids" "$STACK/logs"
cleanup() {
  for f in "$STACK"/pids/*.pid; do [ -e "$f" ] && kill_pidfile "$f"; done
  kill_pidfile "$STACK/tansu/tansu.pid"
  stop_postgres "$STACK/pg"
  if [ "${KEEP_E2E_LOGS:-}" ]; then cp -r "$STACK/logs" e2e/artifacts/ 2>/dev/null || true; fi
  rm -rf "$STACK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PG_PORT=$(free_port); KAFKA_PORT=$(free_port)
start_postgres "$STACK/pg" "$PG_PORT" fsync=off synchronous_commit=off full_page_writes=off
create_databases "$PG_PORT" chat_bff chat_messages chat_users
start_tansu "$STACK/tansu" "$KAFKA_PORT" "memory://tansu/"
create_topics "$KAFKA_PORT"

export JWT_SECRET="e2e-secret-$(head -c 16 /dev/urandom | base64 | tr -dc a-zA-Z0-9)"
export KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT" RUST_LOG=${RUST_LOG:-warn}
DB="postgres://postgres@127.0.0.1:$PG_PORT"
US_PORT=$(free_port); MS_PORT=$(free_port); GW_PORT=$(free_port); GW2_PORT=$(free_port); BFF_PORT=$(free_port)

# start NAME PORT env...: runs target/debug/NAME with env (NAME-2 is a
# second copy of NAME), waits for /readyz.
start() {
  local name=$1 port=$2; shift 2
  env "$@" PORT="$port" "$ROOT/target/debug/${name%-[0-9]*}" >>"$STACK/logs/$name.log" 2>&1 &
  echo $! >"$STACK/pids/$name.pid"
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  tail -20 "$STACK/logs/$name.log" >&2; die "$name did not become ready"
}
start user-store "$US_PORT" DATABASE_URL="$DB/chat_users"
start message-store "$MS_PORT" DATABASE_URL="$DB/chat_messages"
# Anyone may ask for a trace here (the inspector test sends one).
GATEWAY_ENV=(MESSAGE_STORE_URL="http://127.0.0.1:$MS_PORT" ALLOWED_ORIGINS="http://127.0.0.1:$BFF_PORT" TRACE_USERS='*')
GW1_ENV=(GATEWAY_NAME=gw-1 INSPECT_PEERS="http://127.0.0.1:$GW2_PORT")
start gateway "$GW_PORT" "${GATEWAY_ENV[@]}" "${GW1_ENV[@]}"
# A second gateway, for the loadgen runs and the trace over two gateways.
start gateway-2 "$GW2_PORT" "${GATEWAY_ENV[@]}" GATEWAY_NAME=gw-2 INSPECT_PEERS="http://127.0.0.1:$GW_PORT"
start bff "$BFF_PORT" DATABASE_URL="$DB/chat_bff" USER_STORE_URL="http://127.0.0.1:$US_PORT" \
  MESSAGE_STORE_URL="http://127.0.0.1:$MS_PORT" GATEWAY_PUBLIC_URL="ws://127.0.0.1:$GW_PORT/ws" \
  GATEWAY_URLS="http://127.0.0.1:$GW_PORT,http://127.0.0.1:$GW2_PORT" \
  LOGIN_PER_ADDRESS_PER_MIN=1000 SIGNUP_PER_ADDRESS_PER_MIN=1000 GROUPS_PER_USER_PER_MIN=1000

# The tests stop and start the gateway through this script.
cat >"$STACK/gateway.sh" <<GW
#!/usr/bin/env bash
set -euo pipefail
. "$ROOT/scripts/lib.sh"
case "\$1" in
  stop) kill_pidfile "$STACK/pids/gateway.pid" ;;
  start)
    env JWT_SECRET="$JWT_SECRET" KAFKA_BOOTSTRAP="$KAFKA_BOOTSTRAP" RUST_LOG="$RUST_LOG" PORT="$GW_PORT" \\
      $(printf "%q " "${GATEWAY_ENV[@]}" "${GW1_ENV[@]}")"$ROOT/target/debug/gateway" >>"$STACK/logs/gateway.log" 2>&1 &
    echo \$! >"$STACK/pids/gateway.pid"
    for _ in \$(seq 1 300); do curl -fsS "http://127.0.0.1:$GW_PORT/readyz" >/dev/null 2>&1 && exit 0; sleep 0.1; done
    exit 1 ;;
esac
GW
chmod +x "$STACK/gateway.sh"

export E2E_BASE_URL="http://127.0.0.1:$BFF_PORT" E2E_GATEWAY_CTL="$STACK/gateway.sh"
export E2E_GATEWAY_URL="ws://127.0.0.1:$GW_PORT/ws" E2E_GATEWAY2_URL="ws://127.0.0.1:$GW2_PORT/ws"
mkdir -p e2e/artifacts
log "running the browser tests against $E2E_BASE_URL"
# E2E_TESTS=tests/inspect.test.mjs runs only those files.
if [ -n "${E2E_TESTS:-}" ]; then
  (cd e2e && node --test --test-concurrency=1 $E2E_TESTS)
else
  (cd e2e && npm test)
fi

# The load generator's smoke runs, over both gateways: a fanout of a few
# hundred connections spread over two worker processes (so the merge of
# their results is proven too), and a churn run that creates conversations
# and sends into each at once (the first-message race). Each exits non-zero
# on any loss, duplicate, disorder, leak, refusal, unanswered send or
# history mismatch, or if any user's connection is missing.
GATEWAYS="ws://127.0.0.1:$GW_PORT/ws,ws://127.0.0.1:$GW2_PORT/ws"
GATEWAY_PIDS="$(cat "$STACK/pids/gateway.pid"),$(cat "$STACK/pids/gateway-2.pid")"
log "loadgen smoke run: fanout over two gateways"
"$ROOT/target/debug/loadgen" fanout --connections 300 --conversations 30 --members 10 --senders 30 \
  --rate 300 --duration 5 --ramp 2 --drain 3 --workers 2 --threads 1 --gateways "$GATEWAYS" \
  --message-store-url "http://127.0.0.1:$MS_PORT" --gateway-pids "$GATEWAY_PIDS" \
  --quiet --out e2e/artifacts/loadgen-smoke.json --plot e2e/artifacts/loadgen-smoke.png
log "loadgen smoke run: churn over two gateways"
"$ROOT/target/debug/loadgen" churn --connections 120 --members 6 --senders 20 --rate 40 \
  --duration 5 --ramp 2 --drain 3 --threads 1 --gateways "$GATEWAYS" \
  --message-store-url "http://127.0.0.1:$MS_PORT" --quiet --out e2e/artifacts/loadgen-churn.json
