#!/usr/bin/env bash
# Side-by-side A/B of gateway binaries: each run gives every binary a fresh
# stack in turn (run 1: A, B, ...; run 2: A, B, ...), so slow drifts of a
# shared machine fall on all of them alike. Medians per binary at the end.
#
#   scripts/bench-ab.sh RUNS LABEL=BINARY [LABEL=BINARY...]
#   SCENARIOS="idle broadcast" PIN=1 scripts/bench-ab.sh 3 old=/tmp/gw-old new=target/release/gateway
#
# Results: target/bench-ab/LABEL/ (loadgen JSON, gateway metrics, summary.md).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
RUNS=${1:?runs}; shift
OUT=${BENCH_AB_OUT:-$ROOT/target/bench-ab}
rm -rf "$OUT"; mkdir -p "$OUT"
for run in $(seq 1 "$RUNS"); do
  for pair in "$@"; do
    label=${pair%%=*} bin=${pair#*=}
    [ -x "$bin" ] || die "$bin: not an executable"
    log "run $run/$RUNS: $label ($bin)"
    tmp="$OUT/.tmp"; rm -rf "$tmp"
    BENCH_OUT="$tmp" GATEWAY_BIN="$bin" "$ROOT/scripts/bench.sh" gateway 1 >"$OUT/$label-run$run.log" 2>&1 \
      || log "$label run $run: bench.sh failed (see $OUT/$label-run$run.log)"
    mkdir -p "$OUT/$label"
    for f in "$tmp"/*-1.json "$tmp"/*-1.metrics "$tmp"/*-1.png; do
      [ -e "$f" ] || continue
      base=$(basename "$f"); mv "$f" "$OUT/$label/${base%-1.*}-$run.${base##*.}"
    done
  done
done
rm -rf "$OUT/.tmp"
for pair in "$@"; do
  label=${pair%%=*}
  echo; echo "## $label"
  python3 "$ROOT/scripts/bench_summary.py" "$OUT/$label" | tee "$OUT/$label/summary.md"
done
