#!/usr/bin/env python3
"""The fault harness's table: one row per fault, medians over its runs.

    faults_table.py RESULTS_DIR FAULT...

Reads RESULTS_DIR/<fault>-<run>.json (loadgen --out of each run) and prints
a Markdown table: messages acked, lost (missing from a client's view or from
history), duplicated (delivered or stored twice), time to recover (first ack
of a send sent after the fault), clients reconnected, sends resent.
"""
import glob
import json
import os
import statistics
import sys


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, unit=""):
    if v is None:
        return "–"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.1f}{unit}"
    return f"{int(v):,}{unit}"


def main():
    results, faults = sys.argv[1], sys.argv[2:]
    print("| fault | runs | acked | lost | duplicated | recovery (first ack after) | clients reconnected | sends resent | verdict |")
    print("|---|---|---|---|---|---|---|---|---|")
    for fault in faults:
        runs = []
        for path in sorted(glob.glob(os.path.join(results, f"{fault}-*.json"))):
            with open(path) as f:
                runs.append(json.load(f))
        if not runs:
            print(f"| {fault} | 0 | | | | | | | no result |")
            continue
        v = [r["verdict"] for r in runs]
        lost = [x["lost"] + x["unanswered"] + x.get("history_missing", 0) for x in v]
        dup = [x["duplicated"] + x.get("history_duplicates", 0) for x in v]
        fault_info = [r.get("fault", {}) for r in runs]
        clean = all(r.get("clean") for r in runs)
        extra = ""
        if fault == "slow-reader":
            closed = median([f.get("stalled_closed") for f in fault_info])
            stalled = median([f.get("stalled") for f in fault_info])
            extra = f" ({fmt(closed)} of {fmt(stalled)} stalled clients closed)"
        print(
            f"| {fault} | {len(runs)} | {fmt(median([r['summary']['acked'] for r in runs]))} "
            f"| {fmt(median(lost))} | {fmt(median(dup))} "
            f"| {fmt(median([f.get('recovery_ms') for f in fault_info]), ' ms')} "
            f"| {fmt(median([f.get('reconnects') for f in fault_info]))} "
            f"| {fmt(median([f.get('resent') for f in fault_info]))} "
            f"| {'PASS' if clean else 'FAIL'}{extra} |"
        )


if __name__ == "__main__":
    main()
