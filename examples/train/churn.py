#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Customer churn: a scikit-learn pipeline (one-hot encoding of the contract,
mean imputation, standardisation, logistic regression) on synthetic
subscribers, exported by tools/modeld_sklearn.py to the modeld-linear artifact
(docs/linear.md) and its model.yaml, and served by the linear engine.

Writes examples/repo/churn/model.yaml, examples/repo/churn/1/model.json,
examples/data/churn_check.csv and examples/data/churn_sample.json.
Deterministic: fixed seeds.
Run: /usr/bin/python3 examples/train/churn.py

As an external trainer of modeld (docs/improve.md#external-trainers), with
`--trainer`: the same pipeline on a training set modeld exported, converted
by the exporter; model.json and profile.json go into the output directory
(common.trainer_args).
"""
import json
import os
import sys

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from common import (EXAMPLES, REPO, as_fp32, onehot, read_set, trainer_args, trainer_finish,
                    write_check, write_profile, write_sample)

sys.path.insert(0, os.path.join(os.path.dirname(EXAMPLES), "tools"))
import modeld_sklearn  # noqa: E402

CONTRACTS = ["month-to-month", "one-year", "two-year"]

# The features a caller sends, in the pipeline's input order, as model.yaml declares them.
FEATURES = [
    {"name": "tenure_months", "datatype": "INT32", "min": 0, "max": 1200, "required": True},
    {"name": "monthly_charges", "datatype": "FP32", "min": 0, "max": 10000, "required": True},
    {"name": "contract", "datatype": "BYTES"},
    {"name": "support_calls", "datatype": "INT32", "min": 0, "max": 1000, "required": True,
     "comment": "in the last 90 days"},
    {"name": "has_partner", "datatype": "BOOL", "required": True},
    {"name": "satisfaction_score", "datatype": "FP32", "min": 1, "max": 5,
     "comment": "last survey, 1 to 5; many never answer"},
]

# Prepared columns (the contract's one-hot columns for contract), in model.yaml's order.
COLUMNS = (["tenure_months", "monthly_charges"]
           + ["contract=" + c for c in CONTRACTS]
           + ["support_calls", "has_partner", "satisfaction_score"])


def synthesize(n, seed):
    """n subscribers as raw rows (contract as text, NaN = unanswered survey)
    and whether they left within a month (about 25%)."""
    rng = np.random.default_rng(seed)
    tenure = np.minimum(rng.geometric(1 / 26, size=n) - 1, 72)
    # Long-standing customers are more often on long contracts.
    p_long = 1 / (1 + np.exp(-(tenure - 30) / 10))
    u = rng.random(n)
    contract = np.where(u < 1 - p_long, "month-to-month",
                        np.where(u < 1 - p_long / 2.2, "one-year", "two-year"))
    charges = np.round(np.clip(rng.normal(68, 26, size=n), 18, 150), 2)
    calls = rng.poisson(np.where(charges > 90, 2.2, 1.2))
    partner = rng.random(n) < 0.47
    # A post-support survey, 1 to 5; only about 60% answer it.
    satisfaction = np.round(np.clip(rng.normal(3.7 - 0.25 * calls, 0.8), 1, 5), 1)

    risk = (-1.1 - 0.04 * tenure + 0.02 * (charges - 65)
            + np.select([contract == "month-to-month", contract == "one-year"], [0.9, -0.5],
                        -1.7)
            + 0.3 * calls - 0.45 * partner - 0.6 * (satisfaction - 3.5))
    label = (rng.random(n) < 1 / (1 + np.exp(-risk))).astype(np.int64)
    satisfaction[rng.random(n) < 0.4] = np.nan

    x = np.empty((n, 6), dtype=object)
    x[:, 0] = as_fp32(tenure)
    x[:, 1] = as_fp32(charges)
    x[:, 2] = contract
    x[:, 3] = as_fp32(calls)
    x[:, 4] = partner.astype(np.float64)
    x[:, 5] = as_fp32(satisfaction)
    return x, label


def prepared(x):
    """The contract's prepared columns for raw rows x (what the engine reads)."""
    cols = [x[:, 0], x[:, 1], onehot(x[:, 2], CONTRACTS), x[:, 3], x[:, 4], x[:, 5]]
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in cols])


def engine_predict(artifact, x):
    """What the linear engine computes (docs/linear.md), in numpy, on prepared
    columns x: a check that the export means what scikit-learn means."""
    mean = np.array(artifact["standardize"]["mean"])
    scale = np.array(artifact["standardize"]["scale"])
    fill = np.array([np.nan if v is None else v for v in artifact["impute"]])
    z = (np.where(np.isnan(x), fill, x) - mean) / scale
    s = artifact["intercept"] + z @ np.array(artifact["weights"])
    return 1 / (1 + np.exp(-s))


def pipeline(c=1.0):
    """The one-hot columns sit where the contract prepares them, and every
    column then goes through the same imputer and scaler."""
    encode = ColumnTransformer([
        ("tenure_charges", "passthrough", [0, 1]),
        ("contract", OneHotEncoder(categories=[CONTRACTS], sparse_output=False), [2]),
        ("rest", "passthrough", [3, 4, 5])])
    return make_pipeline(encode, SimpleImputer(strategy="mean"), StandardScaler(),
                         LogisticRegression(C=c, max_iter=1000))


def raw_rows(dicts):
    """Feature dicts (as modeld logs them) as the pipeline's raw input rows."""
    x = np.empty((len(dicts), len(FEATURES)), dtype=object)
    for i, d in enumerate(dicts):
        for j, f in enumerate(FEATURES):
            v = d.get(f["name"])
            x[i, j] = v if f["datatype"] == "BYTES" else (np.nan if v is None else float(v))
    return x


def trainer(args):
    """The pipeline above (--params: C, the inverse regularisation) on the
    exported set, weighted as modeld weighted its rows, converted to the
    modeld-linear artifact."""
    dicts, xp, y, w = read_set(args.train, args.contract)
    pipe = pipeline(float(args.params.get("C", 1.0)))
    x = raw_rows(dicts)
    pipe.fit(x, y, logisticregression__sample_weight=w)
    art = modeld_sklearn.convert(pipe, features=FEATURES, labels=["stay", "churn"],
                                 threshold=0.4, metadata={"trained_by": "examples/train/churn.py",
                                                          "training_rows": int(len(y))})
    with open(os.path.join(args.output, "model.json"), "w") as f:
        f.write(json.dumps(art.artifact, indent=1) + "\n")
    quality = {}
    if args.holdout:
        hd, _, yh, _ = read_set(args.holdout, args.contract)
        if 0 < yh.sum() < len(yh):
            auc = roc_auc_score(yh, pipe.predict_proba(raw_rows(hd))[:, 1])
            quality["holdout_roc_auc"] = round(float(auc), 4)
    trainer_finish(args, COLUMNS, xp, pipe.predict_proba(x)[:, 1], quality)


def main():
    x, y = synthesize(8000, seed=7)
    x_test, y_test = synthesize(4000, seed=8)
    pipe = pipeline()
    pipe.fit(x, y)
    test_auc = roc_auc_score(y_test, pipe.predict_proba(x_test)[:, 1])

    # The exporter carries the imputer's means as the artifact's impute
    # values; the contract keeps every feature but the survey required.
    res = modeld_sklearn.export(
        pipe, REPO, "churn", features=FEATURES, version=1, labels=["stay", "churn"],
        description="Probability that a subscriber cancels within a month", threshold=0.4,
        engine={"learning_rate": 0.05}, overwrite=True,
        header="Customer churn, trained by examples/train/churn.py: scikit-learn logistic\n"
               "regression on standardised features, served by the linear engine.\n"
               "threshold 0.4: retention offers are cheap, so flag a little early;\n"
               "learning_rate: the step size for online updates from feedback.",
        metadata={"trained_by": "examples/train/churn.py", "training_rows": int(len(y)),
                  "test_auc": round(float(test_auc), 4)})
    assert res["columns"] == COLUMNS, res["columns"]
    with open(res["artifact"]) as f:
        artifact = json.load(f)

    # 50 check rows from the test set, some with the survey unanswered.
    xc = x_test[:50]
    ref = pipe.predict_proba(xc)[:, 1]
    diff = np.max(np.abs(engine_predict(artifact, prepared(xc)) - ref))
    assert diff < 1e-9, diff
    write_check("churn", COLUMNS, prepared(xc), {"v1:probability": ref})
    write_profile("churn", 1, COLUMNS, prepared(x), pipe.predict_proba(x)[:, 1],
                  {"test_roc_auc": round(float(test_auc), 4)})
    print("churn v1: test AUC %.4f, churn rate %.3f, export agrees to %.1e, %d bytes"
          % (test_auc, y.mean(), diff, os.path.getsize(res["artifact"])))

    write_sample("churn", [("tenure_months", "INT32"), ("monthly_charges", "FP32"),
                           ("contract", "BYTES"), ("support_calls", "INT32"),
                           ("has_partner", "BOOL"), ("satisfaction_score", "FP32")],
                 [{"tenure_months": 4, "monthly_charges": 94.6, "contract": "month-to-month",
                   "support_calls": 3, "has_partner": False, "satisfaction_score": None},
                  {"tenure_months": 41, "monthly_charges": 54.25, "contract": "two-year",
                   "support_calls": 0, "has_partner": True, "satisfaction_score": 4.5}])


if __name__ == "__main__":
    ARGS = trainer_args(sys.argv[1:])
    trainer(ARGS) if ARGS is not None else main()
