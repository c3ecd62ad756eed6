#!/usr/bin/python3
"""Training sets on a real daemon (GET /api/v1/models/{m}/dataset and
/dataset/export, PUT/GET/DELETE /api/v1/models/{m}/datasets[/{name}]):
predictions sent over V2 with feedback on some of them (a few by an
expert); the summary counts exactly the labelled rows (sources, labels,
held-out share, time span) and says why the set cannot be trained on
(fewer rows than min_rows); the export, as JSON lines and as CSV, holds
each labelled row once with the features that were sent and the label
that was given, oldest first, and nothing else; the window arguments
narrow it; a base dataset CSV is checked against the model's contract
(errors name the line and the column), stored, listed and deleted; bad
query arguments are refused naming them."""
import csv
import io
import json
import os
import tempfile

from feedbacklib import db_rows, feedback_repo, fraud_rows, post, predict, rng_for, wait_rows
from harness import Daemon, expect, expect_error, run

FEATURES = ["amount", "hour", "account_age_days", "distance_km", "merchant_category", "card_tier",
            "is_international", "transactions_24h"]


def send_story(d, rng, n=40, labelled=30, experts=5):
    """n one-row predictions; labels for the first `labelled` (the first `experts` by an
    expert). Returns {request_id: (row sent, label, source)} of the labelled ones."""
    sent = {}
    rows = fraud_rows(n, rng)
    for i, row in enumerate(rows):
        predict(d, "fraud", [row], "ds-%02d" % i)
    wait_rows(d.data, "model = 'fraud'", n)
    items = []
    for i in range(labelled):
        label = "fraud" if i % 3 == 0 else "legit"
        source = "expert" if i < experts else "user"
        items.append({"request_id": "ds-%02d" % i, "label": label, "source": source})
        sent["ds-%02d" % i] = (rows[i], label, source)
    doc = post(d, {"model": "fraud", "items": items})
    expect(doc["stored"] == labelled and doc["failed"] == 0, doc)
    return sent


def same_value(got, want):
    if want is None:
        return got is None
    if isinstance(want, bool):
        return got is want
    if isinstance(want, str):
        return got == want
    return abs(float(got) - want) <= 1e-4 * max(1.0, abs(want))


def check_row(features, label, sent_row, sent_label, where):
    for name in FEATURES:
        expect(same_value(features.get(name), sent_row[name]),
               "%s: feature %s is %r, %r was sent" % (where, name, features.get(name),
                                                      sent_row[name]))
    expect(label == sent_label, "%s: label %r, %r was given" % (where, label, sent_label))


def test_summary_and_export():
    tmp = tempfile.mkdtemp(prefix="modeld-t6400-")
    rng = rng_for(6400)
    with Daemon(repo=feedback_repo(tmp), data=os.path.join(tmp, "data")) as d:
        sent = send_story(d, rng)
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/dataset")
        expect(st == 200, (st, doc))
        s = doc["summary"]
        expect(s["rows"] == 30 and s["train_rows"] == 24 and s["holdout_rows"] == 6, doc)
        expect(s["sources"] == {"feedback": 25, "expert": 5, "base": 0}, doc)
        expect(s["labels"] == {"legit": 20, "fraud": 10}, doc)
        expect(s["skipped"] == 0, doc)
        stored = db_rows(d.data, "SELECT request_id, at_ms FROM predictions WHERE model = 'fraud' "
                                 "AND request_id < 'ds-30' ORDER BY at_ms, id")
        expect(s["first_ms"] == stored[0]["at_ms"] and s["last_ms"] == stored[-1]["at_ms"],
               (s, stored[0], stored[-1]))
        expect(s["holdout_from_ms"] == stored[24]["at_ms"], (s, stored[24]))
        expect(doc["trainable"] is False and doc["min_rows"] == 100, doc)
        expect(doc["reason"] == "training set: 24 labelled rows with features, fewer than the "
                                "100 min_rows asks for", doc)
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/dataset?holdout=0.5&max_rows=10")
        expect(st == 200 and doc["summary"]["rows"] == 10 and
               doc["summary"]["holdout_rows"] == 5, doc)

        # JSON lines: each labelled row once, as sent, oldest first.
        st, body, hdrs = d.request("GET", "/api/v1/models/fraud/dataset/export")
        expect(st == 200 and hdrs["content-type"] == "application/x-ndjson", (st, hdrs))
        lines = [json.loads(x) for x in body.decode().splitlines()]
        expect(len(lines) == 30, len(lines))
        expect([x["request_id"] for x in lines] == [r["request_id"] for r in stored],
               "not oldest first")
        for x in lines:
            row, label, source = sent[x["request_id"]]
            check_row(x["features"], x["label"], row, label, x["request_id"])
            expect(x["source"] == ("expert" if source == "expert" else "feedback"), x)
            expect(x["weight"] == 1 and x["row"] == 0 and x["at_ms"] > 0, x)

        # CSV: the model's features in order, then label, weight, source, at_ms.
        st, body, hdrs = d.request("GET", "/api/v1/models/fraud/dataset/export?format=csv")
        expect(st == 200 and hdrs["content-type"].startswith("text/csv"), (st, hdrs))
        table = list(csv.reader(io.StringIO(body.decode())))
        expect(table[0] == FEATURES + ["label", "weight", "source", "at_ms"], table[0])
        expect(len(table) == 31, len(table))
        for cells, rec in zip(table[1:], stored):
            rid = rec["request_id"]
            expect(int(cells[-1]) == rec["at_ms"], (cells, rec))
            row, label, _ = sent[rid]
            feats = {}
            for name, cell in zip(FEATURES, cells):
                if cell == "":
                    feats[name] = None
                elif cell in ("true", "false"):
                    feats[name] = cell == "true"
                elif name in ("merchant_category", "card_tier"):
                    feats[name] = cell
                else:
                    feats[name] = float(cell)
            check_row(feats, cells[len(FEATURES)], row, label, rid)

        # A window narrows it: until the 11th labelled row's time.
        until = stored[10]["at_ms"]
        st, body, _ = d.request("GET", "/api/v1/models/fraud/dataset/export?until=%d" % until)
        expect(st == 200 and len(body.decode().splitlines()) ==
               sum(r["at_ms"] < until for r in stored), body[:200])
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/dataset?window=1h")
        expect(st == 200 and doc["summary"]["rows"] == 30, doc)
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/dataset?since=%d" % (until + 1))
        expect(st == 200 and doc["summary"]["rows"] == sum(r["at_ms"] > until for r in stored), doc)


def test_base_datasets_and_bad_input():
    tmp = tempfile.mkdtemp(prefix="modeld-t6400-")
    with Daemon(repo=feedback_repo(tmp), data=os.path.join(tmp, "data")) as d:
        good = ("amount,hour,account_age_days,distance_km,merchant_category,card_tier,"
                "is_international,transactions_24h,label\n"
                "12.5,3,400,,online,gold,true,2,fraud\n"
                "80,14,3000,5.5,grocery,,false,,legit\n"
                "\"1,200.5\",1,1,1,travel,basic,0,1,1\n")
        st, doc, _ = d.json("PUT", "/api/v1/models/fraud/datasets/original", good,
                            {"Content-Type": "text/csv"})
        expect_error(st, doc, 400, "line 4, column 'amount': '1,200.5' is not a number")
        good = good.replace("\"1,200.5\"", "1200.5")
        st, doc, _ = d.json("PUT", "/api/v1/models/fraud/datasets/original", good)
        expect(st == 201 and doc["rows"] == 3 and doc["columns"][0] == "amount" and
               doc["size"] == len(good), (st, doc))
        sha = doc["sha256"]
        expect(any(sha in f for _, _, fs in os.walk(d.data) for f in fs),
               "the file is not in the store")
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/datasets")
        expect(st == 200 and [x["name"] for x in doc["datasets"]] == ["original"] and
               doc["datasets"][0]["rows"] == 3 and doc["datasets"][0]["sha256"] == sha, doc)

        for body, fragment in [
                ("amount,hour\n1,2\n", "line 1: no column for the required feature"),
                ("amount,hour,account_age_days,merchant_category,is_international,colour,label\n",
                 "line 1, column 'colour': not a feature of the model"),
                ("amount,hour,account_age_days,merchant_category,is_international,label\n"
                 "1,2,3,online,true,maybe\n",
                 "line 2, column 'label': 'maybe' is not one of the model's labels"),
                ("amount,hour,account_age_days,merchant_category,is_international,label\n"
                 "1,2,3,online,true\n", "line 2: 5 cells, the header has 6")]:
            st, doc, _ = d.json("PUT", "/api/v1/models/fraud/datasets/bad", body)
            expect_error(st, doc, 400, fragment)
        st, doc, _ = d.json("PUT", "/api/v1/models/fraud/datasets/.hidden", good)
        expect_error(st, doc, 400, "name: '.hidden' is not a dataset name")
        st, doc, _ = d.json("PUT", "/api/v1/models/fraud/datasets/empty", "")
        expect_error(st, doc, 400, "body: empty")
        st, doc, _ = d.json("PUT", "/api/v1/models/nosuch/datasets/x", good)
        expect_error(st, doc, 404)

        for query, fragment in [("format=xml", "format: 'xml' is not jsonl or csv")]:
            st, doc, _ = d.json("GET", "/api/v1/models/fraud/dataset/export?" + query)
            expect_error(st, doc, 400, fragment)
        for query, fragment in [("window=abc", "window: 'abc' is not a duration"),
                                ("holdout=1.5", "holdout: '1.5' is not a share in [0, 1)"),
                                ("max_rows=-1", "max_rows: '-1' is not a whole number"),
                                ("since=tomorrow", "since: 'tomorrow' is not a time"),
                                ("since=2000&until=1000", "since: 2000 is not before until 1000"),
                                ("since=1h&window=1h", "window: give since or window, not both")]:
            st, doc, _ = d.json("GET", "/api/v1/models/fraud/dataset?" + query)
            expect_error(st, doc, 400, fragment)
        st, doc, _ = d.json("GET", "/api/v1/models/nosuch/dataset")
        expect_error(st, doc, 404)

    # A restart keeps it: the record, and its file through the start's artifact sweep.
    with Daemon(repo=feedback_repo(tmp + "/2"), data=os.path.join(tmp, "data")) as d:
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/datasets")
        expect(st == 200 and [x["sha256"] for x in doc["datasets"]] == [sha], doc)
        expect(any(sha in f for _, _, fs in os.walk(d.data) for f in fs),
               "the sweep removed the dataset's file")
        st, doc, _ = d.json("DELETE", "/api/v1/models/fraud/datasets/original")
        expect(st == 200 and doc["deleted"] == "original", (st, doc))
        st, doc, _ = d.json("DELETE", "/api/v1/models/fraud/datasets/original")
        expect_error(st, doc, 404, "model 'fraud' has no dataset 'original'")
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/datasets")
        expect(st == 200 and doc["datasets"] == [], doc)


if __name__ == "__main__":
    run([test_summary_and_export, test_base_datasets_and_bad_input])
