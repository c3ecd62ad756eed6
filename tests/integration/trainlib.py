"""Helpers of the training tests (t6420-t6439): a repository whose fraud
model has a `training:` section, labelled traffic (predictions with request
ids of the test's, then feedback labels from a known rule), and waiting for
a training run to end."""
import os
import shutil

from feedbacklib import (FRAUD_TYPES, HOUSING_TYPES, fraud_rows, housing_rows, post,  # noqa: F401
                         predict, rng_for, v2_body, wait_rows)
from harness import expect, make_repo, wait_for

TRAINING = """training:
  params: {num_round: 20, max_depth: 3, eta: 0.3}
  min_rows: 100
  holdout: 0.25
"""


def fraud_repo(tmp, training=TRAINING, name="fraud", extra=None):
    """The examples with fraud's model.yaml given a training section (and the
    versions of fraud only); extra: {name: training text} more copies of fraud."""
    repo = make_repo(os.path.join(tmp, "repo"), bench=False)
    base = os.path.join(repo, "fraud", "model.yaml")
    with open(base) as f:
        text = f.read()
    for model, section in [(name, training)] + sorted((extra or {}).items()):
        mdir = os.path.join(repo, model)
        if model != "fraud":
            shutil.copytree(os.path.join(repo, "fraud"), mdir)
        with open(os.path.join(mdir, "model.yaml"), "w") as f:
            body = text if model == "fraud" else text.replace("name: fraud\n", "")
            f.write(body + (section or ""))
    return repo


def label_of(row, flip=False):
    """The rule the labels follow: fraud when large and international, or at night."""
    yes = (row["amount"] > 1500 and row["is_international"]) or row["hour"] < 4
    return "fraud" if yes != flip else "legit"


def labelled_traffic(d, model, n, seed, prefix=None, flip=False, batch=50):
    """Sends n fraud rows to model in batches, waits for the log, then labels each."""
    rng = rng_for(seed)
    prefix = "%s-%s" % (model, prefix or "t")
    sent = []
    for b in range(0, n, batch):
        rows = fraud_rows(min(batch, n - b), rng)
        rid = "%s-%d" % (prefix, b)
        predict(d, model, rows, rid, FRAUD_TYPES)
        sent.append((rid, rows))
    wait_rows(d.data, "model = '%s' AND request_id LIKE '%s-%%'" % (model, prefix), n)
    items = [{"request_id": rid, "row": i, "label": label_of(r, flip)}
             for rid, rows in sent for i, r in enumerate(rows)]
    for i in range(0, len(items), 500):
        doc = post(d, {"model": model, "items": items[i:i + 500]})
        expect(doc["failed"] == 0, doc)
    return sent


def retrain(d, model, body=None):
    st, doc, _ = d.json("POST", "/api/v1/models/%s/trainings" % model, body)
    expect(st == 202, (st, doc))
    return doc["id"]


def wait_run(d, model, rid, timeout=60):
    """The run once it has ended (any state but queued and running)."""
    out = {}

    def done():
        st, doc, _ = d.json("GET", "/api/v1/models/%s/trainings/%d" % (model, rid))
        out["doc"] = doc
        return st == 200 and doc["state"] not in ("queued", "running")
    expect(wait_for(done, timeout), "training %d still %r" % (rid, out.get("doc")))
    return out["doc"]
