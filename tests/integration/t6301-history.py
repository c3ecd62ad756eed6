#!/usr/bin/python3
"""The per-minute history (GET /api/v1/models/{m}/history), with the step
shortened to 300 ms (MODELD_HISTORY_STEP_MS, a test knob): rows of crafted
traffic appear step by step with exact counts; a coarser step sums counts
and recomputes rates from the sums (not a mean of the steps' rates) and
quantiles from the merged buckets (the same as the live window's over the
same requests); version and route narrow; the rows survive a restart, and
the step running at a stop is written then; a restart with a short
--history-retention removes them. Bad arguments get
a 400 naming the argument; a bad retention or step stops the start."""
import os
import shutil
import subprocess
import tempfile
import time

from harness import MODELD, expect, expect_error, free_port, run, wait_for
from rolloutlib import RolloutDaemon, linear_model

STEP_MS = 300
os.environ["MODELD_HISTORY_STEP_MS"] = str(STEP_MS)

X = [{"name": "x1", "datatype": "FP32", "shape": [1], "data": [1.0]},
     {"name": "x2", "datatype": "FP32", "shape": [1], "data": [0.5]},
     {"name": "x3", "datatype": "FP32", "shape": [1], "data": [0.5]}]
OK = {"inputs": X}
FAIL = {"inputs": X[:2]}  # no x3: the version has no fill for it, 500
BIG = 2592000000  # 30 days: a multiple of the step, one point for the whole test


def build(repo):
    linear_model(repo, "lin", {1: False})


def send(d, body, n, status):
    for _ in range(n):
        st, doc, _ = d.json("POST", "/v2/models/lin/infer", body)
        expect(st == status, (st, doc))


def history(d, query):
    st, doc, _ = d.json("GET", "/api/v1/models/lin/history?" + query)
    expect(st == 200, (st, doc))
    return doc


def total(d, metric, since, extra=""):
    doc = history(d, "metric=%s&since=%d&step=%dms%s" % (metric, since, STEP_MS, extra))
    return sum(p["value"] for p in doc["points"]), doc


def counter(d, name):
    st, data, _ = d.request("GET", "/metrics")
    expect(st == 200, st)
    for line in data.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no %s in /metrics" % name)


def test_rows_steps_and_restart():
    t0 = int(time.time() * 1000)
    whole = t0 // BIG * BIG  # since of the one-point queries
    since = t0 - 1000  # since of the step-by-step ones
    with RolloutDaemon(build) as d:
        send(d, OK, 10, 200)
        # The first burst's step is stored before the second burst comes.
        expect(wait_for(lambda: total(d, "requests", since)[0] == 10, 10),
               total(d, "requests", since)[1])
        send(d, OK, 1, 200)
        send(d, FAIL, 3, 500)
        expect(wait_for(lambda: total(d, "requests", since)[0] == 14, 10),
               total(d, "requests", since)[1])
        n, doc = total(d, "errors", since)
        expect(n == 3, doc)
        steps = [p for p in doc["points"] if p["value"] > 0]
        expect(len(steps) >= 1 and doc["step_ms"] == STEP_MS and doc["unit"] == "count", doc)
        # Points cover the range step by step, aligned to the step.
        expect(all(p["at_ms"] % STEP_MS == 0 for p in doc["points"]), doc)
        # One point for everything: rates from the sums.
        doc = history(d, "metric=error_rate&since=%d&step=30d" % whole)
        vals = [p for p in doc["points"] if p["value"] is not None]
        expect(len(vals) == 1 and abs(vals[0]["value"] - 3 / 14) < 1e-12, doc)
        expect(vals[0]["samples"] == 14 and doc["unit"] == "ratio", doc)
        # Quantiles from the merged buckets: what the live window says.
        doc = history(d, "metric=latency_p99_ms&since=%d&step=30d" % whole)
        vals = [p for p in doc["points"] if p["value"] is not None]
        st, live, _ = d.json("GET", "/api/v1/models/lin/signals?window=10m&metric=latency_p99_ms")
        expect(st == 200, live)
        expect(len(vals) == 1 and vals[0]["samples"] == 11, doc)
        expect(abs(vals[0]["value"] - live["signals"][0]["value"]) < 1e-9, (doc, live))
        # Narrowed by version and route.
        n, doc = total(d, "requests", since, "&version=1")
        expect(n == 14, doc)
        n, doc = total(d, "requests", since, "&version=2")
        expect(n == 0, doc)
        n, doc = total(d, "requests", since, "&route=nosuch")
        expect(n == 0, doc)
        # Counted in /metrics.
        expect(counter(d, "modeld_history_rows_total") >= 2, "rows")
        expect(counter(d, "modeld_history_dropped_total") == 0, "dropped")
        # Rows survive a restart, with the running step's, written at the stop.
        send(d, OK, 3, 200)
        d.restart(kill=False)
        expect(wait_for(lambda: total(d, "requests", since)[0] == 17, 10),
               total(d, "requests", since)[1])
        # A short retention removes them at the next start.
        d.args += ["--history-retention", "1s"]
        time.sleep(1.1)
        d.restart(kill=False)
        expect(wait_for(lambda: total(d, "requests", since)[0] == 0, 10),
               total(d, "requests", since)[1])
        expect(counter(d, "modeld_history_expired_total") >= 2, "expired")


def test_bad_arguments():
    with RolloutDaemon(build, args=["--history-metrics", "nosuch:x"]) as d:
        # A listed name no part registers is logged at the first tick and skipped.
        expect(wait_for(lambda: "history_metrics: a name is skipped" in d.logs(), 10),
               d.logs()[-2000:])
        expect("unknown metric 'nosuch'" in d.logs(), d.logs()[-2000:])
        for query, fragment in (("", "metric: missing"),
                                ("metric=nosuch", "unknown metric 'nosuch'"),
                                ("metric=requests:x", "takes no argument"),
                                ("metric=requests&since=yesterday", "since"),
                                ("metric=requests&until=-5", "until"),
                                ("metric=requests&until=99999999999999999999", "until"),
                                ("metric=requests&since=1000&until=500", "since: must be before"),
                                ("metric=requests&step=450ms", "step"),
                                ("metric=requests&step=abc", "step"),
                                ("metric=requests&since=30d&step=300ms", "at most 5000"),
                                ("metric=requests&version=x", "version")):
            st, doc, _ = d.json("GET", "/api/v1/models/lin/history?" + query)
            expect_error(st, doc, 400, fragment)
        st, doc, _ = d.json("GET", "/api/v1/models/nosuch/history?metric=requests")
        expect_error(st, doc, 404, "unknown model 'nosuch'")
        # Defaults: the last hour, a step that gives at most 1440 points.
        doc = history(d, "metric=requests")
        expect(doc["step_ms"] % STEP_MS == 0 and len(doc["points"]) <= 1441, doc["step_ms"])
        # Up to the start of the running step (its rollup is not written yet).
        expect(doc["until_ms"] % STEP_MS == 0, doc["until_ms"])
        expect(doc["until_ms"] - doc["since_ms"] >= 3600000 - 2 * STEP_MS, doc)


def test_bad_settings():
    for args, env, fragment in ((["--history-retention", "3x"], {}, "history_retention: '3x'"),
                                (["--history-retention", "0s"], {}, "history_retention"),
                                ([], {"MODELD_HISTORY_STEP_MS": "5"}, "MODELD_HISTORY_STEP_MS"),
                                (["--history-metrics", "requests"], {},
                                 "history_metrics: 'requests' has no argument")):
        tmp = tempfile.mkdtemp(prefix="modeld-t6301-")
        try:
            os.makedirs(os.path.join(tmp, "repo"))
            p = subprocess.run([MODELD, "--repo", os.path.join(tmp, "repo"), "--listen",
                                "127.0.0.1:%d" % free_port(), "--data",
                                os.path.join(tmp, "data")] + args,
                               env=dict(os.environ, **env), capture_output=True, text=True,
                               timeout=30)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        expect(p.returncode != 0 and fragment in p.stdout + p.stderr,
               (p.returncode, p.stdout, p.stderr))


if __name__ == "__main__":
    run([test_rows_steps_and_restart, test_bad_arguments, test_bad_settings])
