#!/usr/bin/python3
"""tools/modeld_sklearn.py against scikit-learn itself: small pipelines
(ColumnTransformer, SimpleImputer mean / median / most_frequent / constant,
StandardScaler with and without mean or std, OneHotEncoder with text and
integer categories, drop and handle_unknown='ignore') ending in binary and
multinomial LogisticRegression, LinearRegression and Ridge are trained on
synthetic rows with missing numeric and categorical values, exported into a
temporary repository and served by a real modeld: every output, sent through
V2 (null cells, a feature left out) and TF Serving (keys left out), equals
predict_proba / predict within 1e-6 (regression targets are kept small, so
the FP32 output rounds by less than that). The same artifact without its
`impute` values (a median imputer served as a mean one) is shown to be off.
Pipelines the exporter cannot reproduce are refused with the step and the
reason, and nothing is written.

Needs Debian's python3-sklearn (scripts/deps.sh test installs it); without it
the file says so and runs nothing."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from harness import ROOT, Daemon, expect, expect_error, run

try:
    import joblib
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import (MinMaxScaler, OneHotEncoder, PolynomialFeatures,
                                       StandardScaler)
    from sklearn.tree import DecisionTreeClassifier
except ImportError as e:
    print("skip t2030-sklearn-export: scikit-learn is not installed (%s); "
          "sh scripts/deps.sh test installs python3-sklearn" % e)
    print("0 passed, 0 failed")
    sys.exit(0)

TOOLS = os.path.join(ROOT, "tools")
sys.path.insert(0, TOOLS)
import modeld_sklearn as ms  # noqa: E402

TOL = 1e-6
COLORS = ["red", "green", "blue"]
SIZES = ["S", "M", "L", "XL"]
TIERS = [1, 2, 3]
# Input columns, in order, with their contract datatypes.
FEATURES = [("age", "FP32"), ("visits", "INT32"), ("income", "FP32"), ("score", "FP32"),
            ("color", "BYTES"), ("size", "BYTES"), ("tier", "INT64")]
OPTIONAL = ["age", "visits", "income", "color", "size", "tier"]  # score is never missing


def synthesize(n, seed, p_missing):
    """n rows as an object array (np.nan = missing) and the three targets.
    Every number is an FP32 value, as modeld's prepared columns are."""
    rng = np.random.default_rng(seed)
    age = np.float32(rng.normal(41, 12, n)).astype(np.float64)
    visits = rng.integers(0, 21, n).astype(np.float64)
    income = np.float32(np.round(rng.lognormal(3.5, 0.8, n), 2)).astype(np.float64)  # skewed
    score = np.float32(rng.normal(0, 1, n)).astype(np.float64)
    color = rng.choice(COLORS, n)
    size = rng.choice(SIZES, n, p=[0.2, 0.4, 0.3, 0.1])
    tier = rng.choice(TIERS, n, p=[0.5, 0.3, 0.2])
    s = (0.04 * (age - 41) + 0.08 * (visits - 10) - 0.012 * (income - 45) + 0.7 * score
         + np.select([color == "red", color == "green"], [0.8, -0.4], 0.0)
         + np.select([size == "S", size == "XL"], [-0.6, 0.9], 0.0) + 0.5 * (tier - 2))
    y_bin = (rng.random(n) < 1 / (1 + np.exp(-s))).astype(np.int64)
    y_multi = np.digitize(s + rng.normal(0, 0.5, n), [-0.5, 0.6])
    y_reg = np.clip(0.4 * s + rng.normal(0, 0.2, n), -3.5, 3.5)
    x = np.empty((n, len(FEATURES)), dtype=object)
    for j, v in enumerate([age, visits, income, score]):
        x[:, j] = v
    x[:, 4] = color
    x[:, 5] = size
    x[:, 6] = [int(t) for t in tier]
    for j, (name, _) in enumerate(FEATURES):
        if name in OPTIONAL:
            x[rng.random(n) < p_missing, j] = np.nan
    return x, y_bin, y_multi, y_reg


X, Y_BIN, Y_MULTI, Y_REG = synthesize(400, seed=11, p_missing=0.15)
XT, _, _, _ = synthesize(80, seed=12, p_missing=0.3)
XT[0, [j for j, (n, _) in enumerate(FEATURES) if n in OPTIONAL]] = np.nan  # all missing
XT[1, [j for j, (n, _) in enumerate(FEATURES) if n in OPTIONAL]] = np.nan


def idx(*names):
    return [[n for n, _ in FEATURES].index(name) for name in names]


def num(strategy, **scaler):
    return make_pipeline(SimpleImputer(strategy=strategy), StandardScaler(**scaler))


def binary_pipeline(**lr):
    ct = ColumnTransformer([
        ("age", num("mean"), idx("age")),
        ("visits", num("median"), idx("visits")),
        ("income", num("median"), idx("income")),
        ("score", StandardScaler(), idx("score")),
        ("color", make_pipeline(SimpleImputer(strategy="constant", fill_value="none"),
                                OneHotEncoder()), idx("color")),
        ("size", make_pipeline(SimpleImputer(strategy="most_frequent"),
                               OneHotEncoder(handle_unknown="ignore")), idx("size")),
        ("tier", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()),
         idx("tier"))])
    return make_pipeline(ct, LogisticRegression(C=0.5, max_iter=2000, **lr)).fit(X, Y_BIN)


def multi_pipeline():
    ct = ColumnTransformer([
        ("num", num("median", with_mean=False), idx("age", "visits", "income")),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="none"),
                              OneHotEncoder(drop="first")), idx("color", "size")),
        ("tier", make_pipeline(SimpleImputer(strategy="constant", fill_value=0),
                               OneHotEncoder(handle_unknown="ignore")), idx("tier"))],
        remainder="passthrough")  # score, unscaled
    return make_pipeline(ct, LogisticRegression(multi_class="multinomial", C=1.0,
                                                max_iter=5000)).fit(X, Y_MULTI)


def linreg_pipeline():
    # Imputer and scaler after the ColumnTransformer; tier is dropped (unused).
    ct = ColumnTransformer([
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(sparse_output=False)), idx("color", "size")),
        ("num", "passthrough", idx("age", "visits", "income", "score"))])
    return Pipeline([("prep", ct), ("impute", SimpleImputer(strategy="median")),
                     ("scale", StandardScaler(with_std=False)),
                     ("reg", LinearRegression())]).fit(X, Y_REG)


def ridge_pipeline():
    # Scaler before imputer (the fill is made in scaled units), a weighted
    # transformer, a scaler after the one-hot columns, a constant numeric fill.
    ct = ColumnTransformer([
        ("num", Pipeline([("s", StandardScaler()), ("i", SimpleImputer(strategy="mean"))]),
         idx("age", "income")),
        ("visits", SimpleImputer(strategy="constant", fill_value=3.5), idx("visits")),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(sparse_output=False), StandardScaler()),
         idx("color", "size", "tier"))],
        remainder="passthrough", transformer_weights={"num": 2.0})  # score
    return make_pipeline(ct, Ridge(alpha=3.0)).fit(X, Y_REG)


SPEC = [{"name": "age", "datatype": "FP32", "min": -100, "max": 200},
        {"name": "visits", "datatype": "INT32", "min": 0, "max": 1000,
         "comment": "in the last year"},
        "income", "score", "color", "size", {"name": "tier", "datatype": "INT64"}]


# ---------------------------------------------------------------------------

def cell(v, dtype):
    """A test cell as JSON: None for missing, else the value in the feature's type."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if dtype in ("INT32", "INT64"):
        return int(v)
    if dtype == "BYTES":
        return str(v)
    return float(v)


def contract_features(res):
    """(name, datatype) of the features an export's contract kept."""
    return [f for f in FEATURES if f[0] not in res["unused"]]


def v2_body(features, x, absent=()):
    inputs = []
    for name, dtype in features:
        if name in absent:
            continue
        j = idx(name)[0]
        inputs.append({"name": name, "datatype": dtype, "shape": [len(x), 1],
                       "data": [cell(v, dtype) for v in x[:, j]]})
    return {"inputs": inputs}


def tfs_rows(features, x):
    """Rows as objects; a missing value is left out, except in every third
    row where it is sent as null."""
    rows = []
    for i in range(len(x)):
        r = {}
        for name, dtype in features:
            v = cell(x[i, idx(name)[0]], dtype)
            if v is not None or i % 3 == 0:
                r[name] = v
        rows.append(r)
    return rows


def max_diff(served, want):
    served = np.asarray(served, dtype=np.float64).reshape(np.shape(want))
    return float(np.max(np.abs(served - want)))


def expected(pipe, x, labels):
    """What scikit-learn answers for rows x: P(second class) for a binary
    classifier, one probability per class for more, the prediction for a
    regressor; and the predicted labels (None for a regressor)."""
    if labels is None:
        return pipe.predict(x), None
    p = pipe.predict_proba(x)
    names = [labels[list(pipe.classes_).index(c)] for c in pipe.predict(x)]
    return (p[:, 1] if p.shape[1] == 2 else p), names


def check_served(d, model, features, pipe, x, labels=None):
    """V2 (one request with null cells, one with age left out) and TF Serving
    (keys left out) answers against the pipeline; returns the largest gap."""
    out = "probability" if labels is not None else "prediction"
    x_noage = x.copy()
    x_noage[:, idx("age")[0]] = np.nan
    worst = 0.0
    for body_x, absent in ((x, ()), (x_noage, ("age",))):
        want, want_labels = expected(pipe, body_x, labels)
        st, doc, _ = d.json("POST", "/v2/models/%s/infer" % model,
                            v2_body(features, body_x, absent))
        expect(st == 200, (model, st, doc))
        outs = {o["name"]: o for o in doc["outputs"]}
        gap = max_diff(outs[out]["data"], want)
        expect(gap <= TOL, "%s V2%s: %s differs from scikit-learn by %.3g"
               % (model, " without age" if absent else "", out, gap))
        worst = max(worst, gap)
        if labels is not None:
            expect(outs["label"]["data"] == want_labels, (model, outs["label"]["data"]))
    want, _ = expected(pipe, x, labels)
    st, doc, _ = d.json("POST", "/v1/models/%s:predict" % model,
                        {"instances": tfs_rows(features, x)})
    expect(st == 200, (model, st, doc))
    served = [p[out] if isinstance(p, dict) else p for p in doc["predictions"]]
    gap = max_diff(served, want)
    expect(gap <= TOL, "%s TF Serving: %s differs from scikit-learn by %.3g" % (model, out, gap))
    return max(worst, gap)


def new_repo():
    return tempfile.mkdtemp(prefix="modeld-sklearn-")


# ---------------------------------------------------------------------------

def test_logistic_binary_served_exactly():
    repo = new_repo()
    try:
        pipe = binary_pipeline()
        res = ms.export(pipe, repo, "binary", features=SPEC, labels=["no", "yes"], threshold=0.5)
        # multi_class='multinomial' with two classes is sigmoid(2 s), not sigmoid(s)
        pipe2 = binary_pipeline(multi_class="multinomial")
        ms.export(pipe2, repo, "binary_mn", features=SPEC)
        with Daemon(repo=repo) as d:
            gap = check_served(d, "binary", contract_features(res), pipe, XT, ["no", "yes"])
            gap2 = check_served(d, "binary_mn", contract_features(res), pipe2, XT, ["0", "1"])
            # size's encoder ignores unknown categories, but the contract lists the
            # known ones: an unknown size is refused, never served as all zeros
            x = XT[:1].copy()
            x[0, idx("size")[0]] = "XXL"
            st, doc, _ = d.json("POST", "/v2/models/binary/infer",
                                v2_body(contract_features(res), x))
            expect_error(st, doc, 400, "feature 'size' row 0: unknown category 'XXL'")
        print("    binary: largest gap %.2g, binary multinomial %.2g" % (gap, gap2))
    finally:
        shutil.rmtree(repo, ignore_errors=True)


def test_logistic_multinomial_served_exactly():
    repo = new_repo()
    try:
        pipe = multi_pipeline()
        expect(len(pipe.classes_) == 3, pipe.classes_)
        res = ms.export(pipe, repo, "multi", features=SPEC, labels=["low", "mid", "high"])
        with Daemon(repo=repo) as d:
            gap = check_served(d, "multi", contract_features(res), pipe, XT,
                               ["low", "mid", "high"])
        print("    multinomial: largest gap %.2g" % gap)
    finally:
        shutil.rmtree(repo, ignore_errors=True)


def test_regressions_served_exactly():
    repo = new_repo()
    tmp = new_repo()
    try:
        lin = linreg_pipeline()
        res = ms.export(lin, repo, "linreg", features=SPEC)
        expect(res["unused"] == ["tier"], res)
        ridge = ridge_pipeline()
        # Ridge goes through the command line, from a joblib file and a spec file.
        path = os.path.join(tmp, "ridge.joblib")
        joblib.dump(ridge, path)
        spec = os.path.join(tmp, "spec.json")
        with open(spec, "w") as f:
            json.dump({"features": SPEC, "description": "a ridge regression"}, f)
        p = subprocess.run([sys.executable, os.path.join(TOOLS, "modeld_sklearn.py"), path,
                            "--repo", repo, "--model", "ridge", "--spec", spec],
                           capture_output=True, text=True, timeout=120)
        expect(p.returncode == 0 and "ridge/1/model.json" in p.stdout, (p.returncode, p.stdout,
                                                                         p.stderr))
        expect(np.max(np.abs(lin.predict(XT))) < 4 and np.max(np.abs(ridge.predict(XT))) < 4,
               "regression outputs must stay small for an FP32 output to be within 1e-6")
        with Daemon(repo=repo) as d:
            gap = check_served(d, "linreg", contract_features(res), lin, XT)
            gap2 = check_served(d, "ridge", FEATURES, ridge, XT)
        print("    LinearRegression: largest gap %.2g, Ridge %.2g" % (gap, gap2))
    finally:
        shutil.rmtree(repo, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


def test_contract_and_artifact_carry_the_imputers():
    pipe = binary_pipeline()
    ex = ms.convert(pipe, features=SPEC, labels=["no", "yes"], model="binary")
    art = ex.artifact
    ct = pipe.steps[0][1]
    med = ct.named_transformers_["income"].steps[0][1].statistics_[0]
    mean = ct.named_transformers_["income"].steps[1][1].mean_[0]
    j = art["feature_names"].index("income")
    expect(art["impute"][j] == med, (art["impute"][j], med))
    expect(abs(med - mean) > 5, "income must be skewed for this test to mean anything")
    expect(art["standardize"]["mean"][j] == mean, art["standardize"])
    expect(art["impute"][art["feature_names"].index("score")] is None, art["impute"])
    # color's constant fill 'none' is a category seen in training: its column is 1
    expect("color=none" in art["feature_names"], art["feature_names"])
    ones = [n for n, v in zip(art["feature_names"], art["impute"])
            if n.startswith("color=") and v == 1.0]
    expect(ones == ["color=none"], ones)
    text = ex.model_yaml
    for frag in ["name: binary", "labels: [\"no\", \"yes\"]",
                 "  - name: score\n    datatype: FP32\n  - name",  # required: no missing line
                 "categories: [blue, green, none, red]", "categories: [1, 2, 3]",
                 "datatype: INT64", "# missing: SimpleImputer(strategy='median'): ",
                 "# in the last year", "    min: 0\n    max: 1000"]:
        expect(frag in text, "model.yaml lacks %r:\n%s" % (frag, text))
    expect(text.count("required: false") == 6, text)
    # the multinomial model: drop='first' keeps the dropped category's column, weight 0
    mex = ms.convert(multi_pipeline(), features=SPEC)
    m = mex.artifact
    k = m["feature_names"].index("color=blue")
    expect(all(row[k] == 0.0 for row in m["weights"]), m["weights"])
    expect(m["kind"] == "multinomial" and m["classes"] == 3, m["kind"])


def test_without_impute_a_median_is_served_as_a_mean():
    """The artifact as written before `impute`: the engine reads a missing
    income as the scaler's mean, not the imputer's median, and is off."""
    repo = new_repo()
    try:
        pipe = binary_pipeline()
        res = ms.export(pipe, repo, "binary", features=SPEC)
        art_path = res["artifact"]
        with open(art_path) as f:
            art = json.load(f)
        del art["impute"]
        mdir = os.path.join(repo, "old")
        os.makedirs(os.path.join(mdir, "1"))
        with open(res["model_yaml"]) as f:
            text = f.read().replace("name: binary\n", "name: old\n")
        with open(os.path.join(mdir, "model.yaml"), "w") as f:
            f.write(text)
        with open(os.path.join(mdir, "1", "model.json"), "w") as f:
            json.dump(art, f)
        # rows whose only missing value is income
        x = XT[2:].copy()
        keep = np.array([all(not (isinstance(v, float) and np.isnan(v)) for v in r) for r in x])
        x = x[keep][:20]
        expect(len(x) >= 5, len(x))
        x[:, idx("income")[0]] = np.nan
        want = pipe.predict_proba(x)[:, 1]
        feats = contract_features(res)
        with Daemon(repo=repo) as d:
            st, new, _ = d.json("POST", "/v2/models/binary/infer", v2_body(feats, x))
            expect(st == 200, new)
            st, old, _ = d.json("POST", "/v2/models/old/infer", v2_body(feats, x))
            expect(st == 200, old)
        gap_new = max_diff(new["outputs"][0]["data"], want)
        gap_old = max_diff(old["outputs"][0]["data"], want)
        expect(gap_new <= TOL, gap_new)
        expect(gap_old > 1e-3, "without impute the gap is only %.3g" % gap_old)
        print("    a missing income: %.2g with impute, %.3f without" % (gap_new, gap_old))
    finally:
        shutil.rmtree(repo, ignore_errors=True)


def refused(build, fragment, features=None, **kw):
    repo = new_repo()
    try:
        try:
            ms.export(build(), repo, "m", features=features if features is not None else SPEC,
                      **kw)
        except ms.ExportError as e:
            expect(fragment in str(e), "error %r lacks %r" % (str(e), fragment))
            expect(os.listdir(repo) == [], "a refused export wrote %s" % os.listdir(repo))
            return str(e)
        raise AssertionError("not refused; expected %r" % fragment)
    finally:
        shutil.rmtree(repo, ignore_errors=True)


def numeric_only(est, *steps, y=Y_BIN, cols=("age", "income")):
    ct = ColumnTransformer([("num", make_pipeline(*steps), idx(*cols))])
    return lambda: make_pipeline(ct, est).fit(X, y)


def test_unsupported_pipelines_are_refused():
    lr = LogisticRegression(max_iter=2000)
    cases = [
        (numeric_only(lr, SimpleImputer(), PolynomialFeatures()),
         "num (Pipeline) > polynomialfeatures (PolynomialFeatures): not supported"),
        (numeric_only(lr, SimpleImputer(), MinMaxScaler()), "(MinMaxScaler): not supported"),
        (numeric_only(lr, SimpleImputer(add_indicator=True)), "add_indicator=True"),
        (numeric_only(lr, SimpleImputer(missing_values=-1.0), cols=("score",)),
         "missing_values=-1.0"),
        (lambda: make_pipeline(ColumnTransformer([
            ("c", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                OneHotEncoder(min_frequency=60)), idx("size"))]), lr).fit(X, Y_BIN),
         "grouped as infrequent"),
        (lambda: make_pipeline(ColumnTransformer([("c", OneHotEncoder(), idx("color"))]),
                               lr).fit(X, Y_BIN),
         "put a SimpleImputer before the encoder"),
        (numeric_only(LogisticRegression(multi_class="ovr", max_iter=2000), SimpleImputer(),
                      y=Y_MULTI), "one-vs-rest"),
        (numeric_only(LogisticRegression(solver="liblinear"), SimpleImputer(), y=Y_MULTI),
         "one-vs-rest (multi_class='auto', solver='liblinear')"),
        (numeric_only(DecisionTreeClassifier(random_state=0), SimpleImputer()),
         "decisiontreeclassifier (DecisionTreeClassifier): not supported as the last step"),
        (numeric_only(LinearRegression(), SimpleImputer(), y=np.column_stack([Y_REG, Y_REG])),
         "predicts 2 targets"),
        (lambda: make_pipeline(ColumnTransformer([
            ("a", SimpleImputer(), idx("age")), ("b", num("median"), idx("age"))]),
            lr).fit(X, Y_BIN), "feature 'age' reaches"),
        (lambda: make_pipeline(ColumnTransformer([
            ("a", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()),
             idx("color")),
            ("b", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()),
             idx("color"))]), lr).fit(X, Y_BIN), "feature 'color' is encoded twice"),
        (lambda: make_pipeline(ColumnTransformer([
            ("n", StandardScaler(), idx("score")),
            ("c", make_pipeline(SimpleImputer(strategy="most_frequent"), StandardScaler(),
                                ), idx("visits"))]), lr).fit(X, Y_BIN),
         None),  # supported: a control case
    ]
    for build, fragment in cases:
        if fragment is None:
            ms.convert(build(), features=SPEC)
            continue
        refused(build, fragment)
    # a feature that no imputer fills cannot be optional
    msg = refused(numeric_only(lr, StandardScaler(), cols=("score",)),
                  "feature 'score': required=False, but no imputer fills it",
                  features=SPEC[:3] + [{"name": "score", "required": False}] + SPEC[4:])
    expect("logisticregression" in msg, msg)
    # a column missing in every training row
    x = X.copy()
    x[:, idx("age")[0]] = np.nan
    expect("missing in every row at fit" in refused(
        lambda: make_pipeline(ColumnTransformer([("n", SimpleImputer(), idx("age", "income"))]),
                              LogisticRegression()).fit(x, Y_BIN), "feature 'age'"), "")
    # the spec must describe the pipeline's input columns
    refused(binary_pipeline, "features: 2 given, but the pipeline was fitted on 7 columns",
            features=["a", "b"])
    refused(binary_pipeline, "unknown key 'categories'",
            features=[{"name": "age", "categories": ["x"]}] + SPEC[1:])
    refused(binary_pipeline, "feature 'color': datatype 'INT64' for text categories",
            features=SPEC[:4] + [{"name": "color", "datatype": "INT64"}] + SPEC[5:])
    refused(binary_pipeline, "labels: 3 given for the 2 classes", labels=["a", "b", "c"])


def test_export_keeps_versions_and_contract():
    repo = new_repo()
    try:
        pipe = binary_pipeline()
        r1 = ms.export(pipe, repo, "b", features=SPEC)
        r2 = ms.export(pipe, repo, "b", features=SPEC)  # same contract: a new version
        expect((r1["version"], r2["version"]) == (1, 2), (r1, r2))
        try:
            ms.export(pipe, repo, "b", features=SPEC, version=2)
            raise AssertionError("an existing version was overwritten")
        except ms.ExportError as e:
            expect("versions are immutable" in str(e), str(e))
        try:
            ms.export(multi_pipeline(), repo, "b", features=SPEC)
            raise AssertionError("a different contract replaced model.yaml")
        except ms.ExportError as e:
            expect("exists with a different contract" in str(e), str(e))
        expect(sorted(os.listdir(os.path.join(repo, "b"))) == ["1", "2", "model.yaml"],
               os.listdir(os.path.join(repo, "b")))
        # the command line: a refusal is exit 1 and names the step
        path = os.path.join(repo, "bad.joblib")
        joblib.dump(numeric_only(LogisticRegression(), SimpleImputer(add_indicator=True))(), path)
        p = subprocess.run([sys.executable, os.path.join(TOOLS, "modeld_sklearn.py"), path,
                            "--repo", repo, "--model", "bad", "--spec", "/dev/null"],
                           capture_output=True, text=True, timeout=120)
        expect(p.returncode == 1 and p.stderr.startswith("modeld_sklearn: /dev/null: not JSON"),
               (p.returncode, p.stderr))
        spec = os.path.join(repo, "spec.json")
        with open(spec, "w") as f:
            json.dump({"features": SPEC}, f)
        p = subprocess.run([sys.executable, os.path.join(TOOLS, "modeld_sklearn.py"), path,
                            "--repo", repo, "--model", "bad", "--spec", spec],
                           capture_output=True, text=True, timeout=120)
        expect(p.returncode == 1 and "add_indicator=True" in p.stderr, (p.returncode, p.stderr))
        expect(not os.path.exists(os.path.join(repo, "bad")), os.listdir(repo))
    finally:
        shutil.rmtree(repo, ignore_errors=True)


if __name__ == "__main__":
    run([test_logistic_binary_served_exactly, test_logistic_multinomial_served_exactly,
         test_regressions_served_exactly, test_contract_and_artifact_carry_the_imputers,
         test_without_impute_a_median_is_served_as_a_mean, test_unsupported_pipelines_are_refused,
         test_export_keeps_versions_and_contract])
