#!/usr/bin/python3
"""Review queues on a real daemon: a copy of the fraud model with review
rules (a probability band, a label, a sample by request id, a row answered
with a missing value) gets predictions; exactly the rows the rules pick,
computed here from the answers (the sample by the same hash), become review
items with the first rule's name as reason, shadows and other models none.
Two reviewers taking items get different ones, the oldest first; an
expired lease returns its item to the next reviewer, and the old lease's
answer is refused (409 naming the lease); a verdict becomes the row's
expert feedback (the feedback table and the quality figures), records
whether it agrees with the prediction, and cannot be given twice; bad
verdicts get 400 naming the field; an empty queue answers 204; queue
length, age and agreement are in the listing, /metrics and the named
metrics, and an alert rule on review_queue_length fires. The item shows
the trees engine's explanation: its contributions and bias sum to the
row's margin, largest first."""
import math
import os
import shutil
import tempfile
import time

from feedbacklib import (FRAUD_TYPES, HOUSING_TYPES, db_rows, fraud_rows, housing_rows, metric,
                         predict, rng_for, wait_rows)
from harness import Daemon, expect, make_repo, run, wait_for

BAND = (0.25, 0.5)
SAMPLE = 0.2
REVIEW_YAML = """review:
  rules:
    - band: [%g, %g]
      name: uncertain
    - label: fraud
    - data_quality: true
    - sample: %g
      name: audit
  lease_s: 2
  max_queue: 1000
""" % (BAND[0], BAND[1], SAMPLE)


def review_repo(tmp):
    repo = make_repo(os.path.join(tmp, "repo"), bench=False)
    shutil.copytree(os.path.join(repo, "fraud"), os.path.join(repo, "fraudr"))
    path = os.path.join(repo, "fraudr", "model.yaml")
    with open(path) as f:
        text = f.read().replace("name: fraud\n", "")
    with open(path, "w") as f:
        f.write(text + REVIEW_YAML)
    return repo


def sample_point(request_id, row):
    """serve/predrec.c's review_point: FNV-1a of "<id>/<row>", splitmix64's finaliser."""
    m = (1 << 64) - 1
    h = 14695981039346656037
    for b in ("%s/%d" % (request_id, row)).encode():
        h ^= b
        h = (h * 1099511628211) & m
    h = ((h ^ (h >> 30)) * 0xbf58476d1ce4e5b9) & m
    h = ((h ^ (h >> 27)) * 0x94d049bb133111eb) & m
    h ^= h >> 31
    return (h >> 11) / 9007199254740992.0


def expected_reason(request_id, row, features, prob):
    label = "fraud" if prob >= 0.5 else "legit"
    if BAND[0] <= prob <= BAND[1]:
        return "uncertain"
    if label == "fraud":
        return "label"
    if any(features.get(k) is None for k in FRAUD_TYPES):
        return "data_quality"
    if sample_point(request_id, row) < SAMPLE:
        return "audit"
    return None


def items(data, where="1"):
    return db_rows(data, "SELECT * FROM review_items WHERE %s ORDER BY id" % where)


def send(d, rng, n_requests=12, rows=5):
    """Requests of several rows; every row's expected reason."""
    want = {}
    for i in range(n_requests):
        rid = "rv-%d" % i
        batch = fraud_rows(rows, rng)
        if i % 3 == 0:
            batch[0]["amount"] = 2900.0  # large amounts lean to fraud
        doc = predict(d, "fraudr", batch, rid)
        probs = doc["outputs"][0]["data"]
        for r, (feat, p) in enumerate(zip(batch, probs)):
            reason = expected_reason(rid, r, feat, p)
            if reason is not None:
                want[(rid, r)] = (reason, p)
    return want


def test_queue_end_to_end():
    tmp = tempfile.mkdtemp(prefix="modeld-t6480-")
    rng = rng_for(6480)
    try:
        with Daemon(repo=review_repo(tmp), data=os.path.join(tmp, "data")) as d:
            # Empty: 204; a model without review: 400 naming the model.
            st, _, _ = d.request("GET", "/api/v1/review/next?model=fraudr")
            expect(st == 204, st)
            st, doc, _ = d.json("GET", "/api/v1/review/next?model=fraud")
            expect(st == 400 and doc["error"] ==
                   "model: 'fraud' has no review: section in its model.yaml", (st, doc))
            st, doc, _ = d.json("GET", "/api/v1/review/next")
            expect(st == 400 and doc["error"].startswith("model: required"), (st, doc))

            want = send(d, rng)
            predict(d, "fraud", fraud_rows(3, rng), "plain-1")
            wait_rows(d.data, "request_id LIKE 'rv-%'", 60)
            expect(len(want) >= 8, want)
            reasons = {r for r, _ in want.values()}
            expect({"uncertain", "label", "audit"} <= reasons, reasons)
            ok = wait_for(lambda: len(items(d.data)) == len(want), 15)
            got = {(it["request_id"], it["row"]): it["reason"] for it in items(d.data)}
            expect(ok and got == {k: v[0] for k, v in want.items()}, (got, want))
            expect(all(it["model"] == "fraudr" and it["state"] == "queued"
                       for it in items(d.data)), items(d.data))

            # Two reviewers: the two oldest items, never the same one.
            order = items(d.data)
            st, a, _ = d.json("GET", "/api/v1/review/next?model=fraudr&reviewer=alice")
            expect(st == 200 and a["id"] == order[0]["id"] and a["state"] == "leased" and
                   a["reviewer"] == "alice" and len(a["lease"]) == 32, (st, a))
            st, b, _ = d.json("GET", "/api/v1/review/next?model=fraudr",
                              headers={"X-Reviewer": "bob"})
            expect(st == 200 and b["id"] == order[1]["id"] and b["reviewer"] == "bob", (st, b))
            key = (a["request_id"], a["row"])
            expect(a["reason"] == want[key][0], (a, want[key]))
            expect(abs(a["prediction"]["score"] - want[key][1]) < 1e-6, a)
            expect(a["features"]["merchant_category"] in
                   ("grocery", "electronics", "travel", "online", "restaurant"), a)
            check_explanation(a)

            # Bad verdicts: 400 naming the field; nothing answered.
            for body, msg in [
                    ({"lease": a["lease"], "verdict": "spam"},
                     "verdict: 'spam' is not a class of model 'fraudr'"),
                    ({"lease": a["lease"], "verdict": 1.5},
                     "verdict: model 'fraudr' is a classification: the verdict is a label"),
                    ({"verdict": "fraud"}, "lease: required"),
                    ({"lease": a["lease"]}, "verdict: required"),
                    ({"lease": a["lease"], "verdict": "fraud", "why": 1}, "why: unknown field"),
                    ({"lease": a["lease"], "verdict": "fraud", "comment": 7}, "comment: a text")]:
                st, doc, _ = d.json("POST", "/api/v1/review/%d" % a["id"], body)
                expect(st == 400 and doc["error"].startswith(msg), (body, st, doc))
            st, doc, _ = d.json("POST", "/api/v1/review/999999",
                                {"lease": a["lease"], "verdict": "fraud"})
            expect(st == 404 and doc["error"] == "review item 999999: no such item", (st, doc))
            st, doc, _ = d.json("POST", "/api/v1/review/%d" % a["id"],
                                {"lease": b["lease"], "verdict": "fraud"})
            expect(st == 409 and doc["error"].startswith("lease: another lease holds"), (st, doc))

            # Alice answers: expert feedback on the row, agreement recorded.
            verdict = "fraud"
            st, done, _ = d.json("POST", "/api/v1/review/%d" % a["id"],
                                 {"lease": a["lease"], "verdict": verdict,
                                  "comment": "chargeback"})
            agrees = a["prediction"]["label"] == verdict
            expect(st == 200 and done["state"] == "done" and done["verdict"] == verdict and
                   done["agrees"] is agrees and done["comment"] == "chargeback", (st, done))
            fb = db_rows(d.data, "SELECT * FROM feedback WHERE request_id = ? AND row = ?",
                         (a["request_id"], a["row"]))
            expect(len(fb) == 1 and fb[0]["source"] == "expert" and fb[0]["label"] == verdict and
                   fb[0]["state"] == "attached" and fb[0]["comment"] == "chargeback", fb)
            st, q, _ = d.json("GET", "/api/v1/models/fraudr/quality")
            expect(st == 200 and q["all"]["labelled"] == 1, q)
            st, doc, _ = d.json("POST", "/api/v1/review/%d" % a["id"],
                                {"lease": a["lease"], "verdict": verdict})
            expect(st == 409 and "answered already" in doc["error"], (st, doc))

            # Bob's lease (2 s) runs out: carol gets his item; bob's answer is refused.
            ok = wait_for(lambda: time.time() * 1000 > b["lease_until_ms"] + 50, 5)
            expect(ok, b)
            st, c, _ = d.json("GET", "/api/v1/review/next?model=fraudr&reviewer=carol")
            expect(st == 200 and c["id"] == b["id"] and c["lease"] != b["lease"], (st, c, b))
            st, doc, _ = d.json("POST", "/api/v1/review/%d" % b["id"],
                                {"lease": b["lease"], "verdict": "legit"})
            expect(st == 409 and doc["error"].startswith("lease: another lease holds"), (st, doc))
            st, doc, _ = d.json("POST", "/api/v1/review/%d" % c["id"],
                                {"lease": c["lease"], "verdict": c["prediction"]["label"]})
            expect(st == 200 and doc["agrees"] is True and doc["reviewer"] == "carol", (st, doc))

            # Figures: the listing, /metrics and the named metrics.
            n_left = len(want) - 2
            agreement = (int(agrees) + 1) / 2.0

            def queue():
                st, doc, _ = d.json("GET", "/api/v1/review?model=fraudr&state=done")
                expect(st == 200, (st, doc))
                return doc

            ok = wait_for(lambda: queue()["queue"]["answered"] == 2, 10)
            doc = queue()
            expect(ok and len(doc["items"]) == 2 and doc["queue"]["length"] == n_left and
                   abs(doc["queue"]["agreement"] - agreement) < 1e-9 and
                   doc["queue"]["oldest_age_s"] > 0, doc)
            expect(metric(d, "modeld_review_queue_length", {"model": "fraudr"}) == n_left,
                   metric(d, "modeld_review_queue_length", {"model": "fraudr"}))
            expect(metric(d, "modeld_review_answered_total", {"model": "fraudr"}) == 2, "answered")
            st, sig, _ = d.json("GET", "/api/v1/models/fraudr/signals?metric=review_queue_length,"
                                "review_agreement,review_queue_age_s&window=1m")
            expect(st == 200, (st, sig))
            text = str(sig)
            expect("review_queue_length" in text and "review_agreement" in text, sig)

            # An alert rule on the queue's length fires.
            rule = {"metric": "review_queue_length", "model": "fraudr", "op": ">",
                    "threshold": 1, "window": "1m", "for": "0s", "severity": "warning"}
            st, doc, _ = d.json("PUT", "/api/v1/alert-rules/review_backlog", rule)
            expect(st in (200, 201), (st, doc))

            def firing():
                st, doc, _ = d.json("GET", "/api/v1/alerts?state=firing")
                return st == 200 and any(a.get("rule") == "review_backlog" or
                                         "review_backlog" in str(a) for a in doc["alerts"])
            expect(wait_for(firing, 20), d.json("GET", "/api/v1/alerts")[1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_explanation(item):
    """The trees engine's explanation (TreeSHAP): every prepared column's contribution, largest
    first, and the bias, summing to the row's margin (the logit of its probability)."""
    ex = item.get("explanation")
    expect(ex is not None and ex["kind"] == "contributions" and ex["class"] is None, item)
    columns = {c["column"] for c in ex["contributions"]}
    # fraud's prepared columns: 7 features of one column, merchant_category one-hot of 5.
    expect("amount" in columns and len(columns) == 12, columns)
    p = item["prediction"]["score"]
    margin = math.log(p / (1 - p))
    total = ex["bias"] + sum(c["value"] for c in ex["contributions"])
    expect(abs(total - margin) < 1e-3 * max(1, abs(margin)), (total, margin, ex))
    expect(abs(ex["margin"] - margin) < 1e-3 * max(1, abs(margin)), ex)
    sizes = [abs(c["value"]) for c in ex["contributions"]]
    expect(sizes == sorted(sizes, reverse=True), ex)


def test_full_queue_drops():
    tmp = tempfile.mkdtemp(prefix="modeld-t6480-")
    rng = rng_for(6481)
    try:
        repo = review_repo(tmp)
        path = os.path.join(repo, "fraudr", "model.yaml")
        with open(path) as f:
            text = f.read().split("review:")[0]
        with open(path, "w") as f:
            f.write(text + "review:\n  rules: [{sample: 1}]\n  max_queue: 4\n")
        with Daemon(repo=repo, data=os.path.join(tmp, "data")) as d:
            predict(d, "fraudr", fraud_rows(10, rng), "full-1")
            wait_rows(d.data, "request_id = 'full-1'", 10)
            expect(wait_for(lambda: len(items(d.data)) == 4, 10), items(d.data))
            _, text, _ = d.request("GET", "/metrics")
            expect("modeld_review_dropped_total 6\n" in text.decode(), "dropped")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_regression_verdict():
    """A regression's verdict is a number: stored as the row's expert value, agreement unknown."""
    tmp = tempfile.mkdtemp(prefix="modeld-t6480-")
    rng = rng_for(6482)
    try:
        repo = make_repo(os.path.join(tmp, "repo"), bench=False)
        path = os.path.join(repo, "housing", "model.yaml")
        with open(path, "a") as f:
            f.write("review:\n  rules: [{sample: 1, name: audit}]\n")
        with Daemon(repo=repo, data=os.path.join(tmp, "data")) as d:
            predict(d, "housing", housing_rows(1, rng), "h-1", types=HOUSING_TYPES)
            expect(wait_for(lambda: len(items(d.data)) == 1, 15), items(d.data))
            st, it, _ = d.json("GET", "/api/v1/review/next?model=housing")
            expect(st == 200 and it["task"] == "regression" and it["labels"] == [] and
                   it["prediction"]["label"] is None and it["reason"] == "audit", (st, it))
            st, doc, _ = d.json("POST", "/api/v1/review/%d" % it["id"],
                                {"lease": it["lease"], "verdict": "high"})
            expect(st == 400 and doc["error"] ==
                   "verdict: model 'housing' is a regression: the verdict is a number", doc)
            st, doc, _ = d.json("POST", "/api/v1/review/%d" % it["id"],
                                {"lease": it["lease"], "verdict": 251000.5})
            expect(st == 200 and doc["verdict"] == "251000.5" and doc["agrees"] is None, doc)
            fb = db_rows(d.data, "SELECT * FROM feedback WHERE request_id = 'h-1'")
            expect(len(fb) == 1 and fb[0]["kind"] == "value" and fb[0]["value"] == 251000.5 and
                   fb[0]["source"] == "expert", fb)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_queue_end_to_end, test_full_queue_drops, test_regression_verdict])
