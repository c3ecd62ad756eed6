#!/usr/bin/env python3
"""Reference profiles and the drift endpoint's edges: a version with a
malformed profile, or one that does not fit its contract, still serves and
its drift report says why it has no reference (naming the field), and the
load logs it once; a version without profile.json says so; an uploaded
version's profile (modelctl register --profile) is its reference; bad
queries get a 400 naming the parameter, unknown models and versions a 404;
modelctl profile refuses data that does not fit, naming the row and column;
model.yaml's drift: thresholds are used, and a bad one is refused naming it."""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, MODELCTL, expect, expect_error, run  # noqa: E402
import driftlib as dl  # noqa: E402


def ctl(d, *args):
    return subprocess.run([MODELCTL, "--url", "http://127.0.0.1:%d" % d.port] + list(args),
                          capture_output=True, text=True, timeout=60)


def test_bad_profiles_serve_without_reference():
    tmp = tempfile.mkdtemp(prefix="modeld-drift-")
    good = json.loads(dl.make_profile(tmp, n=2000))
    unknown = json.loads(json.dumps(good))
    unknown["features"]["zz"] = unknown["features"].pop("f3")
    gold = json.loads(json.dumps(good))
    gold["features"]["cat"]["counts"]["gold"] = 0
    repo = os.path.join(tmp, "repo")
    dl.add_model(repo, "broken", '{"format": "modeld-profile", "format_version": 1, "rows": 1,')
    dl.add_model(repo, "edges", dict(good, features={"f0": {
        "kind": "numeric", "edges": [1, 0.5], "counts": [1, 1, 0]}}))
    dl.add_model(repo, "unknown", unknown)
    dl.add_model(repo, "gold", gold)
    dl.add_model(repo, "none")
    with Daemon(repo=repo, examples=False, bench=False) as d:
        cases = [("broken", "profile.json: profile: invalid JSON"),
                 ("edges", "profile.json: features.f0.edges[1]: 0.5 is not above the edge"),
                 ("unknown", "profile.json: features.zz: not a feature of the contract"),
                 ("gold", "profile.json: features.cat.counts: 'gold' is not a category of the "
                          "contract"),
                 ("none", "no profile.json beside the artifact")]
        for model, reason in cases:
            dl.send(d, model, dl.rows(10, 1))  # it serves
            doc = dl.drift(d, model)
            expect(doc["verdict"] == "no_reference", doc)
            expect(doc["reason"].startswith(reason), (model, doc["reason"]))
        logs = [json.loads(ln) for ln in d.logs().splitlines() if ln.startswith("{")]
        warned = [r for r in logs if r.get("msg", "").startswith("reference profile not used")]
        expect(sorted(r["model"] for r in warned) == ["broken", "edges", "gold", "unknown"],
               warned)
        r = ctl(d, "drift", "none")
        expect(r.returncode == 0 and "no reference profile: no profile.json" in r.stdout,
               r.stdout)


def test_bad_queries():
    tmp = tempfile.mkdtemp(prefix="modeld-drift-")
    repo = os.path.join(tmp, "repo")
    dl.add_model(repo, "m", dl.make_profile(tmp, n=1000))
    with Daemon(repo=repo, examples=False, bench=False) as d:
        for q, frag in [("?window=abc", "window: 'abc' is not a duration"),
                        ("?window=0", "window: '0'"), ("?window=25h", "window: '25h'"),
                        ("?window=5x", "window: '5x'"), ("?version=", "version: empty")]:
            st, doc, _ = d.json("GET", "/api/v1/models/m/drift" + q)
            expect_error(st, doc, 400, frag)
        st, doc, _ = d.json("GET", "/api/v1/models/m/drift?version=9")
        expect_error(st, doc, 404, "version")
        st, doc, _ = d.json("GET", "/api/v1/models/nope/drift")
        expect_error(st, doc, 404, "nope")
        r = ctl(d, "drift", "nope")
        expect(r.returncode == 1 and "nope" in r.stderr, r.stderr)
        r = ctl(d, "drift")
        expect(r.returncode == 2, r.stderr)


def test_uploaded_profile_and_thresholds():
    tmp = tempfile.mkdtemp(prefix="modeld-drift-")
    profile = dl.make_profile(tmp, n=2000)
    repo = os.path.join(tmp, "repo")
    # Thresholds of model.yaml: every feature flagged from PSI 0.0001 after 50 rows, p < 0.99.
    dl.add_model(repo, "m", None, drift={"min_rows": 50, "psi_warn": 0.0001, "psi_alert": 0.0002,
                                         "alpha": 0.99, "correction": "bonferroni",
                                         "sample_rows": 7})
    art = os.path.join(tmp, "model.json")
    with open(art, "w") as f:
        json.dump(dl.artifact(), f)
    prof = os.path.join(tmp, "profile.json")
    with open(prof, "w") as f:
        f.write(profile)
    with Daemon(repo=repo, examples=False, bench=False) as d:
        r = ctl(d, "register", "m", art, "--profile", prof)
        expect(r.returncode == 0, r.stderr)
        r = ctl(d, "alias", "m", "candidate", "2")  # a registered version loads when named
        expect(r.returncode == 0, r.stderr)
        doc = dl.drift(d, "m", "?version=2")
        expect(doc["verdict"] == "insufficient_data" and doc["rows"] == 0, doc)
        expect(doc["sample_rows"] == 7 and doc["min_rows"] == 50, doc)
        body = dl.v2_body(dl.rows(100, 3, shift=(2, 3.0)))
        for _ in range(10):
            st, out, _ = d.json("POST", "/v2/models/m/versions/2/infer", body)
            expect(st == 200, out)
        doc = dl.drift(d, "m", "?version=2")
        expect(doc["rows"] == 70, doc["rows"])  # 7 of each request's 100 rows
        expect(doc["correction"] == "bonferroni" and doc["alpha"] == 0.99, doc)
        f2 = [f for f in doc["features"] if f["name"] == "f2"][0]
        expect(f2["drifted"] and f2["severity"] == "major", f2)
        expect(doc["verdict"] == "drift", doc["verdict"])
        # version 1 has no profile
        expect(dl.drift(d, "m", "?version=1")["verdict"] == "no_reference", "v1")


def test_bad_drift_section_refused():
    tmp = tempfile.mkdtemp(prefix="modeld-drift-")
    repo = os.path.join(tmp, "repo")
    dl.add_model(repo, "m", None, drift={"alpha": 1.5})
    with Daemon(repo=repo, examples=False, bench=False) as d:
        st, doc, _ = d.json("POST", "/v2/repository/index", {})
        row = [x for x in doc if x["name"] == "m"][0]
        expect("drift.alpha: 1.5 is not between 0 and 1" in row.get("reason", ""), row)


def test_modelctl_profile_errors():
    tmp = tempfile.mkdtemp(prefix="modeld-drift-")
    train = os.path.join(tmp, "t.csv")
    yaml = os.path.join(tmp, "model.yaml")
    with open(yaml, "w") as f:
        f.write(dl.model_yaml("m"))
    rs = dl.rows(20, 1)
    dl.write_csv(train, rs)
    with open(train) as f:
        lines = f.read().splitlines()
    lines[3] = lines[3].replace(lines[3].split(",")[4], "abc", 1)
    with open(train, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = subprocess.run([MODELCTL, "profile", train, "--model-yaml", yaml], capture_output=True,
                       text=True)
    expect(r.returncode == 1 and "feature 'f4', row 3: 'abc' is not a finite number" in r.stderr,
           r.stderr)
    with open(yaml, "w") as f:
        f.write(dl.model_yaml("m").replace("name: f29", "name: g29"))
    dl.write_csv(train, rs)
    r = subprocess.run([MODELCTL, "profile", train, "--model-yaml", yaml], capture_output=True,
                       text=True)
    expect(r.returncode == 1 and "feature 'g29' of --model-yaml: no column" in r.stderr, r.stderr)
    r = subprocess.run([MODELCTL, "profile", train, "--bins", "1"], capture_output=True, text=True)
    expect(r.returncode == 2 and "--bins '1'" in r.stderr, r.stderr)
    r = subprocess.run([MODELCTL, "profile", os.path.join(tmp, "nope.csv")], capture_output=True,
                       text=True)
    expect(r.returncode == 2 and "cannot open" in r.stderr, r.stderr)
    # Without model.yaml: text columns are categorical, --ignore drops a column.
    r = subprocess.run([MODELCTL, "profile", train, "--ignore", "f0", "--bins", "4"],
                       capture_output=True, text=True)
    expect(r.returncode == 0, r.stderr)
    p = json.loads(r.stdout)
    expect("f0" not in p["features"] and p["features"]["cat"]["kind"] == "categorical", p)
    expect(len(p["features"]["f1"]["edges"]) == 3 and p["rows"] == 20, p["features"]["f1"])
    # A 0/1 column (pandas' True/False too) gets the edge 0, not 1: the top bin is not empty.
    flags = os.path.join(tmp, "flags.csv")
    with open(flags, "w") as f:
        f.write("flag,b\n" + "".join("%s,%d\n" % (v, i) for i, v in
                                       enumerate(["True", "1", "0", "false", "1"] * 4)))
    r = subprocess.run([MODELCTL, "profile", flags], capture_output=True, text=True)
    expect(r.returncode == 0, r.stderr)
    flag = json.loads(r.stdout)["features"]["flag"]
    expect(flag["edges"] == [0] and flag["counts"] == [8, 12], flag)


def test_two_d_form():
    """The 2-D form (one [N, 30] tensor) counts each row's features by column: the
    benchmark model profiled on its own rows, sent back unchanged then with f3 moved."""
    from harness import BENCH_DATA, add_bench
    tmp = tempfile.mkdtemp(prefix="modeld-drift-")
    with open(os.path.join(BENCH_DATA, "bench_rows.csv")) as f:
        rows = [[float(v) if v else None for v in ln.rstrip("\n").split(",")[:30]] for ln in f]
    train = os.path.join(tmp, "train.csv")
    with open(train, "w") as f:
        f.write(",".join("f%d" % i for i in range(30)) + "\n")
        for r in rows:
            f.write(",".join("" if v is None else repr(v) for v in r) + "\n")
    r = subprocess.run([MODELCTL, "profile", train, "--model-yaml",
                        os.path.join(BENCH_DATA, "model.yaml")], capture_output=True, text=True)
    expect(r.returncode == 0, r.stderr)
    repo = os.path.join(tmp, "repo")
    for name in ("same", "moved"):
        add_bench(repo, name, [1])
        with open(os.path.join(repo, name, "1", "profile.json"), "w") as f:
            f.write(r.stdout)
    n = min(len(rows), 2000)

    def body(rs):
        data = [v for row in rs for v in row]
        return {"inputs": [{"name": "features", "datatype": "FP32", "shape": [len(rs), 30],
                            "data": data}]}

    moved = [[v + 3 if (i == 3 and v is not None) else v for i, v in enumerate(row)]
             for row in rows[:n]]
    with Daemon(repo=repo, examples=False, bench=False) as d:
        for model, rs in (("same", rows[:n]), ("moved", moved)):
            for i in range(0, n, 200):
                st, out, _ = d.json("POST", "/v2/models/%s/infer" % model, body(rs[i:i + 200]))
                expect(st == 200, out)
        same = dl.drift(d, "same")
        expect(same["rows"] == n and same["verdict"] == "ok", same)
        # the training rows themselves: every bin's count equals the profile's
        for f in same["features"]:
            expect(f["statistic"] == 0 and f["psi"] < 1e-12, f)
            expect(f["missing_share"] == f["reference_missing_share"], f)
        moved_doc = dl.drift(d, "moved")
        expect(dl.flagged(moved_doc) == ["f3"], dl.flagged(moved_doc))


if __name__ == "__main__":
    run([test_bad_profiles_serve_without_reference, test_bad_queries,
         test_uploaded_profile_and_thresholds, test_bad_drift_section_refused,
         test_modelctl_profile_errors, test_two_d_form])
