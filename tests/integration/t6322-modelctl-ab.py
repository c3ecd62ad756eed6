#!/usr/bin/python3
"""modelctl ab: the A/B comparison of a model's routes as two tables (each
route's units, rows, outcome and interval; each route against the control,
with its p-value, sample size and verdict), --json as the server answers,
the options passed on as the query's arguments, the server's refusals
shown with exit 1, usage errors with exit 2. The labels arrive through
POST /api/v1/feedback."""
import json
import os
import sqlite3
import subprocess
import time

from harness import MODELCTL, Daemon, expect, run
import trafficlib as tl


def ctl(d, *args):
    p = subprocess.run([MODELCTL, "--url", "http://127.0.0.1:%d" % d.port] + list(args),
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def scenario(d):
    """40 users sticky by key on routes a and b; on b every other row converts, on a one in four."""
    tl.set_traffic(d, "m", {"routes": [{"name": "a", "version": "1", "weight": 50},
                                       {"name": "b", "version": "2", "weight": 50}],
                            "sticky": {"key": "user"}})
    c = tl.conn(d)
    n = 0
    for u in range(40):
        for _ in range(1 + u % 3):
            body = ('{"inputs":[{"name":"features","datatype":"FP32","shape":[1,5],'
                    '"data":[1,2,3,4,5]}],"parameters":{"user":"u%d"}}' % u)
            c.request("POST", "/v2/models/m/infer", body, {"Content-Type": "application/json"})
            r = c.getresponse()
            expect(r.status == 200, r.read())
            r.read()
            n += 1
    c.close()
    path = os.path.join(d.data, "modeld.db")
    deadline = time.time() + 15
    rows = []
    while time.time() < deadline and len(rows) < n:
        db = sqlite3.connect(path, timeout=10)
        rows = db.execute("SELECT request_id, row, route FROM predictions WHERE model = 'm'"
                          ).fetchall()
        db.close()
        time.sleep(0.05)
    expect(len(rows) == n, (len(rows), n))
    batch = [{"model": "m", "request_id": rid, "row": row, "source": "user",
              "label": "yes" if i % (2 if route == "b" else 4) == 0 else "no"}
             for i, (rid, row, route) in enumerate(rows)]
    st, doc, _ = d.json("POST", "/api/v1/feedback", {"items": batch})
    expect(st == 200 and doc["stored"] == len(batch) and doc["failed"] == 0, (st, doc))


def test_tables():
    repo = tl.make_repo({"m": ([1, 2], "keys:\n  - name: user\n")})
    with Daemon(repo=repo, examples=False, bench=False) as d:
        scenario(d)
        st, doc, _ = d.json("GET", "/api/v1/models/m/ab?positive=yes&min_effect=0.2")
        expect(st == 200, doc)
        rc, out, err = ctl(d, "ab", "m", "--positive", "yes", "--min-effect", "0.2")
        expect(rc == 0, (rc, out, err))
        lines = out.splitlines()
        expect(lines[0] == "model m: conversion to 'yes', per key 'user', all rows", lines)
        expect(lines[1].split() == ["ROUTE", "VERSIONS", "N", "ROWS", "OUTCOME", "95%", "CI"],
               lines)
        for i, arm in enumerate(doc["analysis"]["arms"]):
            cells = lines[2 + i].split()
            expect(cells[:5] == [arm["route"], arm["versions"][0], str(arm["n"]),
                                 str(arm["rows"]), "%.4g" % arm["outcome"]], (cells, arm))
            expect(cells[5:] == ["%.4g" % arm["ci"][0], "..", "%.4g" % arm["ci"][1]], cells)
        c = doc["analysis"]["comparisons"][0]
        head = lines[5].split()
        expect(head[:3] == ["ROUTE", "VS", "DIFFERENCE"] and head[-1] == "VERDICT", lines)
        cells = lines[6].split()
        expect(cells[:3] == ["b", "a", "%+.4g" % c["difference"]], (cells, c))
        expect(cells[4:8] == ["welch", "%.4g" % c["p_value"], "%.4g" % c["needed_per_arm"],
                              "%.4g" % c["still_needed"]], (cells, c))
        verdict = {"keep_running": "keep running", "no_difference": "no difference"}.get(
            c["verdict"], "winner: %s" % c["winner"])
        expect(" ".join(cells[8:]) == verdict, (cells, c))
        rc, out, err = ctl(d, "ab", "m", "--positive", "yes", "--min-effect=0.2", "--json")
        expect(rc == 0 and json.loads(out) == doc, (rc, out, err))
        rc, out, err = ctl(d, "ab", "m", "--metric", "reward", "--window", "1h")
        expect(rc == 0 and "mean reward, per key 'user', the last 3600 s" in out, (rc, out, err))
        expect("no route has rows with feedback yet" in out, out)


def test_refusals():
    repo = tl.make_repo({"m": ([1], "")})
    with Daemon(repo=repo, examples=False, bench=False) as d:
        rc, out, err = ctl(d, "ab", "m")
        expect(rc == 1 and "positive: required for metric conversion" in err, (rc, out, err))
        rc, out, err = ctl(d, "ab", "m", "--positive", "yes", "--window", "5w")
        expect(rc == 1 and "window: '5w' is not a duration" in err, (rc, out, err))
        rc, out, err = ctl(d, "ab", "nope", "--metric", "value")
        expect(rc == 1 and "unknown model 'nope'" in err, (rc, out, err))
        rc, out, err = ctl(d, "ab")
        expect(rc == 2 and "MODEL is missing" in err, (rc, out, err))
        rc, out, err = ctl(d, "ab", "m", "--colour", "red")
        expect(rc == 2, (rc, out, err))
        rc, out, err = ctl(d, "ab", "--help")
        expect(rc == 0 and "modelctl ab - compare the routes" in out, (rc, out, err))


if __name__ == "__main__":
    run([test_tables, test_refusals])
