#!/usr/bin/python3
"""Writes the small XGBoost models the engine tests use into tests/data/models/.
Deterministic. Needs Debian's python3-xgboost and python3-numpy.
Usage: /usr/bin/python3 tests/data/make_models.py"""
import os

import numpy as np
import xgboost as xgb

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(11)
n, d = 600, 5
X = rng.normal(size=(n, d)).astype(np.float32)
X[rng.random((n, d)) < 0.1] = np.nan
z = np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) * 0.5 - np.nan_to_num(X[:, 2]) ** 2


def save(params, label, name, rounds=12, **dm):
    dmat = xgb.DMatrix(X if "data" not in dm else dm.pop("data"), label=label, **dm)
    params = dict(params, nthread=1, seed=3, max_depth=4)
    xgb.train(params, dmat, num_boost_round=rounds).save_model(os.path.join(OUT, name))


save({"objective": "multi:softprob", "num_class": 3}, np.digitize(z, [-0.5, 0.5]), "softprob.json")
save({"objective": "reg:squarederror", "base_score": 2.5}, z * 3 + 2.5, "regression.json")
save({"objective": "binary:logistic", "base_score": 0.3}, (z > 0).astype(np.float32),
     "logistic_base.json")
save({"objective": "binary:logitraw"}, (z > 0).astype(np.float32), "logitraw.json")
save({"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.1},
     (z > 0).astype(np.float32), "dart.json", rounds=4)
Xc = X.copy()
Xc[:, 0] = rng.integers(0, 4, size=n)
save({"objective": "binary:logistic", "tree_method": "hist", "max_cat_to_onehot": 1},
     (Xc[:, 0] > 1).astype(np.float32), "categorical.json", rounds=3, data=Xc,
     feature_types=["c", "q", "q", "q", "q"], enable_categorical=True)
# Reference rows: the features (empty = missing) and libxgboost's outputs, per model.
for name in ("softprob", "regression", "logistic_base", "logitraw", "dart", "categorical"):
    b = xgb.Booster(model_file=os.path.join(OUT, name + ".json"))
    rows = Xc[:50] if name == "categorical" else X[:50]
    p = b.predict(xgb.DMatrix(rows, missing=np.nan,
                              feature_types=["c", "q", "q", "q", "q"] if name == "categorical" else None,
                              enable_categorical=name == "categorical"))
    p = p.reshape(len(rows), -1)
    with open(os.path.join(OUT, name + ".csv"), "w") as f:
        for r, out in zip(rows, p):
            f.write(",".join("" if np.isnan(v) else repr(float(v)) for v in r) + ";" +
                    ",".join(repr(float(v)) for v in out) + "\n")
