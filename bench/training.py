#!/usr/bin/python3
"""What a training run costs the requests served meanwhile (docs/performance.md).

One daemon serves the peers' benchmark model (30 features, trees) and a copy
of the fraud example whose model.yaml has a `training:` section. The fraud
model first gets ROWS labelled predictions (sent over HTTP, then feedback).
Then, alternately, ROUNDS times each (medians reported):
  idle      a fixed moderate load on the benchmark model's single-row
            request: CONNS connections, each pausing PACE_MS before each
            request (wrk's delay(): a fixed offered load), for DURATION s;
  training  the same load while a training run of the fraud model runs
            (`POST .../trainings`; the load starts once the run is
            `running`, and the round counts only if the run was still
            running when the load ended).
The training is native (libxgboost in the `modeld --train` child, nice 19
and SCHED_IDLE, one thread) with PARAMS heavy enough to outlast the load.
Printed: requests/s and p99 of each, and the ratio of the p99s (target:
training within 1.25 of idle).

Usage: /usr/bin/python3 bench/training.py   (after `make`)
Environment: ROUNDS (3), DURATION (8 s), CONNS (4), PACE_MS (2), ROWS (20000),
PARAMS (num_round: 12000, max_depth: 8, eta: 0.05)."""
import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import PEERS, ROOT, Servers, bench_repo, single_row_body

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "8"))
CONNS = int(os.environ.get("CONNS", "4"))
PACE_MS = int(os.environ.get("PACE_MS", "2"))
ROWS = int(os.environ.get("ROWS", "20000"))
PARAMS = os.environ.get("PARAMS", "{num_round: 12000, max_depth: 8, eta: 0.05}")

TYPES = {"amount": "FP32", "hour": "INT32", "account_age_days": "INT32", "distance_km": "FP32",
         "merchant_category": "BYTES", "card_tier": "BYTES", "is_international": "BOOL",
         "transactions_24h": "INT32"}


def call(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, json.loads(data) if data else None
    finally:
        c.close()


def labelled(port, n):
    """n fraud rows predicted, then labelled by a rule with noise."""
    rng = random.Random(17)
    items = []
    for b in range(0, n, 500):
        rows = [{"amount": round(rng.uniform(1, 3000), 2), "hour": rng.randrange(24),
                 "account_age_days": rng.randrange(5000),
                 "distance_km": round(rng.uniform(0, 2000), 1),
                 "merchant_category": rng.choice(["grocery", "electronics", "travel", "online",
                                                  "restaurant"]),
                 "card_tier": rng.choice(["basic", "gold", "platinum"]),
                 "is_international": rng.random() < 0.3, "transactions_24h": rng.randrange(20)}
                for _ in range(min(500, n - b))]
        body = {"inputs": [{"name": k, "datatype": t, "shape": [len(rows)],
                            "data": [r[k] for r in rows]} for k, t in TYPES.items()]}
        rid = "bench-%d" % b
        st, doc = call(port, "POST", "/v2/models/fraud/infer", body, {"X-Request-Id": rid})
        assert st == 200, doc
        for i, r in enumerate(rows):
            yes = (r["amount"] > 1500 and r["is_international"]) or r["hour"] < 4
            yes = yes != (rng.random() < 0.1)
            items.append({"request_id": rid, "row": i, "label": "fraud" if yes else "legit"})
    # The log stores the rows a little after the answers: feedback waits for them.
    time.sleep(2)
    for i in range(0, len(items), 1000):
        st, doc = call(port, "POST", "/api/v1/feedback", {"model": "fraud",
                                                           "items": items[i:i + 1000]})
        assert st == 200, doc


def paced(url, body):
    env = dict(os.environ, BODY=body, DELAY_MS="%d" % PACE_MS)
    out = subprocess.run(["wrk", "-t1", "-c%d" % CONNS, "-d%ds" % DURATION, "--latency",
                          "-s", os.path.join(PEERS, "post_paced.lua"), url],
                         capture_output=True, text=True, env=env, timeout=DURATION + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise RuntimeError("non-2xx answers:\n" + out)
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    return rps, float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]


def state(port, rid):
    return call(port, "GET", "/api/v1/models/fraud/trainings/%d" % rid)[1]


def wait_state(port, rid, done):
    deadline = time.time() + 600
    while time.time() < deadline:
        s = state(port, rid)
        if done(s["state"]):
            return s
        time.sleep(0.05)
    raise RuntimeError("training %d: %r" % (rid, state(port, rid)))


def main():
    tmp = tempfile.mkdtemp(prefix="modeld-training-bench-")
    try:
        repo = bench_repo(os.path.join(tmp, "repo"))
        shutil.copytree(os.path.join(ROOT, "examples", "repo", "fraud"), os.path.join(repo, "fraud"))
        with open(os.path.join(repo, "fraud", "model.yaml"), "a") as f:
            f.write("training:\n  params: %s\n  holdout: 0.2\n" % PARAMS)
        body = single_row_body(os.path.join(tmp, "body.json"))
        with Servers() as s:
            port, _ = s.modeld(repo, os.path.join(tmp, "data"))
            labelled(port, ROWS)
            url = "http://127.0.0.1:%d/v2/models/bench/infer" % port
            idle, busy, secs = [], [], []
            for _ in range(ROUNDS):
                idle.append(paced(url, body))
                st, doc = call(port, "POST", "/api/v1/models/fraud/trainings")
                assert st == 202, doc
                # From the moment the run is running (SET=1: once its training set is
                # built and written, the child training).
                if os.environ.get("SET") == "1":
                    deadline = time.time() + 300
                    while state(port, doc["id"])["rows"] == 0 and time.time() < deadline:
                        time.sleep(0.05)
                else:
                    wait_state(port, doc["id"], lambda x: x != "queued")
                r = paced(url, body)
                still = state(port, doc["id"])["state"] == "running"
                end = wait_state(port, doc["id"], lambda x: x not in ("queued", "running"))
                assert end["state"] == "succeeded", end
                secs.append(end["duration_ms"] / 1000.0)
                if still:
                    busy.append(r)
                else:
                    print("  (a training ended before the load did: round not counted; "
                          "raise PARAMS' num_round)")
            if not busy:
                sys.exit("no round ran its load entirely during a training")
            irps = statistics.median(r[0] for r in idle)
            ip99 = statistics.median(r[1] for r in idle)
            brps = statistics.median(r[0] for r in busy)
            bp99 = statistics.median(r[1] for r in busy)
            print("single-row requests at a fixed load (%d connections, each pausing %d ms), "
                  "%d s each, median of %d/%d rounds; training %.0f rows, %.1f s a run:" %
                  (CONNS, PACE_MS, DURATION, len(idle), len(busy), ROWS,
                   statistics.median(secs)))
            print("  no training      %8.0f requests/s  p99 %6.2f ms" % (irps, ip99))
            print("  while training   %8.0f requests/s  p99 %6.2f ms  throughput ratio %.3f  "
                  "p99 ratio %.3f (target <= 1.25)" % (brps, bp99, brps / irps, bp99 / ip99))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
