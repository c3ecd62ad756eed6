#!/usr/bin/python3
"""Training sets and reference results for the engines' train operations
(tests/unit/test_train.c). Deterministic; run from the repository root with
Debian's python3-xgboost, python3-sklearn and python3-numpy:

    /usr/bin/python3 tests/data/train/make_train.py

Each <case>.csv holds one row per line: the 5 features (empty = missing),
the label, the weight, then the reference outputs for that row of a model
trained by the Python package on the whole file:

- xgb_*: XGBoost trained with the parameters of XGB_CASES (nthread 1), its
  predictions (one column, or one per class);
- xgb_parent: XGBoost trained with what modeld takes from the parent
  tests/data/models/binary.json (its objective, depth 3, 4 rounds);
- lin_*: scikit-learn's StandardScaler then Ridge / LogisticRegression (C =
  1 / l2, multinomial for 3 classes) on the rows with missing values filled
  by the column's mean; outputs: the prediction (predict, or predict_proba's
  P(class 1), or one per class). lin_coef.csv: per case, the coefficients
  on the standardised columns and the intercepts, one line per class.

contribs_<model>.csv: the rows of tests/data/models/<model>.csv, then the
Python package's pred_contribs for them (per output group, one value per
feature, then the bias).
"""
import os
import numpy as np
import xgboost as xgb
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

OUT = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(17)
N, D = 300, 5


def data(missing=0.1):
    X = rng.normal(size=(N, D)).astype(np.float32)
    X[:, 2] = X[:, 2] * 40 + 100  # a column on another scale
    X[rng.random((N, D)) < missing] = np.nan
    w = rng.uniform(0.5, 2.0, size=N).astype(np.float32)
    return X, w


X, W = data()
Z = np.nan_to_num(X)
LABELS = {
    "binary": ((Z[:, 0] + Z[:, 1] * Z[:, 3] + 0.5 * rng.normal(size=N)) > 0).astype(np.float32),
    "multiclass": np.digitize(Z[:, 0] + 0.5 * Z[:, 4] + 0.3 * rng.normal(size=N),
                              [-0.5, 0.5]).astype(np.float32),
    "regression": (3 * Z[:, 0] - Z[:, 3] ** 2 + 0.02 * Z[:, 2] +
                   0.1 * rng.normal(size=N)).astype(np.float32),
}
NAMES = ["amount", "age", "score", "days", "ratio"]

XGB_CASES = {
    "binary": {"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "subsample": 0.8,
               "num_round": 12},
    "multiclass": {"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "eta": 0.5,
                   "num_round": 6},
    "regression": {"objective": "reg:squarederror", "max_depth": 4, "eta": 0.2,
                   "colsample_bytree": 0.6, "num_round": 15},
}


def write(name, outputs, case=None):
    with open(os.path.join(OUT, name + ".csv"), "w") as f:
        for row, y, w, out in zip(X, LABELS[case or name.split("_")[1]], W, outputs):
            f.write(",".join("" if np.isnan(v) else repr(float(v)) for v in row))
            f.write(",%r,%r," % (float(y), float(w)))
            f.write(",".join(repr(float(v)) for v in np.atleast_1d(out)) + "\n")


def xgb_train(params, y):
    p = {"tree_method": "hist", "seed": 0, "nthread": 1}
    p.update(params)
    rounds = p.pop("num_round")
    dm = xgb.DMatrix(X, label=y, weight=W, feature_names=NAMES, missing=np.nan)
    b = xgb.train(p, dm, num_boost_round=rounds)
    return b.predict(dm).reshape(N, -1)


def main():
    for case, params in XGB_CASES.items():
        write("xgb_" + case, xgb_train(params, LABELS[case]))
    write("xgb_parent", xgb_train({"objective": "binary:logistic", "base_score": 0.5,
                                   "max_depth": 3, "num_round": 4}, LABELS["binary"]), "binary")
    coefs = []
    for case, kind in (("regression", "linear"), ("binary", "logistic"),
                       ("multiclass", "multinomial")):
        mean = np.nanmean(X.astype(np.float64), axis=0)
        F = np.where(np.isnan(X), mean, X.astype(np.float64))
        s = StandardScaler().fit(F)
        S = s.transform(F)
        y = LABELS[case]
        if kind == "linear":
            m = Ridge(alpha=1.0).fit(S, y, sample_weight=W)
            out = m.predict(S)
            coefs.append([case] + list(m.coef_) + [m.intercept_])
        else:
            multi = "multinomial" if kind == "multinomial" else "auto"
            m = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000,
                                   multi_class=multi).fit(S, y, sample_weight=W)
            out = m.predict_proba(S)
            if kind == "logistic":
                out = out[:, 1]
            for k in range(m.coef_.shape[0]):
                coefs.append([case] + list(m.coef_[k]) + [m.intercept_[k]])
        write("lin_" + case, out)
    with open(os.path.join(OUT, "lin_coef.csv"), "w") as f:
        for c in coefs:
            f.write(c[0] + "," + ",".join(repr(float(v)) for v in c[1:]) + "\n")
    contribs()


def contribs():
    """contribs_<model>.csv: rows of tests/data/models/<model>.csv (features), then
    libxgboost's pred_contribs for them (per group: one per feature, then the bias)."""
    models = os.path.join(os.path.dirname(OUT), "models")
    for name in ("binary", "multiclass", "regression"):
        b = xgb.Booster(model_file=os.path.join(models, name + ".json"))
        rows = np.genfromtxt(os.path.join(models, name + ".csv"), delimiter=",")[:, :D]
        c = b.predict(xgb.DMatrix(rows.astype(np.float32), missing=np.nan,
                                  feature_names=b.feature_names),
                      pred_contribs=True).reshape(len(rows), -1)
        with open(os.path.join(OUT, "contribs_" + name + ".csv"), "w") as f:
            for row, cr in zip(rows, c):
                f.write(",".join("" if np.isnan(v) else repr(float(v)) for v in row))
                f.write("," + ",".join(repr(float(v)) for v in cr) + "\n")


if __name__ == "__main__":
    main()
