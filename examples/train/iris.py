#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Iris species: XGBoost multi:softprob (three classes) on the iris data set
that scikit-learn ships (no download), served by libxgboost itself through
modeld's xgboost engine.

Writes examples/repo/iris/1/model.json, examples/data/iris_check.csv and
examples/data/iris_sample.json. Deterministic: fixed seeds, one thread.
Run: /usr/bin/python3 examples/train/iris.py

As an external trainer of modeld (docs/improve.md#external-trainers), with
`--trainer`: the same recipe on a training set modeld exported; model.json
and profile.json go into the output directory (common.trainer_args).
"""
import os
import sys

import numpy as np
import xgboost as xgb
from sklearn.datasets import load_iris

from common import (as_fp32, prepared_columns, read_set, trainer_args, trainer_finish,
                    version_dir, write_check, write_profile, write_sample)

LABELS = ["setosa", "versicolor", "virginica"]
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]  # centimetres
PARAMS = {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "eta": 0.3,
          "tree_method": "hist", "seed": 7, "nthread": 1, "verbosity": 0}


def main():
    iris = load_iris()
    assert list(iris.target_names) == LABELS
    x = as_fp32(iris.data)
    y = iris.target
    # Every third flower is held out: 50 rows, all three species.
    test = np.arange(len(y)) % 3 == 0
    dtrain = xgb.DMatrix(x[~test], label=y[~test], feature_names=COLUMNS)
    params = dict(PARAMS)
    bst = xgb.train(params, dtrain, num_boost_round=25)
    path = os.path.join(version_dir("iris", 1), "model.json")
    bst.save_model(path)

    xc = x[test]
    proba = bst.predict(xgb.DMatrix(xc, feature_names=COLUMNS))
    accuracy = float(np.mean(proba.argmax(axis=1) == y[test]))
    print("iris v1: %d trees, held-out accuracy %.3f, %d bytes"
          % (bst.num_boosted_rounds() * 3, accuracy, os.path.getsize(path)))
    xt = x[~test]
    write_profile("iris", 1, COLUMNS, xt, bst.predict(xgb.DMatrix(xt, feature_names=COLUMNS)),
                  {"held_out_accuracy": round(accuracy, 4)})
    write_check("iris", COLUMNS, xc,
                {"v1:probability[%s]" % label: proba[:, k] for k, label in enumerate(LABELS)})

    write_sample("iris", [(c, "FP32") for c in COLUMNS],
                 [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,
                   "petal_width": 0.2},
                  {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2,
                   "petal_width": 2.3}])


def trainer(args):
    """The recipe above (--params override it; num_round its rounds) on the
    exported set, weighted as modeld weighted its rows."""
    columns = prepared_columns(args.contract)
    _, x, y, w = read_set(args.train, args.contract)
    params = dict(PARAMS, num_class=len(args.contract["labels"]))
    params.update(args.params)
    rounds = int(params.pop("num_round", 25))
    bst = xgb.train(params, xgb.DMatrix(x, label=y, weight=w, feature_names=columns),
                    num_boost_round=rounds)
    bst.save_model(os.path.join(args.output, "model.json"))

    def predict(rows):
        return bst.predict(xgb.DMatrix(rows, missing=np.nan, feature_names=columns))

    quality = {}
    if args.holdout:
        _, xh, yh, _ = read_set(args.holdout, args.contract)
        if len(yh):
            quality["holdout_accuracy"] = round(float(np.mean(predict(xh).argmax(axis=1) == yh)),
                                                4)
    trainer_finish(args, columns, x, predict(x), quality)


if __name__ == "__main__":
    ARGS = trainer_args(sys.argv[1:])
    trainer(ARGS) if ARGS is not None else main()
