#!/usr/bin/python3
"""The quality figures of GET /api/v1/models/{m}/quality are exact: a few
hundred predictions of a binary model (fraud) and of a regression model
(housing) are sent, labels and values fed back (some rows left without,
some labels replaced), and the figures are computed again with Debian's
python3-sklearn from the same rows (the predicted labels and scores read
from the store file, the outcomes as the test last sent them); every figure
agrees to 1e-9, for the whole window, per version and route, for a window
by count and by time. The live sums of /metrics count the same rows (the
accuracy, coverage and confusion counts agree exactly; the log loss and
Brier score to rounding). Needs numpy and scikit-learn (skipped without)."""
import math
import os
import shutil
import tempfile

from feedbacklib import (HOUSING_TYPES, db_rows, feedback_repo, fraud_rows, housing_rows,
                         metric, post, predict, rng_for, wait_rows)
from harness import Daemon, expect, run, wait_for

try:
    import numpy as np
    from sklearn import metrics as skm
except ImportError:  # pragma: no cover - Debian's python3-sklearn is a test dependency
    np = skm = None

TOL = 1e-9


def near(a, b, what):
    expect(a is not None and math.isfinite(a) and abs(a - b) <= TOL * max(1.0, abs(b)),
           "%s: modeld %r, scikit-learn %r" % (what, a, b))


def send(d, model, rows, prefix, per_request, types=None):
    for i in range(0, len(rows), per_request):
        kw = {"types": types} if types else {}
        predict(d, model, rows[i:i + per_request], "%s-%d" % (prefix, i // per_request), **kw)


def check_binary(q, truth, stored):
    """q: the API's figures; truth: {(request_id, row): label}; stored: the rows."""
    labels = ["legit", "fraud"]
    rows = [r for r in stored if (r["request_id"], r["row"]) in truth]
    y = [truth[(r["request_id"], r["row"])] for r in rows]
    yp = [r["label"] for r in rows]
    yb = np.array([1 if t == "fraud" else 0 for t in y])
    p = np.array([r["score"] for r in rows])
    expect(q["labelled"] == len(rows), (q["labelled"], len(rows)))
    near(q["accuracy"], skm.accuracy_score(y, yp), "accuracy")
    pr, rc, f1, sup = skm.precision_recall_fscore_support(y, yp, labels=labels, zero_division=0)
    for i, c in enumerate(labels):
        near(q["classes"][c]["precision"], pr[i], "precision of " + c)
        near(q["classes"][c]["recall"], rc[i], "recall of " + c)
        near(q["classes"][c]["f1"], f1[i], "f1 of " + c)
        expect(q["classes"][c]["support"] == sup[i], (c, q["classes"][c], sup[i]))
    near(q["macro"]["precision"], skm.precision_score(y, yp, average="macro", zero_division=0),
         "macro precision")
    near(q["macro"]["recall"], skm.recall_score(y, yp, average="macro", zero_division=0),
         "macro recall")
    near(q["macro"]["f1"], skm.f1_score(y, yp, average="macro", zero_division=0), "macro f1")
    expect(q["confusion"] == skm.confusion_matrix(y, yp, labels=labels).tolist(),
           (q["confusion"], skm.confusion_matrix(y, yp, labels=labels)))
    near(q["log_loss"], skm.log_loss(yb, p, labels=[0, 1]), "log loss")
    near(q["roc_auc"], skm.roc_auc_score(yb, p), "roc auc")
    near(q["brier"], skm.brier_score_loss(yb, p), "brier")


def check_regression(q, truth, stored):
    rows = [r for r in stored if (r["request_id"], r["row"]) in truth]
    y = np.array([truth[(r["request_id"], r["row"])] for r in rows])
    yhat = np.array([r["score"] for r in rows])
    expect(q["labelled"] == len(rows), (q["labelled"], len(rows)))
    near(q["mae"], skm.mean_absolute_error(y, yhat), "mae")
    near(q["rmse"], math.sqrt(skm.mean_squared_error(y, yhat)), "rmse")
    near(q["r2"], skm.r2_score(y, yhat), "r2")


def test_binary_and_regression_agree_with_sklearn():
    if skm is None:
        print("    skipped: numpy or scikit-learn is missing (Debian: python3-sklearn)")
        return
    tmp = tempfile.mkdtemp(prefix="modeld-t6222-")
    rng = rng_for(6225)
    try:
        with Daemon(repo=feedback_repo(tmp), data=os.path.join(tmp, "data")) as d:
            send(d, "fraud", fraud_rows(300, rng), "fx", 25)
            send(d, "housing", housing_rows(200, rng), "hx", 20, HOUSING_TYPES)
            wait_rows(d.data, "request_id LIKE 'fx-%' OR request_id LIKE 'hx-%'", 500)
            fr = db_rows(d.data, "SELECT * FROM predictions WHERE model = 'fraud' ORDER BY id")
            hr = db_rows(d.data, "SELECT * FROM predictions WHERE model = 'housing' ORDER BY id")
            expect(len(fr) == 300 and len(hr) == 200, (len(fr), len(hr)))
            # Labels for 90% of the fraud rows, drawn from the model's own probability.
            truth = {}
            items = []
            for r in fr:
                if rng.random() < 0.1:
                    continue
                lab = "fraud" if rng.random() < 0.2 + 0.6 * r["score"] else "legit"
                truth[(r["request_id"], r["row"])] = lab
                items.append({"request_id": r["request_id"], "row": r["row"], "label": lab,
                              "source": rng.choice(["user", "system", "expert"])})
            for i in range(0, len(items), 100):
                doc = post(d, {"model": "fraud", "items": items[i:i + 100]})
                expect(doc["stored"] == len(items[i:i + 100]), doc)
            # 30 of them replaced, the other way.
            repl = []
            for key in list(truth)[:30]:
                truth[key] = "legit" if truth[key] == "fraud" else "fraud"
                repl.append({"request_id": key[0], "row": key[1], "label": truth[key]})
            post(d, {"model": "fraud", "items": repl})
            # Values for 80% of the housing rows, rewards and ratings for some.
            values = {}
            hitems = []
            for r in hr:
                if rng.random() < 0.2:
                    continue
                v = round(r["score"] * rng.uniform(0.7, 1.3) + rng.uniform(-20, 20), 3)
                values[(r["request_id"], r["row"])] = v
                hitems.append({"request_id": r["request_id"], "row": r["row"], "value": v})
            rewards = [rng.choice([0.0, 1.0]) for _ in range(40)]
            for k, r in enumerate(hr[:40]):
                hitems.append({"request_id": r["request_id"], "row": r["row"],
                               "reward": rewards[k]})
            post(d, {"model": "housing", "items": hitems})

            st, q, _ = d.json("GET", "/api/v1/models/fraud/quality?last=100000")
            expect(st == 200 and q["task"] == "binary", q)
            check_binary(q["all"], truth, fr)
            expect(q["all"]["predictions"] == 300, q["all"])
            near(q["all"]["label_coverage"], len(truth) / 300.0, "label coverage")
            expect(len(q["groups"]) == 1, q["groups"])
            check_binary(q["groups"][0], truth, fr)
            # A window by count: the last 100 labelled rows by prediction time.
            st, q100, _ = d.json("GET", "/api/v1/models/fraud/quality?last=100")
            newest = sorted((r for r in fr if (r["request_id"], r["row"]) in truth),
                            key=lambda r: (r["at_ms"], r["id"]), reverse=True)[:100]
            check_binary(q100["all"], truth, newest)
            # A window by time holding every row.
            st, qt, _ = d.json("GET", "/api/v1/models/fraud/quality?window=1h&version=%d"
                               % fr[0]["version"])
            check_binary(qt["all"], truth, fr)

            st, q, _ = d.json("GET", "/api/v1/models/housing/quality?window=1h")
            expect(st == 200 and q["task"] == "regression", q)
            check_regression(q["all"], values, hr)
            check_regression(q["groups"][0], values, hr)
            near(q["all"]["mean_reward"], sum(rewards) / len(rewards), "mean reward")
            near(q["all"]["label_coverage"], len(values) / 200.0, "label coverage")

            # The live sums count the same rows.
            lab = {"model": "fraud", "version": str(fr[0]["version"]), "route": fr[0]["route"]}
            yb = np.array([1 if truth[(r["request_id"], r["row"])] == "fraud" else 0
                           for r in fr if (r["request_id"], r["row"]) in truth])
            p = np.array([r["score"] for r in fr if (r["request_id"], r["row"]) in truth])
            ok = wait_for(lambda: metric(d, "modeld_quality_predictions", lab) == 300, 10)
            expect(ok, metric(d, "modeld_quality_predictions", lab))
            y = [truth[(r["request_id"], r["row"])] for r in fr if (r["request_id"], r["row"])
                 in truth]
            yp = [r["label"] for r in fr if (r["request_id"], r["row"]) in truth]
            near(metric(d, "modeld_quality_accuracy", lab), skm.accuracy_score(y, yp),
                 "live accuracy")
            near(metric(d, "modeld_quality_label_coverage", lab), len(truth) / 300.0,
                 "live coverage")
            cm = skm.confusion_matrix(y, yp, labels=["legit", "fraud"])
            expect(metric(d, "modeld_quality_confusion",
                          dict(lab, true="fraud", predicted="legit")) == cm[1][0], cm)
            expect(abs(metric(d, "modeld_quality_log_loss", lab) -
                       skm.log_loss(yb, p, labels=[0, 1])) < 1e-9, "live log loss")
            expect(abs(metric(d, "modeld_quality_brier", lab) -
                       skm.brier_score_loss(yb, p)) < 1e-9, "live brier")
            # The AUC of 100-bin histograms: near the exact one.
            expect(abs(metric(d, "modeld_quality_roc_auc", lab) - skm.roc_auc_score(yb, p)) <
                   0.02, "live roc auc")
            hl = {"model": "housing", "version": str(hr[0]["version"]), "route": hr[0]["route"]}
            yv = np.array([values[k] for k in values])
            yh = np.array([r["score"] for r in hr if (r["request_id"], r["row"]) in values])
            expect(abs(metric(d, "modeld_quality_mae", hl) -
                       skm.mean_absolute_error(yv, yh)) < 1e-9, "live mae")
            expect(abs(metric(d, "modeld_quality_r2", hl) - skm.r2_score(yv, yh)) < 1e-6,
                   "live r2")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_binary_and_regression_agree_with_sklearn])
