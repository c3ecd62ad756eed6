#!/usr/bin/python3
"""Rollout gates on named metrics, end to end: a canary whose only gate
names the signal ab_conversion:yes (the candidate's conversion from
feedback labels over the stage, against the champion's) is inconclusive
while no feedback has arrived (a metric not measured never holds a gate),
and rolls back once the labels say the candidate's rows convert less than
the champion's. A strategy whose gate names an unknown metric, or a
signal without its argument, is refused when it is written (a start, PUT
/api/v1/strategies/{name}) and changes nothing; modeld does not start with
one in its configuration file, and starts with one that names a signal.

The labels arrive through POST /api/v1/feedback; the test reads which
route each stored prediction row took from the store's file."""
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time

from harness import MODELD, Daemon, expect, expect_error, run
import trafficlib as tl

GATE = {"metric": "ab_conversion:yes", "min_delta": -0.1, "min_samples": 5}
STRATEGY = {"kind": "canary", "steps": [50, 100], "interval_s": 1, "min_requests": 5,
            "mirror": 0, "gates": [GATE]}


def rows_since(data, seen):
    """The model's answered rows not in seen: (request_id, row, route)."""
    db = sqlite3.connect(os.path.join(data, "modeld.db"), timeout=10)
    try:
        rows = db.execute("SELECT request_id, row, route FROM predictions WHERE model = 'm' "
                          "AND shadow = 0").fetchall()
    finally:
        db.close()
    return [r for r in rows if (r[0], r[1]) not in seen]


def label(d, rows):
    """Feedback: the champion's rows (stable) convert, the candidate's (canary) do not."""
    if not rows:
        return
    batch = [{"model": "m", "request_id": rid, "row": row, "source": "system",
              "label": "yes" if route == "stable" else "no"} for rid, row, route in rows]
    st, doc, _ = d.json("POST", "/api/v1/feedback", {"items": batch})
    expect(st == 200 and doc["stored"] == len(batch) and doc["failed"] == 0, (st, doc))


def rollout(d, rid):
    st, doc, _ = d.json("GET", "/api/v1/models/m/rollouts/%d" % rid)
    expect(st == 200, (st, doc))
    return doc


def predict_some(d, n):
    c = tl.conn(d)
    for _ in range(n):
        st, _, route, data = tl.infer(c, "m")
        expect(st == 200, (st, data[:200]))
    c.close()


def test_gate_on_a_signal():
    repo = tl.make_repo({"m": ([1, 2], "")})
    with Daemon(repo=repo, examples=False, bench=False) as d:
        st, doc, _ = d.json("POST", "/api/v1/models/m/rollouts",
                            {"candidate": "2", "champion": "1", "strategy": STRATEGY})
        expect(st == 201, (st, doc))
        rid = doc["id"]
        # No feedback: the gate is not measured, the stage is inconclusive.
        deadline = time.time() + 20
        found = None
        while time.time() < deadline and found is None:
            predict_some(d, 10)
            for dec in rollout(d, rid)["decisions"]:
                if dec["action"] == "inconclusive":
                    found = dec
            time.sleep(0.1)
        expect(found is not None, "no inconclusive decision: %r" % rollout(d, rid))
        g = found["gates"][0]
        expect(g["metric"] == "ab_conversion:yes" and g["result"] == "inconclusive", g)
        expect(g["candidate"] is None and g["samples"]["candidate"] == 0, g)
        doc = rollout(d, rid)
        expect(doc["phase"] == "running" and doc["step"] == 0, doc)
        # Labels arrive: the candidate converts less than the champion; rolled back.
        seen = set()
        deadline = time.time() + 30
        while time.time() < deadline and rollout(d, rid)["phase"] == "running":
            predict_some(d, 10)
            new = rows_since(d.data, seen)
            label(d, new)
            seen.update((r[0], r[1]) for r in new)
            time.sleep(0.2)
        doc = rollout(d, rid)
        expect(doc["phase"] == "rolled_back", doc)
        last = doc["decisions"][-1]
        expect(last["action"] == "rollback", last)
        g = last["gates"][0]
        expect(g["result"] == "failed" and g["candidate"] == 0 and g["champion"] == 1, g)
        expect(g["samples"]["candidate"] >= 5 and g["samples"]["champion"] >= 5, g)


def test_unknown_metric_refused():
    repo = tl.make_repo({"m": ([1, 2], "")})
    with Daemon(repo=repo, examples=False, bench=False) as d:
        bad = dict(STRATEGY, gates=[{"metric": "acuracy", "min": 0.9}])
        st, doc, _ = d.json("POST", "/api/v1/models/m/rollouts",
                            {"candidate": "2", "champion": "1", "strategy": bad})
        expect_error(st, doc, 400, "strategy.gates[0].metric: unknown metric 'acuracy'")
        st, doc, _ = d.json("GET", "/api/v1/models/m/rollouts")
        expect(st == 200 and doc["rollouts"] == [], doc)
        st, doc, _ = d.json("PUT", "/api/v1/strategies/s", bad)
        expect_error(st, doc, 400, "gates[0].metric: unknown metric 'acuracy'")
        st, doc, _ = d.json("PUT", "/api/v1/strategies/s",
                            dict(STRATEGY, gates=[{"metric": "ab_conversion", "min": 0.1}]))
        expect_error(st, doc, 400, "gates[0].metric: metric 'ab_conversion' needs a label")
        st, doc, _ = d.json("GET", "/api/v1/strategies/s")
        expect_error(st, doc, 404)
        st, doc, _ = d.json("PUT", "/api/v1/strategies/s", STRATEGY)
        expect(st == 200 and doc["strategy"]["gates"][0]["metric"] == "ab_conversion:yes", doc)


def test_config_file_strategies():
    tmp = tempfile.mkdtemp(prefix="modeld-t6321-")
    try:
        conf = os.path.join(tmp, "modeld.yaml")
        with open(conf, "w") as f:
            f.write("strategies:\n  ab:\n    kind: canary\n    gates:\n"
                    "      - {metric: 'ab_p_value:conversion=yes', max: 0.05}\n")
        with Daemon(bench=False, examples=False, args=["--config", conf]) as d:
            st, doc, _ = d.json("GET", "/api/v1/strategies/ab")
            expect(st == 200 and doc["strategy"]["gates"][0]["metric"] ==
                   "ab_p_value:conversion=yes", doc)
        with open(conf, "w") as f:
            f.write("strategies:\n  ab:\n    kind: canary\n    gates:\n"
                    "      - {metric: ab_pvalue, max: 0.05}\n")
        p = subprocess.run([MODELD, "--repo", tmp, "--data", os.path.join(tmp, "d2"), "--config",
                            conf, "--listen", "127.0.0.1:0"], capture_output=True, text=True,
                           timeout=30)
        out = p.stdout + p.stderr
        expect(p.returncode != 0 and
               "strategies.ab.gates[0].metric: unknown metric 'ab_pvalue'" in out,
               (p.returncode, out))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_gate_on_a_signal, test_unknown_metric_refused, test_config_file_strategies])
