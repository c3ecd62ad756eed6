#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""House prices: XGBoost reg:squarederror on synthetic home sales, served by
modeld's native trees engine. The target is the sale price in thousands.

Writes examples/repo/housing/1/model.json, examples/data/housing_check.csv and
examples/data/housing_sample.json. Deterministic: fixed seeds, one thread.
Run: /usr/bin/python3 examples/train/housing.py

As an external trainer of modeld (docs/improve.md#external-trainers), with
`--trainer`: the same recipe on a training set modeld exported; model.json
and profile.json go into the output directory (common.trainer_args).
"""
import os
import sys

import numpy as np
import xgboost as xgb

from common import (as_fp32, onehot, prepared_columns, read_set, trainer_args, trainer_finish,
                    version_dir, write_check, write_profile, write_sample)

PARAMS = {"objective": "reg:squarederror", "max_depth": 5, "eta": 0.1, "min_child_weight": 5,
          "tree_method": "hist", "seed": 7, "nthread": 1, "verbosity": 0}

NEIGHBORHOODS = ["downtown", "suburb", "rural", "waterfront"]
NEIGHBORHOOD_P = [0.25, 0.45, 0.22, 0.08]
PRICE_PER_KSQFT = {"downtown": 390.0, "suburb": 260.0, "rural": 150.0, "waterfront": 520.0}

# Prepared columns, in model.yaml's feature order.
COLUMNS = (["sqft", "bedrooms", "bathrooms", "age_years", "lot_size_sqft", "garage_spaces"]
           + ["neighborhood=" + n for n in NEIGHBORHOODS])


def synthesize(n, seed):
    """n sales: prepared columns and the price in thousands."""
    rng = np.random.default_rng(seed)
    hood = rng.choice(NEIGHBORHOODS, size=n, p=NEIGHBORHOOD_P)
    sqft = np.round(np.clip(np.exp(rng.normal(7.45, 0.38, size=n))
                            * np.where(hood == "downtown", 0.7, 1.0), 350, 12000), -1)
    bedrooms = np.clip(np.round(sqft / 600 + rng.normal(0, 0.7, size=n)), 0, 9)
    bathrooms = np.clip(np.round(2 * (bedrooms * 0.6 + rng.normal(0.4, 0.4, size=n))) / 2,
                        1, 7)
    age = np.clip(np.round(rng.gamma(2.0, 16, size=n)), 0, 150)
    lot = np.round(np.where(hood == "rural", rng.lognormal(10.2, 0.6, size=n),
                            rng.lognormal(8.7, 0.5, size=n)), -1)
    garage = np.where(hood == "downtown", rng.choice(3, size=n, p=[0.6, 0.3, 0.1]),
                      rng.choice(4, size=n, p=[0.1, 0.3, 0.5, 0.1]))

    price = (np.array([PRICE_PER_KSQFT[h] for h in hood]) * (sqft / 1000) ** 0.9
             * (1 - 0.0035 * np.minimum(age, 80)) + 12 * bathrooms + 9 * garage
             + 18 * np.log1p(lot / 5000))
    price = np.round(price * rng.lognormal(0, 0.1, size=n), 1)
    # Downtown condos have no lot of their own; other records just lack it.
    lot[(hood == "downtown") | (rng.random(n) < 0.1)] = np.nan

    x = np.column_stack([sqft, bedrooms, bathrooms, age, lot, garage,
                         onehot(hood, NEIGHBORHOODS)])
    return as_fp32(x), price


def main():
    x, y = synthesize(20000, seed=31)
    x_test, y_test = synthesize(4000, seed=32)
    dtrain = xgb.DMatrix(x, label=y, missing=np.nan, feature_names=COLUMNS)
    params = dict(PARAMS, base_score=float(np.mean(y)))
    bst = xgb.train(params, dtrain, num_boost_round=120)
    path = os.path.join(version_dir("housing", 1), "model.json")
    bst.save_model(path)

    def predict(rows):
        return bst.predict(xgb.DMatrix(rows, missing=np.nan, feature_names=COLUMNS))

    rmse = float(np.sqrt(np.mean((predict(x_test) - y_test) ** 2)))
    print("housing v1: %d trees, test RMSE %.1f (thousands; mean price %.1f), %d bytes"
          % (bst.num_boosted_rounds(), rmse, y_test.mean(), os.path.getsize(path)))

    write_profile("housing", 1, COLUMNS, x, predict(x), {"test_rmse": round(rmse, 3)})

    xc = x_test[:50]
    write_check("housing", COLUMNS, xc, {"v1:prediction": predict(xc)})

    write_sample("housing", [("sqft", "FP32"), ("bedrooms", "INT32"), ("bathrooms", "FP32"),
                             ("age_years", "INT32"), ("lot_size_sqft", "FP32"),
                             ("garage_spaces", "INT32"), ("neighborhood", "BYTES")],
                 [{"sqft": 1850, "bedrooms": 3, "bathrooms": 2, "age_years": 12,
                   "lot_size_sqft": 6500, "garage_spaces": 2, "neighborhood": "suburb"},
                  {"sqft": 920, "bedrooms": 1, "bathrooms": 1, "age_years": 45,
                   "lot_size_sqft": None, "garage_spaces": None, "neighborhood": "downtown"}])


def trainer(args):
    """The recipe above (--params override it; num_round its rounds) on the
    exported set, weighted as modeld weighted its rows."""
    columns = prepared_columns(args.contract)
    _, x, y, w = read_set(args.train, args.contract)
    params = dict(PARAMS, base_score=float(np.average(y, weights=w)))
    params.update(args.params)
    rounds = int(params.pop("num_round", 120))
    bst = xgb.train(params, xgb.DMatrix(x, label=y, weight=w, missing=np.nan,
                                        feature_names=columns), num_boost_round=rounds)
    bst.save_model(os.path.join(args.output, "model.json"))

    def predict(rows):
        return bst.predict(xgb.DMatrix(rows, missing=np.nan, feature_names=columns))

    quality = {}
    if args.holdout:
        _, xh, yh, _ = read_set(args.holdout, args.contract)
        if len(yh):
            quality["holdout_rmse"] = round(float(np.sqrt(np.mean((predict(xh) - yh) ** 2))), 3)
    trainer_finish(args, columns, x, predict(x), quality)


if __name__ == "__main__":
    ARGS = trainer_args(sys.argv[1:])
    trainer(ARGS) if ARGS is not None else main()
