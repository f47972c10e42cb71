#!/usr/bin/env bash
# Stops everything scripts/run.sh started, by process id.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

for f in "$LOCAL"/pids/*.pid; do
  [ -e "$f" ] || continue
  log "stopping $(basename "$f" .pid)"
  kill_pidfile "$f"
done
[ -x "$ROOT/scripts/nginx.sh" ] && "$ROOT/scripts/nginx.sh" stop >/dev/null 2>&1
if [ -f "$LOCAL/tansu/tansu.pid" ]; then log "stopping tansu"; kill_pidfile "$LOCAL/tansu/tansu.pid"; fi
log "stopping PostgreSQL"; stop_postgres "$LOCAL/pg"
