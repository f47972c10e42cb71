#!/usr/bin/env python3
"""Sign-up flood: N concurrent registrations against a running bff, while a
regular user logs in every half second. Prints the bff's peak RSS (VmHWM),
the sign-ups' statuses, and how the regular logins fared.

    scripts/run.sh --release --detach    # with SIGNUP_PER_ADDRESS_PER_MIN raised,
                                         # or the address limit answers first
    scripts/signup-flood.py --bff http://127.0.0.1:3000 --pid $(cat .local/pids/bff.pid) -n 1000

Standard library only (threads and http.client).
"""
import argparse
import collections
import http.client
import json
import secrets
import threading
import time
import urllib.parse


def post(base, path, body, timeout=60):
    u = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        code = ""
        if resp.status >= 400:
            try:
                code = json.loads(data)["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "?"
        return resp.status, code
    except OSError as e:
        return 0, type(e).__name__
    finally:
        conn.close()


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bff", default="http://127.0.0.1:3000")
    ap.add_argument("--pid", type=int, required=True, help="the bff's process id")
    ap.add_argument("-n", type=int, default=1000, help="concurrent sign-ups")
    args = ap.parse_args()

    tag = secrets.token_hex(3)
    regular = f"regular_{tag}"
    status, code = post(args.bff, "/api/auth/register", {"username": regular, "password": "password123"})
    assert status == 201, (status, code)
    before = rss_kib(args.pid, "VmRSS")

    start = threading.Barrier(args.n + 1)
    results = collections.Counter()
    lock = threading.Lock()

    def sign_up(i):
        start.wait()
        got = post(args.bff, "/api/auth/register", {"username": f"flood_{tag}_{i}", "password": "password123"})
        with lock:
            results[got] += 1

    threads = [threading.Thread(target=sign_up, args=(i,)) for i in range(args.n)]
    for t in threads:
        t.start()
    logins = []
    done = threading.Event()

    def log_in():
        while not done.is_set():
            t0 = time.monotonic()
            status, code = post(args.bff, "/api/auth/login", {"username": regular, "password": "password123"})
            logins.append((status, code, time.monotonic() - t0))
            time.sleep(0.5)

    watcher = threading.Thread(target=log_in)
    start.wait()
    t0 = time.monotonic()
    watcher.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    done.set()
    watcher.join()
    peak = rss_kib(args.pid, "VmHWM")
    after = rss_kib(args.pid, "VmRSS")

    print(f"{args.n} concurrent sign-ups in {elapsed:.1f} s")
    for (status, code), n in sorted(results.items()):
        print(f"  {n:5d} x {status} {code}")
    print(f"bff RSS: {before / 1024:.0f} MiB before, peak {peak / 1024:.0f} MiB, {after / 1024:.0f} MiB after")
    ok = [l for l in logins if l[0] == 200]
    worst = max((l[2] for l in logins), default=0)
    print(f"regular user's logins during the flood: {len(ok)}/{len(logins)} answered 200, slowest {worst:.2f} s")
    for status, code, _ in logins:
        if status != 200:
            print(f"  login answered {status} {code}")


if __name__ == "__main__":
    main()
