#!/usr/bin/env python3
"""The drift report's histograms (GET /api/v1/models/{m}/drift?histograms=1),
what the dashboard draws side by side: for every feature and for the
predictions' labels and scores, the bins the statistics compare (the
profile's edges or categories, then missing) with the reference's counts
and shares and the window's. The live counts are exactly the rows sent,
binned in Python from the profile's edges; the PSI recomputed from the
returned shares (and row counts) is the returned psi; without the argument
the answer has no histogram; a bad value is refused naming it."""

import json
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, expect, expect_error, run  # noqa: E402
import driftlib as dl  # noqa: E402

STATE = {}
PSEUDO = 0.5  # MD_DRIFT_PSI_PSEUDO


def daemon():
    if "d" not in STATE:
        tmp = tempfile.mkdtemp(prefix="modeld-drifthist-")
        profile = dl.make_profile(tmp, n=4000)
        STATE["profile"] = json.loads(profile)
        repo = os.path.join(tmp, "repo")
        dl.add_model(repo, "hist", profile)
        STATE["d"] = Daemon(repo=repo, examples=False, bench=False)
        # 600 rows, f3 shifted, sent 200 a request (below sample_rows: every row counts)
        STATE["rows"] = dl.rows(600, 21, shift=(3, 0.8))
        dl.send(STATE["d"], "hist", STATE["rows"], batch=200)
    return STATE["d"]


def bin_of(edges, x):
    """The profile's bin of a numeric value: the number of edges below it."""
    return sum(1 for e in edges if e < x)


def psi(h, live_rows):
    """md_drift_psi recomputed from the histogram's shares and row counts."""
    k = len(h["reference"])
    rr = h["reference_rows"]
    total = 0.0
    for rs, ls in zip(h["reference"], h["live"]):
        r = (rs * rr + PSEUDO) / (rr + PSEUDO * k)
        lv = (ls * live_rows + PSEUDO) / (live_rows + PSEUDO * k)
        total += (lv - r) * math.log(lv / r)
    return total


def check_shares(h, live_rows):
    expect(sum(h["reference_counts"]) == h["reference_rows"], h)
    expect(sum(h["live_counts"]) == live_rows, (h["live_counts"], live_rows))
    for c, s in zip(h["reference_counts"], h["reference"]):
        expect(abs(s - c / h["reference_rows"]) < 1e-15, (c, s))
    for c, s in zip(h["live_counts"], h["live"]):
        expect(abs(s - c / live_rows) < 1e-15, (c, s))


def test_live_counts_are_the_rows_sent():
    d = daemon()
    rows = STATE["rows"]
    prof = STATE["profile"]["features"]
    doc = dl.drift(d, "hist", "?histograms=1")
    expect(doc["rows"] == 600, doc["rows"])
    expect(len(doc["features"]) == dl.N_NUM + 1, len(doc["features"]))
    for f in doc["features"]:
        h = f["histogram"]
        if f["kind"] == "numeric":
            edges = prof[f["name"]]["edges"]
            expect(h["edges"] == edges and "categories" not in h, f["name"])
            want = [0] * (len(edges) + 2)
            for r in rows:
                want[bin_of(edges, r[f["name"]])] += 1
            expect(len(h["live_counts"]) == f["bins"] + 1, (f["name"], f["bins"]))
            expect(h["reference_counts"] == prof[f["name"]]["counts"] + [prof[f["name"]]["missing"]],
                   f["name"])
        else:
            cats = list(prof["cat"]["counts"].keys())
            expect(h["categories"] == cats and "edges" not in h, h)
            want = [0] * (len(cats) + 2)
            for r in rows:
                want[cats.index(r["cat"]) if r["cat"] in cats else len(cats)] += 1
        expect(h["live_counts"] == want, (f["name"], h["live_counts"], want))
        expect(h["live_counts"][-1] == 0, "missing last")
        check_shares(h, f["rows"])


def test_psi_from_the_shares():
    d = daemon()
    doc = dl.drift(d, "hist", "?histograms=true")
    for f in doc["features"]:
        expect(abs(psi(f["histogram"], f["rows"]) - f["psi"]) < 1e-9,
               (f["name"], psi(f["histogram"], f["rows"]), f["psi"]))
    f3 = [f for f in doc["features"] if f["name"] == "f3"][0]
    expect(f3["drifted"] and f3["psi"] > 0.1, f3["psi"])
    scores = doc["predictions"]["scores"]
    expect(abs(psi(scores["histogram"], scores["rows"]) - scores["psi"]) < 1e-9, scores["psi"])


def test_prediction_histograms():
    d = daemon()
    rows = STATE["rows"]
    prof = STATE["profile"]["predictions"]
    doc = dl.drift(d, "hist", "?histograms=1")
    scores = doc["predictions"]["scores"]["histogram"]
    edges = prof["scores"]["edges"]
    expect(scores["edges"] == edges, scores["edges"])
    want = [0] * (len(edges) + 2)
    for r in rows:
        want[bin_of(edges, dl.score(r))] += 1
    # a score on an edge could fall either side through rounding: allow that, never more
    off = sum(abs(a - b) for a, b in zip(scores["live_counts"], want))
    expect(off <= 2 and sum(scores["live_counts"]) == 600, (scores["live_counts"], want))
    check_shares(scores, 600)
    if "labels" in prof:
        labels = doc["predictions"]["labels"]
        h = labels["histogram"]
        expect(h["categories"] == list(prof["labels"].keys()), h["categories"])
        expect(sum(h["live_counts"]) == 600, h["live_counts"])
        check_shares(h, labels["rows"])
        expect(abs(psi(h, labels["rows"]) - labels["psi"]) < 1e-9, labels["psi"])


def test_without_histograms_and_bad_value():
    d = daemon()
    for q in ("", "?histograms=0", "?histograms=false"):
        doc = dl.drift(d, "hist", q)
        expect(all("histogram" not in f for f in doc["features"]), q)
        expect("histogram" not in doc["predictions"]["scores"], q)
    st, doc, _ = d.json("GET", "/api/v1/models/hist/drift?histograms=yes")
    expect_error(st, doc, 400, "histograms: 'yes' is not true or false")


def test_stop():
    STATE.pop("d").stop()


if __name__ == "__main__":
    run([test_live_counts_are_the_rows_sent, test_psi_from_the_shares, test_prediction_histograms,
         test_without_histograms_and_bad_value, test_stop])
