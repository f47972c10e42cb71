#!/usr/bin/env bash
# Starts the whole chat system on this machine: PostgreSQL, the tansu broker,
# user-store, message-store, bff and the gateway(s). Prints the URL to open,
# then waits; Ctrl-C (or scripts/stop.sh) stops everything it started.
#
#   scripts/run.sh [--gateways N] [--release] [--detach]
#
# Environment: PG_PORT (55432), KAFKA_PORT (19092), BFF_PORT (3000),
# GATEWAY_PORT (8180, then consecutive), MESSAGE_STORE_PORT (8080),
# USER_STORE_PORT (8380), NGINX_PORT (8000, when gateways > 1), RUST_LOG.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

GATEWAYS=${GATEWAYS:-1}
PROFILE=debug
DETACH=0
while [ $# -gt 0 ]; do
  case $1 in
    --gateways) GATEWAYS=$2; shift 2 ;;
    --release) PROFILE=release; shift ;;
    --detach) DETACH=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done

PG_PORT=${PG_PORT:-55432}
KAFKA_PORT=${KAFKA_PORT:-19092}
BFF_PORT=${BFF_PORT:-3000}
GATEWAY_PORT=${GATEWAY_PORT:-8180}
MESSAGE_STORE_PORT=${MESSAGE_STORE_PORT:-8080}
USER_STORE_PORT=${USER_STORE_PORT:-8380}
NGINX_PORT=${NGINX_PORT:-8000}
export RUST_LOG=${RUST_LOG:-info}

"$ROOT/scripts/install.sh"
mkdir -p "$LOCAL/logs" "$LOCAL/pids"

if [ "$DETACH" = 0 ]; then
  trap '"$ROOT/scripts/stop.sh"; exit 130' INT TERM
fi

log "PostgreSQL on 127.0.0.1:$PG_PORT (data in .local/pg)"
start_postgres "$LOCAL/pg" "$PG_PORT"
create_databases "$PG_PORT" chat_bff chat_messages chat_users

log "tansu broker on 127.0.0.1:$KAFKA_PORT (data in .local/tansu/tansu.db)"
if [ -f "$LOCAL/tansu/tansu.pid" ] && kill -0 "$(cat "$LOCAL/tansu/tansu.pid")" 2>/dev/null; then
  :
else
  start_tansu "$LOCAL/tansu" "$KAFKA_PORT" "sqlite://tansu.db"
fi
create_topics "$KAFKA_PORT"

# One secret for the whole local system, kept across runs.
if [ ! -s "$LOCAL/jwt_secret" ]; then
  (umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n' >"$LOCAL/jwt_secret")
fi
export JWT_SECRET; JWT_SECRET=$(cat "$LOCAL/jwt_secret")
export KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

log "building every service ($PROFILE)"
if [ "$PROFILE" = release ]; then build_bins --release; else build_bins; fi
BIN_DIR="$ROOT/target/$PROFILE"

# start_service NAME PORT [env assignments...]
start_service() {
  local name=$1 port=$2; shift 2
  kill_pidfile "$LOCAL/pids/$name.pid"
  env "$@" "$BIN_DIR/${name%%-[0-9]*}" >"$LOCAL/logs/$name.log" 2>&1 &
  echo $! >"$LOCAL/pids/$name.pid"
  local i=0
  until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 300 ] || ! kill -0 "$(cat "$LOCAL/pids/$name.pid")" 2>/dev/null; then
      tail -20 "$LOCAL/logs/$name.log" >&2; die "$name did not become ready"
    fi
    sleep 0.1
  done
  log "$name ready on 127.0.0.1:$port"
}

DB="postgres://postgres@127.0.0.1:$PG_PORT"
GATEWAY_PUBLIC_URL="ws://127.0.0.1:$GATEWAY_PORT/ws"
[ "$GATEWAYS" -gt 1 ] && GATEWAY_PUBLIC_URL="ws://127.0.0.1:$NGINX_PORT/ws"

if [ -x "$BIN_DIR/user-store" ]; then
  start_service user-store "$USER_STORE_PORT" PORT="$USER_STORE_PORT" DATABASE_URL="$DB/chat_users"
fi
if [ -x "$BIN_DIR/message-store" ]; then
  start_service message-store "$MESSAGE_STORE_PORT" PORT="$MESSAGE_STORE_PORT" DATABASE_URL="$DB/chat_messages"
fi
if [ -x "$BIN_DIR/gateway" ]; then
  for i in $(seq 0 $((GATEWAYS - 1))); do
    # The inspector of each gateway asks the others for their part of a
    # trace; locally anyone may ask for a trace (TRACE_USERS='*').
    peers=""
    for j in $(seq 0 $((GATEWAYS - 1))); do
      [ "$j" = "$i" ] || peers="$peers${peers:+,}http://127.0.0.1:$((GATEWAY_PORT + j))"
    done
    start_service "gateway-$i" $((GATEWAY_PORT + i)) PORT=$((GATEWAY_PORT + i)) \
      GATEWAY_NAME="gw-$i" INSPECT_PEERS="$peers" TRACE_USERS="${TRACE_USERS:-*}" \
      MESSAGE_STORE_URL="http://127.0.0.1:$MESSAGE_STORE_PORT" \
      ALLOWED_ORIGINS="http://127.0.0.1:$BFF_PORT,http://localhost:$BFF_PORT,http://127.0.0.1:$NGINX_PORT,http://localhost:$NGINX_PORT"
  done
  if [ "$GATEWAYS" -gt 1 ]; then
    ports=$(seq -s, "$GATEWAY_PORT" $((GATEWAY_PORT + GATEWAYS - 1)))
    "$ROOT/scripts/nginx.sh" start "$NGINX_PORT" "$BFF_PORT" "$ports"
  fi
fi
if [ -x "$BIN_DIR/bff" ]; then
  start_service bff "$BFF_PORT" PORT="$BFF_PORT" DATABASE_URL="$DB/chat_bff" \
    USER_STORE_URL="http://127.0.0.1:$USER_STORE_PORT" \
    MESSAGE_STORE_URL="http://127.0.0.1:$MESSAGE_STORE_PORT" \
    GATEWAY_PUBLIC_URL="$GATEWAY_PUBLIC_URL" \
    GATEWAY_URLS="$(seq -s, "$GATEWAY_PORT" $((GATEWAY_PORT + GATEWAYS - 1)) | sed 's#\([0-9]*\)#http://127.0.0.1:\1#g')"
fi

URL="http://127.0.0.1:$BFF_PORT"
[ "$GATEWAYS" -gt 1 ] && URL="http://127.0.0.1:$NGINX_PORT"
echo
echo "  Chat is running. Open $URL"
echo "  Actor inspector (loopback only): http://127.0.0.1:$GATEWAY_PORT/inspect"
echo "  Logs: .local/logs/   Stop: Ctrl-C or scripts/stop.sh"
echo
if [ "$DETACH" = 0 ]; then
  while true; do sleep 3600 & wait $!; done
fi
