#!/usr/bin/python3
"""Latency of the repository endpoints: POST /v2/repository/models/bench/load
right after an unload (so the engine loads the benchmark model again), and
the unload itself, as a client sees them.

Each binary serves the benchmark model (trees engine, --threads 1); a client
runs N unload/load cycles, half of them on one keep-alive connection and half
on a new connection per request, and prints the median and the 90th
percentile of each, in milliseconds.

Usage: /usr/bin/python3 bench/load.py [MODELD ...]   (after `make`)
Environment: N (200 cycles)."""
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from common import MODELD, bench_repo, free_port, wait_ready


def post(conn, path):
    start = time.perf_counter()
    conn.request("POST", path, body=b"")
    r = conn.getresponse()
    r.read()
    ms = (time.perf_counter() - start) * 1000
    if r.status != 200:
        raise RuntimeError("%s answered %d" % (path, r.status))
    return ms


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


def measure(modeld, n):
    tmp = tempfile.mkdtemp(prefix="modeld-load-")
    repo = bench_repo(os.path.join(tmp, "repo"))
    port = free_port()
    p = subprocess.Popen([modeld, "--repo", repo, "--listen", "127.0.0.1:%d" % port, "--data",
                          os.path.join(tmp, "data"), "--threads", "1", "--log-level", "error"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, proc=p)
        loads = {"keep-alive": [], "new connection": []}
        unloads = {"keep-alive": [], "new connection": []}
        keep = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in range(n):
            how = "keep-alive" if i % 2 == 0 else "new connection"
            conn = keep if how == "keep-alive" else http.client.HTTPConnection(
                "127.0.0.1", port, timeout=60)
            unloads[how].append(post(conn, "/v2/repository/models/bench/unload"))
            if how != "keep-alive":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            loads[how].append(post(conn, "/v2/repository/models/bench/load"))
            if how != "keep-alive":
                conn.close()
        keep.close()
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    return loads, unloads


def main():
    binaries = sys.argv[1:] or [MODELD]
    n = int(os.environ.get("N", "200"))
    for b in binaries:
        loads, unloads = measure(b, n)
        print(b)
        for how in ("keep-alive", "new connection"):
            print("  %-15s load   median %6.2f ms  p90 %6.2f ms" %
                  (how, pct(loads[how], 0.5), pct(loads[how], 0.9)))
            print("  %-15s unload median %6.2f ms  p90 %6.2f ms" %
                  (how, pct(unloads[how], 0.5), pct(unloads[how], 0.9)))


if __name__ == "__main__":
    main()
