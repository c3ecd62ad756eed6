#!/usr/bin/python3
"""POST /api/v1/feedback on a real daemon whose prediction log stores the
rows: an outcome attached by request id (row left out of a one-row
request), by request id and row, and by a `keys:` field; a label outside
the model's classes, an outcome that does not fit the task and a row the
request lacks are per-item errors naming the index and the field while the
rest of the batch is stored; feedback sent before its prediction waits
(pending, in /metrics) and attaches when the prediction's record lands, by
request id and by key; a later item for a row replaces the earlier, kept
as history, and the quality figures (the API's and /metrics') move with
it; feedback whose row never comes is orphaned past --feedback-horizon."""
import os
import shutil
import tempfile

from feedbacklib import (db_rows, feedback_repo, fraud_rows, metric, post, predict, rng_for,
                         wait_metric, wait_rows)
from harness import Daemon, expect, run, wait_for


def daemon(tmp, args=()):
    return Daemon(repo=feedback_repo(tmp), data=os.path.join(tmp, "data"), args=args)


def items_of(data, where):
    return db_rows(data, "SELECT * FROM feedback WHERE %s ORDER BY id" % where)


def test_by_id_row_and_key():
    tmp = tempfile.mkdtemp(prefix="modeld-t6220-")
    rng = rng_for(6220)
    try:
        with daemon(tmp) as d:
            predict(d, "fraudk", fraud_rows(1, rng), "one-1")
            predict(d, "fraudk", fraud_rows(3, rng), "multi-1")
            predict(d, "fraudk", fraud_rows(1, rng), "keyed-1", params={"txn": "T-1"})
            wait_rows(d.data, "model = 'fraudk'", 5)
            doc = post(d, {"model": "fraudk", "items": [
                {"request_id": "one-1", "label": "fraud", "source": "expert",
                 "comment": "chargeback"},
                {"request_id": "multi-1", "row": 2, "label": "legit"},
                {"key": {"name": "txn", "value": "T-1"}, "label": "fraud", "source": "system"},
                {"key": {"txn": "T-1"}, "reward": 2.5},
                {"request_id": "multi-1", "label": "legit"},
                {"request_id": "multi-1", "row": 7, "label": "legit"}]})
            expect(doc["stored"] == 4 and doc["failed"] == 2, doc)
            states = [it.get("state") for it in doc["items"]]
            expect(states[:4] == ["attached"] * 4, doc)
            expect(doc["items"][4]["error"] ==
                   "items[4].row: request 'multi-1' has 3 rows: say which one", doc)
            expect(doc["items"][5]["error"] ==
                   "items[5].row: request 'multi-1' has no row 7 (rows 0 to 2)", doc)
            got = items_of(d.data, "model = 'fraudk'")
            expect([(r["request_id"], r["row"], r["kind"], r["label"], r["value"], r["source"],
                     r["state"], r["current"]) for r in got] ==
                   [("one-1", 0, "label", "fraud", None, "expert", "attached", 1),
                    ("multi-1", 2, "label", "legit", None, "user", "attached", 1),
                    ("keyed-1", 0, "label", "fraud", None, "system", "attached", 1),
                    ("keyed-1", 0, "reward", None, 2.5, "user", "attached", 1)], got)
            expect(got[0]["comment"] == "chargeback" and got[2]["key_name"] == "txn" and
                   got[2]["key_value"] == "T-1", got)
            # One item alone: a 200 with its state; its refusal a 400 naming the field.
            doc = post(d, {"model": "fraudk", "request_id": "multi-1", "row": 0, "rating": 4})
            expect(doc["stored"] == 1 and doc["items"] == [{"index": 0, "state": "attached"}],
                   doc)
            st, doc, _ = d.json("POST", "/api/v1/feedback",
                                {"model": "fraud", "request_id": "one-1", "label": "legit"})
            expect(st == 400 and doc["error"] ==
                   "request_id: request 'one-1' is a prediction of model 'fraudk', not 'fraud'",
                   doc)
            # The quality window sees the four labelled or rewarded rows.
            st, q, _ = d.json("GET", "/api/v1/models/fraudk/quality")
            expect(st == 200 and q["all"]["labelled"] == 3 and q["all"]["rewards"] == 1 and
                   q["all"]["mean_reward"] == 2.5 and q["all"]["ratings"] == 1, q)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_label_outside_classes():
    tmp = tempfile.mkdtemp(prefix="modeld-t6220-")
    rng = rng_for(6221)
    try:
        with daemon(tmp) as d:
            for i in range(3):
                predict(d, "fraud", fraud_rows(1, rng), "cls-%d" % i)
            predict(d, "housing", [{"sqft": 1200, "bedrooms": 2, "bathrooms": 1.5,
                                    "age_years": 20, "lot_size_sqft": None, "garage_spaces": 1,
                                    "neighborhood": "suburb"}], "house-1",
                    types={"sqft": "FP32", "bedrooms": "INT32", "bathrooms": "FP32",
                           "age_years": "INT32", "lot_size_sqft": "FP32",
                           "garage_spaces": "INT32", "neighborhood": "BYTES"})
            wait_rows(d.data, "request_id LIKE 'cls-%' OR request_id = 'house-1'", 4)
            doc = post(d, {"items": [
                {"model": "fraud", "request_id": "cls-0", "label": "legit"},
                {"model": "fraud", "request_id": "cls-1", "label": "maybe"},
                {"model": "fraud", "request_id": "cls-2", "value": 1.0},
                {"model": "housing", "request_id": "house-1", "label": "cheap"},
                {"model": "housing", "request_id": "house-1", "value": 450.0},
                {"model": "nosuch", "request_id": "x", "label": "a"},
                {"model": "fraud", "request_id": "cls-2", "label": "fraud"}]})
            expect(doc["stored"] == 3 and doc["failed"] == 4, doc)
            errs = {it["index"]: it.get("error") for it in doc["items"]}
            expect(errs[1] == "items[1].label: 'maybe' is not a class of model 'fraud' "
                   "(legit, fraud)", errs)
            expect(errs[2] == "items[2].value: model 'fraud' is a classification: its outcome "
                   "is a label, not a value", errs)
            expect(errs[3] == "items[3].label: model 'housing' is a regression: its outcome is "
                   "a value, not a label", errs)
            expect(errs[5] == "items[5].model: unknown model 'nosuch'", errs)
            expect(errs[0] is None and errs[4] is None and errs[6] is None, errs)
            got = items_of(d.data, "1")
            expect([(r["model"], r["request_id"]) for r in got] ==
                   [("fraud", "cls-0"), ("housing", "house-1"), ("fraud", "cls-2")], got)
            # Every item refused: a 400 that lists them, and nothing stored.
            st, doc, _ = d.json("POST", "/api/v1/feedback", {"model": "fraud", "items": [
                {"request_id": "cls-0", "label": "x"}, {"request_id": "cls-1", "label": "y"}]})
            expect(st == 400 and doc["error"] == "no item was stored" and
                   doc["detail"]["failed"] == 2 and
                   doc["detail"]["items"][1]["error"].startswith("items[1].label: 'y'"), doc)
            expect(len(items_of(d.data, "1")) == 3, "a refused batch stored something")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_pending_then_attached():
    tmp = tempfile.mkdtemp(prefix="modeld-t6220-")
    rng = rng_for(6222)
    try:
        with daemon(tmp) as d:
            doc = post(d, {"model": "fraudk", "items": [
                {"request_id": "later-1", "label": "fraud"},
                {"key": {"name": "txn", "value": "T-late"}, "label": "legit"}]})
            expect([it["state"] for it in doc["items"]] == ["pending", "pending"], doc)
            wait_metric(d, "modeld_feedback_pending", {"model": "fraudk"}, 2)
            st, q, _ = d.json("GET", "/api/v1/models/fraudk/quality")
            expect(st == 200 and q["all"]["labelled"] == 0, q)
            # The predictions arrive: the first by its request id, the second by its key.
            predict(d, "fraudk", fraud_rows(1, rng), "later-1")
            predict(d, "fraudk", fraud_rows(1, rng), "later-2", params={"txn": "T-late"})
            ok = wait_for(lambda: [r["state"] for r in items_of(d.data, "1")] ==
                          ["attached", "attached"], 15)
            expect(ok, items_of(d.data, "1"))
            got = items_of(d.data, "1")
            expect(got[1]["request_id"] == "later-2" and got[1]["row"] == 0, got)
            wait_metric(d, "modeld_feedback_pending", {"model": "fraudk"}, 0)
            st, q, _ = d.json("GET", "/api/v1/models/fraudk/quality")
            expect(q["all"]["labelled"] == 2, q)
            # The live sums have both rows too.
            route = db_rows(d.data, "SELECT route FROM predictions WHERE request_id = "
                            "'later-1'")[0]["route"]
            wait_metric(d, "modeld_quality_labelled_rows",
                        {"model": "fraudk", "version": "2", "route": route}, 2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_replacement_moves_the_figures():
    tmp = tempfile.mkdtemp(prefix="modeld-t6220-")
    rng = rng_for(6223)
    try:
        with daemon(tmp) as d:
            predict(d, "fraud", fraud_rows(4, rng), "rep-1")
            wait_rows(d.data, "request_id = 'rep-1'", 4)
            preds = db_rows(d.data, "SELECT row, label, route, version FROM predictions WHERE "
                            "request_id = 'rep-1' ORDER BY row")
            labels = {"model": "fraud", "version": str(preds[0]["version"]),
                      "route": preds[0]["route"]}
            post(d, {"model": "fraud", "items": [
                {"request_id": "rep-1", "row": p["row"], "label": p["label"]} for p in preds]})
            st, q, _ = d.json("GET", "/api/v1/models/fraud/quality")
            expect(q["all"]["accuracy"] == 1.0 and q["all"]["labelled"] == 4, q)
            wait_metric(d, "modeld_quality_accuracy", labels, 1.0)
            # Row 0 was, after all, of the other class.
            other = "legit" if preds[0]["label"] == "fraud" else "fraud"
            post(d, {"model": "fraud", "request_id": "rep-1", "row": 0, "label": other,
                     "source": "expert"})
            st, q, _ = d.json("GET", "/api/v1/models/fraud/quality")
            expect(q["all"]["accuracy"] == 0.75 and q["all"]["labelled"] == 4, q)
            wait_metric(d, "modeld_quality_accuracy", labels, 0.75)
            expect(metric(d, "modeld_quality_labelled_rows", labels) == 4, "rows counted twice")
            hist = items_of(d.data, "request_id = 'rep-1' AND row = 0")
            expect([(r["label"], r["current"]) for r in hist] ==
                   [(preds[0]["label"], 0), (other, 1)], hist)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_orphaned():
    tmp = tempfile.mkdtemp(prefix="modeld-t6220-")
    try:
        with daemon(tmp, ["--feedback-horizon", "1"]) as d:
            post(d, {"model": "fraud", "request_id": "ghost", "label": "fraud"})
            wait_metric(d, "modeld_feedback_orphaned", {"model": "fraud"}, 1)
            # The gauge, the row's state and the log line come from one round of the
            # upkeep, but not at one instant: each is waited for.
            expect(wait_for(lambda: items_of(d.data, "1")[0]["state"] == "orphaned"),
                   items_of(d.data, "1"))
            expect(wait_for(lambda: "feedback orphaned" in d.logs()), d.logs()[-2000:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_by_id_row_and_key, test_label_outside_classes, test_pending_then_attached,
         test_replacement_moves_the_figures, test_orphaned])
