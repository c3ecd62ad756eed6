#!/usr/bin/python3
"""Online learning in the daemon (docs/performance.md, "Online learning").

A linear logistic model of 30 FP32 features with `online:` (no snapshots)
serves single-row requests from wrk (CONNS keep-alive connections, as fast
as they go, DURATION seconds), alternately with nothing learning and while
a feeder gives it 1,000 labels a second (every 100 ms, or as soon as its
last post is answered: one prediction of the rows due since, with a
request id, then, once the prediction log has stored its rows, their
labels as one feedback post; the learner reads them from the store and
learns each). ROUNDS rounds of
each (medians): requests per second, p99, and the labels per second the
learner learned (modeld_online_updates_total).

Usage: /usr/bin/python3 bench/online.py [MODELD]   (after `make`)
Environment: ROUNDS (3), DURATION (8 s), CONNS (16)."""
import http.client
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from common import MODELD, free_port, metric, wait_ready, wrk

NF = 30


def make_repo(repo):
    os.makedirs(os.path.join(repo, "ol", "1"))
    names = ["f%d" % j for j in range(NF)]
    with open(os.path.join(repo, "ol", "1", "model.json"), "w") as f:
        json.dump({"format": "modeld-linear", "format_version": 1, "kind": "logistic",
                   "feature_names": names, "weights": [0.0] * NF, "intercept": 0.0}, f)
    with open(os.path.join(repo, "ol", "model.yaml"), "w") as f:
        f.write("name: ol\nbackend: linear\nartifact: model.json\ntask: classification\n"
                "labels: [no, yes]\nfeatures:\n")
        for n in names:
            f.write("  - {name: %s, datatype: FP32}\n" % n)
        f.write("online: {learning_rate: 0.01, snapshot_updates: 0, snapshot_s: 0}\n")


def body(rows):
    return {"inputs": [{"name": "f%d" % j, "datatype": "FP32", "shape": [len(rows)],
                        "data": [r[j] for r in rows]} for j in range(NF)]}


def post(port, path, doc, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("POST", path, json.dumps(doc), headers or {})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def stored(db, rid, n):
    """Waits (2 s at most) until the prediction log has stored the n rows of request rid."""
    deadline = time.time() + 2
    while time.time() < deadline:
        try:
            c = sqlite3.connect(db, timeout=5)
            got = c.execute("SELECT count(*) FROM predictions WHERE request_id = ?",
                            (rid,)).fetchone()[0]
            c.close()
            if got >= n:
                return
        except sqlite3.Error:
            pass
        time.sleep(0.005)


def feeder(port, db, stop, rng):
    """1,000 labels a second: every 100 ms (or as soon as the last post is answered) one
    prediction of the rows due since, then their labels."""
    n = 0
    sent = 0
    t0 = time.time()
    while not stop.is_set():
        due = min(2000, int((time.time() - t0) * 1000) - sent)
        if due > 0:
            rows = [[rng.uniform(-2, 2) for _ in range(NF)] for _ in range(due)]
            rid = "feed-%d" % n
            post(port, "/v2/models/ol/infer", body(rows), {"X-Request-Id": rid})
            stored(db, rid, due)  # labels for rows not yet logged would wait (pending)
            items = [{"request_id": rid, "row": i, "label": "yes" if r[0] > r[1] else "no"}
                     for i, r in enumerate(rows)]
            post(port, "/api/v1/feedback", {"model": "ol", "items": items})
            n += 1
            sent += due
        stop.wait(0.1)


def run_one(modeld, repo, body_file, learning, conns, duration):
    tmp = tempfile.mkdtemp(prefix="modeld-online-bench-")
    port = free_port()
    p = subprocess.Popen([modeld, "--repo", repo, "--listen", "127.0.0.1:%d" % port, "--data",
                          os.path.join(tmp, "data"), "--log-level", "error"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, proc=p)
        stop = threading.Event()
        th = None
        if learning:
            th = threading.Thread(target=feeder, args=(port, os.path.join(tmp, "data", "modeld.db"), stop,
                                                   random.Random(17)))
            th.start()
            time.sleep(1)  # the learner has seen the model and learns
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/metrics")
        before = metric(c.getresponse().read().decode(), "modeld_online_updates_total",
                        'model="ol"')
        t0 = time.time()
        run = wrk("http://127.0.0.1:%d/v2/models/ol/infer" % port, body_file, conns, duration)
        c.request("GET", "/metrics")
        after = metric(c.getresponse().read().decode(), "modeld_online_updates_total",
                       'model="ol"')
        rate = (after - before) / (time.time() - t0)
        stop.set()
        if th is not None:
            th.join()
        return run.rps, run.p99, rate
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    modeld = sys.argv[1] if len(sys.argv) > 1 else MODELD
    rounds = int(os.environ.get("ROUNDS", "3"))
    duration = int(os.environ.get("DURATION", "8"))
    conns = int(os.environ.get("CONNS", "16"))
    tmp = tempfile.mkdtemp(prefix="modeld-online-repo-")
    try:
        repo = os.path.join(tmp, "repo")
        make_repo(repo)
        body_file = os.path.join(tmp, "body.json")
        with open(body_file, "w") as f:
            json.dump(body([[0.5] * NF]), f)
        res = {False: [], True: []}
        for _ in range(rounds):
            for learning in (False, True):
                res[learning].append(run_one(modeld, repo, body_file, learning, conns, duration))
        with open("/proc/loadavg") as f:
            load = f.read().split()[0]
        for learning in (False, True):
            r = res[learning]
            print("%-24s %9.0f requests/s  p99 %6.2f ms  learned %6.0f labels/s" %
                  ("learning 1,000 labels/s" if learning else "not learning",
                   statistics.median(x[0] for x in r), statistics.median(x[1] for x in r),
                   statistics.median(x[2] for x in r)))
        print("ratio of requests/s: %.3f (median of %d rounds, %d connections, load %s)" %
              (statistics.median(x[0] for x in res[True]) /
               statistics.median(x[0] for x in res[False]), rounds, conns, load))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
