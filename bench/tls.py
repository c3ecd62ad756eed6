#!/usr/bin/python3
"""Single-row throughput over TLS against plain HTTP, keep-alive: the
benchmark model of the peers (trees engine) served by build/modeld twice,
once plain and once with --tls-cert/--tls-key (a P-256 certificate made with
the openssl command, as the tests make theirs). wrk (-t1 --latency, the
peers' post.lua and their 725-byte single-row V2 body) runs against the plain
and the TLS server alternately (the order swaps every round), ROUNDS times
per connection count; each connection shakes hands once and then sends
requests for the whole run. The script prints medians of requests/s, p50
and p99 per server and the TLS/plain ratios.

Usage: /usr/bin/python3 bench/tls.py   (after `make`)

Environment: ROUNDS (3), DURATION seconds per wrk run (10), CONNS
(1,16: connection counts, comma-separated), THREADS (modeld's --threads,
default 1)."""
import os
import shutil
import ssl
import statistics
import sys
import tempfile
import time
import urllib.request

from common import MODELD, ROOT, Servers, bench_repo, free_port, single_row_body, wrk

sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from tlslib import CA  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "10"))
CONNS = [int(c) for c in os.environ.get("CONNS", "1,16").split(",")]
THREADS = os.environ.get("THREADS", "1")
PATH = "/v2/models/bench/infer"


def wait_ready(url, ctx, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("modeld exited (status %d) before it was ready" % proc.returncode)
        try:
            if urllib.request.urlopen(url + "/v2/health/ready", timeout=2,
                                      context=ctx).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("modeld not ready at %s after %ds" % (url, timeout))


def start(servers, repo, data, tls_args, ctx):
    port = free_port()
    p = servers.start([MODELD, "--repo", repo, "--listen", "127.0.0.1:%d" % port, "--data", data,
                       "--threads", THREADS, "--log-level", "error"] + tls_args)
    url = ("https" if tls_args else "http") + "://127.0.0.1:%d" % port
    wait_ready(url, ctx, p)
    return url


def main():
    if not os.path.exists(MODELD) or shutil.which("wrk") is None:
        sys.exit("needs build/modeld (make) and wrk (scripts/deps.sh bench)")
    tmp = tempfile.mkdtemp(prefix="modeld-bench-tls-")
    try:
        ca = CA(tmp, "ca")
        cert, key = ca.issue("server")
        ctx = ssl.create_default_context(cafile=ca.pem)
        repo = bench_repo(os.path.join(tmp, "repo"))
        body = single_row_body(os.path.join(tmp, "body.json"))
        with Servers() as servers:
            urls = {
                "plain": start(servers, repo, os.path.join(tmp, "d1"), [], None),
                "tls": start(servers, repo, os.path.join(tmp, "d2"),
                             ["--tls-cert", cert, "--tls-key", key], ctx),
            }
            print("modeld --threads %s, single-row V2 (trees), keep-alive, %d x %ds per point"
                  % (THREADS, ROUNDS, DURATION))
            print("%-6s %-6s %10s %9s %9s" % ("conns", "server", "req/s", "p50 ms", "p99 ms"))
            for conns in CONNS:
                runs = {"plain": [], "tls": []}
                for r in range(ROUNDS):
                    order = ["plain", "tls"] if r % 2 == 0 else ["tls", "plain"]
                    for name in order:
                        runs[name].append(wrk(urls[name] + PATH, body, conns, DURATION))
                med = {}
                for name in ("plain", "tls"):
                    rs = runs[name]
                    med[name] = (statistics.median(x.rps for x in rs),
                                 statistics.median(x.p50 for x in rs),
                                 statistics.median(x.p99 for x in rs))
                    print("%-6d %-6s %10.0f %9.3f %9.3f" % ((conns, name) + med[name]))
                print("%-6d %-6s %10.3f %9.3f %9.3f" % (
                    conns, "ratio", med["tls"][0] / med["plain"][0],
                    med["tls"][1] / med["plain"][1], med["tls"][2] / med["plain"][2]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
