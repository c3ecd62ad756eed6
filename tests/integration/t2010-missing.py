#!/usr/bin/python3
"""Missing values sent as NaN, on the Open Inference Protocol path: in binary
tensor data (which has no null) and as JSON's NaN token (accepted with
Infinity and -Infinity, as on the TF Serving path). For a feature
without allow_nan a NaN is a missing value: its missing policy applies (nan
passes NaN to the engine, default substitutes the default), its range check
still applies to every other value, and a required feature refuses it,
naming the feature and the row. allow_nan keeps NaN as a value. A 1,000-row
Triton-style binary batch with missing values answers what libxgboost
answers, under both tree engines."""
import contextlib
import json
import math
import os
import shutil
import struct
import tempfile

from harness import Daemon, add_bench, bench_rows, expect, expect_error, make_repo, run, BENCH_YAML

HDR = "Inference-Header-Content-Length"

# Features of every kind of rule over the benchmark artifact's 30 columns.
POLICY_YAML = """backend: trees
task: classification
labels: [no, yes]
outputs:
  - {name: probability, kind: probability, datatype: FP32}
features:
  - {name: req, datatype: FP32, min: 0, max: 9}
  - {name: opt_nan, datatype: FP32, required: false, min: 0, max: 9}
  - {name: opt_def, datatype: FP64, required: false, missing: default, default: 5, min: 0, max: 9}
  - {name: nan_ok, datatype: FP32, required: false, missing: default, default: 1, allow_nan: true}
  - {name: int_def, datatype: INT32, required: false, missing: default, default: 3}
""" + "".join("  - {name: x%d, datatype: FP32, required: false}\n" % j for j in range(5, 30))

BASE = {"req": 1.0, "opt_nan": 2.0, "opt_def": 4.0, "nan_ok": 6.0, "int_def": 7.0}
NAMES = list(BASE)


def repo_with(tmp_repo):
    repo = make_repo(tmp_repo, examples=False, bench=True)
    add_bench(repo, "policy", [1], POLICY_YAML)
    add_bench(repo, "bench_xgb", [1],
              open(BENCH_YAML).read().replace("backend: trees", "backend: xgboost"))
    return repo


@contextlib.contextmanager
def served():
    """A modeld serving bench (trees), bench_xgb (xgboost) and policy."""
    tmp = tempfile.mkdtemp(prefix="modeld-t2010-")
    try:
        with Daemon(repo=repo_with(os.path.join(tmp, "repo"))) as d:
            yield d
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def post_binary(d, model, header, parts):
    """A Triton-style body: the JSON header, then the inputs' bytes."""
    h = json.dumps(header).encode()
    st, data, hdrs = d.request("POST", "/v2/models/%s/infer" % model, h + b"".join(parts),
                               {HDR: str(len(h))})
    n = int(hdrs[HDR.lower()]) if HDR.lower() in hdrs else len(data)
    return st, json.loads(data[:n]), data[n:]


def f32(values):
    return struct.pack("<%df" % len(values), *[math.nan if v is None else v for v in values])


def as_f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def policy_row(**over):
    """One row of the policy model as 2-D values, with some features replaced."""
    row = dict(BASE, **over)
    return [row[n] for n in NAMES] + [0.5] * 25


def predict_2d(d, rows, binary):
    """Probabilities of the policy model for 2-D FP32 rows, binary or JSON (None: null)."""
    flat = [v for r in rows for v in r]
    tensor = {"name": "features", "datatype": "FP32", "shape": [len(rows), 30]}
    if binary:
        st, doc, _ = post_binary(d, "policy", {"inputs": [
            dict(tensor, parameters={"binary_data_size": 4 * len(flat)})]}, [f32(flat)])
    else:
        st, doc, _ = d.json("POST", "/v2/models/policy/infer",
                            {"inputs": [dict(tensor, data=flat)]})
    return st, doc


def test_binary_nan_follows_the_policy():
    with served() as d:
        # The reference: nulls through JSON (the missing value modeld always had).
        st, want = predict_2d(d, [policy_row(opt_nan=None, opt_def=None, int_def=None)], False)
        expect(st == 200, want)
        # NaN in binary data for the optional features gives exactly that.
        nan = math.nan
        st, got = predict_2d(d, [policy_row(opt_nan=nan, opt_def=nan, int_def=nan)], True)
        expect(st == 200 and got["outputs"][0]["data"] == want["outputs"][0]["data"], (got, want))
        # default substitutes the default: NaN for opt_def is opt_def = 5 sent.
        st, a = predict_2d(d, [policy_row(opt_def=nan)], True)
        st2, b = predict_2d(d, [policy_row(opt_def=5.0)], True)
        expect(st == st2 == 200 and a["outputs"][0]["data"] == b["outputs"][0]["data"], (a, b))
        # allow_nan: NaN is a value, not its default 1.
        st, a = predict_2d(d, [policy_row(nan_ok=nan)], True)
        st2, b = predict_2d(d, [policy_row(nan_ok=1.0)], True)
        st3, c = predict_2d(d, [policy_row(nan_ok=None)], False)
        expect(st == st2 == st3 == 200, (a, b, c))
        expect(a["outputs"][0]["data"] != b["outputs"][0]["data"], (a, b))
        expect(c["outputs"][0]["data"] == b["outputs"][0]["data"], (c, b))
        # A required feature refuses it, naming the feature and the row.
        st, doc = predict_2d(d, [policy_row(), policy_row(req=nan)], True)
        expect_error(st, doc, 400, "feature 'req' row 1: NaN for required feature")
        # The range check still holds for the other values of a feature with a NaN.
        st, doc = predict_2d(d, [policy_row(opt_def=nan), policy_row(opt_def=9.5)], True)
        expect_error(st, doc, 400, "feature 'opt_def' row 1: 9.5 above max 9")
        st, doc = predict_2d(d, [policy_row(opt_nan=nan), policy_row(opt_nan=-1.0)], True)
        expect_error(st, doc, 400, "feature 'opt_nan' row 1: -1 below min 0")
        # An infinity is not a missing value.
        st, doc = predict_2d(d, [policy_row(opt_nan=math.inf)], True)
        expect_error(st, doc, 400, "feature 'opt_nan' row 0: inf not allowed (allow_nan is false)")


def test_binary_columnar_nan():
    """One binary tensor per feature, as tritonclient sends named inputs."""
    with served() as d:
        def columnar(values, binary):
            inputs = []
            parts = []
            for name in ("req", "opt_nan", "opt_def", "nan_ok"):
                vals = values[name]
                dt = "FP64" if name == "opt_def" else "FP32"
                t = {"name": name, "datatype": dt, "shape": [len(vals)]}
                if binary:
                    code = "d" if dt == "FP64" else "f"
                    raw = struct.pack("<%d%s" % (len(vals), code),
                                      *[math.nan if v is None else v for v in vals])
                    t["parameters"] = {"binary_data_size": len(raw)}
                    parts.append(raw)
                else:
                    t["data"] = vals
                inputs.append(t)
            if binary:
                return post_binary(d, "policy", {"inputs": inputs}, parts)[:2]
            return d.json("POST", "/v2/models/policy/infer", {"inputs": inputs})[:2]

        vals = {"req": [1.0, 2.0, 3.0], "opt_nan": [None, 2.0, None],
                "opt_def": [None, 4.0, 8.0], "nan_ok": [3.0, 3.0, 3.0]}
        st, want = columnar(vals, False)
        st2, got = columnar(vals, True)
        expect(st == st2 == 200, (want, got))
        expect(got["outputs"][0]["data"] == want["outputs"][0]["data"], (got, want))
        vals["opt_def"][2] = 9.5
        st, doc = columnar(vals, True)
        expect_error(st, doc, 400, "feature 'opt_def' row 2: 9.5 above max 9")
        vals["opt_def"][2] = 8.0
        vals["req"][2] = None
        st, doc = columnar(vals, True)
        expect_error(st, doc, 400, "feature 'req' row 2: NaN for required feature")


def post_text(d, model, text):
    """POSTs a JSON body written by hand (Python's json module writes the
    NaN, Infinity and -Infinity tokens too, as the Triton client sends them)."""
    st, data, _ = d.request("POST", "/v2/models/%s/infer" % model, text)
    return st, json.loads(data)


def test_json_nan_and_infinity_tokens():
    """The Triton client's JSON mode: json.dumps writes NaN, Infinity and
    -Infinity in float arrays. Accepted as on the TF Serving path, exact
    tokens only, with the rules of the binary path."""
    with served() as d:
        nan = math.nan
        # As JSON text: NaN for the optional features equals null for them.
        body = json.dumps({"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 30],
                                       "data": policy_row(opt_nan=nan, opt_def=nan, int_def=nan)}]})
        expect("NaN" in body, body)
        st, got = post_text(d, "policy", body)
        st2, want = predict_2d(d, [policy_row(opt_nan=None, opt_def=None, int_def=None)], False)
        expect(st == st2 == 200, (got, want))
        expect(got["outputs"][0]["data"] == want["outputs"][0]["data"], (got, want))
        # The same as binary data with NaN there.
        st, b = predict_2d(d, [policy_row(opt_nan=nan, opt_def=nan, int_def=nan)], True)
        expect(st == 200 and b["outputs"][0]["data"] == got["outputs"][0]["data"], (b, got))
        # Columnar FP64 and nested data, with null beside the tokens.
        body = json.dumps({"inputs": [
            {"name": "req", "datatype": "FP32", "shape": [2], "data": [1.0, 2.0]},
            {"name": "opt_def", "datatype": "FP64", "shape": [2, 1], "data": [[nan], [None]]},
            {"name": "nan_ok", "datatype": "FP32", "shape": [2], "data": [nan, math.inf]}]})
        st, doc = post_text(d, "policy", body)
        expect(st == 200 and len(doc["outputs"][0]["data"]) == 2, doc)
        # allow_nan: NaN is a value (not the default 1); Infinity too.
        st, a = post_text(d, "policy", json.dumps({"inputs": [
            {"name": "req", "datatype": "FP32", "shape": [1], "data": [1.0]},
            {"name": "nan_ok", "datatype": "FP32", "shape": [1], "data": [nan]}]}))
        st2, b = post_text(d, "policy", json.dumps({"inputs": [
            {"name": "req", "datatype": "FP32", "shape": [1], "data": [1.0]},
            {"name": "nan_ok", "datatype": "FP32", "shape": [1], "data": [None]}]}))
        expect(st == st2 == 200 and a["outputs"][0]["data"] != b["outputs"][0]["data"], (a, b))
        # Refusals name the feature and the row.
        st, doc = post_text(d, "policy", json.dumps({"inputs": [
            {"name": "features", "datatype": "FP32", "shape": [2, 30],
             "data": policy_row() + policy_row(req=nan)}]}))
        expect_error(st, doc, 400, "feature 'req' row 1: NaN for required feature")
        st, doc = post_text(d, "policy", json.dumps({"inputs": [
            {"name": "features", "datatype": "FP32", "shape": [2, 30],
             "data": policy_row(opt_def=nan) + policy_row(opt_def=-0.5)}]}))
        expect_error(st, doc, 400, "feature 'opt_def' row 1: -0.5 below min 0")
        st, doc = post_text(d, "policy", json.dumps({"inputs": [
            {"name": "features", "datatype": "FP32", "shape": [1, 30],
             "data": policy_row(opt_nan=-math.inf)}]}))
        expect_error(st, doc, 400, "feature 'opt_nan' row 0: -inf not allowed")
        st, doc = post_text(d, "policy", json.dumps({"inputs": [
            {"name": "req", "datatype": "FP32", "shape": [1], "data": [1.0]},
            {"name": "int_def", "datatype": "INT32", "shape": [1], "data": [nan]}]}))
        expect_error(st, doc, 400, "input 'int_def' element 0: expected an integer, got NaN")
        # Only the exact tokens, as on the TF Serving path.
        for bad in ("nan", "-NaN", "+Infinity", "Inf", "infinity", "NaN0"):
            text = ('{"inputs":[{"name":"req","datatype":"FP32","shape":[1],"data":[%s]}]}'
                    % bad)
            st, doc = post_text(d, "policy", text)
            expect_error(st, doc, 400, "invalid JSON at byte")
        # The same body on the TF Serving path gives the same answer.
        st, v2 = post_text(d, "bench", json.dumps({"inputs": [
            {"name": "features", "datatype": "FP32", "shape": [1, 30],
             "data": [nan, math.inf] + [0.5] * 28}]}))
        st2, tfs, _ = d.json("POST", "/v1/models/bench:predict",
                             json.dumps({"instances": [[nan, math.inf] + [0.5] * 28]}))
        expect(st == 400 and st2 == 400, (v2, tfs))
        expect(v2["error"] == tfs["error"] == "feature 'f1' row 0: inf not allowed "
               "(allow_nan is false)", (v2, tfs))
        st, v2 = post_text(d, "bench", json.dumps({"inputs": [
            {"name": "features", "datatype": "FP32", "shape": [1, 30],
             "data": [nan, -1.5] + [0.5] * 28}]}))
        st2, tfs, _ = d.json("POST", "/v1/models/bench:predict",
                             json.dumps({"instances": [[nan, -1.5] + [0.5] * 28]}))
        expect(st == st2 == 200, (v2, tfs))
        expect(v2["outputs"][0]["data"] == tfs["predictions"], (v2, tfs))


def test_json_tokens_in_a_large_request():
    """10,000 rows as the Triton client's JSON mode writes them (missing cells
    as NaN, not null): the same answer as with null, row for row."""
    rows = [r for r, _ in bench_rows(2000)] * 5
    flat_null = [v for r in rows for v in r]
    flat_nan = [math.nan if v is None else v for v in flat_null]
    with served() as d:
        st, a = post_text(d, "bench", json.dumps({"inputs": [
            {"name": "features", "datatype": "FP32", "shape": [len(rows), 30],
             "data": flat_nan}]}))
        st2, b = post_text(d, "bench", json.dumps({"inputs": [
            {"name": "features", "datatype": "FP32", "shape": [len(rows), 30],
             "data": flat_null}]}))
        expect(st == st2 == 200, (str(a)[:200], str(b)[:200]))
        expect(a["outputs"][0]["data"] == b["outputs"][0]["data"], "NaN and null rows differ")


def test_binary_batch_with_missing_matches_libxgboost():
    """1,000 rows of bench_rows.csv (their empty cells NaN) in one binary
    request, as tritonclient builds it, under `trees` and `xgboost`: each
    output within 1e-6 of libxgboost's in the reference column (as the other
    equality tests), and exactly the JSON answer with the same cells null."""
    rows = bench_rows(1000)
    missing = sum(v is None for r, _ in rows for v in r)
    expect(len(rows) == 1000 and missing > 100, (len(rows), missing))
    flat = [v for r, _ in rows for v in r]
    header = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1000, 30],
                          "parameters": {"binary_data_size": 4 * len(flat)}}],
              "outputs": [{"name": "probability", "parameters": {"binary_data": True}}]}
    with served() as d:
        for model in ("bench", "bench_xgb"):
            st, doc, tail = post_binary(d, model, header, [f32(flat)])
            expect(st == 200, (model, doc))
            expect(doc["outputs"][0]["shape"] == [1000, 1], doc)
            got = struct.unpack("<1000f", tail)
            bad = [(i, g, ref) for i, (g, (_, ref)) in enumerate(zip(got, rows))
                   if not abs(g - ref) <= 1e-6]
            expect(not bad, "%s: %d rows differ from libxgboost, first %r" %
                   (model, len(bad), bad[:3]))
            st, jdoc, _ = d.json("POST", "/v2/models/%s/infer" % model,
                                 {"inputs": [{"name": "features", "datatype": "FP32",
                                              "shape": [1000, 30], "data": flat}]})
            expect(st == 200, jdoc)
            expect([as_f32(x) for x in jdoc["outputs"][0]["data"]] == list(got),
                   "%s: binary NaN and JSON null differ" % model)


if __name__ == "__main__":
    run([test_binary_nan_follows_the_policy, test_binary_columnar_nan,
         test_json_nan_and_infinity_tokens, test_json_tokens_in_a_large_request,
         test_binary_batch_with_missing_matches_libxgboost])
