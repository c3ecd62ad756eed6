#!/usr/bin/python3
"""Card-fraud classifier: gradient-boosted trees (XGBoost, binary:logistic) on
synthetic transactions with numeric, categorical (one-hot and ordinal),
boolean and missing features. Writes two versions: v1 (60 trees, depth 4)
and v2 (120 trees, depth 6), served by modeld's native `trees` engine.
Deterministic. Needs Debian's python3-xgboost and python3-numpy.
Usage: /usr/bin/python3 examples/train/fraud.py"""
import os

import numpy as np
import xgboost as xgb

from common import version_dir, write_sample

MERCHANTS = ["grocery", "electronics", "travel", "online", "restaurant"]
TIERS = ["basic", "gold", "platinum"]
# Prepared columns, in model.yaml's order (see docs/repository.md).
COLUMNS = (["amount", "hour", "account_age_days", "distance_km"] +
           ["merchant_category=" + m for m in MERCHANTS] + ["card_tier", "is_international"])


def make_data(n, rng):
    amount = np.round(rng.lognormal(3.5, 1.2, n), 2).clip(0.5, 50000)
    hour = rng.integers(0, 24, n)
    age = rng.integers(0, 3650, n)
    distance = rng.exponential(30, n)
    distance[rng.random(n) < 0.15] = np.nan          # unknown location
    merchant = rng.integers(0, len(MERCHANTS), n)
    tier = rng.choice(3, n, p=[0.6, 0.3, 0.1]).astype(np.float64)
    intl = rng.random(n) < 0.1
    z = (-4.2 + 0.9 * np.log1p(amount) * (merchant == 1) + 0.6 * np.log1p(amount) * (merchant == 3)
         - 0.0008 * age + 1.5 * intl + 0.8 * ((hour < 5) | (hour > 22))
         + 0.01 * np.nan_to_num(distance, nan=60.0) - 0.4 * tier)
    y = (rng.random(n) < 1 / (1 + np.exp(-(z - 1.5)))).astype(np.float32)
    onehot = np.eye(len(MERCHANTS))[merchant]
    X = np.column_stack([amount, hour, age, distance, onehot, tier, intl]).astype(np.float32)
    return X, y, merchant, tier


def main():
    rng = np.random.default_rng(2026)
    X, y, merchant, tier = make_data(30000, rng)
    dtrain = xgb.DMatrix(X, label=y, feature_names=COLUMNS, missing=np.nan)
    for version, rounds, depth in ((1, 60, 4), (2, 120, 6)):
        params = {"objective": "binary:logistic", "max_depth": depth, "eta": 0.1,
                  "tree_method": "hist", "nthread": 1, "seed": 7, "eval_metric": "auc"}
        booster = xgb.train(params, dtrain, num_boost_round=rounds)
        booster.save_model(os.path.join(version_dir("fraud", version), "model.json"))
    rows = []
    for i in range(2):
        rows.append({"amount": float(X[i, 0]), "hour": int(X[i, 1]),
                     "account_age_days": int(X[i, 2]),
                     "distance_km": None if np.isnan(X[i, 3]) else float(X[i, 3]),
                     "merchant_category": MERCHANTS[merchant[i]], "card_tier": TIERS[int(tier[i])],
                     "is_international": bool(X[i, 10])})
    write_sample("fraud", [("amount", "FP32"), ("hour", "INT32"), ("account_age_days", "INT32"),
                           ("distance_km", "FP32"), ("merchant_category", "BYTES"),
                           ("card_tier", "BYTES"), ("is_international", "BOOL")], rows)
    print("fraud: fraud rate %.3f, versions 1 and 2 written" % y.mean())


if __name__ == "__main__":
    main()
