#!/usr/bin/python3
"""Adding a version and retiring the old one while requests flow drops no
request: clients keep sending over keep-alive connections through several
switches (polling and explicit loads) and every answer must be a 200; the
same with dynamic batching, whose queue and workers go with each version."""
import http.client
import json
import shutil
import tempfile
import threading
import time

from harness import BENCH_YAML, Daemon, add_bench, expect, run, v2_row

BODY = json.dumps(v2_row([0.2] * 30))


def client(port, stop, stats, lock):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    ok = fail = 0
    versions = set()
    errors = []
    deadline = time.time() + 60  # bounded even if stop is never set
    while not stop.is_set() and time.time() < deadline:
        try:
            conn.request("POST", "/v2/models/bench/infer", BODY,
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            if r.status == 200:
                ok += 1
                versions.add(json.loads(data)["model_version"])
            else:
                fail += 1
                errors.append((r.status, data[:200]))
        except Exception as e:  # noqa: BLE001 - every failure is counted
            fail += 1
            errors.append(repr(e))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.close()
    with lock:
        stats["ok"] += ok
        stats["fail"] += fail
        stats["versions"] |= versions
        stats["errors"] += errors[:5]


def wait_version(d, v, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, doc, _ = d.json("POST", "/v2/models/bench/infer", v2_row([0.2] * 30))
        if st == 200 and doc["model_version"] == v:
            return
        time.sleep(0.05)
    raise AssertionError("version %s never served" % v)


def switch_versions_under_load(yaml_text):
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    add_bench(repo, "bench", [1], yaml_text)
    with Daemon(repo=repo, args=["--poll", "1"]) as d:
        stop = threading.Event()
        stats = {"ok": 0, "fail": 0, "versions": set(), "errors": []}
        lock = threading.Lock()
        threads = [threading.Thread(target=client, args=(d.port, stop, stats, lock))
                   for _ in range(6)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        add_bench(repo, "bench", [2], yaml_text)  # picked up by polling
        wait_version(d, "2")
        time.sleep(0.3)
        add_bench(repo, "bench", [3], yaml_text)  # picked up by an explicit load
        st, data, _ = d.request("POST", "/v2/repository/models/bench/load")
        expect(st == 200, data)
        wait_version(d, "3")
        shutil.rmtree(repo + "/bench/1")
        shutil.rmtree(repo + "/bench/2")
        time.sleep(1.5)                        # a poll sees the old directories gone
        stop.set()
        for t in threads:
            t.join(30)
        expect(stats["fail"] == 0, "%d failures: %r" % (stats["fail"], stats["errors"]))
        expect(stats["ok"] > 100, "only %d requests" % stats["ok"])
        expect({"1", "2", "3"} <= stats["versions"], stats["versions"])
        st, doc, _ = d.json("GET", "/v2/models/bench/versions/3/stats")
        batches = doc["model_stats"][0]["batch_stats"]
        expect(bool(batches) == ("dynamic_batching" in yaml_text), batches)
        print("requests: %d ok, %d failed" % (stats["ok"], stats["fail"]))
    shutil.rmtree(repo)


def test_switch_versions_under_load():
    switch_versions_under_load(open(BENCH_YAML).read())


def test_switch_versions_under_load_batching():
    switch_versions_under_load(open(BENCH_YAML).read() +
                               "dynamic_batching: {max_batch_size: 16, max_queue_delay_us: 1000}\n"
                               "instances: 2\n")


if __name__ == "__main__":
    run([test_switch_versions_under_load, test_switch_versions_under_load_batching])
