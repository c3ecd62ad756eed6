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

