#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Customer churn: scikit-learn logistic regression (mean imputation, then
standardisation) on synthetic subscribers, exported to the modeld-linear
artifact (docs/linear.md) and served by the linear engine.

Writes examples/repo/churn/1/model.json, examples/data/churn_check.csv and
examples/data/churn_sample.json. Deterministic: fixed seeds.
Run: /usr/bin/python3 examples/train/churn.py
"""
import os

import numpy as np
import sklearn
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from common import as_fp32, onehot, version_dir, write_check, write_json, write_sample

CONTRACTS = ["month-to-month", "one-year", "two-year"]

# Prepared columns, in model.yaml's feature order.
COLUMNS = (["tenure_months", "monthly_charges"]
           + ["contract=" + c for c in CONTRACTS]
           + ["support_calls", "has_partner", "satisfaction_score"])


def synthesize(n, seed):
    """n subscribers and whether they left within a month (about 25%)."""
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

    x = np.column_stack([tenure, charges, onehot(contract, CONTRACTS), calls,
                         partner.astype(np.float64), satisfaction])
    return as_fp32(x), label


def engine_predict(artifact, x):
    """What the linear engine computes (docs/linear.md), in numpy: a check
    that the export means what scikit-learn means."""
    mean = np.array(artifact["standardize"]["mean"])
    scale = np.array(artifact["standardize"]["scale"])
    z = np.where(np.isnan(x), 0.0, (x - mean) / scale)
    s = artifact["intercept"] + z @ np.array(artifact["weights"])
    return 1 / (1 + np.exp(-s))


def main():
    x, y = synthesize(8000, seed=7)
    x_test, y_test = synthesize(4000, seed=8)
    pipe = make_pipeline(SimpleImputer(strategy="mean"), StandardScaler(),
                         LogisticRegression(C=1.0, max_iter=1000))
    pipe.fit(x, y)
    scaler = pipe.named_steps["standardscaler"]
    lr = pipe.named_steps["logisticregression"]
    test_auc = roc_auc_score(y_test, pipe.predict_proba(x_test)[:, 1])

    # A missing value is imputed with the training mean, which the scaler
    # maps to 0: the linear engine's rule for NaN with standardisation.
    artifact = {
        "format": "modeld-linear",
        "format_version": 1,
        "kind": "logistic",
        "feature_names": COLUMNS,
        "weights": lr.coef_[0].tolist(),
        "intercept": float(lr.intercept_[0]),
        "classes": 2,
        "standardize": {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()},
        "metadata": {"trained_by": "examples/train/churn.py",
                     "library": "scikit-learn " + sklearn.__version__,
                     "model": "SimpleImputer(mean) + StandardScaler + LogisticRegression(C=1)",
                     "training_rows": int(len(y)), "test_auc": round(float(test_auc), 4)},
    }
    path = os.path.join(version_dir("churn", 1), "model.json")
    write_json(path, artifact)

    # 50 check rows from the test set, some with the survey unanswered.
    xc = x_test[:50]
    ref = pipe.predict_proba(xc)[:, 1]
    diff = np.max(np.abs(engine_predict(artifact, xc) - ref))
    assert diff < 1e-9, diff
    write_check("churn", COLUMNS, xc, {"v1:probability": ref})
    print("churn v1: test AUC %.4f, churn rate %.3f, export agrees to %.1e, %d bytes"
          % (test_auc, y.mean(), diff, os.path.getsize(path)))

    write_sample("churn", [("tenure_months", "INT32"), ("monthly_charges", "FP32"),
                           ("contract", "BYTES"), ("support_calls", "INT32"),
                           ("has_partner", "BOOL"), ("satisfaction_score", "FP32")],
                 [{"tenure_months": 4, "monthly_charges": 94.6, "contract": "month-to-month",
                   "support_calls": 3, "has_partner": False, "satisfaction_score": None},
                  {"tenure_months": 41, "monthly_charges": 54.25, "contract": "two-year",
                   "support_calls": 0, "has_partner": True, "satisfaction_score": 4.5}])


if __name__ == "__main__":
    main()
