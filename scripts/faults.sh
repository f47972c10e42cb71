#!/usr/bin/env bash
# The fault harness: a steady loadgen fanout over two gateways behind the
# local nginx, with the broker on durable storage, and one fault injected at
# a time while it runs. loadgen's clients reconnect through nginx, catch up
# from history and resend what was not answered, the way the web UI does;
# at the end it checks every acked message against history (stored exactly
# once, in seq order, at the seq its ack named) and every client's view
# (live plus catch-up: every acked message of its conversations, once).
#
#   scripts/faults.sh [--runs N] [--quick] [--only FAULT,...] [--debug]
#
# Faults: ms-kill (message-store kill -9, restarted 3 s later), gw-kill (one
# gateway kill -9, restarted 3 s later), broker-kill (the broker kill -9,
# restarted on its data), pg-stop (PostgreSQL fast shutdown, started 3 s
# later), gw-freeze and broker-freeze (SIGSTOP for 7 s, longer than the
# 5 s send timeout, then SIGCONT), slow-reader (clients that stop reading:
# closed with 1008 and their slot freed while everyone else goes on).
#
# --quick runs ms-kill and gw-kill once each with a small load on debug
# builds (the test command's short version). Results: a table on stdout and
# JSON per run in target/faults/ (RESULTS in the environment moves it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

RUNS=1; QUICK=0; ONLY=""; PROFILE=release
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --quick) QUICK=1; PROFILE=debug; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --debug) PROFILE=debug; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
ALL="ms-kill gw-kill broker-kill pg-stop gw-freeze broker-freeze slow-reader"
if [ "$QUICK" = 1 ]; then FAULTS=${ONLY//,/ }; FAULTS=${FAULTS:-ms-kill gw-kill}; else FAULTS=${ONLY//,/ }; FAULTS=${FAULTS:-$ALL}; fi
# The load: users in conversations of 10, a steady rate, the fault a third
# of the way in.
if [ "$QUICK" = 1 ]; then
  CLIENTS=${CLIENTS:-200}; RATE=${RATE:-100}; DURATION=${DURATION:-15}; FAULT_AT=${FAULT_AT:-5}
else
  CLIENTS=${CLIENTS:-1000}; RATE=${RATE:-300}; DURATION=${DURATION:-30}; FAULT_AT=${FAULT_AT:-10}
fi
OUTAGE=${OUTAGE:-3}       # seconds a killed or stopped process stays down
FREEZE=${FREEZE:-7}       # seconds a frozen process stays stopped (> SEND_TIMEOUT_MS)
RESULTS=${RESULTS:-$ROOT/target/faults}
mkdir -p "$RESULTS"
"$ROOT/scripts/install.sh"
ulimit -n "$(ulimit -Hn)"

flags=(); [ "$PROFILE" = release ] && flags+=(--release)
build_bins "${flags[@]}"
BIN="$ROOT/target/$PROFILE"

STACK=$(mktemp -d /tmp/chat-faults.XXXXXX); chmod 755 "$STACK"
mkdir -p "$STACK/pids" "$STACK/logs"
cleanup() {
  for f in "$STACK"/pids/*.pid; do [ -e "$f" ] && { kill -CONT "$(cat "$f")" 2>/dev/null || true; kill_pidfile "$f"; }; done
  kill -CONT "$(cat "$STACK/tansu/tansu.pid" 2>/dev/null)" 2>/dev/null || true
  kill_pidfile "$STACK/tansu/tansu.pid"
  NGINX_DIR="$STACK/nginx" "$ROOT/scripts/nginx.sh" stop >/dev/null 2>&1 || true
  stop_postgres "$STACK/pg"
  rm -rf "$STACK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export JWT_SECRET="faults-$(head -c 12 /dev/urandom | base64 | tr -dc a-zA-Z0-9)" RUST_LOG=${RUST_LOG:-warn}
PG_PORT=$(free_port); KAFKA_PORT=$(free_port); MS_PORT=$(free_port); NGINX_PORT=$(free_port)
GW_PORTS=("$(free_port)" "$(free_port)")
# Durable parts: PostgreSQL with its defaults (fsync on), tansu on SQLite
# (a fresh broker per run, below).
start_postgres "$STACK/pg" "$PG_PORT"
DB="postgres://postgres@127.0.0.1:$PG_PORT"
export KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

# run_bg NAME PORT command...: starts a process, records its pid, waits for /readyz.
run_bg() {
  local name=$1 port=$2; shift 2
  # In a subshell: the harness kills these on purpose, unannounced.
  ( "$@" >>"$STACK/logs/$name.log" 2>&1 & echo $! >"$STACK/pids/$name.pid" )
  wait_ready "$port" 60 || { tail -20 "$STACK/logs/$name.log" >&2; die "$name did not become ready"; }
}
start_ms() { run_bg ms "$MS_PORT" "$BIN/message-store" --port "$MS_PORT" --database-url "$DB/$DATABASE"; }
GW_EXTRA=()
start_gw() { # INDEX
  run_bg "gw$1" "${GW_PORTS[$1]}" "$BIN/gateway" --port "${GW_PORTS[$1]}" \
    --message-store-url "http://127.0.0.1:$MS_PORT" --rate-per-sec 1000 --rate-burst 1000 \
    ${GW_EXTRA[@]+"${GW_EXTRA[@]}"}
}
pid_of() { cat "$STACK/pids/$1.pid"; }
metric() { # PORT NAME: a gateway metric's value (0 when absent)
  curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null | awk -v n="$2" '$1 == n { print $2; f=1 } END { if (!f) print 0 }'
}

# The injection, as a script loadgen runs at the fault's moment
# (`--fault-cmd`), with this harness's state baked in.
write_inject() {
  cat >"$STACK/inject.sh" <<INJECT
#!/usr/bin/env bash
set -euo pipefail
. "$ROOT/scripts/lib.sh"
STACK="$STACK" PG_PORT="$PG_PORT" KAFKA_PORT="$KAFKA_PORT" MS_PORT="$MS_PORT" DB="$DB"
DATABASE="\$2" GW0_PORT="${GW_PORTS[0]}" BIN="$BIN" OUTAGE="$OUTAGE" FREEZE="$FREEZE"
export JWT_SECRET="$JWT_SECRET" KAFKA_BOOTSTRAP="$KAFKA_BOOTSTRAP" RUST_LOG="$RUST_LOG"
pid_of() { cat "\$STACK/pids/\$1.pid"; }
run_bg() {
  local name=\$1 port=\$2; shift 2
  ( "\$@" >>"\$STACK/logs/\$name.log" 2>&1 & echo \$! >"\$STACK/pids/\$name.pid" )
  wait_ready "\$port" 60
}
case \$1 in
  ms-kill) kill -9 "\$(pid_of ms)"; sleep "\$OUTAGE"
    run_bg ms "\$MS_PORT" "\$BIN/message-store" --port "\$MS_PORT" --database-url "\$DB/\$DATABASE" ;;
  gw-kill) kill -9 "\$(pid_of gw0)"; sleep "\$OUTAGE"
    run_bg gw0 "\$GW0_PORT" "\$BIN/gateway" --port "\$GW0_PORT" \\
      --message-store-url "http://127.0.0.1:\$MS_PORT" --rate-per-sec 1000 --rate-burst 1000 ;;
  broker-kill) kill -9 "\$(cat "\$STACK/tansu/tansu.pid")"; sleep "\$OUTAGE"
    start_tansu "\$STACK/tansu" "\$KAFKA_PORT" "sqlite://tansu.db" ;;
  pg-stop) as_pg "\$(pg_bindir)/pg_ctl" -D "\$STACK/pg/data" -m fast -w stop >/dev/null; sleep "\$OUTAGE"
    start_postgres "\$STACK/pg" "\$PG_PORT" ;;
  gw-freeze) kill -STOP "\$(pid_of gw0)"; sleep "\$FREEZE"; kill -CONT "\$(pid_of gw0)" ;;
  broker-freeze) kill -STOP "\$(cat "\$STACK/tansu/tansu.pid")"; sleep "\$FREEZE"
    kill -CONT "\$(cat "\$STACK/tansu/tansu.pid")" ;;
  slow-reader) ;; # loadgen's stalled clients are the fault
  *) echo "unknown fault \$1" >&2; exit 2 ;;
esac
INJECT
  chmod +x "$STACK/inject.sh"
}
write_inject

n=0
for fault in $FAULTS; do
  for run in $(seq 1 "$RUNS"); do
    n=$((n + 1))
    # A fresh broker and database per run: what one run leaves behind
    # (records a restarted gateway reads back, a broker slowed by an
    # earlier fault) must not weigh on the next.
    kill_pidfile "$STACK/tansu/tansu.pid"; rm -rf "$STACK/tansu"
    start_tansu "$STACK/tansu" "$KAFKA_PORT" "sqlite://tansu.db"
    create_topics "$KAFKA_PORT"
    DATABASE="faults_${fault//-/_}_$run"
    create_databases "$PG_PORT" "$DATABASE"
    # A client that stops reading at chat rates (a few frames a second)
    # takes minutes to fill its queue and kernel buffers, so what bounds its
    # slot is the ping: it stops answering and is closed after the idle
    # timeout (1001), or sooner with 1008 if its queue fills. The
    # slow-reader runs use a 6 s timeout so a 20 s stall must end closed.
    GW_EXTRA=()
    [ "$fault" = slow-reader ] && GW_EXTRA=(--ping-interval-secs 2 --idle-timeout-secs 6)
    start_ms; start_gw 0; start_gw 1
    NGINX_DIR="$STACK/nginx" "$ROOT/scripts/nginx.sh" start "$NGINX_PORT" 9 "${GW_PORTS[0]},${GW_PORTS[1]}" >/dev/null
    extra=()
    [ "$fault" = slow-reader ] && extra+=(--stall 10)
    out="$RESULTS/$fault-$run.json"
    log "fault $fault, run $run: $CLIENTS clients, $RATE msg/s for ${DURATION}s, fault at ${FAULT_AT}s"
    "$BIN/loadgen" fanout --connections "$CLIENTS" --conversations $((CLIENTS / 10)) --members 10 \
      --senders $((CLIENTS / 10)) --rate "$RATE" --duration "$DURATION" --ramp 3 --drain 10 --threads 2 \
      --gateways "ws://127.0.0.1:$NGINX_PORT/ws" --message-store-url "http://127.0.0.1:$MS_PORT" \
      --resilient --history-sample 100000 --quiet --out "$out" "${extra[@]}" \
      --fault-at "$FAULT_AT" --fault-cmd "$STACK/inject.sh $fault $DATABASE" \
      >"$STACK/logs/loadgen-$fault-$run.txt" 2>&1 &
    lg=$!
    status=0; wait "$lg" || status=$?
    if [ "$fault" = slow-reader ]; then
      python3 - "$out" "$(metric "${GW_PORTS[0]}" gateway_slow_consumer_disconnects_total)" \
        "$(metric "${GW_PORTS[1]}" gateway_slow_consumer_disconnects_total)" <<'PY'
import json, sys
path, a, b = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
r = json.load(open(path)); r.setdefault("fault", {})["gateway_1008_closes"] = a + b
json.dump(r, open(path, "w"), indent=1)
PY
    fi
    tail -4 "$STACK/logs/loadgen-$fault-$run.txt" | sed 's/^/    /'
    if [ "$status" != 0 ]; then
      log "fault $fault run $run: loadgen FAILED (exit $status); logs in $RESULTS/logs-$fault-$run"
      mkdir -p "$RESULTS/logs-$fault-$run"; cp "$STACK"/logs/* "$RESULTS/logs-$fault-$run/" 2>/dev/null || true
    fi
    : >"$STACK/logs/gw0.log"; : >"$STACK/logs/gw1.log"; : >"$STACK/logs/ms.log"
    for f in gw0 gw1 ms; do kill_pidfile "$STACK/pids/$f.pid"; done
    NGINX_DIR="$STACK/nginx" "$ROOT/scripts/nginx.sh" stop >/dev/null 2>&1 || true
    echo "$fault $run $status" >>"$STACK/statuses"
  done
done

python3 "$ROOT/scripts/faults_table.py" "$RESULTS" $FAULTS
if grep -qv ' 0$' "$STACK/statuses"; then
  log "some runs failed:"; grep -v ' 0$' "$STACK/statuses" >&2; exit 1
fi
log "every fault run passed"
