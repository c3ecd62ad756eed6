#!/usr/bin/env python3
"""Training runs through the API: POST /api/v1/models/{m}/trainings asks for
a run by hand (202, stored as queued before the answer), GET lists the
model's runs newest first and GET .../trainings/{id} answers one; bad asks
are refused naming the reason (an unknown model, a model whose model.yaml
has no `training:` section, a body that is not a JSON object, a run of
another model); the versions' listing says whether the model has a
`training:` section. model.yaml's `training:` is checked when the model loads:
a bad value or a `command:` key keeps the model from loading, the reason
naming the key."""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, expect, expect_error, make_repo, repo_index, run, wait_for  # noqa: E402

TRAINING = "training:\n  params: {eta: 0.1}\n  min_rows: 50\n  holdout: 0.25\n"


def repo_with(tmp, extra):
    """The examples; fraud with a training section; 'bad<i>' copies of fraud
    with each of extra's training sections."""
    repo = make_repo(os.path.join(tmp, "repo"), bench=False)
    with open(os.path.join(repo, "fraud", "model.yaml"), "a") as f:
        f.write(TRAINING)
    for i, section in enumerate(extra):
        dst = os.path.join(repo, "bad%d" % i)
        shutil.copytree(os.path.join(repo, "fraud"), dst)
        with open(os.path.join(dst, "model.yaml")) as f:
            text = f.read().replace("name: fraud\n", "").replace(TRAINING, "")
        with open(os.path.join(dst, "model.yaml"), "w") as f:
            f.write(text + section)
    return repo


BAD = [
    ("training:\n  holdout: 1.5\n", "training.holdout: 1.5 is not a share"),
    ("training:\n  command: [python3, train.py]\n", "training.command: a model.yaml never holds"),
    ("training:\n  policy: deploy\n", "training.policy"),
    ("training:\n  metric: rmse\n", "training.metric"),
    ("training:\n  timeout: 3 weeks\n", "training.timeout"),
    ("training:\n  strategy: safe\n", "training.strategy: needs policy: rollout"),
    ("training:\n  params: [1, 2]\n", "training.params"),
    ("training:\n  min_rows: 1\n", "training.min_rows"),
]


def test_manual_run_stored():
    tmp = tempfile.mkdtemp(prefix="modeld-t6420-")
    with Daemon(repo=repo_with(tmp, [])) as d:
        st, doc, _ = d.json("POST", "/api/v1/models/fraud/trainings", {"note": "by hand"})
        expect(st == 202, (st, doc))
        expect(doc["state"] == "queued" and doc["trigger"] == "manual" and doc["id"] >= 1, doc)
        rid = doc["id"]
        st, one, _ = d.json("GET", "/api/v1/models/fraud/trainings/%d" % rid)
        expect(st == 200 and one["id"] == rid and one["model"] == "fraud", one)
        expect(one["spec"]["details"] == {"note": "by hand"}, one["spec"])
        expect(one["spec"]["params"] == {"eta": "0.1"}, one["spec"])
        expect(one["requested_ms"] > 0, one)
        st, lst, _ = d.json("GET", "/api/v1/models/fraud/trainings")
        expect(st == 200 and [t["id"] for t in lst["trainings"]][:1] == [rid], lst)
        # A run of fraud is not a run of iris.
        st, doc, _ = d.json("GET", "/api/v1/models/iris/trainings/%d" % rid)
        expect_error(st, doc, 404, "model 'iris' has no training %d" % rid)
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/trainings/999")
        expect_error(st, doc, 404, "has no training 999")
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/trainings?limit=0")
        expect_error(st, doc, 400, "limit")
    shutil.rmtree(tmp, ignore_errors=True)


def test_bad_asks_refused():
    tmp = tempfile.mkdtemp(prefix="modeld-t6420-")
    with Daemon(repo=repo_with(tmp, [])) as d:
        st, doc, _ = d.json("POST", "/api/v1/models/nosuch/trainings")
        expect_error(st, doc, 404, "unknown model 'nosuch'")
        st, doc, _ = d.json("POST", "/api/v1/models/iris/trainings")
        expect_error(st, doc, 400, "model 'iris' has no training: section")
        st, doc, _ = d.json("POST", "/api/v1/models/fraud/trainings", "[1, 2]")
        expect_error(st, doc, 400, "body: not a JSON object")
        st, doc, _ = d.json("POST", "/api/v1/models/fraud/trainings", {"window": -1})
        expect_error(st, doc, 400, "window: unknown field (the body takes \"note\" only)")
        st, doc, _ = d.json("POST", "/api/v1/models/fraud/trainings", {"note": 7})
        expect_error(st, doc, 400, "note: a text of at most 1000 bytes")
        st, doc, _ = d.json("POST", "/api/v1/models/fraud/trainings", {"note": "x" * 1001})
        expect_error(st, doc, 400, "note: a text of at most 1000 bytes")
        st, doc, _ = d.json("GET", "/api/v1/models/iris/trainings")
        expect(st == 200 and doc["trainings"] == [], doc)
        # The versions' listing says whether a run can be asked for (the dashboard's retrain).
        st, doc, _ = d.json("GET", "/api/v1/models/iris/versions")
        expect(st == 200 and doc["training"] is False, doc)
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/versions")
        expect(st == 200 and doc["training"] is True, doc)
    shutil.rmtree(tmp, ignore_errors=True)


def test_bad_training_sections_named():
    tmp = tempfile.mkdtemp(prefix="modeld-t6420-")
    with Daemon(repo=repo_with(tmp, [b for b, _ in BAD])) as d:
        idx = repo_index(d)
        for i, (_, fragment) in enumerate(BAD):
            entries = [e for (m, _), e in idx.items() if m == "bad%d" % i]
            expect(entries, "bad%d not listed: %r" % (i, sorted(idx)))
            reasons = " ".join(e.get("reason", "") for e in entries)
            expect(fragment in reasons, "bad%d: %r lacks %r" % (i, reasons, fragment))
            expect(all(e.get("state") != "READY" for e in entries), entries)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_manual_run_stored, test_bad_asks_refused, test_bad_training_sections_named])
