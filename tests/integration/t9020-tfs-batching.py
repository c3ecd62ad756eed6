#!/usr/bin/python3
"""TF Serving :predict requests to a batched model park for the batcher as
V2 requests do (one prediction pipeline for both protocols): with a single
HTTP thread, concurrent clients still share engine calls (a request that
held its thread would run alone, one row per engine call), in every body
format, and each gets the same answer the unbatched model gives."""
import http.client
import json
import shutil
import tempfile
import threading
import time

from harness import (BENCH_YAML, Daemon, add_bench, bench_rows, clients, expect, run)

BATCHING = ("dynamic_batching:\n  max_batch_size: 64\n  max_queue_delay_us: 2000\n"
            "  max_queue_size: 1024\n")
NAMES = ["f%d" % i for i in range(30)]


def bench_yaml(backend, extra=""):
    return open(BENCH_YAML).read().replace("backend: trees", "backend: %s" % backend) + extra


def make_repo(models):
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    for name, text in models.items():
        add_bench(repo, name, [1], text)
    return repo


def bodies(values):
    """One row in the three TF Serving formats: a list in feature order, an
    object of named features, and columns."""
    return [{"instances": [values]},
            {"instances": [dict(zip(NAMES, values))]},
            {"inputs": {n: [v] for n, v in zip(NAMES, values)}}]


def predict(conn, path, body):
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    expect(r.status == 200, (path, r.status, data[:300]))
    doc = json.loads(data)
    return doc["predictions"] if "predictions" in doc else doc["outputs"]




def test_tfs_requests_share_engine_calls():
    repo = make_repo({"m": bench_yaml("xgboost", BATCHING)})
    with Daemon(repo=repo, args=["--threads", "1"]) as d:
        forms = bodies([0.3] * 30)
        sent = [0]
        lock = threading.Lock()

        def load(conn, i, deadline):
            n = 0
            path = "/v1/models/m:predict" if i % 2 else "/v1/models/m/versions/1:predict"
            while n < 120 and time.time() < deadline:
                predict(conn, path, forms[(i + n) % 3])
                n += 1
            with lock:
                sent[0] += n

        clients(d.port, 16, load)
        st, doc, _ = d.json("GET", "/v2/models/m/stats")
        expect(st == 200, doc)
        s = doc["model_stats"][0]
        expect(s["inference_count"] == sent[0], (s["inference_count"], sent[0]))
        sizes = {b["batch_size"]: b["compute_infer"]["count"] for b in s["batch_stats"]}
        expect(sum(k * v for k, v in sizes.items()) == sent[0], sizes)
        # Every request parked (its rows went through the queue), and they
        # shared engine calls although one thread read them all.
        expect(s["inference_stats"]["queue"]["count"] == sent[0], s["inference_stats"])
        expect(s["execution_count"] < sent[0], "no request shared an engine call: %r" % s)
        expect(max(sizes) > 1, sizes)
        print("rows per engine call over TF Serving: %.2f (%d requests, %d engine calls)"
              % (sent[0] / s["execution_count"], sent[0], s["execution_count"]))
    shutil.rmtree(repo)


def test_tfs_answers_match_unbatched():
    rows = bench_rows(120)
    repo = make_repo({"plain": bench_yaml("xgboost"), "batched": bench_yaml("xgboost", BATCHING)})
    with Daemon(repo=repo, args=["--threads", "1"]) as d:
        answers = {}
        lock = threading.Lock()

        def ask(conn, i, deadline):
            for k in range(i, len(rows), 8):
                body = bodies(rows[k][0])[k % 3]  # None: a missing value
                for model in ("plain", "batched"):
                    got = predict(conn, "/v1/models/%s:predict" % model, body)
                    with lock:
                        answers[(model, k)] = got

        clients(d.port, 8, ask)
        for k in range(len(rows)):
            expect(answers[("plain", k)] == answers[("batched", k)],
                   (k, answers[("plain", k)], answers[("batched", k)]))
        st, doc, _ = d.json("GET", "/v2/models/batched/stats")
        expect(st == 200 and doc["model_stats"][0]["inference_count"] == len(rows), doc)
    shutil.rmtree(repo)


if __name__ == "__main__":
    run([test_tfs_requests_share_engine_calls, test_tfs_answers_match_unbatched])
