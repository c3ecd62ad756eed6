#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""modeld_sklearn: exports a fitted scikit-learn pipeline to a modeld
repository, as REPO/<model>/model.yaml (the contract: features, types,
categories, which features may be missing) and REPO/<model>/<version>/model.json
(a modeld-linear artifact, docs/linear.md), so that modeld serves exactly what
the pipeline's predict_proba / predict computes, missing values included.

What it exports (anything else is refused with an ExportError that names the
step and the reason; see docs/linear.md, "Exporting from scikit-learn"):

- Pipeline and ColumnTransformer (transformers, 'passthrough', 'drop',
  remainder 'drop', 'passthrough' or a transformer, transformer_weights > 0),
  nested in any order;
- SimpleImputer (any strategy; missing_values NaN or None; no add_indicator);
  its statistics_ become the artifact's per-column `impute` values;
- StandardScaler (with or without mean, with or without std);
- OneHotEncoder (string or integer categories, handle_unknown 'error' or
  'ignore', any drop; no infrequent-category grouping);
- as the last step: LogisticRegression (binary; multiclass when it is
  multinomial, i.e. softmax), LinearRegression, Ridge, RidgeCV, Lasso,
  LassoCV, ElasticNet, ElasticNetCV (one target).

Use from a training script:

    sys.path.insert(0, "path/to/modeld/tools")
    import modeld_sklearn
    modeld_sklearn.export(pipe, "repo", "churn", features=[...], labels=["stay", "churn"])

or from the command line with a pipeline saved by joblib.dump in your own
training run (loading a joblib file runs code from it: only load your own):

    /usr/bin/python3 tools/modeld_sklearn.py PIPELINE.joblib --repo REPO --model NAME \\
        [--spec SPEC.json] [--version N] [--overwrite]

Needs numpy and scikit-learn (Debian's python3-sklearn); writes nothing until
the whole pipeline has been checked.
"""
import argparse
import json
import math
import numbers
import os
import re
import sys
import tempfile

__all__ = ["ExportError", "Export", "convert", "export", "main"]

_SUPPORTED_STEPS = "Pipeline, ColumnTransformer, SimpleImputer, StandardScaler, OneHotEncoder"
_REGRESSORS = ("LinearRegression", "Ridge", "RidgeCV", "Lasso", "LassoCV", "ElasticNet",
               "ElasticNetCV")
_SUPPORTED_ESTIMATORS = "LogisticRegression, " + ", ".join(_REGRESSORS)
_SPEC_KEYS = ("name", "datatype", "required", "min", "max", "comment")
_VALUE_TYPES = ("FP32", "FP64", "INT32", "INT64", "BOOL")


class ExportError(ValueError):
    """The pipeline cannot be served exactly as scikit-learn computes it (or
    the arguments are wrong); the message names the step and the reason."""


class _Refused:
    """The fill state of a column whose missing value scikit-learn refuses
    (an encoder with handle_unknown='error', an estimator fed NaN)."""

    def __repr__(self):
        return "REFUSED"


REFUSED = _Refused()


class _Col:
    """One column on its way through the pipeline, as a function of one input
    feature: the raw value (category None) or the indicator of one category,
    standardised as (v - m) / s. fill is what a missing input becomes, in the
    raw value's space: None (a NaN still travels), REFUSED, a number, or a
    category (text or integer) before an encoder. raw: no scaler or encoder
    has touched the column yet."""

    __slots__ = ("feature", "category", "m", "s", "fill", "note", "raw")

    def __init__(self, feature, category=None, m=0.0, s=1.0, fill=None, note=None, raw=True):
        self.feature = feature
        self.category = category
        self.m = m
        self.s = s
        self.fill = fill
        self.note = note
        self.raw = raw

    def copy(self, **kw):
        c = _Col(self.feature, self.category, self.m, self.s, self.fill, self.note, self.raw)
        for k, v in kw.items():
            setattr(c, k, v)
        return c


class _Walk:
    """State shared by one conversion: the input feature names and the
    categories each encoded feature was given."""

    def __init__(self, names):
        self.names = names
        self.encoded = {}  # feature index -> (categories in encoder order, "str" | "int")

    def fail(self, path, reason):
        raise ExportError("%s: %s" % (path, reason))


def _is_nan(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isnan(v)


def _cls(obj):
    return type(obj).__name__


def _step_path(path, name, obj):
    label = "%s (%s)" % (name, _cls(obj)) if name is not None else _cls(obj)
    return label if not path else path + " > " + label


def _check_width(walk, path, est, cols):
    n = getattr(est, "n_features_in_", None)
    if n is not None and n != len(cols):
        walk.fail(path, "fitted on %d columns, but %d reach it here" % (n, len(cols)))


def _describe_cat(v):
    return repr(v) if isinstance(v, str) else str(v)


# ---------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------

def _apply(walk, step, cols, path):
    """The columns step outputs for input columns cols."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return [c.copy() for c in cols]
    kind = _cls(step)
    handler = {"Pipeline": _pipeline, "ColumnTransformer": _column_transformer,
               "SimpleImputer": _imputer, "StandardScaler": _scaler,
               "OneHotEncoder": _encoder}.get(kind)
    if handler is None or type(step).__module__.split(".")[0] != "sklearn":
        walk.fail(path, "not supported: the exporter reproduces %s and, as the last step, %s"
                  % (_SUPPORTED_STEPS, _SUPPORTED_ESTIMATORS))
    return handler(walk, step, cols, path)


def _pipeline(walk, pipe, cols, path):
    for name, step in pipe.steps:
        cols = _apply(walk, step, cols, _step_path(path, name, step))
    return cols


def _column_transformer(walk, ct, cols, path):
    if not hasattr(ct, "transformers_"):
        walk.fail(path, "not fitted")
    _check_width(walk, path, ct, cols)
    indices = getattr(ct, "_transformer_to_input_indices", None)
    if indices is None:
        walk.fail(path, "this scikit-learn version does not record the columns of each "
                  "transformer (_transformer_to_input_indices); scikit-learn 1.2 does")
    weights = ct.transformer_weights or {}
    out = []
    for name, trans, _ in ct.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        picked = list(indices.get(name, []))
        if not picked:
            continue
        sub = _apply(walk, trans, [cols[i] for i in picked], _step_path(path, name, trans))
        w = weights.get(name)
        if w is not None:
            if not (isinstance(w, numbers.Real) and math.isfinite(w) and w > 0):
                walk.fail(_step_path(path, name, trans),
                          "transformer_weights %r: only a finite weight > 0 can be served" % (w,))
            sub = [c.copy(s=c.s / w, raw=False) for c in sub]
        out.extend(sub)
    return out


def _imputer(walk, imp, cols, path):
    if not hasattr(imp, "statistics_"):
        walk.fail(path, "not fitted")
    _check_width(walk, path, imp, cols)
    mv = imp.missing_values
    if not (mv is None or _is_nan(mv)):
        walk.fail(path, "missing_values=%r: modeld's missing value is a null or absent feature, "
                  "which stands only for NaN or None" % (mv,))
    if imp.add_indicator:
        walk.fail(path, "add_indicator=True: the indicator columns have no counterpart in "
                  "modeld's prepared columns")
    stats = list(imp.statistics_)
    if len(stats) != len(cols):
        walk.fail(path, "%d statistics for %d columns" % (len(stats), len(cols)))
    out = []
    for c, v in zip(cols, stats):
        if _is_nan(v) or v is None:
            walk.fail(path, "feature '%s' was missing in every row at fit, so the imputer has "
                      "no statistic for it (scikit-learn drops such a column)"
                      % walk.names[c.feature])
        if c.fill is not None:
            out.append(c.copy())  # filled or refused upstream: no NaN reaches this imputer
            continue
        if isinstance(v, str):
            if not c.raw:
                walk.fail(path, "fills the scaled column of feature '%s' with the text %r"
                          % (walk.names[c.feature], v))
            fill = v
        elif isinstance(v, numbers.Real) and not isinstance(v, bool):
            v = v.item() if hasattr(v, "item") else v
            # A fill made after scaling is moved back to the raw value's space.
            fill = v if c.raw else v * c.s + c.m
        else:
            walk.fail(path, "statistic %r for feature '%s' is neither a number nor a text"
                      % (v, walk.names[c.feature]))
        out.append(c.copy(fill=fill, note="SimpleImputer(strategy=%r): %s"
                          % (imp.strategy, _describe_cat(v))))
    return out


def _scaler(walk, sc, cols, path):
    if not hasattr(sc, "n_features_in_"):
        walk.fail(path, "not fitted")
    _check_width(walk, path, sc, cols)
    out = []
    for i, c in enumerate(cols):
        if isinstance(c.fill, str):
            walk.fail(path, "scales feature '%s', whose missing value is filled with the text %r"
                      % (walk.names[c.feature], c.fill))
        mean = float(sc.mean_[i]) if sc.with_mean else 0.0
        scale = float(sc.scale_[i]) if sc.with_std else 1.0
        if not (math.isfinite(mean) and math.isfinite(scale) and scale > 0):
            walk.fail(path, "feature '%s': mean %r, scale %r cannot be served"
                      % (walk.names[c.feature], mean, scale))
        # ((v - m) / s - mean) / scale == (v - (m + mean * s)) / (s * scale); exact when
        # this is the column's first scaler (m = 0, s = 1).
        out.append(c.copy(m=c.m + mean * c.s, s=c.s * scale, raw=False))
    return out


def _category_kind(walk, path, feature, cats):
    kinds = set()
    for v in cats:
        if v is None or _is_nan(v):
            walk.fail(path, "feature '%s' was missing (%r) in training rows that reached the "
                      "encoder, so missing is one of its categories; put a SimpleImputer before "
                      "the encoder" % (walk.names[feature], v))
        if isinstance(v, str):
            kinds.add("str")
        elif isinstance(v, numbers.Integral) and not isinstance(v, bool) and \
                type(v).__name__ != "bool_":
            kinds.add("int")
        elif isinstance(v, numbers.Real) and not isinstance(v, bool) and float(v).is_integer():
            kinds.add("int")
        else:
            walk.fail(path, "feature '%s': category %r is neither a text nor an integer (modeld's "
                      "categories are BYTES or INT)" % (walk.names[feature], v))
    if len(kinds) != 1:
        walk.fail(path, "feature '%s' mixes text and integer categories" % walk.names[feature])
    kind = kinds.pop()
    values = [str(v) if kind == "str" else int(v) for v in cats]
    if len(set(values)) != len(values):
        walk.fail(path, "feature '%s': categories repeat once written as %s"
                  % (walk.names[feature], "text" if kind == "str" else "integers"))
    return kind, values


def _same_category(fill, cat, kind):
    """Whether the imputed value fill is the encoder's category cat."""
    if kind == "str":
        return isinstance(fill, str) and fill == cat
    return isinstance(fill, numbers.Real) and not isinstance(fill, bool) and fill == cat


def _encoder(walk, enc, cols, path):
    if not hasattr(enc, "categories_"):
        walk.fail(path, "not fitted")
    _check_width(walk, path, enc, cols)
    if enc.handle_unknown not in ("error", "ignore", "infrequent_if_exist"):
        walk.fail(path, "handle_unknown=%r is not supported" % (enc.handle_unknown,))
    infrequent = getattr(enc, "_infrequent_enabled", False)
    drop_idx = getattr(enc, "drop_idx_", None)
    out = []
    for i, c in enumerate(cols):
        name = walk.names[c.feature]
        if not c.raw or c.category is not None:
            walk.fail(path, "encodes feature '%s' after it was scaled or encoded; modeld encodes "
                      "the value sent" % name)
        if infrequent and enc.infrequent_categories_[i] is not None:
            walk.fail(path, "feature '%s': categories %s are grouped as infrequent "
                      "(min_frequency/max_categories); modeld's one-hot has one column per "
                      "category" % (name, list(enc.infrequent_categories_[i])))
        if c.feature in walk.encoded:
            walk.fail(path, "feature '%s' is encoded twice; modeld prepares one one-hot "
                      "encoding per feature" % name)
        kind, cats = _category_kind(walk, path, c.feature, list(enc.categories_[i]))
        walk.encoded[c.feature] = (cats, kind)
        dropped = None
        if drop_idx is not None and drop_idx[i] is not None:
            dropped = int(drop_idx[i])
        ignore = enc.handle_unknown != "error"
        # What a missing input becomes in each indicator column.
        if c.fill is REFUSED or (c.fill is None and not ignore):
            # Refused upstream, or NaN reaches the encoder, which refuses an unknown category.
            fills, note = [REFUSED] * len(cats), None
        elif c.fill is None:
            fills = [0.0] * len(cats)
            note = "NaN is an unknown category: all columns 0 (handle_unknown=%r)" % (
                enc.handle_unknown,)
        else:
            hit = [_same_category(c.fill, v, kind) for v in cats]
            if any(hit):
                fills, note = [1.0 if h else 0.0 for h in hit], c.note
            elif ignore:
                fills = [0.0] * len(cats)
                note = "%s, not a category: all columns 0 (handle_unknown=%r)" % (
                    c.note, enc.handle_unknown)
            else:
                fills, note = [REFUSED] * len(cats), None
        for k, v in enumerate(cats):
            if k == dropped:
                continue
            out.append(_Col(c.feature, category=v, fill=fills[k], note=note, raw=False))
    return out


# ---------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------

def _estimator(walk, est, n_cols, path):
    """(kind, coefficient rows, intercepts, classes or None) of the last step."""
    kind = _cls(est)
    if type(est).__module__.split(".")[0] != "sklearn" or \
            (kind != "LogisticRegression" and kind not in _REGRESSORS):
        walk.fail(path, "not supported as the last step: the exporter serves %s"
                  % _SUPPORTED_ESTIMATORS)
    if not hasattr(est, "coef_"):
        walk.fail(path, "not fitted")
    import numpy as np

    coef = np.asarray(est.coef_, dtype=np.float64)
    intercept = np.atleast_1d(np.asarray(est.intercept_, dtype=np.float64))
    if coef.shape[-1] != n_cols:
        walk.fail(path, "has %d coefficients per class, but the steps before it give %d columns"
                  % (coef.shape[-1], n_cols))
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
        walk.fail(path, "has a coefficient or intercept that is not finite")
    if kind in _REGRESSORS:
        if coef.ndim == 2 and coef.shape[0] != 1:
            walk.fail(path, "predicts %d targets; the linear engine predicts one" % coef.shape[0])
        return "linear", coef.reshape(1, -1), intercept[:1], None
    classes = list(est.classes_)
    mc = est.multi_class
    # scikit-learn 1.2's LogisticRegression.predict_proba: one-vs-rest unless multinomial.
    ovr = mc in ("ovr", "warn") or (mc == "auto" and (len(classes) <= 2
                                                      or est.solver == "liblinear"))
    if len(classes) == 2:
        if ovr:
            return "logistic", coef, intercept, classes
        # Binary multinomial: softmax([-s, s])[1] = sigmoid(2 s); doubling is exact.
        return "logistic", coef * 2, intercept * 2, classes
    if ovr:
        walk.fail(path, "%d classes one-vs-rest (multi_class=%r, solver=%r): predict_proba "
                  "normalises %d sigmoids, which is not the engine's softmax; fit with "
                  "multi_class='multinomial' (or 'auto' with a solver other than liblinear)"
                  % (len(classes), mc, est.solver, len(classes)))
    return "multinomial", coef, intercept, classes


# ---------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------

def _feature_specs(pipeline, features):
    """One dict per input column, from features (names or dicts) and the
    pipeline's feature_names_in_."""
    fitted = getattr(pipeline, "feature_names_in_", None)
    n_in = getattr(pipeline, "n_features_in_", None)
    if features is None:
        if fitted is None:
            raise ExportError("features: required when the pipeline was not fitted on a "
                              "DataFrame (it records no feature_names_in_)")
        features = [str(n) for n in fitted]
    specs = []
    for i, f in enumerate(features):
        spec = {"name": f} if isinstance(f, str) else dict(f) if isinstance(f, dict) else None
        if spec is None or not isinstance(spec.get("name"), str):
            raise ExportError("features[%d]: expected a name or a dict with 'name'" % i)
        for k in spec:
            if k not in _SPEC_KEYS:
                raise ExportError("features[%d] ('%s'): unknown key '%s' (known: %s)"
                                  % (i, spec["name"], k, ", ".join(_SPEC_KEYS)))
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", spec["name"]):
            raise ExportError("features[%d]: name %r: modeld's feature names are "
                              "[A-Za-z0-9_.-], at most 128 bytes" % (i, spec["name"]))
        specs.append(spec)
    names = [s["name"] for s in specs]
    if len(set(names)) != len(names):
        raise ExportError("features: a name appears more than once")
    if n_in is not None and len(specs) != n_in:
        raise ExportError("features: %d given, but the pipeline was fitted on %d columns"
                          % (len(specs), n_in))
    if fitted is not None and [str(n) for n in fitted] != names:
        raise ExportError("features: names %s differ from the pipeline's feature_names_in_ %s"
                          % (names, [str(n) for n in fitted]))
    return specs


def _contract_feature(spec, cols, encoded, path_name):
    """The model.yaml feature for one input feature and its prepared columns:
    (feature dict, [(column name, _Col or None)])."""
    name = spec["name"]
    value_cols = [c for c in cols if c.category is None]
    cat_cols = [c for c in cols if c.category is not None]
    feat = {"name": name}
    if value_cols and cat_cols or len(value_cols) > 1:
        raise ExportError("feature '%s' reaches %s through two transformers; modeld prepares "
                          "each feature once" % (name, path_name))
    if value_cols:
        c = value_cols[0]
        if isinstance(c.fill, str):
            raise ExportError("feature '%s' reaches %s as a text value %r" % (name, path_name,
                                                                            c.fill))
        dt = spec.get("datatype", "FP32")
        if dt not in _VALUE_TYPES:
            raise ExportError("feature '%s': datatype %r for a numeric feature (one of %s)"
                              % (name, dt, ", ".join(_VALUE_TYPES)))
        feat["datatype"] = dt
        prepared = [(name, c)]
    else:
        cats, kind = encoded[cols[0].feature]
        dt = spec.get("datatype", "BYTES" if kind == "str" else "INT64")
        if (kind == "str") != (dt == "BYTES") or dt not in ("BYTES", "INT32", "INT64"):
            raise ExportError("feature '%s': datatype %r for %s categories (%s)"
                              % (name, dt, "text" if kind == "str" else "integer",
                                 "BYTES" if kind == "str" else "INT32 or INT64"))
        for k in ("min", "max"):
            if k in spec:
                raise ExportError("feature '%s': %s is not allowed for a categorical feature"
                                  % (name, k))
        feat["datatype"] = dt
        feat["categories"] = cats
        feat["encoding"] = "onehot"
        by_cat = {}
        for c in cat_cols:
            if c.category in by_cat:
                raise ExportError("feature '%s': category %s reaches %s twice"
                                  % (name, _describe_cat(c.category), path_name))
            by_cat[c.category] = c
        prepared = [("%s=%s" % (name, v), by_cat.get(v)) for v in cats]
    live = [c for _, c in prepared if c is not None]
    servable = all(c.fill is not None and c.fill is not REFUSED for c in live)
    required = spec.get("required")
    if required is None:
        required = not servable
    elif required is False and not servable:
        raise ExportError("feature '%s': required=False, but no imputer fills it before %s, "
                          "which refuses a missing value; impute it or leave it required"
                          % (name, path_name))
    elif not isinstance(required, bool):
        raise ExportError("feature '%s': required must be true or false" % name)
    feat["required"] = required
    for k in ("min", "max"):
        if k in spec:
            v = spec[k]
            if not (isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)):
                raise ExportError("feature '%s': %s must be a finite number" % (name, k))
            feat[k] = v
    if "comment" in spec:
        feat["comment"] = str(spec["comment"])
    if not required and live:
        feat["fill_note"] = live[0].note
    return feat, prepared


class Export:
    """A converted pipeline: artifact (the modeld-linear JSON object),
    model_yaml (the contract's text), columns (the prepared column names),
    unused (input features the model never reads, left out of the contract)."""

    def __init__(self, artifact, model_yaml, columns, unused):
        self.artifact = artifact
        self.model_yaml = model_yaml
        self.columns = columns
        self.unused = unused


def convert(pipeline, features=None, labels=None, model=None, description=None,
            threshold=None, engine=None, header=None, artifact="model.json", metadata=None):
    """Checks pipeline and builds its artifact and contract without writing
    anything; export() takes the same arguments. Raises ExportError."""
    import sklearn

    specs = _feature_specs(pipeline, features)
    walk = _Walk([s["name"] for s in specs])
    cols = [_Col(i) for i in range(len(specs))]
    if _cls(pipeline) == "Pipeline" and type(pipeline).__module__.startswith("sklearn."):
        if not pipeline.steps:
            raise ExportError("Pipeline: no steps")
        for name, step in pipeline.steps[:-1]:
            cols = _apply(walk, step, cols, _step_path("", name, step))
        est_name, est = pipeline.steps[-1]
    else:
        est_name, est = None, pipeline
    est_path = _step_path("", est_name, est)
    kind, coef, intercept, classes = _estimator(walk, est, len(cols), est_path)

    # A NaN reaching the estimator is refused by scikit-learn ("Input contains NaN").
    cols = [c.copy(fill=REFUSED) if c.fill is None else c for c in cols]
    by_feature = {}
    for j, c in enumerate(cols):
        if isinstance(c.fill, str):
            raise ExportError("%s: feature '%s' arrives as text (filled with %r); encode it "
                              "with OneHotEncoder" % (est_path, walk.names[c.feature], c.fill))
        by_feature.setdefault(c.feature, []).append((j, c))

    contract, names, index, mean, scale, fill = [], [], [], [], [], []
    unused = []
    for i, spec in enumerate(specs):
        if i not in by_feature:
            unused.append(spec["name"])
            continue
        fcols = [c for _, c in by_feature[i]]
        feat, prepared = _contract_feature(spec, fcols, walk.encoded, est_path)
        contract.append(feat)
        pos = {id(c): j for j, c in by_feature[i]}
        for cname, c in prepared:
            names.append(cname)
            if c is None:  # a dropped category (or one no later step keeps): weight 0
                index.append(None)
                mean.append(0.0)
                scale.append(1.0)
                fill.append(None if feat["required"] else 0.0)
                continue
            index.append(pos[id(c)])
            mean.append(float(c.m))
            scale.append(float(c.s))
            fill.append(None if feat["required"] else float(c.fill))
    if not contract:
        raise ExportError("%s: reads no feature" % est_path)

    def row(k):
        return [float(coef[k][j]) if j is not None else 0.0 for j in index]

    art = {"format": "modeld-linear", "format_version": 1, "kind": kind,
           "feature_names": names}
    if kind == "multinomial":
        art["weights"] = [row(k) for k in range(coef.shape[0])]
        art["intercept"] = [float(b) for b in intercept]
        art["classes"] = len(classes)
    else:
        art["weights"] = row(0)
        art["intercept"] = float(intercept[0])
        if kind == "logistic":
            art["classes"] = 2
    if any(m != 0.0 for m in mean) or any(s != 1.0 for s in scale):
        art["standardize"] = {"mean": mean, "scale": scale}
    art["impute"] = fill
    meta = {"exported_by": "modeld_sklearn", "library": "scikit-learn " + sklearn.__version__,
            "pipeline": _summary(pipeline)}
    if unused:
        meta["unused_features"] = unused
    meta.update(metadata or {})
    art["metadata"] = meta

    if classes is not None:
        if labels is None:
            labels = [str(c) for c in classes]
        labels = [str(v) for v in labels]
        if len(labels) != len(classes):
            raise ExportError("labels: %d given for the %d classes %s"
                              % (len(labels), len(classes), [str(c) for c in classes]))
    elif labels is not None:
        raise ExportError("labels: a regressor has none")
    if threshold is not None and (classes is None or len(classes) != 2):
        raise ExportError("threshold: only for a binary classifier")
    text = _model_yaml(model, description, classes is not None, labels, threshold, contract,
                       engine, header, artifact, _cls(est))
    return Export(art, text, names, unused)


def _summary(est):
    """A short description of the pipeline's steps for the artifact's metadata."""
    kind = _cls(est)
    if kind == "Pipeline":
        return " > ".join(_summary(s) for _, s in est.steps)
    if kind == "ColumnTransformer":
        parts = []
        for name, trans, _ in est.transformers_:
            if isinstance(trans, str) and trans == "drop":
                continue
            parts.append("%s: %s" % (name, trans if isinstance(trans, str) else _summary(trans)))
        return "ColumnTransformer(%s)" % "; ".join(parts)
    if kind == "SimpleImputer":
        return "SimpleImputer(%s)" % est.strategy
    if kind == "LogisticRegression":
        return "LogisticRegression(C=%g)" % est.C
    return kind


# ---------------------------------------------------------------------------
# model.yaml
# ---------------------------------------------------------------------------

_RESERVED = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"}


def _scalar(v, flow=False):
    """v as a YAML scalar that modeld's reader (YAML 1.2 core) reads back as written."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        if not math.isfinite(v):
            raise ExportError("%r cannot be written in model.yaml" % (v,))
        return repr(float(v))
    s = str(v)
    pattern = r"[A-Za-z][A-Za-z0-9_.-]*" if flow else \
        r"[A-Za-z]([A-Za-z0-9_.,;()/' -]*[A-Za-z0-9_.)])?"
    if re.fullmatch(pattern, s) and s.lower() not in _RESERVED and ": " not in s:
        return s
    return json.dumps(s, ensure_ascii=False)


def _flow(values):
    return "[" + ", ".join(_scalar(v, flow=True) for v in values) + "]"


def _model_yaml(model, description, classification, labels, threshold, contract, engine,
                header, artifact, est_kind):
    out = []
    for line in (header or "").splitlines():
        out.append(("# " + line).rstrip())
    out.append("# Written by tools/modeld_sklearn.py from a scikit-learn %s: the artifact"
               % est_kind)
    out.append("# carries the pipeline's scaling and its imputers' values.")
    if model is not None:
        out.append("name: %s" % _scalar(model))
    if description is not None:
        out.append("description: %s" % _scalar(description))
    out.append("backend: linear")
    if artifact != "model.json":
        out.append("artifact: %s" % _scalar(artifact))
    out.append("task: %s" % ("classification" if classification else "regression"))
    if classification:
        out.append("labels: %s" % _flow(labels))
    if threshold is not None:
        if not (isinstance(threshold, numbers.Real) and 0 < threshold < 1):
            raise ExportError("threshold: %r is not between 0 and 1" % (threshold,))
        out.append("threshold: %s" % _scalar(threshold))
    out.append("features:")
    for f in contract:
        first = "  - name: %s" % f["name"]
        if "comment" in f:
            first = first.ljust(31) + " # " + f["comment"]
        out.append(first)
        out.append("    datatype: %s" % f["datatype"])
        if "categories" in f:
            out.append("    categories: %s" % _flow(f["categories"]))
            out.append("    encoding: onehot")
        if not f["required"]:
            line = "    required: false"
            if f.get("fill_note"):
                line = line.ljust(31) + " # missing: %s" % f["fill_note"]
            out.append(line)
        for k in ("min", "max"):
            if k in f:
                out.append("    %s: %s" % (k, _scalar(f[k])))
    if engine:
        out.append("engine:")
        for k, v in engine.items():
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", str(k)):
                raise ExportError("engine: option name %r" % (k,))
            out.append("  %s: %s" % (k, _scalar(v)))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

def _write_atomic(path, text):
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".export-", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _next_version(mdir):
    versions = [int(n) for n in os.listdir(mdir) if re.fullmatch(r"[1-9][0-9]{0,17}", n)] \
        if os.path.isdir(mdir) else []
    return max(versions) + 1 if versions else 1


def export(pipeline, repo, model, features=None, version=None, labels=None, description=None,
           threshold=None, engine=None, header=None, artifact="model.json", metadata=None,
           overwrite=False):
    """Exports the fitted pipeline to REPO/<model>/model.yaml and
    REPO/<model>/<version>/<artifact>.

    features: one entry per input column, in order: a name, or a dict with
      name, and optionally datatype (FP32 by default for a numeric feature,
      BYTES or INT64 for one with categories), required (derived: a feature
      is optional when an imputer fills it), min, max, comment. Optional when
      the pipeline was fitted on a DataFrame (its column names are used).
    version: default the next after the newest on disk (1 for a new model).
    labels: the class names in classes_ order (default: classes_ as text).
    description, threshold, engine (a dict of engine options), header (text
      for a comment at the top): written to model.yaml.
    metadata: merged into the artifact's metadata.
    overwrite: replace a differing model.yaml and an existing artifact;
      without it, both are refused.

    Returns a dict: model_yaml and artifact (the paths written), version,
    columns (the prepared column names) and unused (features the model never
    reads, left out of the contract). Raises ExportError (nothing written)."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", model or "") or model.startswith("."):
        raise ExportError("model: %r is not a model name ([A-Za-z0-9_.-], not starting with a "
                          "dot)" % (model,))
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", artifact) or artifact in (".", ".."):
        raise ExportError("artifact: %r is not a plain file name" % (artifact,))
    ex = convert(pipeline, features=features, labels=labels, model=model,
                 description=description, threshold=threshold, engine=engine, header=header,
                 artifact=artifact, metadata=metadata)
    mdir = os.path.join(repo, model)
    if version is None:
        version = _next_version(mdir)
    if not (isinstance(version, int) and not isinstance(version, bool) and version >= 1):
        raise ExportError("version: %r is not a positive integer" % (version,))
    yaml_path = os.path.join(mdir, "model.yaml")
    vdir = os.path.join(mdir, str(version))
    art_path = os.path.join(vdir, artifact)
    if os.path.exists(yaml_path) and not overwrite:
        with open(yaml_path, encoding="utf-8") as f:
            if f.read() != ex.model_yaml:
                raise ExportError("%s exists with a different contract; versions of a model "
                                  "share one model.yaml (pass overwrite=True to replace it)"
                                  % yaml_path)
    if os.path.exists(art_path) and not overwrite:
        raise ExportError("%s exists; versions are immutable (pass another version, or "
                          "overwrite=True)" % art_path)
    os.makedirs(vdir, exist_ok=True)
    _write_atomic(art_path, json.dumps(ex.artifact, indent=1) + "\n")
    _write_atomic(yaml_path, ex.model_yaml)
    return {"model_yaml": yaml_path, "artifact": art_path, "version": version,
            "columns": ex.columns, "unused": ex.unused}


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

_SPEC_ARGS = ("features", "labels", "description", "threshold", "engine", "header", "artifact",
              "metadata")


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="modeld_sklearn.py",
        description="Export a fitted scikit-learn pipeline, saved with joblib.dump by your own "
                    "training run, to a modeld repository (model.yaml and a modeld-linear "
                    "artifact). Loading a joblib file runs code from it: load only your own.")
    p.add_argument("pipeline", help="the .joblib file")
    p.add_argument("--repo", required=True, help="the repository directory")
    p.add_argument("--model", required=True, help="the model's name")
    p.add_argument("--spec", help="a JSON object with any of: " + ", ".join(_SPEC_ARGS))
    p.add_argument("--version", type=int, help="default: the next after the newest on disk")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a differing model.yaml and an existing artifact")
    args = p.parse_args(argv)
    kw = {}
    try:
        if args.spec:
            with open(args.spec, encoding="utf-8") as f:
                try:
                    kw = json.load(f)
                except ValueError as e:
                    raise ExportError("%s: not JSON (%s)" % (args.spec, e))
            if not isinstance(kw, dict):
                raise ExportError("%s: expected a JSON object" % args.spec)
            for k in kw:
                if k not in _SPEC_ARGS:
                    raise ExportError("%s: unknown key '%s' (known: %s)"
                                      % (args.spec, k, ", ".join(_SPEC_ARGS)))
        import joblib

        pipe = joblib.load(args.pipeline)
        res = export(pipe, args.repo, args.model, version=args.version,
                     overwrite=args.overwrite, **kw)
    except (ExportError, OSError, ValueError) as e:
        print("modeld_sklearn: %s" % e, file=sys.stderr)
        return 1
    print("wrote %s and %s (%d prepared columns%s)"
          % (res["model_yaml"], res["artifact"], len(res["columns"]),
             "; unused: " + ", ".join(res["unused"]) if res["unused"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
