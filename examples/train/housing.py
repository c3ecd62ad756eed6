#!/usr/bin/python3
"""House-price regression: gradient-boosted trees (XGBoost, reg:squarederror)
on synthetic sales, price in thousands. Served by the native `trees` engine.
Deterministic. Needs Debian's python3-xgboost and python3-numpy.
Usage: /usr/bin/python3 examples/train/housing.py"""
import os

import numpy as np
import xgboost as xgb

from common import version_dir, write_sample

HOODS = ["downtown", "suburb", "rural", "waterfront"]
COLUMNS = (["sqft", "bedrooms", "bathrooms", "age_years", "lot_size_sqft"] +
           ["neighborhood=" + h for h in HOODS])


def main():
    rng = np.random.default_rng(42)
    n = 20000
    sqft = rng.normal(1800, 600, n).clip(300, 12000)
    bedrooms = np.clip(np.round(sqft / 600 + rng.normal(0, 0.8, n)), 0, 10)
    bathrooms = np.clip(np.round(bedrooms * 0.6 + rng.normal(0, 0.5, n)) / 1.0, 1, 8)
    age = rng.integers(0, 120, n)
    lot = rng.lognormal(8.5, 0.6, n)
    lot[rng.random(n) < 0.2] = np.nan                # unknown for condos
    hood = rng.choice(len(HOODS), n, p=[0.25, 0.45, 0.2, 0.1])
    base = np.array([420.0, 300.0, 180.0, 650.0])[hood]
    price = (base + 0.16 * sqft + 12 * bathrooms - 1.1 * age + 0.004 * np.nan_to_num(lot, nan=3000)
             + rng.normal(0, 25, n))
    X = np.column_stack([sqft, bedrooms, bathrooms, age, lot, np.eye(len(HOODS))[hood]])
    X = X.astype(np.float32)
    dtrain = xgb.DMatrix(X, label=price, feature_names=COLUMNS, missing=np.nan)
    params = {"objective": "reg:squarederror", "max_depth": 6, "eta": 0.1, "tree_method": "hist",
              "nthread": 1, "seed": 7}
    xgb.train(params, dtrain, num_boost_round=150).save_model(
        os.path.join(version_dir("housing", 1), "model.json"))
    rows = [{"sqft": float(X[i, 0]), "bedrooms": int(X[i, 1]), "bathrooms": float(X[i, 2]),
             "age_years": int(X[i, 3]), "lot_size_sqft": None if np.isnan(X[i, 4]) else float(X[i, 4]),
             "neighborhood": HOODS[hood[i]]} for i in range(2)]
    write_sample("housing", [("sqft", "FP32"), ("bedrooms", "INT32"), ("bathrooms", "FP32"),
                             ("age_years", "INT32"), ("lot_size_sqft", "FP32"),
                             ("neighborhood", "BYTES")], rows)
    print("housing: mean price %.1f k, version 1 written" % price.mean())


if __name__ == "__main__":
    main()
