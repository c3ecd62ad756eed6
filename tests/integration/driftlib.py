"""Helpers of the drift tests (t6240-t6259): a model of 30 numeric features
f0..f29 (standard normal in training) and a categorical one `cat` (A 10%,
B 20%, C 30%, D 20%, E 20%), a logistic artifact for the linear engine, its
training data as CSV, and rows to send, shifted or not. Python 3 standard
library only; every draw comes from a seeded random.Random."""

import csv
import json
import os
import random

N_NUM = 30
CATS = ["A", "B", "C", "D", "E"]
CAT_P = [0.10, 0.20, 0.30, 0.20, 0.20]
LABELS = ["no", "yes"]


def model_yaml(name, drift=None):
    lines = ["backend: linear", "task: classification", "labels: [no, yes]", "features:"]
    for i in range(N_NUM):
        lines.append("  - {name: f%d, datatype: FP64}" % i)
    lines.append("  - {name: cat, datatype: BYTES, categories: [%s]}" % ", ".join(CATS))
    if drift:
        lines.append("drift:")
        for k, v in drift.items():
            lines.append("  %s: %s" % (k, v))
    return "\n".join(lines) + "\n"


def artifact():
    names = ["f%d" % i for i in range(N_NUM)] + ["cat=" + c for c in CATS]
    weights = [0.3 if i % 3 == 0 else -0.1 for i in range(N_NUM)] + [0.5, -0.2, 0.1, 0.0, -0.4]
    return {"format": "modeld-linear", "format_version": 1, "kind": "logistic",
            "feature_names": names, "weights": weights, "intercept": -0.2}


def draw_cat(rnd, p):
    u = rnd.random()
    acc = 0
    for c, q in zip(CATS, p):
        acc += q
        if u < acc:
            return c
    return CATS[-1]


def rows(n, seed, shift=None, cat_p=None):
    """n rows as dicts; shift = (feature index, added mean); cat_p the category shares."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        r = {"f%d" % i: rnd.gauss(0, 1) for i in range(N_NUM)}
        if shift is not None:
            r["f%d" % shift[0]] += shift[1]
        r["cat"] = draw_cat(rnd, cat_p or CAT_P)
        out.append(r)
    return out


def write_csv(path, rs):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        names = ["f%d" % i for i in range(N_NUM)] + ["cat"]
        w.writerow(names)
        for r in rs:
            w.writerow([repr(r[k]) if k != "cat" else r[k] for k in names])


def add_model(repo, name, profile=None, drift=None, versions=(1,)):
    """REPO/name with model.yaml, the artifact and profile.json (text or dict) per version."""
    mdir = os.path.join(repo, name)
    os.makedirs(mdir, exist_ok=True)
    with open(os.path.join(mdir, "model.yaml"), "w") as f:
        f.write(model_yaml(name, drift))
    for v in versions:
        vdir = os.path.join(mdir, str(v))
        os.makedirs(vdir, exist_ok=True)
        with open(os.path.join(vdir, "model.json"), "w") as f:
            json.dump(artifact(), f)
        if profile is not None:
            with open(os.path.join(vdir, "profile.json"), "w") as f:
                f.write(profile if isinstance(profile, str) else json.dumps(profile))


def v2_body(rs):
    inputs = [{"name": "f%d" % i, "datatype": "FP64", "shape": [len(rs)],
               "data": [r["f%d" % i] for r in rs]} for i in range(N_NUM)]
    inputs.append({"name": "cat", "datatype": "BYTES", "shape": [len(rs)],
                   "data": [r["cat"] for r in rs]})
    return {"inputs": inputs}


def send(d, model, rs, batch=200):
    for i in range(0, len(rs), batch):
        st, doc, _ = d.json("POST", "/v2/models/%s/infer" % model, v2_body(rs[i:i + batch]))
        assert st == 200, (st, doc)


def drift(d, model, query=""):
    st, doc, _ = d.json("GET", "/api/v1/models/%s/drift%s" % (model, query))
    assert st == 200, (st, doc)
    return doc


def flagged(doc):
    return sorted(f["name"] for f in doc["features"] if f["drifted"])


def score(r):
    """The artifact's P(yes) for row r (the linear engine's logistic)."""
    import math
    a = artifact()
    z = a["intercept"]
    for i in range(N_NUM):
        z += a["weights"][i] * r["f%d" % i]
    z += a["weights"][N_NUM + CATS.index(r["cat"])]
    return 1 / (1 + math.exp(-z))


def write_training(path, rs):
    """Training CSV with the model's score and the true label (ignored) as columns."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        names = ["f%d" % i for i in range(N_NUM)] + ["cat"]
        w.writerow(names + ["score", "label"])
        for k, r in enumerate(rs):
            s = score(r)
            w.writerow([repr(r[n]) if n != "cat" else r[n] for n in names] +
                       [repr(s), "yes" if s >= 0.5 else "no"])


def make_profile(tmp, n=10000, seed=1):
    """profile.json text of n training rows, computed by modelctl profile."""
    import subprocess
    from harness import MODELCTL
    train = os.path.join(tmp, "train.csv")
    yaml = os.path.join(tmp, "model.yaml")
    write_training(train, rows(n, seed))
    with open(yaml, "w") as f:
        f.write(model_yaml("m"))
    r = subprocess.run([MODELCTL, "profile", train, "--model-yaml", yaml, "--scores", "score",
                        "--quality", "accuracy=0.91"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout
