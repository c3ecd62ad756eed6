#!/usr/bin/python3
"""A large request against libxgboost's batch predict on the same rows, in
one run: starts build/modeld serving the benchmark model of the peers, POSTs
a ROWS-row Open Inference Protocol body N times as JSON and N times with
binary tensor data (keep-alive, after 2 warm-up requests each; the rows are
bench_rows.csv cycled, missing values null in JSON and NaN in binary data:
bench/big_request.py's bodies),
then times python3-xgboost's Booster.predict on the same rows N times, each on
a fresh DMatrix whose construction is not timed, with libxgboost's default
thread count (every core). Prints medians in µs per row and the ratios
modeld / libxgboost, and checks that modeld's answers match libxgboost's.

Usage: /usr/bin/python3 bench/big.py   (after `make`; needs python3-xgboost
and python3-numpy: `sh scripts/deps.sh bench`)

Environment: ROWS (10000), N requests and predicts per kind (20),
BACKEND (modeld's engine for the model: trees, or xgboost), THREADS (modeld's
--threads, default 0 = one per core; a request runs on one of them, helped
by shared helper threads for its parse and, with trees, the engine call:
docs/operations.md),
MD_PEERS (../shared/peers)."""
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

from big_request import bodies, post, rows_data
from common import PEERS, Servers, bench_repo

ROWS = int(os.environ.get("ROWS", "10000"))
N = int(os.environ.get("N", "20"))
BACKEND = os.environ.get("BACKEND", "trees")
THREADS = os.environ.get("THREADS", "0")


def libxgboost(x, n):
    """Median and minimum seconds of Booster.predict over n fresh DMatrix
    (after 2 warm-up calls), and the last predictions."""
    booster = xgboost.Booster(model_file=os.path.join(PEERS, "bench_model.json"))
    times = []
    pred = None
    for i in range(n + 2):
        dm = xgboost.DMatrix(x)  # fresh: libxgboost caches predictions per DMatrix
        t0 = time.perf_counter()
        pred = booster.predict(dm)
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), pred


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
    results = {}
    try:
        with Servers() as srv:
            repo = bench_repo(os.path.join(tmp, "repo"), backend=BACKEND, allow_nan=True)
            port, _ = srv.modeld(repo, os.path.join(tmp, "data"), THREADS)
            served = modeld_outputs(port, js)
            results["modeld JSON"] = post(port, js, None, N)
            results["modeld binary"] = post(port, binary, json_len, N)
        # modeld is stopped before libxgboost runs on every core.
        med, low, pred = libxgboost(x, N)
        results["libxgboost"] = (med, low)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    diff = max(abs(a - float(b)) for a, b in zip(served, pred))
    print("%d-row request, benchmark model (100 trees, 30 features), %d runs each, medians; "
          "modeld engine %s, --threads %s; libxgboost %s, default nthread (%d cores), "
          "Booster.predict on a fresh DMatrix, DMatrix build not timed"
          % (ROWS, N, BACKEND, THREADS, xgboost.__version__, os.cpu_count()))
    print("%-16s %10s %10s %10s %8s" % ("", "ms/request", "µs/row", "min ms", "body MB"))
    sizes = {"modeld JSON": len(js) / 1e6, "modeld binary": len(binary) / 1e6,
             "libxgboost": x.nbytes / 1e6}
    for name, (med, low) in results.items():
        print("%-16s %10.2f %10.3f %10.2f %8.2f" % (name, med * 1e3, med * 1e6 / ROWS, low * 1e3,
                                                    sizes[name]))
    xg = results["libxgboost"][0]
    print("\nmodeld JSON / libxgboost:   %.2f" % (results["modeld JSON"][0] / xg))
    print("modeld binary / libxgboost: %.2f" % (results["modeld binary"][0] / xg))
    print("largest |modeld - libxgboost| over the rows: %.2g" % diff)
    return 0


if __name__ == "__main__":
    sys.exit(main())
