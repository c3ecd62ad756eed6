#!/usr/bin/python3
"""Iris species: a three-class XGBoost model (multi:softprob) on the iris data
set that scikit-learn ships, served by the `xgboost` engine (libxgboost).
Deterministic. Needs Debian's python3-xgboost and python3-sklearn.
Usage: /usr/bin/python3 examples/train/iris.py"""
import os

import numpy as np
import xgboost as xgb
from sklearn.datasets import load_iris

from common import version_dir, write_sample

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def main():
    data = load_iris()
    X = data.data.astype(np.float32)
    y = data.target
    dtrain = xgb.DMatrix(X, label=y, feature_names=COLUMNS)
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "eta": 0.3,
              "nthread": 1, "seed": 7}
    xgb.train(params, dtrain, num_boost_round=20).save_model(
        os.path.join(version_dir("iris", 1), "model.json"))
    rows = [dict(zip(COLUMNS, map(float, X[i]))) for i in (0, 100)]
    write_sample("iris", [(c, "FP32") for c in COLUMNS], rows)
    print("iris: version 1 written")


if __name__ == "__main__":
    main()
