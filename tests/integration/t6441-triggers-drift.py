#!/usr/bin/env python3
"""The drift trigger against a real daemon: two copies of the drift tests'
model (30 numeric features and a categorical one, its reference profile
computed by `modelctl profile`), each with `triggers: {drift: true}`. The
one whose feature f7 shifts by one standard deviation gets a run with
trigger "drift" and what the drift report measured; the one sent as many
unshifted rows, judged at the same ticks, gets none."""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, expect, run, wait_for  # noqa: E402
import driftlib as dl  # noqa: E402

SECTIONS = "training:\n  min_rows: 50\ntriggers:\n  drift: true\n  cooldown: 1h\n"


def trainings(d, model):
    st, doc, _ = d.json("GET", "/api/v1/models/%s/trainings" % model)
    expect(st == 200, (st, doc))
    return doc["trainings"]


def test_drift_fires_on_the_shifted_model_only():
    tmp = tempfile.mkdtemp(prefix="modeld-t6441-")
    profile = dl.make_profile(tmp)
    repo = os.path.join(tmp, "repo")
    for name in ("steady", "shifted"):
        dl.add_model(repo, name, profile)
        with open(os.path.join(repo, name, "model.yaml"), "a") as f:
            f.write(SECTIONS)
    with Daemon(repo=repo) as d:
        dl.send(d, "steady", dl.rows(2000, 9), batch=250)
        expect(dl.drift(d, "steady")["verdict"] == "ok", dl.drift(d, "steady"))
        dl.send(d, "shifted", dl.rows(2000, 7, shift=(7, 1.0)), batch=250)
        expect(dl.drift(d, "shifted")["verdict"] == "drift", dl.drift(d, "shifted"))
        ok = wait_for(lambda: trainings(d, "shifted") != [], 20)
        expect(ok, "the shifted model's drift fires its trigger")
        run0 = trainings(d, "shifted")[0]
        expect(run0["trigger"] == "drift", run0)
        det = run0["spec"]["details"]
        expect(det["drift_features"] >= 1 and det["rows"] >= 200, det)
        # Both models were judged at the same ticks: the steady one has no run.
        ok = wait_for(lambda: any(e["model"] == "shifted" for e in events(d)), 10)
        expect(ok, events(d))
        expect(trainings(d, "steady") == [], trainings(d, "steady"))
    shutil.rmtree(tmp, ignore_errors=True)


def events(d):
    st, doc, _ = d.json("GET", "/api/v1/events?kind=training_triggered")
    expect(st == 200, (st, doc))
    return doc["events"]


if __name__ == "__main__":
    run([test_drift_fires_on_the_shifted_model_only])
