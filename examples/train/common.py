# SPDX-License-Identifier: MIT
"""Helpers shared by the example training scripts: paths, FP32 rounding,
and the files every script writes besides its artifact (the check CSV and the
sample request)."""
import json
import math
import os

import numpy as np

EXAMPLES = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.join(EXAMPLES, "repo")
DATA = os.path.join(EXAMPLES, "data")


def as_fp32(x):
    """The values modeld's engines will see: every prepared column is FP32.
    Training and references use the same rounded values, so engines can be
    compared with the reference predictions tightly."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def version_dir(model, version):
    path = os.path.join(REPO, model, str(version))
    os.makedirs(path, exist_ok=True)
    return path


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def _cell(v):
    """The shortest text that reads back as the same value: FP32 values (all
    inputs, XGBoost's outputs) as FP32, float64 values (scikit-learn's) in
    full."""
    if np.isnan(v):
        return ""
    if isinstance(v, np.float32):
        return np.format_float_positional(v, trim="-")
    return repr(float(v))


def write_check(model, columns, x, expected):
    """examples/data/<model>_check.csv: one row per example, the prepared
    columns (empty = missing) and then the reference outputs. expected maps a
    header name "v<version>:<output>" to an array of n_rows (one output) or
    n_rows x k (one column per class, named "<output>[<label>]" by the
    caller's keys) values: float32 arrays for FP32 outputs, float64 for
    double-precision references."""
    heads = list(columns)
    cols = []
    for name, values in expected.items():
        heads.append(name)
        cols.append(np.asarray(values))
    x = np.asarray(x, dtype=np.float32)  # exact: the columns are FP32 values
    path = os.path.join(DATA, model + "_check.csv")
    with open(path, "w") as f:
        f.write(",".join(heads) + "\n")
        for i in range(x.shape[0]):
            cells = [_cell(v) for v in x[i]] + [_cell(c[i]) for c in cols]
            f.write(",".join(cells) + "\n")
    return path


def write_sample(model, features, rows):
    """examples/data/<model>_sample.json: an Open Inference Protocol request
    in the columnar form, one [N,1] input per feature. features is a list of
    (name, datatype); rows a list of dicts (None = missing, sent as null;
    a feature absent from every row is left out)."""
    inputs = []
    for name, dtype in features:
        if all(name not in r for r in rows):
            continue
        inputs.append({"name": name, "datatype": dtype, "shape": [len(rows), 1],
                       "data": [[r.get(name)] for r in rows]})
    path = os.path.join(DATA, model + "_sample.json")
    with open(path, "w") as f:
        f.write('{"id": %s,\n "inputs": [\n  ' % json.dumps(model + "-sample"))
        f.write(",\n  ".join(json.dumps(i) for i in inputs))
        f.write("\n ]}\n")
    return path


def onehot(values, categories):
    """One column per category (1 for the value, 0 otherwise), as modeld's
    contract prepares a one-hot feature."""
    out = np.zeros((len(values), len(categories)))
    index = {c: i for i, c in enumerate(categories)}
    for r, v in enumerate(values):
        out[r, index[v]] = 1
    return out



def _bins(values, bins=10):
    """A numeric column's profile: quantile edges (the value at floor(q n /
    bins) of the sorted non-missing values, or the largest value under the
    maximum where that is the maximum, equal edges kept once), the count
    of each bin (the number of edges below a value) and the missing count, as
    `modelctl profile` computes them."""
    v = np.sort(values[~np.isnan(values)])
    edges = []
    for q in range(1, bins):
        if len(v) == 0:
            break
        e = float(v[(q * len(v)) // bins])
        if e >= v[-1]:  # the maximum: the largest value under it instead
            under = v[v < v[-1]]
            if len(under) == 0:
                continue
            e = float(under[-1])
        if not edges or e > edges[-1]:
            edges.append(e)
    counts = np.bincount(np.searchsorted(np.array(edges), v, side="left"),
                         minlength=len(edges) + 1)
    return {"edges": edges, "counts": [int(c) for c in counts],
            "missing": int(np.isnan(values).sum())}


def profile(contract, columns, x, scores=None, quality=None):
    """The reference profile of the training rows x (prepared columns, as
    write_check's) for a contract (model.yaml as a dict): numeric features
    binned, categorical ones counted per category (a one-hot feature from
    its columns, an ordinal one from its index), the predictions (scores: P
    of the second label for a binary model, the top class's probability for
    several, the value for a regression; and the predicted labels), and the
    training-time quality figures. docs/repository.md gives the format."""
    x = np.asarray(x, dtype=np.float64)
    col = {c: i for i, c in enumerate(columns)}
    feats = {}
    for f in contract["features"]:
        name, cats = f["name"], f.get("categories")
        if cats is None:
            feats[name] = dict(kind="numeric", **_bins(x[:, col[name]]))
            continue
        cats = [str(c) for c in cats]
        if f.get("encoding", "onehot") == "ordinal":
            idx = x[:, col[name]]
        else:
            block = x[:, [col["%s=%s" % (name, c)] for c in cats]]
            idx = np.where(np.isnan(block).any(axis=1), np.nan, block.argmax(axis=1))
        counts = {c: int((idx == k).sum()) for k, c in enumerate(cats)}
        feats[name] = {"kind": "categorical", "counts": counts, "other": 0,
                       "missing": int(np.isnan(idx).sum())}
    prof = {"format": "modeld-profile", "format_version": 1, "rows": int(x.shape[0]),
            "features": feats}
    if scores is not None:
        s = np.asarray(scores, dtype=np.float64)
        labels = contract.get("labels")
        pred = {}
        if labels and s.ndim == 2:
            top = s.argmax(axis=1)
            pred["labels"] = {str(l): int((top == k).sum()) for k, l in enumerate(labels)}
            s = s.max(axis=1)
        elif labels:
            yes = s >= contract.get("threshold", 0.5)
            pred["labels"] = {str(labels[0]): int((~yes).sum()), str(labels[1]): int(yes.sum())}
        b = _bins(s)
        pred["scores"] = {"edges": b["edges"], "counts": b["counts"]}
        prof["predictions"] = pred
    if quality:
        prof["quality"] = {k: float(v) for k, v in quality.items()}
    return prof


def read_contract(path):
    import yaml

    with open(path) as f:
        return yaml.safe_load(f)


def write_profile(model, version, columns, x, scores=None, quality=None):
    """REPO/<model>/<version>/profile.json: the profile (above) of the
    training rows x for the model's model.yaml."""
    contract = read_contract(os.path.join(REPO, model, "model.yaml"))
    path = os.path.join(version_dir(model, version), "profile.json")
    write_json(path, profile(contract, columns, x, scores, quality))
    return path


# ---------------------------------------------------------------------------
# Trainer mode: the scripts as external trainers of modeld (docs/improve.md)
# ---------------------------------------------------------------------------

def prepared_columns(contract):
    """The prepared column names of a contract, in order
    (docs/repository.md#requests-and-prepared-columns)."""
    cols = []
    for f in contract["features"]:
        cats = f.get("categories")
        if cats is not None and f.get("encoding", "onehot") == "onehot":
            cols += ["%s=%s" % (f["name"], c) for c in cats]
        else:
            cols.append(f["name"])
    return cols


def prepare(contract, rows):
    """Rows as the prediction log keeps them (dicts of the features as the
    caller sent them; an optional feature may be absent or null) turned
    into the contract's prepared columns, as modeld prepares a request: a
    BOOL as 0 or 1, a one-hot feature as one column per category, an
    ordinal one as the category's index, a missing value as NaN (in every
    column of a one-hot feature) or the feature's default."""
    out = np.full((len(rows), len(prepared_columns(contract))), np.nan)
    for i, r in enumerate(rows):
        j = 0
        for f in contract["features"]:
            cats = f.get("categories")
            v = r.get(f["name"])
            if v is None and f.get("missing") == "default":
                v = f.get("default")
            onehot_f = cats is not None and f.get("encoding", "onehot") == "onehot"
            if onehot_f:
                if v is not None:
                    out[i, j:j + len(cats)] = 0
                    out[i, j + [str(c) for c in cats].index(str(v))] = 1
                j += len(cats)
                continue
            if v is not None:
                out[i, j] = [str(c) for c in cats].index(str(v)) if cats is not None else float(v)
            j += 1
    return as_fp32(out)


def read_set(path, contract):
    """A training set as modeld exports it (JSON lines: features, label or
    value, weight, source, at_ms; learn/dataset.h): the raw feature dicts,
    the prepared columns, the target (the label's index in the contract's
    labels, or the value) and the weights."""
    raw, y, w = [], [], []
    labels = [str(l) for l in contract.get("labels") or []]
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            raw.append(r["features"])
            y.append(labels.index(str(r["label"])) if labels else float(r["value"]))
            w.append(float(r.get("weight", 1)))
    return raw, prepare(contract, raw), np.array(y), np.array(w)


def trainer_args(argv):
    """The trainer mode's arguments, or None when argv does not ask for it:

        SCRIPT --trainer --train TRAIN.jsonl --model-yaml MODEL.yaml --output DIR
               [--holdout HOLDOUT.jsonl] [--params JSON]

    modeld runs a trainer named in its configuration file with these
    (docs/improve.md#external-trainers)."""
    if "--trainer" not in argv:
        return None
    import argparse

    ap = argparse.ArgumentParser(description="train from a training set modeld exported")
    ap.add_argument("--trainer", action="store_true")
    ap.add_argument("--train", required=True, help="the training rows (JSON lines)")
    ap.add_argument("--holdout", help="the held-out rows (JSON lines), for the figure printed")
    ap.add_argument("--model-yaml", required=True, help="the model's contract")
    ap.add_argument("--output", required=True, help="where model.json and profile.json go")
    ap.add_argument("--params", default="{}", help="training parameters (a JSON object)")
    args = ap.parse_args(argv)
    args.params = json.loads(args.params)
    args.contract = read_contract(args.model_yaml)
    os.makedirs(args.output, exist_ok=True)
    return args


def trainer_finish(args, columns, x, scores, quality):
    """Writes the trained version's profile.json beside its artifact in the
    output directory and says what was trained."""
    write_json(os.path.join(args.output, "profile.json"),
               profile(args.contract, columns, x, scores, quality))
    print("trained on %d rows: %s" % (x.shape[0], json.dumps(quality)))
