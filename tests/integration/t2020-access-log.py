#!/usr/bin/python3
"""--access-log: one JSON line per request (time, request id, client address,
method, path, model, version, status, latency), to a file reopened on SIGHUP
or to standard output; request ids are time-ordered (48 bits of milliseconds,
then random bits); libmicrohttpd's own messages go through the JSON log."""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from harness import (BENCH_YAML, Daemon, MODELD, add_bench, expect, run, v2_row, wait_for)

ROW = [0.1] * 30
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ID = re.compile(r"^[0-9a-f]{32}$")


def read_lines(path, polls=False):
    """The file's lines; without the harness's readiness polls unless polls."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = [json.loads(l) for l in f.read().splitlines()]
    return [l for l in lines if polls or l["path"] != "/v2/health/ready"]


def test_access_log_lines():
    tmp = tempfile.mkdtemp(prefix="modeld-alog-")
    path = os.path.join(tmp, "access.log")
    with Daemon(args=["--access-log", path]) as d:
        sent = []
        st, doc, h = d.json("POST", "/v2/models/bench/infer", v2_row(ROW))
        sent.append((st, h["x-request-id"], "POST", "/v2/models/bench/infer", "bench", "1"))
        st, doc, h = d.json("POST", "/v2/models/bench/infer", {"inputs": []},
                            headers={"X-Request-Id": "client-7"})
        sent.append((st, "client-7", "POST", "/v2/models/bench/infer", "bench", "1"))
        st, doc, h = d.json("GET", "/v2/models/nosuch")
        sent.append((st, h["x-request-id"], "GET", "/v2/models/nosuch", "nosuch", None))
        st, doc, h = d.json("POST", "/v1/models/bench:predict", {"instances": [ROW]})
        sent.append((st, h["x-request-id"], "POST", "/v1/models/bench:predict", "bench", "1"))
        st, _, h = d.request("GET", "/metrics")
        sent.append((st, h["x-request-id"], "GET", "/metrics", None, None))
        expect([s[0] for s in sent] == [200, 400, 404, 200, 200], sent)
        expect(wait_for(lambda: len(read_lines(path)) >= len(sent)), read_lines(path))
        lines = read_lines(path)
        expect(len(lines) == len(sent), lines)
        for (st, rid, method, p, model, version), line in zip(sent, lines):
            expect(set(line) == {"ts", "id", "client", "method", "path", "model", "version",
                                 "status", "latency_us"}, line)
            expect(TS.match(line["ts"]), line)
            expect(line["id"] == rid and line["status"] == st and line["method"] == method and
                   line["path"] == p and line["model"] == model and line["version"] == version,
                   (rid, st, method, p, model, version, line))
            expect(re.match(r"^127\.0\.0\.1:\d+$", line["client"]), line)
            expect(isinstance(line["latency_us"], int) and 0 <= line["latency_us"] < 30e6, line)
        st, data, _ = d.request("GET", "/metrics")
        expect(b"\nmodeld_access_log_dropped_total 0\n" in data, data[:3000])
    shutil.rmtree(tmp)


def test_access_log_batched_requests_name_their_version():
    """A batching model parks requests; the answer's line still names the version."""
    tmp = tempfile.mkdtemp(prefix="modeld-alog-")
    repo = os.path.join(tmp, "repo")
    path = os.path.join(tmp, "access.log")
    add_bench(repo, "bench", [3], open(BENCH_YAML).read() +
              "dynamic_batching:\n  max_batch_size: 8\n  max_queue_delay_us: 2000\n")
    with Daemon(repo=repo, args=["--access-log", path]) as d:
        errors = []

        def client():
            c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
            try:
                for _ in range(10):
                    c.request("POST", "/v2/models/bench/infer", json.dumps(v2_row(ROW)))
                    r = c.getresponse()
                    r.read()
                    if r.status != 200:
                        errors.append(r.status)
            finally:
                c.close()

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        expect(not errors, errors)
        expect(wait_for(lambda: len(read_lines(path)) >= 40), len(read_lines(path)))
        lines = read_lines(path)
        expect(all(l["version"] == "3" and l["status"] == 200 for l in lines), lines)
        st, data, _ = d.request("GET", "/metrics")
        m = re.search(rb'modeld_batch_size_count\{model="bench",version="3"\} (\d+)', data)
        expect(m and int(m.group(1)) > 0, data[-2000:])
    shutil.rmtree(tmp)


def test_access_log_reopened_on_sighup():
    tmp = tempfile.mkdtemp(prefix="modeld-alog-")
    path = os.path.join(tmp, "access.log")
    with Daemon(args=["--access-log", path]) as d:
        d.request("GET", "/v2/health/live")
        expect(wait_for(lambda: len(read_lines(path)) == 1), read_lines(path))
        os.rename(path, path + ".1")
        d.signal(signal.SIGHUP)
        # The writer reopens at once: what comes after lands in the new file.
        expect(wait_for(lambda: os.path.exists(path)), "not reopened")
        d.request("GET", "/v2/models/bench/ready")
        expect(wait_for(lambda: len(read_lines(path)) == 1), read_lines(path))
        expect(read_lines(path)[0]["path"] == "/v2/models/bench/ready", read_lines(path))
        expect([l["path"] for l in read_lines(path + ".1")] == ["/v2/health/live"],
               read_lines(path + ".1"))
    shutil.rmtree(tmp)


def test_access_log_to_stdout_and_bad_path():
    with Daemon(args=["--access-log", "-"]) as d:
        st, _, h = d.request("GET", "/v2/health/live")
        rid = h["x-request-id"]
        expect(wait_for(lambda: ('"id":"%s"' % rid) in d.logs()), d.logs())
    tmp = tempfile.mkdtemp(prefix="modeld-alog-")
    p = subprocess.run([MODELD, "--repo", tmp, "--listen", "127.0.0.1:0", "--data",
                        os.path.join(tmp, "data"), "--access-log",
                        os.path.join(tmp, "no", "such", "dir", "a.log")],
                       capture_output=True, text=True, timeout=30)
    expect(p.returncode == 1, p)
    msg = json.loads(p.stderr.splitlines()[-1])
    expect(msg["msg"] == "cannot open the access log" and "no/such/dir/a.log" in msg["reason"], p)
    shutil.rmtree(tmp)


def test_request_ids_are_time_ordered():
    with Daemon() as d:
        ids = []
        for _ in range(5):
            before = int(time.time() * 1000)
            st, _, h = d.request("GET", "/v2/health/live")
            after = int(time.time() * 1000)
            rid = h["x-request-id"]
            expect(ID.match(rid), rid)
            ms = int(rid[:12], 16)
            expect(before - 1000 <= ms <= after + 1000, (before, ms, after))
            ids.append(rid)
            time.sleep(0.003)  # ids a few milliseconds apart sort in time order
        expect(ids == sorted(ids) and len(set(ids)) == 5, ids)
        expect(len(set(i[12:] for i in ids)) == 5, ids)


def test_libmicrohttpd_messages_are_json():
    """A pool of one thread used to make libmicrohttpd print a plain-text
    warning on stderr, and a debug line said its logger came too late."""
    with Daemon(args=["--threads", "1", "--log-level", "debug"]) as d:
        d.request("GET", "/v2/health/live")
        logs = d.logs()
    for line in logs.splitlines():
        json.loads(line)
    expect("thread pool" not in logs and "not the first option" not in logs, logs)


if __name__ == "__main__":
    run([test_access_log_lines, test_access_log_batched_requests_name_their_version,
         test_access_log_reopened_on_sighup, test_access_log_to_stdout_and_bad_path,
         test_request_ids_are_time_ordered, test_libmicrohttpd_messages_are_json])
