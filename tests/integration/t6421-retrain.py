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
                                         "fraudo": tl.TRAINING})
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


def teardown():
    if "d" in STATE:
        STATE["d"].__exit__(None, None, None)
        shutil.rmtree(STATE["tmp"], ignore_errors=True)


if __name__ == "__main__":
    try:
        run([test_manual_retrain_lineage, test_rollout_policy_starts_rollout,
             test_worse_candidate_not_rolled_out, test_too_few_rows_refused,
             test_one_class_refused])
    finally:
        teardown()
