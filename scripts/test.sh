#!/usr/bin/env bash
# The test command: formatting, lints, docs, and every test, against a
# throwaway PostgreSQL cluster and tansu broker started here on free ports
# and stopped at the end (also on failure or Ctrl-C).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/install.sh"

log "cargo fmt --check"
cargo fmt --all -- --check
log "docker/ checks (offline)"
python3 "$ROOT/scripts/check-docker.py"
log "cargo clippy"
cargo clippy -j2 --workspace --all-targets -- -D warnings

STACK=$(mktemp -d /tmp/chat-test.XXXXXX); chmod 755 "$STACK"
cleanup() {
  kill_pidfile "$STACK/tansu/tansu.pid"
  stop_postgres "$STACK/pg"
  rm -rf "$STACK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PG_PORT=$(free_port); KAFKA_PORT=$(free_port)
log "test PostgreSQL on $PG_PORT, tansu on $KAFKA_PORT"
start_postgres "$STACK/pg" "$PG_PORT" fsync=off synchronous_commit=off full_page_writes=off
start_tansu "$STACK/tansu" "$KAFKA_PORT" "memory://tansu/"
export TEST_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT"
export TEST_KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

log "cargo test"
cargo test -j2 --workspace --no-fail-fast

log "UI unit tests (node --test bff/ui/test/)"
node --test bff/ui/test/

log "system tests: browser end-to-end and loadgen smoke (e2e/run.sh)"
"$ROOT/e2e/run.sh"

log "fault injection, short form: message-store and a gateway killed under load (scripts/faults.sh --quick)"
"$ROOT/scripts/faults.sh" --quick

log "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc -j2 --workspace --no-deps --quiet

log "all checks passed"
