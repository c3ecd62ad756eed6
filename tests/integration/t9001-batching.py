#!/usr/bin/python3
"""Dynamic batching (model.yaml dynamic_batching): a batched model answers
exactly what the same model answers unbatched; concurrent clients share
engine calls (batch sizes above 1 in the V2 statistics and /metrics); a
full queue refuses with 503 and Retry-After while the server stays healthy;
a deadline that passes before the rows run is a 504; the new metrics are
there and promtool accepts them."""
import http.client
import json
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from harness import (BENCH_YAML, Daemon, add_bench, bench_rows, clients, expect, expect_error, run, v2_row)

BATCHING = ("dynamic_batching:\n  max_batch_size: 64\n  max_queue_delay_us: 2000\n"
            "  max_queue_size: 1024\n")


def bench_yaml(backend="trees", extra=""):
    text = open(BENCH_YAML).read().replace("backend: trees", "backend: %s" % backend)
    return text + extra


def make_repo(models):
    """models: {name: model.yaml text}, each with the benchmark artifact as version 1."""
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    for name, text in models.items():
        add_bench(repo, name, [1], text)
    return repo


def post(conn, model, body):
    conn.request("POST", "/v2/models/%s/infer" % model, body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, r.read(), {k.lower(): v for k, v in r.getheaders()}




def metric(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError("no series %s" % series)


def test_same_answers_with_and_without_batching():
    rows = bench_rows(200)
    repo = make_repo({"plain": bench_yaml("trees"), "batched": bench_yaml("trees", BATCHING),
                      "xplain": bench_yaml("xgboost"),
                      "xbatched": bench_yaml("xgboost", BATCHING)})
    with Daemon(repo=repo) as d:
        answers = {}
        lock = threading.Lock()

        def ask(conn, i, deadline):
            for k in range(i, len(rows), 8):
                body = json.dumps(v2_row(rows[k][0]))
                for model in ("plain", "batched", "xplain", "xbatched"):
                    st, data, _ = post(conn, model, body)
                    expect(st == 200, (model, st, data[:200]))
                    with lock:
                        answers[(model, k)] = json.loads(data)["outputs"]

        clients(d.port, 8, ask)
        for k, (_, want) in enumerate(rows):
            for plain, batched in (("plain", "batched"), ("xplain", "xbatched")):
                expect(answers[(plain, k)] == answers[(batched, k)],
                       (k, answers[(plain, k)], answers[(batched, k)]))
            got = answers[("xbatched", k)][0]["data"][0]
            expect(abs(got - want) < 1e-6, (k, got, want))
        # A request of many rows, and the TF Serving API (it waits on its thread).
        body = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [50, 30],
                            "data": [v if v is not None else 0.0 for r, _ in rows[:50] for v in r]}]}
        st, a, _ = d.json("POST", "/v2/models/plain/infer", body)
        st2, b, _ = d.json("POST", "/v2/models/batched/infer", body)
        expect(st == st2 == 200 and a["outputs"] == b["outputs"], (st, st2))
        inst = {"instances": [[0.5] * 30, [0.1] * 30]}
        st, a, _ = d.json("POST", "/v1/models/plain:predict", inst)
        st2, b, _ = d.json("POST", "/v1/models/batched:predict", inst)
        expect(st == st2 == 200 and a["predictions"] == b["predictions"], (st, a, st2, b))
    shutil.rmtree(repo)


def test_concurrent_clients_share_engine_calls():
    repo = make_repo({"m": bench_yaml("xgboost", BATCHING)})
    with Daemon(repo=repo) as d:
        body = json.dumps(v2_row([0.3] * 30))
        sent = [0]
        lock = threading.Lock()

        def load(conn, i, deadline):
            n = 0
            while n < 150 and time.time() < deadline:
                st, data, _ = post(conn, "m", body)
                expect(st == 200, (st, data[:200]))
                n += 1
            with lock:
                sent[0] += n

        clients(d.port, 16, load, seconds=60)
        st, doc, _ = d.json("GET", "/v2/models/m/stats")
        expect(st == 200, doc)
        s = doc["model_stats"][0]
        expect(s["inference_count"] == sent[0], (s["inference_count"], sent[0]))
        expect(s["execution_count"] < sent[0], "no request shared an engine call: %r" % s)
        sizes = {b["batch_size"]: b["compute_infer"]["count"] for b in s["batch_stats"]}
        expect(sum(k * v for k, v in sizes.items()) == sent[0], sizes)
        expect(max(sizes) > 1, sizes)
        for b in s["batch_stats"]:
            for key in ("compute_input", "compute_infer", "compute_output"):
                expect(set(b[key]) == {"count", "ns"}, b)
        q = s["inference_stats"]["queue"]
        expect(q["count"] == sent[0] and q["ns"] > 0, q)
        _, text, _ = d.request("GET", "/metrics")
        text = text.decode()
        lbl = '{model="m",version="1"}'
        expect(metric(text, "modeld_batch_size_sum" + lbl) == sent[0], text[-3000:])
        expect(metric(text, "modeld_batch_size_count" + lbl) == s["execution_count"], sent)
        expect(metric(text, 'modeld_queue_duration_seconds_count{model="m",version="1",'
                      'route="stable"}') == sent[0], sent)
        expect(metric(text, "modeld_queue_depth" + lbl) == 0, text[-2000:])
        expect(metric(text, "modeld_inference_executions_total" + lbl) == s["execution_count"], s)
    shutil.rmtree(repo)


def test_full_queue_is_a_503_with_retry_after():
    # A queue of one request behind a slow engine call: one client keeps the
    # engine busy with big requests (more rows than max_batch_size: each runs
    # alone); of the small requests that arrive meanwhile one waits, the
    # others bounce.
    small = ("dynamic_batching:\n  max_batch_size: 64\n  max_queue_delay_us: 0\n"
             "  max_queue_size: 1\n")
    repo = make_repo({"m": bench_yaml("xgboost", small)})
    rows = [r for r, _ in bench_rows(2000)] * 10
    flat = [v if v is not None else 0.0 for r in rows for v in r]
    big = json.dumps({"inputs": [{"name": "features", "datatype": "FP32",
                                  "shape": [len(rows), 30], "data": flat}]})
    one = json.dumps(v2_row([0.1] * 30))
    with Daemon(repo=repo, args=["--threads", "4"]) as d:
        # Readiness polls before the repository was loaded count as 503s too.
        _, text, _ = d.request("GET", "/metrics")
        try:
            n503_before = metric(text.decode(), 'modeld_http_requests_total{api="v2",code="503"}')
        except AssertionError:
            n503_before = 0
        seen = {"ok": 0, "busy": 0, "big": 0, "other": []}
        lock = threading.Lock()
        stop = threading.Event()

        def hammer(conn, i, deadline):
            while not stop.is_set() and time.time() < deadline:
                st, data, hdrs = post(conn, "m", big if i == 0 else one)
                with lock:
                    if st == 200:
                        seen["big" if i == 0 else "ok"] += 1
                    elif st == 503:
                        seen["busy"] += 1
                        expect(hdrs.get("retry-after") == "1", hdrs)
                        expect("model 'm' queue is full" in json.loads(data)["error"], data)
                    else:
                        seen["other"].append((i, st, data[:200]))
                    if seen["busy"] >= 3 and seen["ok"] >= 3 and seen["big"] >= 1:
                        stop.set()

        def health(conn, i, deadline):
            while not stop.is_set() and time.time() < deadline:
                conn.request("GET", "/v2/health/ready")
                r = conn.getresponse()
                r.read()
                expect(r.status == 200, r.status)
                time.sleep(0.05)

        errors = []
        threads = [threading.Thread(target=clients, args=(d.port, 7, hammer, 40, errors)),
                   threading.Thread(target=clients, args=(d.port, 1, health, 40, errors))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        stop.set()
        expect(not errors, errors[:5])
        expect(not seen["other"], seen["other"][:3])
        expect(seen["busy"] >= 1 and seen["ok"] >= 1, seen)
        st, doc, _ = d.json("POST", "/v2/models/m/infer", v2_row([0.1] * 30))
        expect(st == 200, doc)
        _, text, _ = d.request("GET", "/metrics")
        text = text.decode()
        expect(metric(text, 'modeld_inference_failures_total{model="m",version="1",'
                      'route="stable",reason="overload"}') == seen["busy"], (seen, text[-2000:]))
        n503 = metric(text, 'modeld_http_requests_total{api="v2",code="503"}') - n503_before
        expect(n503 == seen["busy"], (n503, seen))
    shutil.rmtree(repo)


def test_deadlines():
    repo = make_repo({"b": bench_yaml("trees", BATCHING),
                      "p": bench_yaml("trees"),
                      "short": bench_yaml("trees", BATCHING + "timeout_us: 1\n"),
                      "long": bench_yaml("trees", BATCHING + "timeout_us: 60000000\n")})
    with Daemon(repo=repo) as d:
        one = v2_row([0.2] * 30)
        timed = dict(one, parameters={"timeout": 1})
        for model in ("b", "p"):
            st, doc, _ = d.json("POST", "/v2/models/%s/infer" % model, timed)
            expect_error(st, doc, 504, "deadline passed before the request ran")
            st, doc, _ = d.json("POST", "/v2/models/%s/infer" % model,
                                dict(one, parameters={"timeout": 60000000}))
            expect(st == 200, doc)
        # The contract's default, and a request that overrides it.
        st, doc, _ = d.json("POST", "/v2/models/short/infer", one)
        expect_error(st, doc, 504, "model 'short': deadline passed")
        st, doc, _ = d.json("POST", "/v2/models/short/infer",
                            dict(one, parameters={"timeout": 60000000}))
        expect(st == 200, doc)
        st, doc, _ = d.json("POST", "/v2/models/long/infer", one)
        expect(st == 200, doc)
        st, doc, _ = d.json("POST", "/v2/models/long/infer", timed)
        expect_error(st, doc, 504)
        _, text, _ = d.request("GET", "/metrics")
        text = text.decode()
        for model, n in (("b", 1), ("p", 1), ("short", 1), ("long", 1)):
            expect(metric(text, 'modeld_inference_failures_total{model="%s",version="1",'
                          'route="stable",reason="timeout"}' % model) == n, (model, text[-3000:]))
        expect(metric(text, 'modeld_http_requests_total{api="v2",code="504"}') == 4, text)
        st, doc, _ = d.json("GET", "/v2/models/short/stats")
        expect(doc["model_stats"][0]["inference_stats"]["fail"]["count"] == 1, doc)
    shutil.rmtree(repo)


def test_metrics_validate():
    repo = make_repo({"b": bench_yaml("trees", BATCHING), "p": bench_yaml("trees")})
    with Daemon(repo=repo) as d:
        for model in ("b", "p"):
            st, doc, _ = d.json("POST", "/v2/models/%s/infer" % model, v2_row([0.4] * 30))
            expect(st == 200, doc)
        _, text, _ = d.request("GET", "/metrics")
        text = text.decode()
        for fam, kind in (("modeld_queue_duration_seconds", "histogram"),
                          ("modeld_batch_size", "histogram"),
                          ("modeld_queue_depth", "gauge")):
            expect("# TYPE %s %s\n" % (fam, kind) in text, fam)
        lb = '{model="b",version="1"'
        expect(metric(text, "modeld_batch_size_bucket%s,le=\"1\"}" % lb) == 1, text[-3000:])
        expect(metric(text, "modeld_batch_size_bucket%s,le=\"1024\"}" % lb) == 1, text[-3000:])
        expect(metric(text, "modeld_batch_size_bucket%s,le=\"+Inf\"}" % lb) == 1, text[-3000:])
        expect('modeld_batch_size_count{model="p"' not in text, "unbatched model in batch sizes")
        for reason in ("rejected", "backend", "overload", "timeout"):
            expect(metric(text, 'modeld_inference_failures_total{model="p",version="1",'
                          'route="stable",reason="%s"}' % reason) == 0, reason)
        promtool = shutil.which("promtool")
        expect(promtool is not None, "promtool (Debian package prometheus) is required")
        p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        expect(p.returncode == 0, "promtool: %s%s" % (p.stdout, p.stderr))
        # V2 statistics of a model without batching keep an empty batch_stats.
        st, doc, _ = d.json("GET", "/v2/models/p/stats")
        expect(doc["model_stats"][0]["batch_stats"] == [], doc)
        st, doc, _ = d.json("GET", "/v2/models/b/stats")
        expect(doc["model_stats"][0]["batch_stats"][0]["batch_size"] == 1, doc)
    shutil.rmtree(repo)


def test_stop_under_load():
    # SIGTERM while batched requests are parked: every answer a client gets
    # is a 200, and the daemon exits cleanly.
    repo = make_repo({"m": bench_yaml("xgboost", BATCHING)})
    d = Daemon(repo=repo)
    try:
        body = json.dumps(v2_row([0.3] * 30))
        bad = []
        started = threading.Event()

        def load(conn, i, deadline):
            while time.time() < deadline:
                try:
                    st, data, _ = post(conn, "m", body)
                except (OSError, http.client.HTTPException):
                    return  # the daemon has gone
                started.set()
                if st != 200:
                    bad.append((st, data[:200]))
                    return

        t = threading.Thread(target=clients, args=(d.port, 16, load, 30))
        t.start()
        expect(started.wait(20), "no answer")
        time.sleep(0.3)
        d.signal(signal.SIGTERM)
        t.join(60)
        rc = d.stop(check=False)
        expect(rc == 0, "exit %d:\n%s" % (rc, open(d.log_path, "rb").read()[-2000:]))
        # Refused while draining (503) is fine; anything else is not.
        expect(all(st == 503 for st, _ in bad), bad[:3])
    finally:
        d.stop(check=False)
        shutil.rmtree(d.tmp, ignore_errors=True)
        shutil.rmtree(repo)


def test_config_reports_batching():
    """/config reports max_batch_size, dynamic_batching and instance_group as
    Triton does for a batched model (dims then leave the batch dimension
    out), and max_batch_size 0 without them for an unbatched one."""
    tuned = ("dynamic_batching:\n  max_batch_size: 32\n  max_queue_delay_us: 1500\n"
             "  preferred_batch_sizes: [8, 16]\n  max_queue_size: 100\ninstances: 3\n")
    repo = make_repo({"plain": bench_yaml("trees"), "tuned": bench_yaml("trees", tuned),
                      "defaults": bench_yaml("trees", "dynamic_batching: {}\n")})
    with Daemon(repo=repo) as d:
        for path in ("/v2/models/tuned/config", "/v2/models/tuned/versions/1/config"):
            st, doc, _ = d.json("GET", path)
            expect(st == 200 and doc["name"] == "tuned", (st, doc))
            expect(doc["max_batch_size"] == 32, doc)
            expect(doc["dynamic_batching"] == {"preferred_batch_size": [8, 16],
                                               "max_queue_delay_microseconds": 1500,
                                               "default_queue_policy": {"max_queue_size": 100}},
                   doc)
            expect(doc["instance_group"] == [{"kind": "KIND_CPU", "count": 3}], doc)
            expect(all(i["dims"] == [1] for i in doc["input"]), doc["input"])
            expect([o["dims"] for o in doc["output"]] == [[1]], doc["output"])
        st, doc, _ = d.json("GET", "/v2/models/defaults/config")
        expect(st == 200 and doc["max_batch_size"] == 64, doc)
        expect(doc["dynamic_batching"] == {"preferred_batch_size": [],
                                           "max_queue_delay_microseconds": 500,
                                           "default_queue_policy": {"max_queue_size": 1024}}, doc)
        expect(doc["instance_group"] == [{"kind": "KIND_CPU", "count": 1}], doc)
        st, doc, _ = d.json("GET", "/v2/models/plain/config")
        expect(st == 200 and doc["max_batch_size"] == 0, doc)
        expect("dynamic_batching" not in doc and "instance_group" not in doc, doc)
        expect(all(i["dims"] == [-1, 1] for i in doc["input"]), doc["input"])
        expect([o["dims"] for o in doc["output"]] == [[-1, 1]], doc["output"])
    shutil.rmtree(repo)


def test_bad_batching_config_is_reported():
    repo = make_repo({"bad": bench_yaml("trees", "dynamic_batching: {max_batch_size: 0}\n")})
    with Daemon(repo=repo) as d:
        st, doc, _ = d.json("POST", "/v2/models/bad/infer", v2_row([0.4] * 30))
        expect(st in (404, 503), (st, doc))
        st, doc, _ = d.json("POST", "/v2/repository/index", {})
        text = json.dumps(doc)
        expect("dynamic_batching.max_batch_size: 0 is not between 1 and 65536" in text, text)
    shutil.rmtree(repo)


if __name__ == "__main__":
    run([test_same_answers_with_and_without_batching, test_concurrent_clients_share_engine_calls,
         test_full_queue_is_a_503_with_retry_after, test_deadlines, test_metrics_validate,
         test_stop_under_load, test_config_reports_batching,
         test_bad_batching_config_is_reported])
