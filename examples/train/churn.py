#!/usr/bin/python3
"""Customer churn: logistic regression (scikit-learn, standardised features)
on synthetic subscriptions, exported to modeld's linear artifact format
(docs/linear.md) and served by the `linear` engine. Also writes
examples/data/churn_check.csv: prepared rows and scikit-learn's
probabilities, which the unit tests compare with the engine.
Deterministic. Needs Debian's python3-sklearn and python3-numpy.
Usage: /usr/bin/python3 examples/train/churn.py"""
import json
import os

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from common import DATA, version_dir, write_sample

CONTRACTS = ["month-to-month", "one-year", "two-year"]
COLUMNS = (["tenure_months", "monthly_charges"] + ["contract=" + c for c in CONTRACTS] +
           ["support_calls", "has_partner"])


def main():
    rng = np.random.default_rng(99)
    n = 10000
    tenure = rng.integers(0, 72, n)
    charges = np.round(rng.normal(70, 25, n).clip(10, 200), 2)
    contract = rng.choice(3, n, p=[0.55, 0.25, 0.2])
    calls = rng.poisson(1.5, n)
    partner = rng.random(n) < 0.45
    z = (0.8 - 0.05 * tenure + 0.015 * charges - np.array([0.0, 1.2, 2.2])[contract]
         + 0.35 * calls - 0.5 * partner)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    X = np.column_stack([tenure, charges, np.eye(3)[contract], calls, partner]).astype(np.float64)
    scaler = StandardScaler().fit(X)
    clf = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(X), y)
    artifact = {
        "format": "modeld-linear", "format_version": 1, "kind": "logistic",
        "feature_names": COLUMNS,
        "weights": [float(w) for w in clf.coef_[0]],
        "intercept": float(clf.intercept_[0]),
        "standardize": {"mean": [float(m) for m in scaler.mean_],
                        "scale": [float(s) for s in scaler.scale_]},
        "classes": 2,
    }
    with open(os.path.join(version_dir("churn", 1), "model.json"), "w") as f:
        json.dump(artifact, f, indent=1)
        f.write("\n")
    p = clf.predict_proba(scaler.transform(X[:50]))[:, 1]
    os.makedirs(DATA, exist_ok=True)
    with open(os.path.join(DATA, "churn_check.csv"), "w") as f:
        for row, pi in zip(X[:50], p):
            f.write(",".join(repr(float(v)) for v in row) + ";" + repr(float(pi)) + "\n")
    rows = [{"tenure_months": int(tenure[i]), "monthly_charges": float(charges[i]),
             "contract": CONTRACTS[contract[i]], "support_calls": int(calls[i]),
             "has_partner": bool(partner[i])} for i in range(2)]
    write_sample("churn", [("tenure_months", "INT32"), ("monthly_charges", "FP32"),
                           ("contract", "BYTES"), ("support_calls", "INT32"),
                           ("has_partner", "BOOL")], rows)
    print("churn: churn rate %.3f, accuracy %.3f, version 1 written"
          % (y.mean(), clf.score(scaler.transform(X), y)))


if __name__ == "__main__":
    main()
