#!/usr/bin/python3
"""Data quality against the real daemon, over HTTP: crafted requests to the
example fraud model give exact counts of missing and out-of-range values,
unseen categories and refusals by reason and feature, in /metrics (which
promtool accepts) and in GET /api/v1/models/{m}/data-quality (totals and
a window); the predicted labels and the score histogram agree with the
answers' own labels and probabilities; the named metrics answer through
GET /api/v1/models/{m}/signals; bad queries get 4xx naming the argument."""
import csv
import os
import re
import shutil
import subprocess
import tempfile
import threading

from harness import (BENCH_YAML, ROOT, Daemon, add_bench, expect, expect_error, make_repo, run,
                     v2_row, wait_for)

CHECK = os.path.join(ROOT, "examples", "data", "fraud_check.csv")
MERCHANTS = ["grocery", "electronics", "travel", "online", "restaurant"]
TIERS = ["basic", "gold", "platinum"]


def col(name, dtype, data):
    return {"name": name, "datatype": dtype, "shape": [len(data)], "data": data}


def fraud(n=1, amount=10.0, hour=3, age=100, dist=None, cat="grocery", intl=False, drop=(),
          hour_type="INT32"):
    """A columnar fraud request of n equal rows (dist a list gives one value per row)."""
    ins = [col("amount", "FP32", [amount] * n), col("hour", hour_type, [hour] * n),
           col("account_age_days", "INT32", [age] * n),
           col("merchant_category", "BYTES", [cat] * n), col("is_international", "BOOL", [intl] * n)]
    if dist is not None:
        ins.append(col("distance_km", "FP32", dist))
    return {"inputs": [i for i in ins if i["name"] not in drop]}


def metrics(d):
    st, data, _ = d.request("GET", "/metrics")
    expect(st == 200, st)
    return data.decode()


def series(text, name, **labels):
    """The value of the one series name{labels...} (model and version included)."""
    order = ["model", "version"] + [k for k in labels if k not in ("model", "version")]
    want = ",".join('%s="%s"' % (k, labels[k]) for k in order)
    for line in text.splitlines():
        m = re.match(r"^(\w+)\{(.*)\} (\S+)$", line)
        if m and m.group(1) == name and m.group(2) == want:
            return float(m.group(3))
    raise AssertionError("no series %s{%s}" % (name, want))


def post(d, body, status):
    st, doc, _ = d.request("POST", "/v2/models/fraud/infer", body)
    expect(st == status, (st, doc, body))


def test_counts():
    with Daemon() as d:
        post(d, fraud(), 200)                                    # 1 row, clean
        post(d, fraud(n=3, dist=[1.5, None, 2.0]), 200)          # 3 rows, one distance null
        post(d, fraud(amount=-5.0), 400)                         # out of range: amount
        post(d, fraud(n=2, hour=30), 400)                        # out of range: hour, 2 rows
        post(d, fraud(cat="casino"), 400)                        # unseen category
        post(d, fraud(drop=("amount",)), 400)                    # missing required feature
        post(d, fraud(hour=3.0, hour_type="FP32"), 400)          # wrong type
        post(d, fraud(n=2, dist=[1.0]), 400)                     # bad shape: 1 value for 2 rows
        post(d, b"{", 400)                                       # malformed body
        text = metrics(d)
        v = {"model": "fraud", "version": "2"}
        expect(series(text, "modeld_data_requests_total", **v) == 9, text)
        # rows whose values were read: 1 + 3 + 1 + 2 + 1 + 1 + 1 (shape and body: none)
        expect(series(text, "modeld_data_rows_total", **v) == 10, text)
        # distance_km absent from every request but one (1 null of its 3 rows)
        expect(series(text, "modeld_data_missing_total", feature="distance_km", **v) == 8, text)
        expect(series(text, "modeld_data_missing_total", feature="amount", **v) == 1, text)
        expect(series(text, "modeld_data_missing_total", feature="hour", **v) == 0, text)
        expect(series(text, "modeld_data_out_of_range_total", feature="amount", **v) == 1, text)
        expect(series(text, "modeld_data_out_of_range_total", feature="hour", **v) == 2, text)
        expect(series(text, "modeld_data_unseen_category_total", feature="merchant_category",
                      **v) == 1, text)
        for reason, n in [("out_of_range", 2), ("unknown_category", 1), ("missing", 1),
                          ("wrong_type", 1), ("bad_shape", 1), ("malformed", 1), ("other", 0)]:
            expect(series(text, "modeld_data_rejected_total", reason=reason, **v) == n,
                   (reason, text))
        for feature, reason in [("amount", "out_of_range"), ("hour", "out_of_range"),
                                ("merchant_category", "unknown_category"), ("amount", "missing"),
                                ("hour", "wrong_type"), ("distance_km", "bad_shape")]:
            expect(series(text, "modeld_data_feature_rejected_total", feature=feature,
                          reason=reason, **v) == 1, (feature, reason, text))
        # A feature without range or categories has no such series.
        expect('modeld_data_out_of_range_total{model="fraud",version="2",feature="is_international"}'
               not in text, text)
        p = subprocess.run([shutil.which("promtool") or "promtool", "check", "metrics"],
                           input=text, capture_output=True, text=True, timeout=30)
        expect(p.returncode == 0, "promtool: %s%s" % (p.stdout, p.stderr))

        # The same figures from the API, totals and the last 5 minutes.
        for query in ("", "?window=5m", "?version=2&window=300"):
            st, doc, _ = d.json("GET", "/api/v1/models/fraud/data-quality" + query)
            expect(st == 200 and doc["model"] == "fraud" and len(doc["versions"]) == 1, doc)
            ver = doc["versions"][0]
            expect(ver["version"] == 2 and ver["live"] is True, ver)
            expect(ver["requests"] == 9 and ver["rejected"] == 7 and ver["rows"] == 10, ver)
            expect(abs(ver["rejected_rate"] - 7 / 9) < 1e-12, ver)
            expect(ver["rejected_by_reason"]["out_of_range"] == 2, ver)
            feats = {f["name"]: f for f in ver["features"]}
            expect(feats["distance_km"]["missing"] == 8, feats)
            expect(abs(feats["distance_km"]["missing_rate"] - 0.8) < 1e-12, feats)
            expect(feats["hour"]["out_of_range"] == 2, feats)
            expect(feats["merchant_category"]["unseen_categories"] == 1, feats)
            expect(ver["predictions"]["rows"] == 4, ver)
            if query == "":
                expect(feats["amount"]["rejected"] == {"out_of_range": 1, "missing": 1}, feats)
            else:
                expect(doc["window_s"] == 300 and "rejected" not in feats["amount"], doc)


def check_rows():
    """fraud_check.csv as one columnar request of its rows, and five risky rows that the
    model calls fraud (a large night-time online payment from a new account abroad)."""
    with open(CHECK) as f:
        rows = list(csv.DictReader(f))
    risky = {"amount": "5000", "hour": "2", "account_age_days": "5", "distance_km": "3000",
             "card_tier": "0", "is_international": "1", "transactions_24h": "15"}
    risky.update({"merchant_category=" + m: "1" if m == "online" else "0" for m in MERCHANTS})
    rows += [risky] * 5
    cols = {k: [] for k in ("amount", "hour", "account_age_days", "distance_km",
                            "merchant_category", "card_tier", "is_international",
                            "transactions_24h")}
    for r in rows:
        cols["amount"].append(float(r["amount"]))
        cols["hour"].append(int(r["hour"]))
        cols["account_age_days"].append(int(r["account_age_days"]))
        cols["distance_km"].append(float(r["distance_km"]) if r["distance_km"] else None)
        cols["merchant_category"].append(
            next(m for m in MERCHANTS if r["merchant_category=" + m] == "1"))
        cols["card_tier"].append(TIERS[int(r["card_tier"])])
        cols["is_international"].append(r["is_international"] == "1")
        cols["transactions_24h"].append(int(r["transactions_24h"]) if r["transactions_24h"]
                                        else None)
    types = {"amount": "FP32", "hour": "INT32", "account_age_days": "INT32", "distance_km": "FP32",
             "merchant_category": "BYTES", "card_tier": "BYTES", "is_international": "BOOL",
             "transactions_24h": "INT32"}
    return len(rows), {"inputs": [col(k, types[k], v) for k, v in cols.items()]}


def test_predicted_labels_and_scores():
    n, body = check_rows()
    with Daemon() as d:
        labels = []
        probs = []
        for _ in range(2):
            st, doc, _ = d.json("POST", "/v2/models/fraud/infer", body)
            expect(st == 200, (st, doc))
            out = {o["name"]: o["data"] for o in doc["outputs"]}
            labels += out["label"]
            probs += out["probability"]
        frauds = labels.count("fraud")
        expect(0 < frauds < len(labels), labels)
        text = metrics(d)
        v = {"model": "fraud", "version": "2"}
        expect(series(text, "modeld_predicted_label_total", label="fraud", **v) == frauds, text)
        expect(series(text, "modeld_predicted_label_total", label="legit", **v)
               == len(labels) - frauds, text)
        expect(series(text, "modeld_prediction_score_count", **v) == 2 * n, text)
        for le in (0.05, 0.5, 0.95):
            expect(series(text, "modeld_prediction_score_bucket", le="%g" % le, **v)
                   == sum(1 for p in probs if p <= le), (le, text))
        expect(abs(series(text, "modeld_prediction_score_sum", **v) - sum(probs)) < 1e-4, text)
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/data-quality?version=2")
        pred = doc["versions"][0]["predictions"]
        expect(pred["labels"] == {"legit": len(labels) - frauds, "fraud": frauds}, pred)
        expect(abs(pred["rates"]["fraud"] - frauds / len(labels)) < 1e-12, pred)
        expect(pred["score"]["of"] == "P(fraud)", pred)
        expect(abs(pred["score"]["mean"] - sum(probs) / len(probs)) < 1e-6, pred)
        # A fraud-rate panel's number, with no log query: the named metric.
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/signals?metric=predicted_rate:fraud"
                            "&window=1h")
        sig = doc["signals"][0]
        expect(st == 200 and abs(sig["value"] - frauds / len(labels)) < 1e-12, doc)
        expect(sig["samples"] == len(labels) and doc["window_ms"] == 3600000, doc)
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/signals?metric=score_mean&version=2")
        sig = doc["signals"][0]
        expect(st == 200 and abs(sig["value"] - sum(probs) / len(probs)) < 1e-6, doc)
        expect(doc["version"] == 2 and doc["window_ms"] == 60000, doc)


def test_signals():
    with Daemon() as d:
        st, doc, _ = d.json("GET", "/api/v1/signals")
        expect(st == 200, (st, doc))
        names = {s["name"]: s for s in doc["signals"]}
        for name in ("missing_rate", "out_of_range_rate", "unseen_category_rate", "rejected_rate",
                     "predicted_rate", "score_mean"):
            expect(name in names, (name, names))
        expect(names["missing_rate"]["arg"] == "feature" and names["rejected_rate"]["arg"] is None,
               names)
        # Nothing measured yet: null, no samples.
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/signals?metric=rejected_rate")
        sig = doc["signals"][0]
        expect(st == 200 and sig["value"] is None and sig["samples"] == 0, doc)
        post(d, fraud(n=4, dist=[1.0, None, None, 3.0]), 200)
        post(d, fraud(cat="casino"), 400)
        want = [("missing_rate:distance_km", 3 / 5, 5), ("out_of_range_rate:amount", 0.0, 5),
                ("unseen_category_rate:merchant_category", 0.5, 2), ("rejected_rate", 0.5, 2),
                ("predicted_rate:legit", None, 4)]
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/signals?window=5m&metric="
                            + ",".join(m for m, _, _ in want))
        expect(st == 200 and len(doc["signals"]) == len(want), (st, doc))
        for (metric, value, samples), sig in zip(want, doc["signals"]):
            expect(sig["metric"] == metric and sig["samples"] == samples, doc)
            expect(value is None or abs(sig["value"] - value) < 1e-12, doc)
        base = "/api/v1/models/fraud/signals?metric="
        for path, status, fragment in [
                ("/api/v1/signals/rejected_rate?model=fraud", 404, "Not Found"),
                (base + "nosuch", 400, "unknown metric 'nosuch'"),
                (base + "missing_rate", 400, "needs a feature"),
                (base + "rejected_rate:x", 400, "takes no argument"),
                (base + "missing_rate:zip", 404,
                 "metric 'missing_rate:zip': model 'fraud' has no feature 'zip'"),
                (base + "rejected_rate,missing_rate:zip", 404, "no feature 'zip'"),
                ("/api/v1/models/nosuch/signals?metric=rejected_rate", 404,
                 "unknown model 'nosuch'"),
                (base + "rejected_rate&window=soon", 400, "window: 'soon'"),
                (base + "rejected_rate&window=2h", 400,
                 "metric 'rejected_rate': window: data quality keeps 60 minutes"),
                (base + "rejected_rate&version=x", 400, "version: 'x'"),
                (base + "rejected_rate&route=canary", 400,
                 "metric 'rejected_rate': route: data quality is kept per version")]:
            st, doc, _ = d.json("GET", path)
            expect_error(st, doc, status, fragment)
        # The default list (every name without an argument) shows a refusal beside the others.
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/signals?route=canary")
        got = {s["metric"]: s for s in doc["signals"]}
        expect(st == 200 and "route:" in got["rejected_rate"]["error"], doc)
        expect(got["requests"]["value"] == 0, doc)


def test_api_errors():
    with Daemon() as d:
        for path, status, fragment in [
                ("/api/v1/models/nosuch/data-quality", 404, "unknown model 'nosuch'"),
                ("/api/v1/models/fraud/data-quality?version=0", 400, "version: '0'"),
                ("/api/v1/models/fraud/data-quality?version=9", 404,
                 "model 'fraud' has no data quality for version 9"),
                ("/api/v1/models/fraud/data-quality?window=5x", 400, "window: '5x'"),
                ("/api/v1/models/fraud/data-quality?window=0", 400, "window: must be above 0"),
                ("/api/v1/models/fraud/data-quality?window=61m", 400, "keeps 60 minutes"),
                ("/api/v1/models/fraud/data-quality?window=" + "9" * 40, 400, "is too long"),
                ("/api/v1/models/fraud/data-quality?window=-5m", 400, "is not a duration"),
                ("/api/v1/models/fraud/data-quality?version=" + "9" * 40, 400, "out of range")]:
            st, doc, _ = d.json("GET", path)
            expect_error(st, doc, status, fragment)
        st, doc, hdrs = d.json("POST", "/api/v1/models/fraud/data-quality", {})
        expect(st == 405 and hdrs.get("allow") == "GET", (st, doc, hdrs))
        # A regression: the score is the value, in signed decades; no labels.
        st, doc, _ = d.json("GET", "/api/v1/models/housing/data-quality")
        pred = doc["versions"][0]["predictions"]
        expect(pred["score"]["of"] == "prediction" and "labels" not in pred, pred)
        expect([b["le"] for b in pred["score"]["histogram"]][:3] == [-10000, -1000, -100], pred)


def test_tfs_rows():
    """TF Serving's rows: values typed by the protocol are checked as V2's are; a value the
    protocol cannot type is a wrong_type refusal naming the feature, with no rows read."""
    base = {"amount": 10.0, "hour": 3, "account_age_days": 100, "merchant_category": "grocery",
            "is_international": False}
    with Daemon() as d:
        for inst, status in [(dict(base), 200), (dict(base, amount="x"), 400),
                             (dict(base, amount=-5), 400), (dict(base, zip=3), 400)]:
            st, doc, _ = d.json("POST", "/v1/models/fraud:predict", {"instances": [inst, inst]})
            expect(st == status, (st, doc, inst))
        text = metrics(d)
        v = {"model": "fraud", "version": "2"}
        expect(series(text, "modeld_data_requests_total", **v) == 4, text)
        expect(series(text, "modeld_data_rows_total", **v) == 4, text)
        expect(series(text, "modeld_data_out_of_range_total", feature="amount", **v) == 2, text)
        expect(series(text, "modeld_data_feature_rejected_total", feature="amount",
                      reason="wrong_type", **v) == 1, text)
        for reason, n in [("wrong_type", 1), ("out_of_range", 1), ("unknown_input", 1),
                          ("other", 0)]:
            expect(series(text, "modeld_data_rejected_total", reason=reason, **v) == n,
                   (reason, text))


def test_concurrent_counts():
    """Four clients at once: every request, row and missing value counted, none lost."""
    with Daemon(args=["--threads", "4"]) as d:
        errors = []

        def client():
            try:
                for _ in range(100):
                    post(d, fraud(n=2, dist=[4.0, None]), 200)
                post(d, fraud(hour=99), 400)
            except Exception as e:  # reported by the main thread
                errors.append(e)
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        expect(not errors and not any(t.is_alive() for t in threads), errors)
        text = metrics(d)
        v = {"model": "fraud", "version": "2"}
        expect(series(text, "modeld_data_requests_total", **v) == 404, text)
        expect(series(text, "modeld_data_rows_total", **v) == 804, text)
        expect(series(text, "modeld_data_missing_total", feature="distance_km", **v) == 404, text)
        expect(series(text, "modeld_data_out_of_range_total", feature="hour", **v) == 4, text)
        expect(series(text, "modeld_predicted_label_total", label="legit", **v)
               + series(text, "modeld_predicted_label_total", label="fraud", **v) == 800, text)
        expect(series(text, "modeld_prediction_score_count", **v) == 800, text)


def test_archived_version_goes():
    """A retired version keeps its data quality (24 hours); an archived one loses it at once,
    while its request counters stay."""
    tmp = tempfile.mkdtemp(prefix="modeld-test-")
    try:
        repo = make_repo(os.path.join(tmp, "repo"), examples=False)
        add_bench(repo, "twin", [1, 2], open(BENCH_YAML).read() + "version_policy:\n  latest: 2\n")
        with Daemon(repo=repo) as d:
            for v in (1, 2):
                st, doc, _ = d.json("POST", "/v2/models/twin/versions/%d/infer" % v,
                                    v2_row([0.2, None] + [0.1] * 28))
                expect(st == 200, (st, doc))
            st, doc, _ = d.json("GET", "/api/v1/models/twin/data-quality")
            expect([v["version"] for v in doc["versions"]] == [1, 2], doc)
            f1 = doc["versions"][0]["features"][1]
            expect(f1["name"] == "f1" and f1["missing"] == 1, f1)
            st, doc, _ = d.json("POST", "/api/v1/models/twin/versions/1/archive")
            expect(st == 200, (st, doc))

            def gone():
                st, doc, _ = d.json("GET", "/api/v1/models/twin/data-quality")
                return [v["version"] for v in doc["versions"]] == [2]
            expect(wait_for(gone), d.json("GET", "/api/v1/models/twin/data-quality"))
            text = metrics(d)
            expect('modeld_data_requests_total{model="twin",version="1"}' not in text, text)
            expect(series(text, "modeld_data_requests_total", model="twin", version="2") == 1, text)
            expect('modeld_inference_requests_total{model="twin",version="1"' in text, text)
            st, doc, _ = d.json("GET", "/api/v1/models/twin/data-quality?version=1")
            expect_error(st, doc, 404, "model 'twin' has no data quality for version 1")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_counts, test_predicted_labels_and_scores, test_signals, test_api_errors,
         test_tfs_rows, test_concurrent_counts, test_archived_version_goes])
