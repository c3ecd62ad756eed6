#!/usr/bin/python3
"""GET /api/v1/predictions on a real daemon: the filters (model, version,
route, key, request id, time range, with and without feedback) each narrow
the rows as they say, paging by the cursor visits every row once, JSON lines
hold the same rows, and malformed arguments get a 400 naming the argument."""
import json
import os
import shutil
import sqlite3
import tempfile
import time

from harness import Daemon, expect, expect_error, run
from predloglib import ROW, ROW2, keyed_repo, listing, settled, v2_body


def with_daemon(fn):
    tmp = tempfile.mkdtemp(prefix="modeld-t6201-")
    try:
        with Daemon(repo=keyed_repo(tmp), data=os.path.join(tmp, "data")) as d:
            fn(d, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def predict(d, model, rows, rid, params=None):
    st, doc, h = d.json("POST", "/v2/models/%s/infer" % model, v2_body(rows, params),
                        {"X-Request-Id": rid})
    expect(st == 200, doc)
    return h


def test_filters_and_paging():
    def body(d, tmp):
        for i in range(10):
            predict(d, "fraudk", [ROW, ROW2], "k-%d" % i, {"user_id": "u-%d" % (i % 3), "txn": i})
        settled(d, 20)  # every k row is told and stamped before mid
        mid = int(time.time() * 1000)
        time.sleep(0.01)
        for i in range(5):
            predict(d, "fraud", [ROW], "p-%d" % i)
        settled(d, 25)
        st, doc = listing(d)
        expect(st == 200 and len(doc["predictions"]) == 25 and "next_after" not in doc, doc)
        ids = [r["id"] for r in doc["predictions"]]
        expect(ids == sorted(ids), ids)
        st, doc = listing(d, model="fraud")
        expect({r["request_id"] for r in doc["predictions"]} == {"p-%d" % i for i in range(5)},
               doc)
        st, doc = listing(d, model="fraudk", version=doc["predictions"][0]["version"] + 100)
        expect(st == 200 and doc["predictions"] == [], doc)
        st, doc = listing(d, key="user_id=u-1", model="fraudk")
        expect(sorted({r["request_id"] for r in doc["predictions"]}) == ["k-1", "k-4", "k-7"], doc)
        expect(len(doc["predictions"]) == 6, doc)
        st, doc = listing(d, key="txn=4")
        expect([(r["request_id"], r["row"]) for r in doc["predictions"]] == [("k-4", 0),
                                                                            ("k-4", 1)], doc)
        st, doc = listing(d, request_id="k-2")
        expect(len(doc["predictions"]) == 2 and doc["predictions"][1]["features"]["amount"] == 900,
               doc)
        route = doc["predictions"][0]["route"]
        st, doc = listing(d, route=route, model="fraudk")
        expect(len(doc["predictions"]) == 20, doc)
        st, doc = listing(d, route="nosuch")
        expect(doc["predictions"] == [], doc)
        st, doc = listing(d, since=str(mid))
        expect({r["request_id"] for r in doc["predictions"]} == {"p-%d" % i for i in range(5)},
               doc)
        st, doc = listing(d, until=str(mid))
        expect(len(doc["predictions"]) == 20, doc)
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(mid / 1000 - 3600)) + "Z"
        st, doc = listing(d, since=iso)
        expect(st == 200 and len(doc["predictions"]) == 25, doc)
        # Paging: pages of 4 visit every row once, in order.
        seen, after = [], None
        for _ in range(20):
            q = {"limit": "4"}
            if after is not None:
                q["after"] = str(after)
            st, doc = listing(d, **q)
            expect(st == 200, doc)
            seen += [r["id"] for r in doc["predictions"]]
            after = doc.get("next_after")
            if after is None:
                break
        expect(seen == ids, (seen, ids))
        # JSON lines: the same rows, one object a line.
        st, data, h = d.request("GET", "/api/v1/predictions?format=jsonl&model=fraud")
        expect(st == 200 and h["content-type"].startswith("application/x-ndjson"), h)
        lines = [json.loads(x) for x in data.decode().splitlines()]
        expect([x["request_id"] for x in lines] == ["p-%d" % i for i in range(5)], lines)
    with_daemon(body)


def test_feedback_filter():
    def body(d, tmp):
        for i in range(4):
            predict(d, "fraud", [ROW], "f-%d" % i)
        settled(d, 4)
        # Feedback rows as the feedback part stores them (current ones match).
        db = sqlite3.connect(os.path.join(tmp, "data", "modeld.db"), timeout=10)
        with db:
            db.execute("INSERT INTO feedback (model, request_id, row, kind, label, source, at_ms, "
                       "current) VALUES ('fraud', 'f-1', 0, 'label', 'fraud', 'user', 1, 1)")
            db.execute("INSERT INTO feedback (model, request_id, row, kind, label, source, at_ms, "
                       "current) VALUES ('fraud', 'f-2', 0, 'label', 'fraud', 'user', 1, 0)")
        db.close()
        st, doc = listing(d, feedback="with")
        expect([r["request_id"] for r in doc["predictions"]] == ["f-1"], doc)
        st, doc = listing(d, feedback="without")
        expect([r["request_id"] for r in doc["predictions"]] == ["f-0", "f-2", "f-3"], doc)
    with_daemon(body)


def test_bad_arguments():
    def body(d, tmp):
        cases = [({"limit": "0"}, "limit"), ({"limit": "10001"}, "limit"),
                 ({"limit": "x"}, "limit"), ({"after": "-1"}, "after"),
                 ({"version": "v1"}, "version"), ({"key": "novalue"}, "key"),
                 ({"key": "=v"}, "key"), ({"since": "yesterday"}, "since"),
                 ({"until": "2026-13-01T00:00:00Z"}, "until"),
                 ({"since": "2000", "until": "1000"}, "until"),
                 ({"feedback": "maybe"}, "feedback"), ({"format": "xml"}, "format"),
                 ({"model": "m" * 200}, "model"), ({"route": ""}, "route")]
        for q, name in cases:
            st, doc = listing(d, **q)
            expect_error(st, doc, 400, name + ":")
    with_daemon(body)


if __name__ == "__main__":
    run([test_filters_and_paging, test_feedback_filter, test_bad_arguments])
