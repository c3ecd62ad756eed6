#!/usr/bin/env python3
"""Drift end to end against the real daemon, at the default thresholds: a
model of 30 numeric features and a categorical one, its reference profile
computed by `modelctl profile` from 10,000 training rows. A shift of 0.5
standard deviations in the mean of one feature, and a category whose share
goes from 10% to 25%, are each flagged within 2,000 rows, and only they;
20,000 unshifted rows raise no flag. The figures reach GET
/api/v1/models/{m}/drift, `modelctl drift` and /metrics."""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, MODELCTL, expect, run  # noqa: E402
import driftlib as dl  # noqa: E402

STATE = {}


def daemon():
    if "d" not in STATE:
        tmp = tempfile.mkdtemp(prefix="modeld-drift-")
        profile = dl.make_profile(tmp)
        repo = os.path.join(tmp, "repo")
        for name in ("steady", "shifted", "catshift"):
            dl.add_model(repo, name, profile)
        STATE["d"] = Daemon(repo=repo)
    return STATE["d"]


def test_mean_shift_flagged():
    d = daemon()
    dl.send(d, "shifted", dl.rows(2000, 7, shift=(7, 0.5)), batch=250)
    doc = dl.drift(d, "shifted")
    expect(doc["rows"] == 2000, doc["rows"])
    expect(doc["verdict"] == "drift", doc["verdict"])
    expect(dl.flagged(doc) == ["f7"], dl.flagged(doc))
    expect(doc["drift_features"] == 1, doc["drift_features"])
    f7 = [f for f in doc["features"] if f["name"] == "f7"][0]
    expect(f7["test"] == "ks" and f7["p_adjusted"] < 0.05 and f7["psi"] >= 0.1, f7)
    expect(doc["drift_score"] == max(f["psi"] for f in doc["features"]), doc["drift_score"])
    expect(doc["correction"] == "holm" and doc["tests"] == 31, doc)


def test_category_share_flagged():
    d = daemon()
    rest = 0.75 / 0.9
    p = [0.25] + [q * rest for q in dl.CAT_P[1:]]
    dl.send(d, "catshift", dl.rows(2000, 8, cat_p=p), batch=250)
    doc = dl.drift(d, "catshift")
    expect(doc["verdict"] == "drift", doc["verdict"])
    expect(dl.flagged(doc) == ["cat"], dl.flagged(doc))
    cat = [f for f in doc["features"] if f["name"] == "cat"][0]
    expect(cat["test"] == "chi2" and cat["df"] == 4, cat)


def test_no_flag_on_20000_unshifted_rows():
    d = daemon()
    dl.send(d, "steady", dl.rows(20000, 9), batch=250)
    doc = dl.drift(d, "steady")
    expect(doc["rows"] == 20000, doc["rows"])
    expect(doc["verdict"] == "ok", doc)
    expect(dl.flagged(doc) == [], dl.flagged(doc))
    expect(doc["predictions"]["drifted"] is False, doc["predictions"])
    expect(doc["predictions"]["scores"]["rows"] == 20000, doc["predictions"])
    expect(doc["reference"] == {"rows": 10000, "quality": {"accuracy": 0.91}}, doc["reference"])


def test_window_and_version_query():
    d = daemon()
    doc = dl.drift(d, "shifted", "?version=1&window=5m")
    expect(doc["window_s"] == 300 and doc["rows"] == 2000, doc)
    doc = dl.drift(d, "shifted", "?window=2")
    expect(doc["window_s"] == 60, doc["window_s"])


def test_modelctl_drift():
    d = daemon()
    r = subprocess.run([MODELCTL, "--url", "http://127.0.0.1:%d" % d.port, "drift", "shifted"],
                       capture_output=True, text=True, timeout=30)
    expect(r.returncode == 0, r.stderr)
    lines = r.stdout.splitlines()
    expect(lines[0].startswith("shifted version 1: drift in 1 of 31 features"), lines[0])
    f7 = [ln for ln in lines if ln.startswith("f7 ")]
    expect(len(f7) == 1 and "drift (" in f7[0], lines)
    expect(all("drift (" not in ln for ln in lines[2:] if not ln.startswith("f7 ")), lines)


def test_metrics_gauges():
    d = daemon()
    st, body, _ = d.request("GET", "/metrics")
    text = body.decode()
    expect('modeld_drift_features{model="shifted",version="1"} 1' in text, "drift_features")
    expect('modeld_drift_features{model="steady",version="1"} 0' in text, "steady")
    expect('modeld_drift_psi{model="catshift",version="1",feature="cat"}' in text, "psi")
    expect('modeld_drift_rows{model="steady",version="1"} 20000' in text, "rows")


def test_stop():
    STATE.pop("d").stop()


if __name__ == "__main__":
    run([test_mean_shift_flagged, test_category_share_flagged, test_no_flag_on_20000_unshifted_rows,
         test_window_and_version_query, test_modelctl_drift, test_metrics_gauges, test_stop])
