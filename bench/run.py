#!/usr/bin/python3
"""Runs the same wrk workload against modeld, noop_http (the ceiling for any
libmicrohttpd server) and fastapi_v2.py (what a Python team would write), in
rounds, and prints medians and ratios. Standard library only.

Usage: /usr/bin/python3 bench/run.py   (after `make`; bench/run.sh does both)

Environment: ROUNDS (3), DURATION seconds per run (10; fastapi_v2 gets half,
at least 3), CONNS (32; the 64-connection scenario is CONNS=64),
THREADS (modeld's --threads, default 1: the same one thread noop_http gets),
SKIP_FASTAPI=1 to leave the Python peer out."""
import os
import shutil
import statistics
import sys
import tempfile

from common import (BENCH_DATA, PEERS, PYTHON, Servers, bench_repo, build_noop, free_port,
                    single_row_body, wait_http, wrk)

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "10"))
CONNS = int(os.environ.get("CONNS", "32"))
THREADS = os.environ.get("THREADS", "1")


def main():
    tmp = tempfile.mkdtemp(prefix="modeld-bench-")
    try:
        with Servers() as srv:
            noop = build_noop(os.path.join(tmp, "noop_http"))
            repo = bench_repo(os.path.join(tmp, "repo"))
            body1 = single_row_body(os.path.join(tmp, "body1.json"))

            servers = []
            p_md, _ = srv.modeld(repo, os.path.join(tmp, "data"), THREADS)
            servers.append(("modeld", p_md))
            p_noop = free_port()
            proc = srv.start([noop, str(p_noop), "1"])
            wait_http("http://127.0.0.1:%d/" % p_noop, proc=proc)
            servers.append(("noop_http", p_noop))
            if os.environ.get("SKIP_FASTAPI") != "1":
                p_fa = free_port()
                env = dict(os.environ, MODEL=os.path.join(BENCH_DATA, "bench_model.json"))
                proc = srv.start([PYTHON, "-m", "uvicorn", "fastapi_v2:app", "--app-dir", PEERS,
                                  "--host", "127.0.0.1", "--port", str(p_fa),
                                  "--log-level", "warning"], env=env)
                wait_http("http://127.0.0.1:%d/docs" % p_fa, proc=proc)
                servers.append(("fastapi_v2", p_fa))

            results = {name: [] for name, _ in servers}
            for r in range(ROUNDS):
                for name, port in servers:
                    url = "http://127.0.0.1:%d/v2/models/bench/infer" % port
                    dur = DURATION if name != "fastapi_v2" else max(3, DURATION // 2)
                    run = wrk(url, body1, CONNS, dur)
                    results[name].append(run)
                    print("round %d %-10s %10.0f req/s  p50 %.3f ms  p99 %.3f ms%s" %
                          (r + 1, name, run.rps, run.p50, run.p99,
                           "  (%d socket errors)" % run.errors if run.errors else ""),
                          flush=True)

        med = {n: (statistics.median(x.rps for x in v), statistics.median(x.p50 for x in v),
                   statistics.median(x.p99 for x in v)) for n, v in results.items()}
        print("\nsingle-row Open Inference Protocol infer, wrk -t1 -c%d, %d rounds of %d s, "
              "medians; modeld --threads %s, noop_http 1 thread"
              % (CONNS, ROUNDS, DURATION, THREADS))
        print("%-12s %12s %10s %10s" % ("server", "req/s", "p50 ms", "p99 ms"))
        for n, (rps, p50, p99) in med.items():
            print("%-12s %12.0f %10.3f %10.3f" % (n, rps, p50, p99))
        md = med["modeld"]
        print("\nmodeld / noop_http throughput: %.2f" % (md[0] / med["noop_http"][0]))
        if "fastapi_v2" in med:
            print("modeld / fastapi_v2 throughput: %.1fx" % (md[0] / med["fastapi_v2"][0]))
            print("fastapi_v2 / modeld p99 latency: %.1fx" % (med["fastapi_v2"][2] / md[2]))
        print("modeld p99 at %d connections: %.3f ms" % (CONNS, md[2]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
