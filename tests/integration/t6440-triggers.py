#!/usr/bin/env python3
"""Training triggers (model.yaml `triggers:`) against a real daemon: a
schedule of every 2s fires again and again, each run counted from the last
one asked for; a cooldown longer than the schedule spaces them out; enough
labels received since the last run fire at N and not before (a second
model with a lower N as the witness that the count saw them), counted
from the stored last run after a restart; a quality
metric below its threshold fires with what it measured; each fired trigger
is a run with its trigger and details and an event "training_triggered";
bad settings keep the model from loading, the reason naming the key."""

import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, expect, make_repo, repo_index, run, wait_for  # noqa: E402
from feedbacklib import fraud_rows, post, predict, wait_rows  # noqa: E402

TRAINING = "training:\n  min_rows: 50\n"


def repo_with(tmp, models):
    """The examples without fraud's own; copies of fraud named by models' keys, each with a
    training section and the triggers section given."""
    repo = make_repo(os.path.join(tmp, "repo"), bench=False)
    for name, triggers in models.items():
        dst = os.path.join(repo, name)
        shutil.copytree(os.path.join(repo, "fraud"), dst)
        with open(os.path.join(dst, "model.yaml")) as f:
            text = f.read().replace("name: fraud\n", "")
        with open(os.path.join(dst, "model.yaml"), "w") as f:
            f.write(text + triggers)
    return repo


def trainings(d, model):
    st, doc, _ = d.json("GET", "/api/v1/models/%s/trainings" % model)
    expect(st == 200, (st, doc))
    return sorted(doc["trainings"], key=lambda t: t["id"])


def events(d, model):
    st, doc, _ = d.json("GET", "/api/v1/events?model=%s&kind=training_triggered" % model)
    expect(st == 200, (st, doc))
    return doc["events"]


def test_schedule_fires_from_last_run():
    tmp = tempfile.mkdtemp(prefix="modeld-t6440-")
    repo = repo_with(tmp, {"sched": TRAINING + "triggers:\n  schedule: {every: 2s}\n"
                                              "  cooldown: 1s\n"})
    with Daemon(repo=repo) as d:
        ok = wait_for(lambda: len(trainings(d, "sched")) >= 3, 20)
        runs = trainings(d, "sched")
        expect(ok, "3 scheduled runs expected in 20s: %r" % runs)
        for r in runs:
            expect(r["trigger"] == "schedule", r)
            expect(r["spec"]["details"]["every_s"] == 2, r["spec"])
        for a, b in zip(runs, runs[1:]):
            gap = b["requested_ms"] - a["requested_ms"]
            expect(gap >= 2000, "runs %d and %d %d ms apart: every 2s" % (a["id"], b["id"], gap))
        evs = events(d, "sched")
        expect(len(evs) >= 3, evs)
        expect({e["details"]["training"] for e in evs} >= {r["id"] for r in runs[:3]}, evs)
        expect(all(e["details"]["trigger"] == "schedule" for e in evs), evs)
        expect(trainings(d, "fraud") == [], "fraud has no triggers")
    shutil.rmtree(tmp, ignore_errors=True)


def test_cooldown_holds():
    tmp = tempfile.mkdtemp(prefix="modeld-t6440-")
    repo = repo_with(tmp, {"cool": TRAINING + "triggers:\n  schedule: {every: 1s}\n"
                                             "  cooldown: 3s\n"})
    with Daemon(repo=repo) as d:
        ok = wait_for(lambda: len(trainings(d, "cool")) >= 2, 20)
        runs = trainings(d, "cool")
        expect(ok, "2 runs expected in 20s: %r" % runs)
        gap = runs[1]["requested_ms"] - runs[0]["requested_ms"]
        expect(gap >= 3000, "runs %d and %d %d ms apart: the cooldown is 3s"
               % (runs[0]["id"], runs[1]["id"], gap))
    shutil.rmtree(tmp, ignore_errors=True)


def label_all(d, model, prefix, n, rng, label="fraud"):
    """n predictions of model with request ids model-prefix-i, stored, then one label each:
    label, or (None) the other one than the model said."""
    prefix = "%s-%s" % (model, prefix)
    wrong = []
    for i in range(n):
        doc = predict(d, model, fraud_rows(1, rng), "%s-%d" % (prefix, i))
        said = [o for o in doc["outputs"] if o["name"] == "label"][0]["data"][0]
        wrong.append("legit" if said == "fraud" else "fraud")
    wait_rows(d.data, "model = '%s' AND request_id LIKE '%s-%%'" % (model, prefix), n)
    post(d, {"model": model, "items": [{"request_id": "%s-%d" % (prefix, i),
                                        "label": label if label is not None else wrong[i]}
                                       for i in range(n)]})


def test_new_labels_fire_at_n():
    tmp = tempfile.mkdtemp(prefix="modeld-t6440-")
    repo = repo_with(tmp, {
        "few": TRAINING + "triggers:\n  new_labels: 10\n",
        "many": TRAINING + "triggers:\n  new_labels: 20\n"})
    rng = random.Random(6440)
    with Daemon(repo=repo) as d:
        label_all(d, "few", "a", 15, rng)
        label_all(d, "many", "a", 15, rng)
        ok = wait_for(lambda: len(trainings(d, "few")) >= 1, 20)
        expect(ok, "10 labels of 'few' fire its trigger")
        run0 = trainings(d, "few")[0]
        expect(run0["trigger"] == "labels", run0)
        det = run0["spec"]["details"]
        expect(det["new_labels"] == 10 and det["labels"] >= 10, det)
        # The count that fired 'few' had 'many''s 15 labels too: not enough there.
        ok = wait_for(lambda: len(trainings(d, "few")) >= 1 and
                      events(d, "few") != [], 10)
        expect(ok, events(d, "few"))
        expect(trainings(d, "many") == [], trainings(d, "many"))
        label_all(d, "many", "b", 5, rng)
        ok = wait_for(lambda: len(trainings(d, "many")) >= 1, 20)
        expect(ok, "20 labels of 'many' fire its trigger")
        det = trainings(d, "many")[0]["spec"]["details"]
        expect(det["labels"] == 20 and det["new_labels"] == 20, det)
        # Labels are counted from the last run: 'few' does not fire again on the same ones.
        expect(len(trainings(d, "few")) == 1, trainings(d, "few"))
    shutil.rmtree(tmp, ignore_errors=True)


def test_labels_counted_from_last_run_after_restart():
    tmp = tempfile.mkdtemp(prefix="modeld-t6440-")
    data = os.path.join(tmp, "data")
    repo = repo_with(tmp, {
        "few": TRAINING + "triggers:\n  new_labels: 10\n",
        "wit": TRAINING + "triggers:\n  new_labels: 10\n"})
    rng = random.Random(6442)
    with Daemon(repo=repo, data=data) as d:
        label_all(d, "few", "a", 12, rng)
        ok = wait_for(lambda: len(trainings(d, "few")) == 1, 20)
        expect(ok, "12 labels of 'few' fire its trigger")
    # After a restart the labels are counted from the stored last run: the 12 do not count.
    with Daemon(repo=repo, data=data) as d:
        label_all(d, "wit", "a", 12, rng)
        ok = wait_for(lambda: len(trainings(d, "wit")) == 1, 20)
        expect(ok, "12 labels of 'wit' fire its trigger")
        # 'few' was judged on the same count as 'wit' (and every tick since the restart).
        expect(len(trainings(d, "few")) == 1, trainings(d, "few"))
    shutil.rmtree(tmp, ignore_errors=True)


def test_quality_drop_fires():
    tmp = tempfile.mkdtemp(prefix="modeld-t6440-")
    repo = repo_with(tmp, {"qual": TRAINING + "triggers:\n  quality: {metric: accuracy, "
                                             "below: 0.5, window: 1h, min_samples: 30}\n"})
    rng = random.Random(6441)
    with Daemon(repo=repo) as d:
        # Each row labelled the opposite of what the model said: accuracy 0.
        rows = fraud_rows(40, rng)
        for i, r in enumerate(rows):
            doc = predict(d, "qual", [r], "q-%d" % i)
            said = [o for o in doc["outputs"] if o["name"] == "label"][0]["data"][0]
            r["wrong"] = "legit" if said == "fraud" else "fraud"
            if i == 28:
                wait_rows(d.data, "model = 'qual'", 29)
                post(d, {"model": "qual", "items": [
                    {"request_id": "q-%d" % k, "label": rows[k]["wrong"]} for k in range(29)]})
        # 29 labelled rows: below min_samples, nothing fires.
        expect(trainings(d, "qual") == [], trainings(d, "qual"))
        wait_rows(d.data, "model = 'qual'", 40)
        post(d, {"model": "qual", "items": [
            {"request_id": "q-%d" % k, "label": rows[k]["wrong"]} for k in range(29, 40)]})
        ok = wait_for(lambda: len(trainings(d, "qual")) >= 1, 20)
        expect(ok, "accuracy 0 over 40 rows fires")
        run0 = trainings(d, "qual")[0]
        expect(run0["trigger"] == "quality", run0)
        det = run0["spec"]["details"]
        expect(det["metric"] == "accuracy" and det["value"] == 0 and det["below"] == 0.5, det)
        expect(det["samples"] == 40 and det["window_s"] == 3600, det)
    shutil.rmtree(tmp, ignore_errors=True)


def test_many_models():
    """Twelve models with triggers (the task's table grows while it reads them): the first
    and the last each fire on their own quality, named by their own settings."""
    tmp = tempfile.mkdtemp(prefix="modeld-t6440-")
    names = ["m%02d" % i for i in range(12)]
    repo = repo_with(tmp, {n: TRAINING + "triggers:\n  quality: {metric: %s, below: 0.5, "
                              "min_samples: 6}\n" % ("accuracy" if n != "m11" else "f1")
                           for n in names})
    rng = random.Random(6443)
    with Daemon(repo=repo) as d:
        for n in ("m00", "m11"):
            label_all(d, n, "a", 6, rng, label=None)
        for n in ("m00", "m11"):
            ok = wait_for(lambda: len(trainings(d, n)) == 1, 20)
            expect(ok, "%s fires" % n)
            det = trainings(d, n)[0]["spec"]["details"]
            expect(det["metric"] == ("accuracy" if n == "m00" else "f1"), det)
            expect(det["value"] == 0 and det["samples"] == 6, det)
        expect(all(trainings(d, n) == [] for n in names[1:11]), "only m00 and m11 fire")
    shutil.rmtree(tmp, ignore_errors=True)


BAD = [
    ("triggers:\n  schedule: {every: 7d}\n", "triggers: needs a training: section"),
    (TRAINING + "triggers: {}\n", "triggers: names no trigger"),
    (TRAINING + "triggers:\n  schedule: {cron: '0 25 * * *'}\n",
     "triggers.schedule.cron: hour: 25 is not between 0 and 23"),
    (TRAINING + "triggers:\n  quality: {metric: rmse, above: 3}\n",
     "triggers.quality.metric: rmse needs a regression model"),
    (TRAINING + "triggers:\n  quality: {metric: roc_auc, above: 0.7}\n",
     "triggers.quality.above: roc_auc is higher when better"),
    (TRAINING + "triggers:\n  new_labels: 0\n", "triggers.new_labels: 0 is not between"),
    (TRAINING + "triggers:\n  drift: true\n  cooldown: later\n",
     "triggers.cooldown: 'later' is not a duration"),
]


def test_bad_settings_named():
    tmp = tempfile.mkdtemp(prefix="modeld-t6440-")
    repo = repo_with(tmp, {"bad%d" % i: b for i, (b, _) in enumerate(BAD)})
    with Daemon(repo=repo) as d:
        idx = repo_index(d)
        for i, (_, fragment) in enumerate(BAD):
            entries = [e for (m, _), e in idx.items() if m == "bad%d" % i]
            expect(entries, "bad%d not listed" % i)
            reasons = " ".join(e.get("reason", "") for e in entries)
            expect(fragment in reasons, "bad%d: %r lacks %r" % (i, reasons, fragment))
            expect(all(e.get("state") != "READY" for e in entries), entries)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_schedule_fires_from_last_run, test_cooldown_holds, test_new_labels_fire_at_n,
         test_labels_counted_from_last_run_after_restart, test_quality_drop_fires,
         test_many_models, test_bad_settings_named])
