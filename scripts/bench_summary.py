#!/usr/bin/env python3
"""Medians of repeated loadgen runs (JSON files in a folder) as a Markdown
table, and a PNG per scenario: delivery latency percentiles and throughput
over time, from the median run."""
import json
import pathlib
import statistics
import sys

folder = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/bench")
runs = {}
for f in sorted(folder.glob("*-*.json")):
    scenario = f.stem.rsplit("-", 1)[0]
    runs.setdefault(scenario, []).append(json.loads(f.read_text()))

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def fmt(v, digits=1):
    return "–" if v is None else f"{v:,.{digits}f}"

print("| scenario | runs | connected | connect p99 ms | send→ack p50/p99 ms | send→receive p50/p99/p99.9 ms | deliveries/s | KB per connection | deliveries per gateway CPU-s | lost/dup/reordered |")
print("|---|---|---|---|---|---|---|---|---|---|")
for scenario, rs in runs.items():
    s = lambda key, field: med([r["summary"][key][field] for r in rs if r["summary"][key]["count"]])
    bad = sum(r["verdict"]["lost"] + r["verdict"]["duplicated"] + r["verdict"]["out_of_order"] for r in rs)
    print(
        f"| {scenario} | {len(rs)} | {fmt(med([r['connected'] for r in rs]), 0)}/{rs[0]['connections']} "
        f"| {fmt(s('connect', 'p99'))} | {fmt(s('ack', 'p50'))} / {fmt(s('ack', 'p99'))} "
        f"| {fmt(s('deliver', 'p50'))} / {fmt(s('deliver', 'p99'))} / {fmt(s('deliver', 'p999'))} "
        f"| {fmt(med([r['deliveries_per_second'] for r in rs]), 0)} "
        f"| {fmt(med([r['rss_kb_per_connection'] for r in rs]))} "
        f"| {fmt(med([r['deliveries_per_gateway_cpu_second'] for r in rs]), 0)} | {bad} |"
    )

# The gateway's own share: Kafka record received → frame handed to the socket,
# from each run's gateway Prometheus histogram (upper bucket bounds), median
# over the runs of a scenario.
def own_share(path):
    buckets = []
    for line in path.read_text().splitlines():
        if line.startswith("gateway_delivery_seconds_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    total = buckets[-1][1] if buckets else 0
    if not total:
        return None
    return {p: next(le for le, n in buckets if n >= p * total) * 1000 for p in (0.5, 0.99, 0.999)}

shares = {}
for scenario in runs:
    per_run = [own_share(m) for m in sorted(folder.glob(f"{scenario}-[0-9]*.metrics"))]
    per_run = [r for r in per_run if r]
    if per_run:
        shares[scenario] = {p: statistics.median(r[p] for r in per_run) for p in (0.5, 0.99, 0.999)}
if shares:
    print("\nThe gateway's own share (consumer → socket, `gateway_delivery_seconds`, bucket upper bounds, median of runs):\n")
    print("| scenario | p50 ≤ ms | p99 ≤ ms | p99.9 ≤ ms |")
    print("|---|---|---|---|")
    for scenario, q in shares.items():
        print(f"| {scenario} | {q[0.5]:.2f} | {q[0.99]:.2f} | {q[0.999]:.2f} |")

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("\n(matplotlib not installed: no plots; pip install matplotlib)", file=sys.stderr)
    sys.exit(0)

for scenario, rs in runs.items():
    rs = [r for r in rs if r["summary"]["seconds"]]
    if not rs:
        continue
    median_run = sorted(rs, key=lambda r: r["summary"]["deliver"]["p99"])[len(rs) // 2]
    sec = median_run["summary"]["seconds"]
    t = [x["t"] for x in sec]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(t, [x["deliver_p50_ms"] for x in sec], label="send→receive p50")
    ax.plot(t, [x["deliver_p99_ms"] for x in sec], label="send→receive p99")
    ax.set_xlabel("seconds")
    ax.set_ylabel("ms")
    ax2 = ax.twinx()
    ax2.bar(t, [x["delivered"] for x in sec], alpha=0.2, color="grey", label="deliveries/s")
    ax2.set_ylabel("deliveries per second")
    ax.legend(loc="upper left")
    ax.set_title(f"{scenario}: {median_run['connections']} connections")
    fig.tight_layout()
    out = folder / f"{scenario}.png"
    fig.savefig(out, dpi=90)
    print(f"plot: {out}", file=sys.stderr)
