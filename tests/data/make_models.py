#!/usr/bin/python3
"""Small XGBoost 1.7 JSON models for the engine tests, with reference
predictions from the Python package. Deterministic; run from the repository
root with Debian's python3-xgboost and python3-numpy:

    /usr/bin/python3 tests/data/make_models.py

Writes tests/data/models/<name>.json, the same model as UBJSON in
<name>.ubj (XGBoost's binary JSON: the tests check that both forms load to
the same outputs) and, for models with reference rows, <name>.csv: the input
features (empty = missing) then the Python package's outputs for that row
(one column, or one per class)."""
import os
import numpy as np
import xgboost as xgb

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")
rng = np.random.default_rng(11)


def data(n, d, missing=0.1):
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[rng.random((n, d)) < missing] = np.nan
    return X


def save(name, booster, X=None, **dm):
    booster.save_model(os.path.join(OUT, name + ".json"))
    booster.save_model(os.path.join(OUT, name + ".ubj"))
    if X is None:
        return
    p = booster.predict(xgb.DMatrix(X, **dm))
    p = p.reshape(len(X), -1)
    with open(os.path.join(OUT, name + ".csv"), "w") as f:
        for row, pr in zip(X, p):
            f.write(",".join("" if np.isnan(v) else repr(float(v)) for v in row))
            f.write("," + ",".join(repr(float(v)) for v in pr) + "\n")


def train(params, X, y, rounds, **dm):
    base = {"max_depth": 3, "eta": 0.3, "tree_method": "hist", "nthread": 1, "seed": 3}
    base.update(params)
    return xgb.train(base, xgb.DMatrix(X, label=y, **dm), num_boost_round=rounds)


def main():
    os.makedirs(OUT, exist_ok=True)
    d = 5
    X = data(400, d)
    Z = np.nan_to_num(X)
    y_bin = (Z[:, 0] + Z[:, 1] * Z[:, 2] > 0).astype(np.float32)
    y_reg = (3 * Z[:, 0] - Z[:, 3] ** 2 + 0.1 * rng.normal(size=len(Z))).astype(np.float32)
    y_cls = (np.digitize(Z[:, 0] + 0.5 * Z[:, 4], [-0.5, 0.5])).astype(np.float32)
    T = data(60, d)
    names = ["amount", "age", "score", "days", "ratio"]

    save("binary", train({"objective": "binary:logistic"}, X, y_bin, 4, feature_names=names), T,
         feature_names=names)
    save("binary_base", train({"objective": "binary:logistic", "base_score": 0.3}, X, y_bin, 3), T)
    save("regression", train({"objective": "reg:squarederror", "base_score": 0.25}, X, y_reg, 5), T)
    save("multiclass", train({"objective": "multi:softprob", "num_class": 3}, X, y_cls, 4), T)
    save("forest", train({"objective": "binary:logistic", "num_parallel_tree": 3,
                          "subsample": 0.8, "colsample_bynode": 0.8}, X, y_bin, 2), T)
    save("deep", train({"objective": "reg:squarederror", "grow_policy": "lossguide",
                        "max_depth": 0, "max_leaves": 24}, X, y_reg, 2), T)
    save("stump", train({"objective": "reg:squarederror", "max_depth": 1}, X, y_reg, 2), T)
    # Run by the xgboost engine only.
    save("reg_logistic", train({"objective": "reg:logistic"}, X, y_bin, 2), T)
    save("dart", train({"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.1}, X, y_bin, 3), T)
    save("gblinear", train({"objective": "reg:squarederror", "booster": "gblinear"}, X, y_reg, 3), T)
    # Refused by both engines (output not mappable).
    save("softmax", train({"objective": "multi:softmax", "num_class": 3}, X, y_cls, 2))
    # Categorical splits: refused by trees.
    Xc = X.copy()
    Xc[:, 4] = rng.integers(0, 4, size=len(Xc)).astype(np.float32)
    y_c = ((Xc[:, 4] == 1) | (Xc[:, 4] == 3)).astype(np.float32)
    save("categorical", train({"objective": "binary:logistic", "max_cat_to_onehot": 1}, Xc, y_c, 2,
                              feature_types=["q", "q", "q", "q", "c"], enable_categorical=True))


if __name__ == "__main__":
    main()
