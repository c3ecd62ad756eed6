#!/usr/bin/python3
"""Bad input to the feedback and quality endpoints: each malformed or
oversized body or query gets a 4xx whose error names the field and the
reason, and changes nothing (the feedback table stays empty)."""
import os
import shutil
import tempfile

from feedbacklib import db_rows, feedback_repo, fraud_rows, predict, rng_for, wait_rows
from harness import Daemon, expect, expect_error, run

ITEM = {"model": "fraud", "request_id": "b-1", "label": "fraud"}

BODIES = [
    ("not json", 400, "invalid JSON at byte"),
    ("[]", 400, "the body must be a JSON object"),
    ("", 400, "invalid JSON"),
    ({"items": 5}, 400, "items: must be an array"),
    ({"items": []}, 400, "items: must not be empty"),
    ({"items": [ITEM], "extra": 1}, 400, "extra: unknown field beside items (items, model)"),
    ({"items": [ITEM] * 10001}, 413, "items: 10001 items, more than 10000 in one request"),
    ({"request_id": "b-1", "label": "fraud"}, 400, "model: required"),
    ({"model": "fraud", "label": "fraud"}, 400, "request_id: required (or a key"),
    (dict(ITEM, nope=1), 400, "nope: unknown field (model, request_id, row, key, label"),
    (dict(ITEM, value=1.0), 400, "label: one outcome per item"),
    ({"model": "fraud", "request_id": "b-1"}, 400, "label: required: one of label, value, "
     "reward or rating"),
    (dict(ITEM, source="robot"), 400, "source: 'robot' is not user, system or expert"),
    (dict(ITEM, row=-1), 400, "row: must be a whole number from 0"),
    (dict(ITEM, row=1.5), 400, "row: must be a whole number from 0"),
    (dict(ITEM, label=3), 400, "label: must be a string"),
    (dict(ITEM, label=""), 400, "label: must not be empty"),
    ({"model": "fraud", "request_id": "b-1", "rating": "five"}, 400,
     "rating: must be a finite number"),
    (dict(ITEM, request_id="x" * 257), 400, "request_id: longer than 256 bytes"),
    (dict(ITEM, comment="c" * 4097), 400, "comment: longer than 4096 bytes"),
    (dict(ITEM, key={"name": "txn", "value": "T"}), 400, "key: give request_id or key, not both"),
    ({"model": "fraudk", "key": {"name": "txn"}, "label": "fraud"}, 400,
     "key: must hold name and value, and nothing else"),
    ({"model": "fraudk", "key": {"a": "1", "b": "2"}, "label": "fraud"}, 400,
     "key: must name one key"),
    ({"model": "fraudk", "key": {"txn": [1]}, "label": "fraud"}, 400,
     "key.value: must be a string or an integer"),
    ({"model": "fraudk", "key": "T-1", "label": "fraud"}, 400, "key: must be an object"),
    ({"model": "fraudk", "key": {"txn": "T"}, "row": 1, "label": "fraud"}, 400,
     "row: goes with request_id"),
    ({"model": "fraud", "items": [{"request_id": "b-1", "label": "fraud", "x": 1}]}, 400,
     "no item was stored"),
    (dict(ITEM, model="no/such"), 400, "model: unknown model 'no/such'"),
]

QUERIES = [
    ("/api/v1/models/fraud/quality?window=bad", 400,
     "window: 'bad' is not a duration such as 90s, 30m, 1h or 7d"),
    ("/api/v1/models/fraud/quality?window=-1h", 400, "window: '-1h' is not a duration"),
    ("/api/v1/models/fraud/quality?last=0", 400, "last: '0' is not a number from 1 to 1000000"),
    ("/api/v1/models/fraud/quality?last=x", 400, "last: 'x' is not a number"),
    ("/api/v1/models/fraud/quality?version=two", 400, "version: 'two' is not a version number"),
    ("/api/v1/models/fraud/quality?route=", 400, "route: must be 1 to"),
    ("/api/v1/models/nosuch/quality", 404, "unknown model 'nosuch'"),
]


def test_bad_bodies_change_nothing():
    tmp = tempfile.mkdtemp(prefix="modeld-t6223-")
    try:
        with Daemon(repo=feedback_repo(tmp), data=os.path.join(tmp, "data")) as d:
            predict(d, "fraud", fraud_rows(1, rng_for(6226)), "b-1")
            wait_rows(d.data, "request_id = 'b-1'", 1)
            for body, status, fragment in BODIES:
                st, doc, _ = d.json("POST", "/api/v1/feedback", body)
                expect_error(st, doc, status, fragment)
            for path, status, fragment in QUERIES:
                st, doc, _ = d.json("GET", path)
                expect_error(st, doc, status, fragment)
            st, doc, _ = d.json("GET", "/api/v1/feedback")
            expect(st == 405, (st, doc))
            expect(db_rows(d.data, "SELECT count(*) AS n FROM feedback")[0]["n"] == 0,
                   db_rows(d.data, "SELECT * FROM feedback"))
            # The same item, well formed, is taken.
            st, doc, _ = d.json("POST", "/api/v1/feedback", ITEM)
            expect(st == 200 and doc["stored"] == 1, doc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_body_past_the_limit():
    tmp = tempfile.mkdtemp(prefix="modeld-t6223-")
    try:
        with Daemon(repo=feedback_repo(tmp), data=os.path.join(tmp, "data"),
                    args=["--max-body-bytes", "4096"]) as d:
            st, doc, _ = d.json("POST", "/api/v1/feedback",
                                dict(ITEM, comment="c" * 4000, request_id="z" * 200))
            expect(st == 413, (st, doc))
            expect(db_rows(d.data, "SELECT count(*) AS n FROM feedback")[0]["n"] == 0, "stored")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_bad_bodies_change_nothing, test_body_past_the_limit])
