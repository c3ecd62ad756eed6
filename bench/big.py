#!/usr/bin/python3
"""A large request against libxgboost's batch predict on the same rows, in
one run: starts build/modeld serving the benchmark model of the peers and
times, in rounds, 5 back-to-back POSTs of a ROWS-row Open Inference Protocol
body as JSON (keep-alive), 5 with binary tensor data, and 5 of
python3-xgboost's Booster.predict on the same rows, each on a fresh DMatrix
whose construction is not timed, with libxgboost's default thread count
(every core); each block starts with one untimed run. Rounds of the three
alternate so that all see the same load on the host (modeld sits idle in
epoll_wait while libxgboost runs). The rows are bench_rows.csv cycled,
missing values null in JSON and NaN in binary data: bench/big_request.py's
bodies. Prints medians in µs per row, the ratios modeld / libxgboost of the
medians with each round's ratio (the spread), and checks that modeld's
answers match libxgboost's.

Usage: /usr/bin/python3 bench/big.py   (after `make`; needs python3-xgboost
and python3-numpy: `sh scripts/deps.sh bench`)

Environment: ROWS (10000), N runs of each (20, rounded up to whole rounds),
BACKEND (modeld's engine for the model: trees, or xgboost), THREADS (modeld's
--threads, default 0 = one per core; a request runs on one of them, helped
by shared helper threads for its parse and, with trees, the engine call:
docs/operations.md)."""
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy
import xgboost

from big_request import bodies, rows_data, timed_post
from common import BENCH_DATA, Servers, bench_repo

ROWS = int(os.environ.get("ROWS", "10000"))
N = int(os.environ.get("N", "20"))
BLOCK = 5
ROUNDS = max(1, (N + BLOCK - 1) // BLOCK)
BACKEND = os.environ.get("BACKEND", "trees")
THREADS = os.environ.get("THREADS", "0")


class Libxgboost:
    """Booster.predict on a fresh DMatrix each time (libxgboost caches
    predictions per DMatrix); only the predict is timed."""

    def __init__(self, x):
        self.booster = xgboost.Booster(model_file=os.path.join(BENCH_DATA, "bench_model.json"))
        self.x = x
        self.pred = None

    def once(self):
        dm = xgboost.DMatrix(self.x)
        t0 = time.perf_counter()
        self.pred = self.booster.predict(dm)
        return time.perf_counter() - t0


def modeld_outputs(port, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        c.request("POST", "/v2/models/bench/infer", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        doc = json.loads(r.read())
        if r.status != 200:
            raise SystemExit("status %d: %r" % (r.status, doc))
        return doc["outputs"][0]["data"]
    finally:
        c.close()


def main():
    js, binary, json_len = bodies(ROWS)
    x = numpy.array(rows_data(ROWS, float("nan")), dtype=numpy.float32).reshape(ROWS, 30)
    tmp = tempfile.mkdtemp(prefix="modeld-big-")
    times = {"modeld JSON": [], "modeld binary": [], "libxgboost": []}
    xgb = Libxgboost(x)
    try:
        with Servers() as srv:
            repo = bench_repo(os.path.join(tmp, "repo"), backend=BACKEND)
            port, _ = srv.modeld(repo, os.path.join(tmp, "data"), THREADS)
            served = modeld_outputs(port, js)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            json_headers = {"Content-Type": "application/json"}
            bin_headers = dict(json_headers)
            bin_headers["Inference-Header-Content-Length"] = str(json_len)
            runs = {"modeld JSON": lambda: timed_post(conn, js, json_headers),
                    "modeld binary": lambda: timed_post(conn, binary, bin_headers),
                    "libxgboost": xgb.once}
            for _ in range(ROUNDS):
                for name, run in runs.items():
                    run()  # warm-up after the other kinds
                    for _ in range(BLOCK):
                        times[name].append(run())
            conn.close()
        pred = xgb.pred
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    diff = max(abs(a - float(b)) for a, b in zip(served, pred))
    print("%d-row request, benchmark model (100 trees, 30 features), %d runs each in %d rounds "
          "of %d back to back (after one untimed), medians; modeld engine %s, --threads %s; "
          "libxgboost %s, default nthread (%d cores), Booster.predict on a fresh DMatrix, "
          "DMatrix build not timed"
          % (ROWS, ROUNDS * BLOCK, ROUNDS, BLOCK, BACKEND, THREADS, xgboost.__version__,
             os.cpu_count()))
    print("%-16s %10s %10s %10s %8s" % ("", "ms/request", "µs/row", "min ms", "body MB"))
    sizes = {"modeld JSON": len(js) / 1e6, "modeld binary": len(binary) / 1e6,
             "libxgboost": x.nbytes / 1e6}
    for name, ts in times.items():
        med = statistics.median(ts)
        print("%-16s %10.2f %10.3f %10.2f %8.2f" % (name, med * 1e3, med * 1e6 / ROWS,
                                                    min(ts) * 1e3, sizes[name]))
    xg = statistics.median(times["libxgboost"])
    print()
    for kind in ("JSON", "binary"):
        mine = times["modeld " + kind]
        rounds = [statistics.median(mine[r * BLOCK:(r + 1) * BLOCK]) /
                  statistics.median(times["libxgboost"][r * BLOCK:(r + 1) * BLOCK])
                  for r in range(ROUNDS)]
        print("modeld %-6s / libxgboost: %.2f   (rounds: %s)"
              % (kind, statistics.median(mine) / xg, " ".join("%.2f" % v for v in rounds)))
    print("largest |modeld - libxgboost| over the rows: %.2g" % diff)
    return 0


if __name__ == "__main__":
    sys.exit(main())
