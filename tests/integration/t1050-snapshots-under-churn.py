#!/usr/bin/python3
"""Models that come and go while requests and listings run: each model's
snapshot and the set of models are replaced whole, so a reader sees one
consistent state. Clients predict on a steady model (always 200, even while
it gains versions), on models being added, loaded, unloaded and removed
(only the documented answers: 200, 404 "unknown model", 503 "unloaded by an
operator" or "no ready version"), list the repository index (names sorted,
each (model, version) once, the steady model READY) and scrape /metrics,
while one thread churns the repository with explicit loads, unloads and
SIGHUP scans. Run under ThreadSanitizer too (TSAN_TESTS in scripts/test.sh)."""
import http.client
import json
import os
import shutil
import signal
import tempfile
import threading
import time

from harness import Daemon, add_bench, expect, run, v2_row

BODY = json.dumps(v2_row([0.2] * 30))
CHURN = ["m0", "m1", "m2"]
ROUNDS = 4  # per churned model
ALLOWED_ERRORS = ("unknown model", "unloaded by an operator", "has no ready version")


def post(conn, path, body=""):
    conn.request("POST", path, body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, r.read()


def check_index(doc, problems):
    keys = [(e["name"], int(e.get("version", "0"))) for e in doc]
    if keys != sorted(keys) or len(set(keys)) != len(keys):
        problems.append("index not sorted or repeats a row: %r" % keys)
    if not any(e["name"] == "steady" and e["state"] == "READY" for e in doc):
        problems.append("index without a READY steady: %r" % doc)


def client(port, stop, stats, lock, problems):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    counts = {"steady": 0, "churn": 0, "index": 0, "metrics": 0}
    i = 0
    deadline = time.time() + 120  # bounded even if stop is never set
    while not stop.is_set() and time.time() < deadline:
        i += 1
        try:
            st, data = post(conn, "/v2/models/steady/infer", BODY)
            if st != 200:
                problems.append("steady: %d %r" % (st, data[:200]))
            counts["steady"] += 1
            name = CHURN[i % len(CHURN)]
            st, data = post(conn, "/v2/models/%s/infer" % name, BODY)
            if st != 200 and not (st in (404, 503) and
                                  any(m.encode() in data for m in ALLOWED_ERRORS)):
                problems.append("%s: %d %r" % (name, st, data[:200]))
            counts["churn"] += 1
            if i % 4 == 0:
                st, data = post(conn, "/v2/repository/index", "{}")
                if st != 200:
                    problems.append("index: %d %r" % (st, data[:200]))
                else:
                    check_index(json.loads(data), problems)
                counts["index"] += 1
            if i % 8 == 0:
                conn.request("GET", "/metrics")
                r = conn.getresponse()
                data = r.read()
                if r.status != 200 or b"modeld_models_loaded" not in data:
                    problems.append("metrics: %d" % r.status)
                counts["metrics"] += 1
        except (OSError, http.client.HTTPException) as e:
            problems.append(repr(e))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.close()
    with lock:
        for k, v in counts.items():
            stats[k] += v


def wait_until(fn, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def churn(d, repo):
    """Adds, loads, unloads and removes each churned model ROUNDS times; the
    steady model gains a version each round."""
    for rnd in range(ROUNDS):
        add_bench(repo, "steady", [rnd + 2])
        st, data, _ = d.request("POST", "/v2/repository/models/steady/load")
        expect(st == 200, data)
        for name in CHURN:
            add_bench(repo, name, [1])
            st, data, _ = d.request("POST", "/v2/repository/models/%s/load" % name)
            expect(st == 200, data)
            st, _, _ = d.request("POST", "/v2/models/%s/infer" % name, BODY)
            expect(st == 200, "%s loaded but answers %d" % (name, st))
            st, data, _ = d.request("POST", "/v2/repository/models/%s/unload" % name)
            expect(st == 200, data)
            st, data, _ = d.request("POST", "/v2/models/%s/infer" % name, BODY)
            expect(st == 503 and b"unloaded by an operator" in data, (st, data))
            shutil.rmtree(os.path.join(repo, name))
        d.signal(signal.SIGHUP)  # the scan drops the removed models

        def gone():
            st, doc, _ = d.json("POST", "/v2/repository/index", {})
            return st == 200 and not any(e["name"] in CHURN for e in doc)
        wait_until(gone, "the removed models to leave the index")
        st, doc, _ = d.json("POST", "/v2/models/m0/infer", v2_row([0.2] * 30))
        expect(st == 404 and doc["error"] == "unknown model 'm0'", (st, doc))


def test_models_come_and_go_under_load():
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    add_bench(repo, "steady", [1])
    with Daemon(repo=repo, args=["--threads", "4"]) as d:
        stop = threading.Event()
        stats = {"steady": 0, "churn": 0, "index": 0, "metrics": 0}
        problems = []
        lock = threading.Lock()
        threads = [threading.Thread(target=client, args=(d.port, stop, stats, lock, problems))
                   for _ in range(4)]
        for t in threads:
            t.start()
        try:
            churn(d, repo)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        expect(not problems, "%d problems, first: %r" % (len(problems), problems[:5]))
        expect(stats["steady"] > 50 and stats["index"] > 5, stats)
        st, doc, _ = d.json("POST", "/v2/models/steady/infer", v2_row([0.2] * 30))
        expect(st == 200 and doc["model_version"] == str(ROUNDS + 1), (st, doc))
        print("requests: %r" % stats)
    shutil.rmtree(repo)


if __name__ == "__main__":
    run([test_models_come_and_go_under_load])
