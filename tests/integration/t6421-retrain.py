#!/usr/bin/env python3
"""A manual retrain end to end on a real daemon: predictions of the fraud
model get feedback labels that follow a known rule; POST .../trainings
builds the training set from them, a child trains with libxgboost (the
model is a `trees` model: it retrains through libxgboost and is served by
`trees`), evaluates candidate and champion on the newest rows held out, and
the version is registered with its lineage (parent, trigger, training run,
window and rows, parameters, evaluation, sha256, duration), the alias
`candidate` moved to it and no traffic given. With `policy: rollout` the
version is rolled out; a candidate worse than the champion by more than
the margin is registered and never rolled out, the reason stored in the run
and its event. Too few rows, and labels of one class only, are refused with
the reason, nothing trained."""

import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, expect, run  # noqa: E402
import trainlib as tl  # noqa: E402

ROLLOUT = tl.TRAINING + "  policy: rollout\n"
FEW = tl.TRAINING.replace("min_rows: 100", "min_rows: 500")
STATE = {}


def daemon():
    if "d" not in STATE:
        tmp = tempfile.mkdtemp(prefix="modeld-t6421-")
        STATE["tmp"] = tmp
        repo = tl.fraud_repo(tmp, extra={"fraudr": ROLLOUT, "fraudw": ROLLOUT, "fraudf": FEW,
                                         "fraudo": tl.TRAINING,
                                         "frauds": ROLLOUT + "  strategy: careful\n"})
        STATE["d"] = Daemon(repo=repo)
    return STATE["d"]


def versions(d, model):
    st, doc, _ = d.json("GET", "/api/v1/models/%s/versions" % model)
    expect(st == 200, doc)
    return {v["version"]: v for v in doc["versions"]}


def test_manual_retrain_lineage():
    d = daemon()
    t0 = int(time.time() * 1000)
    tl.labelled_traffic(d, "fraud", 400, 6421)
    t1 = int(time.time() * 1000)
    rid = tl.retrain(d, "fraud", {"note": "test"})
    run_ = tl.wait_run(d, "fraud", rid)
    expect(run_["state"] == "succeeded", run_)
    expect(run_["trigger"] == "manual" and run_["rows"] == 400, run_)
    expect(t0 <= run_["window"]["since_ms"] <= run_["window"]["until_ms"] <= t1, run_["window"])
    ev = run_["result"]["evaluation"]
    expect(ev["metric"] == "roc_auc" and ev["holdout_rows"] == 100 and ev["train_rows"] == 300, ev)
    expect(ev["candidate"]["roc_auc"] > 0.9, ev)
    expect(ev["champion"] is not None and ev["champion_version"] == 2, ev)
    vnum = run_["version"]
    expect(vnum == "3", run_)
    expect(run_["result"]["decision"] == "registered as version 3, alias 'candidate'", run_)
    vs = versions(d, "fraud")
    v = vs[vnum]
    expect(v["source"] == "training" and v["aliases"] == ["candidate"], v)
    expect(v["traffic_percent"] == 0 and vs["2"]["traffic_percent"] == 100, vs)
    lin = v["metadata"]["lineage"]
    expect(lin["parent"] == "2" and lin["trigger"] == "manual" and lin["training"] == rid, lin)
    expect(lin["rows"] == {"train": 300, "holdout": 100, "feedback": 400, "expert": 0,
                           "base": 0}, lin["rows"])
    expect(lin["window"]["since_ms"] == run_["window"]["since_ms"], lin)
    expect(lin["parameters"] == {"num_round": "20", "max_depth": "3", "eta": "0.3"}, lin)
    expect(lin["sha256"] == v["sha256"] and lin["duration_ms"] > 0, lin)
    expect(lin["evaluation"]["verdict"] in ("better", "comparable"), lin["evaluation"])
    expect(lin["trainer"] is None, lin)
    # The version serves when asked for by name, and agrees with the rule it learned.
    row = {"amount": 2500.0, "hour": 13, "account_age_days": 400, "distance_km": 10.0,
           "merchant_category": "online", "card_tier": "gold", "is_international": True,
           "transactions_24h": 3}
    st, doc, _ = d.json("POST", "/v2/models/fraud/versions/3/infer",
                        tl.v2_body([row], tl.FRAUD_TYPES))
    expect(st == 200, doc)
    label = [o for o in doc["outputs"] if o["name"] == "label"][0]["data"][0]
    expect(label == "fraud", doc)
    # The event says so.
    st, evs, _ = d.json("GET", "/api/v1/events?model=fraud&kind=training_finished")
    expect(st == 200 and len(evs["events"]) == 1, evs)
    expect(evs["events"][0]["details"]["decision"] == run_["result"]["decision"], evs)


def test_rollout_policy_starts_rollout():
    d = daemon()
    tl.labelled_traffic(d, "fraudr", 400, 64211)
    rid = tl.retrain(d, "fraudr")
    run_ = tl.wait_run(d, "fraudr", rid)
    expect(run_["state"] == "succeeded", run_)
    expect(run_["result"]["rollout"] >= 1, run_)
    st, doc, _ = d.json("GET", "/api/v1/models/fraudr/rollouts")
    expect(st == 200 and doc["rollouts"], doc)
    ro = doc["rollouts"][0]
    expect(ro["id"] == run_["result"]["rollout"] and ro["candidate"] == run_["version"], ro)
    expect(ro["active"] is True, ro)


def test_rollout_with_named_strategy():
    d = daemon()
    st, doc, _ = d.json("PUT", "/api/v1/strategies/careful",
                        {"kind": "canary", "steps": [5, 50, 100], "interval_s": 60})
    expect(st == 200, doc)
    tl.labelled_traffic(d, "frauds", 400, 64217)
    r = tl.wait_run(d, "frauds", tl.retrain(d, "frauds"))
    expect(r["state"] == "succeeded" and r["result"]["rollout"] >= 1, r)
    st, ro, _ = d.json("GET", "/api/v1/models/frauds/rollouts/%d" % r["result"]["rollout"])
    expect(st == 200 and ro["candidate"] == r["version"], ro)
    expect(ro["spec"]["strategy_name"] == "careful", ro["spec"])
    expect(ro["spec"]["strategy"]["steps"] == [5, 50, 100], ro["spec"])


def test_worse_candidate_not_rolled_out():
    d = daemon()
    # The older rows (the training part) are labelled against the rule, the
    # newest (held out) by it: the candidate learns the opposite.
    tl.labelled_traffic(d, "fraudw", 300, 64212, prefix="old", flip=True)
    tl.labelled_traffic(d, "fraudw", 100, 64213, prefix="new")
    rid = tl.retrain(d, "fraudw")
    run_ = tl.wait_run(d, "fraudw", rid)
    expect(run_["state"] == "succeeded", run_)
    res = run_["result"]
    expect(res["evaluation"]["verdict"] == "worse", res["evaluation"])
    expect("rollout" not in res, res)
    expect("is worse than the champion's (version 2" in res["held_back"], res)
    expect("not rolled out: it evaluated worse than the champion" in res["decision"], res)
    st, doc, _ = d.json("GET", "/api/v1/models/fraudw/rollouts")
    expect(st == 200 and doc["rollouts"] == [], doc)
    v = versions(d, "fraudw")[run_["version"]]
    expect(v["source"] == "training" and v["traffic_percent"] == 0, v)
    expect(v["metadata"]["lineage"]["evaluation"]["verdict"] == "worse", v["metadata"])
    st, evs, _ = d.json("GET", "/api/v1/events?model=fraudw&kind=training_finished")
    expect(st == 200 and len(evs["events"]) == 1, evs)
    expect(evs["events"][0]["details"]["held_back"] == res["held_back"], evs)


def test_too_few_rows_refused():
    d = daemon()
    tl.labelled_traffic(d, "fraudf", 200, 64214)
    rid = tl.retrain(d, "fraudf")
    run_ = tl.wait_run(d, "fraudf", rid)
    expect(run_["state"] == "refused" and run_["version"] is None, run_)
    expect("fewer than the 500 min_rows asks for" in run_["result"]["reason"], run_)
    expect(list(versions(d, "fraudf")) == ["1", "2"], versions(d, "fraudf"))


def test_old_run_dirs_pruned():
    """Only the newest 10 run directories are kept (what a run found is in the store)."""
    d = daemon()
    for _ in range(12):
        r = tl.wait_run(d, "fraudf", tl.retrain(d, "fraudf"))
        expect(r["state"] == "refused", r)
    top = os.path.join(d.data, "trainings")
    ids = sorted(int(n) for n in os.listdir(top))
    expect(len(ids) == 10 and ids[-1] == r["id"], ids)
    st, doc, _ = d.json("GET", "/api/v1/models/fraudf/trainings?limit=1000")
    expect(st == 200 and len(doc["trainings"]) >= 12, doc)


def test_one_class_refused():
    d = daemon()
    sent = tl.labelled_traffic(d, "fraudo", 200, 64215, prefix="one")
    items = [{"request_id": rid, "row": i, "label": "legit"}
             for rid, rows in sent for i, _ in enumerate(rows)]
    tl.post(d, {"model": "fraudo", "items": items})
    rid = tl.retrain(d, "fraudo")
    run_ = tl.wait_run(d, "fraudo", rid)
    expect(run_["state"] == "refused", run_)
    expect("a classifier needs two classes" in run_["result"]["reason"], run_)


IRIS = {"sepal_length": "FP32", "sepal_width": "FP32", "petal_length": "FP32",
        "petal_width": "FP32"}
CHURN = {"tenure_months": "INT32", "monthly_charges": "FP32", "contract": "BYTES",
         "support_calls": "INT32", "has_partner": "BOOL", "satisfaction_score": "FP32"}


def label_engine(d, model, types, rows, labels):
    tl.predict(d, model, rows, model + "-e", types)
    tl.wait_rows(d.data, "model = '%s'" % model, len(rows))
    tl.post(d, {"model": model, "items": [{"request_id": model + "-e", "row": i,
                                           **labels(r)} for i, r in enumerate(rows)]})
    rid = tl.retrain(d, model)
    return tl.wait_run(d, model, rid)


def test_other_engines_and_tasks():
    """A regression (housing, trees: rmse), a three-class xgboost model
    (iris: accuracy) and a linear model (churn) retrain the same way."""
    tmp = tempfile.mkdtemp(prefix="modeld-t6421-")
    rng = tl.rng_for(64216)
    try:
        repo = tl.fraud_repo(tmp)
        for m in ("housing", "iris", "churn"):
            with open(os.path.join(repo, m, "model.yaml"), "a") as f:
                f.write("training:\n  min_rows: 50\n" +
                        ("  params: {num_round: 10}\n" if m != "churn" else ""))
        with Daemon(repo=repo) as d:
            rows = tl.housing_rows(200, rng)
            r = label_engine(d, "housing", tl.HOUSING_TYPES, rows,
                             lambda x: {"value": x["sqft"] * 200.0 + rng.uniform(-5e3, 5e3)})
            ev = r["result"]["evaluation"]
            expect(r["state"] == "succeeded" and ev["metric"] == "rmse", r)
            expect(ev["candidate"]["rmse"] < ev["champion"]["rmse"], ev)
            expect(ev["candidate"]["r2"] > 0.9 and ev["verdict"] == "better", ev)
            rows = [{k: round(rng.uniform(0.1, 7.9), 1) for k in IRIS} for _ in range(200)]
            r = label_engine(d, "iris", IRIS, rows, lambda x: {
                "label": "setosa" if x["petal_length"] < 2.5 else
                "versicolor" if x["petal_length"] < 5 else "virginica"})
            ev = r["result"]["evaluation"]
            expect(r["state"] == "succeeded" and ev["metric"] == "accuracy", r)
            expect(ev["candidate"]["accuracy"] > 0.9 and "roc_auc" not in ev["candidate"], ev)
            rows = [{"tenure_months": rng.randrange(72), "monthly_charges": rng.uniform(20, 120),
                     "contract": rng.choice(["month-to-month", "one-year", "two-year"]),
                     "support_calls": rng.randrange(10), "has_partner": rng.random() < 0.5,
                     "satisfaction_score": rng.choice([None, 1, 2, 3, 4, 5])}
                    for _ in range(200)]
            r = label_engine(d, "churn", CHURN, rows, lambda x: {
                "label": "churn" if x["support_calls"] > 4 else "stay"})
            expect(r["state"] == "succeeded", r)
            expect(r["result"]["evaluation"]["candidate"]["roc_auc"] > 0.9, r["result"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def teardown():
    if "d" in STATE:
        STATE["d"].__exit__(None, None, None)
        shutil.rmtree(STATE["tmp"], ignore_errors=True)


if __name__ == "__main__":
    try:
        run([test_manual_retrain_lineage, test_rollout_policy_starts_rollout,
             test_rollout_with_named_strategy,
             test_worse_candidate_not_rolled_out, test_too_few_rows_refused,
             test_old_run_dirs_pruned,
             test_one_class_refused, test_other_engines_and_tasks])
    finally:
        teardown()
