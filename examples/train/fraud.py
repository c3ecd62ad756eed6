#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Card-fraud classifier: XGBoost binary:logistic on synthetic card
transactions, served by modeld's native trees engine.

Writes examples/repo/fraud/{1,2}/model.json (v1: 50 trees of depth 3 on 30,000
transactions; v2: 100 trees of depth 5 on 60,000), examples/data/fraud_check.csv and
examples/data/fraud_sample.json. Deterministic: fixed seeds, one thread.
Run: /usr/bin/python3 examples/train/fraud.py

As an external trainer of modeld (docs/improve.md#external-trainers), with
`--trainer`: trains v2's recipe on a training set modeld exported and writes
model.json and profile.json into the output directory (common.trainer_args).
"""
import os
import sys

import numpy as np
import xgboost as xgb
from sklearn.metrics import roc_auc_score

from common import (as_fp32, onehot, prepared_columns, read_set, trainer_args, trainer_finish,
                    version_dir, write_check, write_profile, write_sample)

CATEGORIES = ["grocery", "electronics", "travel", "online", "restaurant"]
CATEGORY_P = [0.34, 0.10, 0.07, 0.27, 0.22]
CATEGORY_RISK = {"grocery": -0.7, "electronics": 1.0, "travel": 0.5, "online": 0.7,
                 "restaurant": -0.4}
TIERS = ["basic", "gold", "platinum"]  # ordinal: the column holds 0, 1 or 2
TIER_P = [0.62, 0.28, 0.10]

# Prepared columns, in model.yaml's feature order.
COLUMNS = (["amount", "hour", "account_age_days", "distance_km"]
           + ["merchant_category=" + c for c in CATEGORIES]
           + ["card_tier", "is_international", "transactions_24h"])


def synthesize(n, seed):
    """n transactions and their labels (1 = fraud, about 4%)."""
    rng = np.random.default_rng(seed)
    category = rng.choice(CATEGORIES, size=n, p=CATEGORY_P)
    tier = rng.choice(len(TIERS), size=n, p=TIER_P)
    # Accounts: many young ones, a long tail of old ones.
    age_days = np.minimum(rng.gamma(1.3, 420, size=n), 9000).astype(np.int64)
    # Spending happens by day; a minority of transactions at night.
    hour = np.where(rng.random(n) < 0.85, rng.normal(14, 3.5, size=n),
                    rng.uniform(0, 24, size=n))
    hour = np.mod(np.round(hour), 24).astype(np.int64)
    base = {"grocery": 3.6, "electronics": 5.0, "travel": 5.4, "online": 3.9, "restaurant": 3.4}
    amount = np.round(np.exp(np.array([base[c] for c in category]) + 0.25 * tier
                             + rng.normal(0, 0.8, size=n)), 2)
    intl = rng.random(n) < np.where(category == "travel", 0.30, 0.04)
    distance = np.round(np.exp(rng.normal(1.8, 1.3, size=n)) + np.where(intl, 800, 0), 1)
    tx24 = rng.poisson(2.2, size=n).astype(np.float64)

    risk = (-5.1
            + 1.0 * np.log1p(amount / 150)
            + 1.1 * ((hour <= 5) | (hour >= 23))
            + 1.4 * (age_days < 30) + 0.6 * (age_days < 180)
            + np.array([CATEGORY_RISK[c] for c in category])
            + 1.2 * intl
            - 0.35 * tier
            + 0.45 * np.maximum(tx24 - 4, 0)
            + 0.5 * np.log1p(distance / 50))
    # Fraudsters at night in electronics or online: an interaction trees find.
    risk += 0.9 * (((hour <= 5) | (hour >= 23)) & np.isin(category, ["electronics", "online"]))
    label = (rng.random(n) < 1 / (1 + np.exp(-risk))).astype(np.int64)

    # Missing values: the distance needs a location fix (about 18% have
    # none); the 24-hour count is unknown for a few cards (about 7%).
    distance[rng.random(n) < 0.18] = np.nan
    tx24[rng.random(n) < 0.07] = np.nan

    x = np.column_stack([amount, hour, age_days, distance, onehot(category, CATEGORIES),
                         tier, intl.astype(np.float64), tx24])
    return as_fp32(x), label


def train(x, y, rounds, params, weight=None, columns=COLUMNS):
    dtrain = xgb.DMatrix(x, label=y, weight=weight, missing=np.nan, feature_names=columns)
    base = {"objective": "binary:logistic", "eval_metric": "auc", "tree_method": "hist",
            "seed": 7, "nthread": 1, "verbosity": 0}
    base.update(params)
    return xgb.train(base, dtrain, num_boost_round=rounds)


def predict(bst, x, columns=COLUMNS):
    return bst.predict(xgb.DMatrix(x, missing=np.nan, feature_names=columns))


def trainer(args):
    """v2's recipe (parameters in --params override it; num_round its
    rounds) on the exported set, weighted as modeld weighted its rows."""
    columns = prepared_columns(args.contract)
    _, x, y, w = read_set(args.train, args.contract)
    params = {"max_depth": 5, "eta": 0.05, "subsample": 0.8, "colsample_bytree": 0.8,
              "min_child_weight": 10}
    params.update(args.params)
    rounds = int(params.pop("num_round", 100))
    bst = train(x, y, rounds, params, w, columns)
    bst.save_model(os.path.join(args.output, "model.json"))
    quality = {}
    if args.holdout:
        _, xh, yh, _ = read_set(args.holdout, args.contract)
        if 0 < yh.sum() < len(yh):
            quality["holdout_roc_auc"] = round(float(roc_auc_score(yh, predict(bst, xh, columns))),
                                               4)
    trainer_finish(args, columns, x, predict(bst, x, columns), quality)


def main():
    x, y = synthesize(60000, seed=20261124)
    x_test, y_test = synthesize(10000, seed=424242)
    versions = {
        1: train(x[:30000], y[:30000], 50, {"max_depth": 3, "eta": 0.1}),
        2: train(x, y, 100, {"max_depth": 5, "eta": 0.05, "subsample": 0.8,
                             "colsample_bytree": 0.8, "min_child_weight": 10}),
    }
    trained_on = {1: x[:30000], 2: x}
    for v, bst in versions.items():
        path = os.path.join(version_dir("fraud", v), "model.json")
        bst.save_model(path)
        auc = roc_auc_score(y_test, predict(bst, x_test))
        print("fraud v%d: %d trees, test AUC %.4f, %d bytes, fraud rate %.3f"
              % (v, bst.num_boosted_rounds(), auc, os.path.getsize(path), y.mean()))
        write_profile("fraud", v, COLUMNS, trained_on[v], predict(bst, trained_on[v]),
                      {"test_roc_auc": round(float(auc), 4)})

    # 50 check rows: the first 40 test rows and the first 10 test frauds.
    rows = np.concatenate([np.arange(40), np.flatnonzero(y_test == 1)[:10]])
    xc = x_test[rows]
    write_check("fraud", COLUMNS, xc,
                {"v%d:probability" % v: predict(bst, xc) for v, bst in versions.items()})

    write_sample("fraud", [("amount", "FP32"), ("hour", "INT32"), ("account_age_days", "INT32"),
                           ("distance_km", "FP32"), ("merchant_category", "BYTES"),
                           ("card_tier", "BYTES"), ("is_international", "BOOL"),
                           ("transactions_24h", "INT32")],
                 [{"amount": 42.5, "hour": 13, "account_age_days": 812, "distance_km": 3.2,
                   "merchant_category": "grocery", "card_tier": "gold",
                   "is_international": False, "transactions_24h": 2},
                  {"amount": 1899.0, "hour": 3, "account_age_days": 9, "distance_km": None,
                   "merchant_category": "electronics", "card_tier": "basic",
                   "is_international": True, "transactions_24h": 7}])


if __name__ == "__main__":
    ARGS = trainer_args(sys.argv[1:])
    trainer(ARGS) if ARGS is not None else main()
