#!/usr/bin/python3
"""TensorFlow Serving REST API: status, metadata, :predict with instances
(rows as lists or objects) and inputs (columnar), errors as {"error": ...}."""
from harness import Daemon, bench_rows, expect, expect_error, run


def test_status_and_metadata():
    with Daemon() as d:
        st, doc, hdrs = d.json("GET", "/v1/models/bench")
        expect(st == 200, doc)
        expect(doc == {"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": {
            "error_code": "OK", "error_message": ""}}]}, doc)
        expect(hdrs["content-type"] == "application/json", hdrs)
        st, doc, _ = d.json("GET", "/v1/models/bench/versions/1")
        expect(st == 200 and doc["model_version_status"][0]["version"] == "1", doc)
        st, doc, _ = d.json("GET", "/v1/models/bench/versions/7")
        expect_error(st, doc, 404, "model 'bench' has no version '7'")
        st, doc, _ = d.json("GET", "/v1/models/nosuch")
        expect_error(st, doc, 404, "unknown model 'nosuch'")
        st, doc, _ = d.json("GET", "/v1/models/bench/metadata")
        expect(st == 200, doc)
        expect(doc["model_spec"] == {"name": "bench", "signature_name": "", "version": "1"}, doc)
        sig = doc["metadata"]["signature_def"]["signature_def"]["serving_default"]
        expect(sig["inputs"]["f0"]["dtype"] == "DT_FLOAT", sig["inputs"]["f0"])
        expect(sig["outputs"]["probability"]["tensor_shape"]["dim"][0]["size"] == "-1", sig)
        expect(sig["method_name"] == "tensorflow/serving/predict", sig)


def test_predict_instances_rows_and_objects():
    rows = bench_rows(40)
    with Daemon() as d:
        st, doc, hdrs = d.json("POST", "/v1/models/bench:predict",
                               {"instances": [r for r, _ in rows]})
        expect(st == 200, doc)
        preds = doc["predictions"]
        expect(len(preds) == 40, doc)
        for got, (_, ref) in zip(preds, rows):
            expect(abs(got - ref) <= 1e-6, (got, ref))
        expect(doc["request_id"] == hdrs["x-request-id"], doc)
        objs = [{"f%d" % j: v for j, v in enumerate(r) if v is not None} for r, _ in rows]
        st, doc, _ = d.json("POST", "/v1/models/bench/versions/1:predict", {"instances": objs})
        expect(st == 200, doc)
        for got, (_, ref) in zip(doc["predictions"], rows):
            expect(abs(got - ref) <= 1e-6, (got, ref))
        # The NaN token for an optional feature without allow_nan is a missing value,
        # as null is; for a required one (the strict model's amount) it is refused.
        st, doc, _ = d.json("POST", "/v1/models/bench:predict", '{"instances": [{"f0": NaN}]}')
        st2, doc2, _ = d.json("POST", "/v1/models/bench:predict", '{"instances": [{"f0": null}]}')
        expect(st == 200 and doc["predictions"] == doc2["predictions"], (doc, doc2))
        st, doc, _ = d.json("POST", "/v1/models/strict:predict",
                            '{"instances": [{"amount": NaN, "count": 1, "flag": true, '
                            '"colour": "red"}]}')
        expect_error(st, doc, 400, "feature 'amount' row 0: NaN for required feature")


def test_predict_inputs_columnar():
    rows = bench_rows(5)
    with Daemon() as d:
        cols = {"f%d" % j: [r[j] for r, _ in rows] for j in range(30)}
        st, doc, _ = d.json("POST", "/v1/models/bench:predict", {"inputs": cols})
        expect(st == 200, doc)
        for got, (_, ref) in zip(doc["outputs"], rows):
            expect(abs(got - ref) <= 1e-6, (got, ref))
        st, doc, _ = d.json("POST", "/v1/models/bench:predict",
                            {"inputs": {"features": [r for r, _ in rows]}})
        expect(st == 200 and len(doc["outputs"]) == 5, doc)


def test_large_request_matches_v2():
    """2,000 rows through every TF Serving form (rows of numbers are packed
    arrays in the decoder) answer exactly what the V2 path answers."""
    rows = [r for r, _ in bench_rows(2000)]
    expect(len(rows) == 2000, len(rows))
    with Daemon() as d:
        flat = [v for r in rows for v in r]
        st, doc, _ = d.json("POST", "/v2/models/bench/infer", {"inputs": [
            {"name": "features", "datatype": "FP32", "shape": [len(rows), 30], "data": flat}]})
        expect(st == 200, doc)
        want = doc["outputs"][0]["data"]
        expect(len(want) == 2000, len(want))
        # Rows without a missing value are plain number lists; mix in some with nulls.
        expect(any(None in r for r in rows) and any(None not in r for r in rows), "no mix")
        objs = [{"f%d" % j: v for j, v in enumerate(r) if v is not None} for r in rows]
        cols = {"f%d" % j: [r[j] for r in rows] for j in range(30)}
        for body, key in (({"instances": rows}, "predictions"),
                          ({"instances": objs}, "predictions"),
                          ({"inputs": rows}, "outputs"),
                          ({"inputs": {"features": rows}}, "outputs"),
                          ({"inputs": cols}, "outputs")):
            st, doc, _ = d.json("POST", "/v1/models/bench:predict", body)
            expect(st == 200, (list(body), doc))
            expect(doc[key] == want, (list(body), [(i, a, b) for i, (a, b) in
                                                   enumerate(zip(doc[key], want)) if a != b][:5]))


def test_predict_errors():
    with Daemon() as d:
        cases = [
            ("", 400, "The document is empty"),
            ("{", 400, "invalid JSON"),
            ('{"instances": [], "inputs": {}}', 400, "only one of"),
            ('{"foo": 1}', 400, "Missing 'inputs' or 'instances' key"),
            ('{"instances": 3}', 400, "'instances' must be a list"),
            ('{"instances": []}', 400, "No values in 'instances' array"),
            ('{"instances": [{"f0": "x"}]}', 400, "not of expected type: float"),
            ('{"instances": [{"zz": 1}]}', 400, "unknown feature 'zz'"),
            ('{"signature_name": 5, "instances": [[1]]}', 400, "must be a string"),
            ('{"signature_name": "other", "instances": [[1]]}', 400, "not found in signature def"),
            ('{"instances": [[1, 2], [1]]}', 400, "instances[1]"),
        ]
        for body, status, frag in cases:
            st, doc, _ = d.json("POST", "/v1/models/bench:predict", body)
            expect_error(st, doc, status, frag)
        st, doc, _ = d.json("POST", "/v1/models/nosuch:predict", '{"instances": [[1]]}')
        expect_error(st, doc, 404)
        for method, path in (("GET", "/v1/models/bench:predict"), ("POST", "/v1/models/bench"),
                             ("POST", "/v1/models/bench/metadata"),
                             ("POST", "/v1/models/bench/versions/HELLO:predict"),
                             ("POST", "/v1/models/bench/version/5:predict"),
                             ("POST", "/v1/models/bench:explain")):
            st, doc, _ = d.json(method, path, "{}")
            expect_error(st, doc, 400, "Malformed request")
        st, doc, _ = d.json("GET", "/v1/models")
        expect_error(st, doc, 400, "Missing model name")
        st, doc, _ = d.json("GET", "/v1/models/bench/labels/stable")
        expect_error(st, doc, 400, "Unrecognized servable version label")
        st, doc, _ = d.json("POST", "/v1/models/bench:classify", "{}")
        expect_error(st, doc, 501)


if __name__ == "__main__":
    run([test_status_and_metadata, test_predict_instances_rows_and_objects,
         test_predict_inputs_columnar, test_large_request_matches_v2, test_predict_errors])
