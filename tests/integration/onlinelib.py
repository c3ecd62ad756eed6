"""Helpers of the online-learning tests (t6460-t6479): a repository with a
linear logistic model `ol` (two FP32 features, weights at 0) whose
model.yaml has an `online:` section, a stream of rows whose label is
x0 > x1 (or the reverse: poisoned), sent as predictions with their
labels following, and the answers' accuracy."""
import os

from feedbacklib import db_rows, metric, post
from harness import expect, make_repo, wait_for

ARTIFACT = """{"format": "modeld-linear", "format_version": 1, "kind": "logistic",
 "feature_names": ["x0", "x1"], "weights": [0.0, 0.0], "intercept": 0.0}
"""

MODEL_YAML = """name: ol
backend: linear
artifact: model.json
task: classification
labels: [no, yes]
features:
  - {name: x0, datatype: FP32}
  - {name: x1, datatype: FP32}
"""


def online_repo(tmp, online_yaml):
    """The repository: `ol` version 1 with online_yaml (the `online:` section's text)."""
    repo = make_repo(os.path.join(tmp, "repo"), examples=False, bench=False)
    os.makedirs(os.path.join(repo, "ol", "1"))
    with open(os.path.join(repo, "ol", "1", "model.json"), "w") as f:
        f.write(ARTIFACT)
    with open(os.path.join(repo, "ol", "model.yaml"), "w") as f:
        f.write(MODEL_YAML + online_yaml)
    return repo


def rows(n, rng):
    return [(round(rng.uniform(-2, 2), 3), round(rng.uniform(-2, 2), 3)) for _ in range(n)]


def truth(r, poisoned=False):
    yes = r[0] > r[1]
    return "no" if yes == poisoned else "yes"


def send(d, batch, rid, poisoned=False):
    """Predicts batch (one request, one row each) and posts every row's label; the answers'
    labels."""
    body = {"inputs": [{"name": "x0", "datatype": "FP32", "shape": [len(batch)],
                        "data": [r[0] for r in batch]},
                       {"name": "x1", "datatype": "FP32", "shape": [len(batch)],
                        "data": [r[1] for r in batch]}]}
    st, doc, _ = d.json("POST", "/v2/models/ol/infer", body, {"X-Request-Id": rid})
    expect(st == 200, (st, doc))
    got = [o for o in doc["outputs"] if o["name"] == "label"][0]["data"]
    n = len(batch)
    wait_for(lambda: db_rows(d.data, "SELECT count(*) AS n FROM predictions WHERE "
                             "request_id = ?", (rid,))[0]["n"] >= n, 20)
    doc = post(d, {"model": "ol", "items": [{"request_id": rid, "row": i,
                                             "label": truth(r, poisoned)}
                                            for i, r in enumerate(batch)]})
    expect(doc["stored"] == n, doc)
    return got


def accuracy(batch, got, poisoned=False):
    return sum(1 for r, g in zip(batch, got) if g == truth(r, poisoned)) / float(len(batch))


def updates(d):
    return metric(d, "modeld_online_updates_total", {"model": "ol"}) or 0


def wait_learned(d, n, timeout=20):
    ok = wait_for(lambda: updates(d) >= n, timeout)
    expect(ok, "the learner learned %s labels, not %d" % (updates(d), n))


def start_learning(d, rng):
    """Sends one labelled row at a time until the learner counts it: the learner reads labels
    given after it first saw the model."""
    for i in range(200):
        send(d, rows(1, rng), "warm-%d" % i)
        if wait_for(lambda: updates(d) >= 1, 0.5):
            return
    expect(False, "the learner never learned a label")
