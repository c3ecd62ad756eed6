#!/usr/bin/python3
"""Open Inference Protocol (KServe V2) over REST: metadata, readiness,
inference in both tabular forms, every datatype the contract allows, flat and
nested data, ids, requested outputs, statistics, configuration; predictions
equal libxgboost's on the benchmark rows."""
import json

from harness import Daemon, bench_rows, expect, expect_error, run, v2_row


def infer(d, body, model="bench", version=None, headers=None):
    path = "/v2/models/%s%s/infer" % (model, "/versions/%s" % version if version else "")
    return d.json("POST", path, body, headers)


def columnar(rows):
    """One input per feature (f0..f29), shape [N], as Triton clients send."""
    inputs = []
    for j in range(30):
        inputs.append({"name": "f%d" % j, "datatype": "FP32", "shape": [len(rows)],
                       "data": [r[j] for r in rows]})
    return {"inputs": inputs}


def test_model_metadata_and_ready():
    with Daemon() as d:
        st, doc, _ = d.json("GET", "/v2/models/bench")
        expect(st == 200, doc)
        expect(doc["name"] == "bench" and doc["versions"] == ["1"], doc)
        expect(doc["platform"] == "modeld_trees", doc)
        expect(len(doc["inputs"]) == 30 and doc["inputs"][0] == {
            "name": "f0", "datatype": "FP32", "shape": [-1, 1],
            "parameters": {"required": False, "missing": "nan", "allow_nan": False}},
            doc["inputs"][0])
        expect(doc["outputs"] == [{"name": "probability", "datatype": "FP32", "shape": [-1, 1]}],
               doc["outputs"])
        st, doc, _ = d.json("GET", "/v2/models/bench/versions/1")
        expect(st == 200 and doc["versions"] == ["1"], doc)
        st, doc, _ = d.json("GET", "/v2/models/bench/ready")
        expect(st == 200 and doc["ready"] is True, doc)
        st, doc, _ = d.json("GET", "/v2/models/bench/versions/1/ready")
        expect(st == 200 and doc["ready"] is True, doc)
        st, doc, _ = d.json("GET", "/v2/models/nosuch")
        expect_error(st, doc, 404, "unknown model 'nosuch'")
        st, doc, _ = d.json("GET", "/v2/models/nosuch/ready")
        expect_error(st, doc, 404)
        st, doc, _ = d.json("GET", "/v2/models/bench/versions/9")
        expect_error(st, doc, 404, "no version '9'")
        st, doc, _ = d.json("GET", "/v2/models/bench/versions/x1")
        expect_error(st, doc, 404)


def test_infer_matches_libxgboost_on_every_bench_row():
    rows = bench_rows()
    with Daemon() as d:
        # all 2000 rows in one 2-D request, missing values as null
        body = {"id": "all", "inputs": [{"name": "features", "datatype": "FP32",
                                         "shape": [len(rows), 30],
                                         "data": [[v for v in r] for r, _ in rows]}]}
        st, doc, hdrs = infer(d, body)
        expect(st == 200, doc)
        out = doc["outputs"][0]
        expect(out["name"] == "probability" and out["shape"] == [len(rows), 1], out["shape"])
        for i, (got, (_, ref)) in enumerate(zip(out["data"], rows)):
            expect(abs(got - ref) <= 1e-6, "row %d: %r vs %r" % (i, got, ref))
        expect(doc["id"] == "all", doc.get("id"))
        # the same rows in columnar form, 100 at a time
        for k in range(0, 200, 100):
            chunk = rows[k:k + 100]
            st, doc, _ = infer(d, columnar([r for r, _ in chunk]))
            expect(st == 200, doc)
            for got, (_, ref) in zip(doc["outputs"][0]["data"], chunk):
                expect(abs(got - ref) <= 1e-6, (got, ref))
        # single rows
        for r, ref in rows[:50]:
            st, doc, _ = infer(d, v2_row(r))
            expect(st == 200 and abs(doc["outputs"][0]["data"][0] - ref) <= 1e-6, doc)


def test_response_shape_and_request_id():
    with Daemon() as d:
        st, doc, hdrs = infer(d, v2_row([0.0] * 30))
        expect(st == 200, doc)
        expect(doc["model_name"] == "bench" and doc["model_version"] == "1", doc)
        expect("id" not in doc, doc)
        rid = doc["parameters"]["request_id"]
        expect(len(rid) == 32 and hdrs["x-request-id"] == rid, (rid, hdrs))
        st, doc2, _ = infer(d, v2_row([0.0] * 30))
        expect(doc2["parameters"]["request_id"] != rid, "request ids repeat")
        st, doc, hdrs = infer(d, v2_row([0.0] * 30), headers={"X-Request-Id": "client-42"})
        expect(doc["parameters"]["request_id"] == "client-42" and
               hdrs["x-request-id"] == "client-42", doc)
        body = v2_row([0.0] * 30)
        body["id"] = "my id \u00e9"
        st, doc, _ = infer(d, body)
        expect(doc["id"] == "my id \u00e9", doc)


def test_flat_and_nested_data_agree():
    with Daemon() as d:
        row = [0.3 * j for j in range(30)]
        flat = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [2, 30],
                            "data": row + row}]}
        nested = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [2, 30],
                              "data": [row, row]}]}
        a = infer(d, flat)[1]["outputs"][0]["data"]
        b = infer(d, nested)[1]["outputs"][0]["data"]
        expect(a == b and len(a) == 2 and a[0] == a[1], (a, b))
        fp64 = {"inputs": [{"name": "features", "datatype": "FP64", "shape": [2, 30],
                            "data": [row, row]}]}
        c = infer(d, fp64)[1]["outputs"][0]["data"]
        expect(abs(c[0] - a[0]) < 1e-6, (a, c))
        col = {"inputs": [{"name": "f%d" % j, "datatype": "FP32", "shape": [1, 1],
                           "data": [[row[j]]]} for j in range(30)]}
        e = infer(d, col)[1]["outputs"][0]["data"]
        expect(abs(e[0] - a[0]) < 1e-6, (a, e))


def test_optional_features_may_be_absent():
    with Daemon() as d:
        st, doc, _ = infer(d, {"inputs": [{"name": "f0", "datatype": "FP32", "shape": [1],
                                           "data": [100.0]}]})
        expect(st == 200 and len(doc["outputs"][0]["data"]) == 1, doc)
        allnull = [None] * 30
        st, doc2, _ = infer(d, v2_row(allnull))
        expect(st == 200, doc2)


def test_requested_outputs():
    with Daemon() as d:
        body = v2_row([0.1] * 30)
        body["outputs"] = [{"name": "probability"}]
        st, doc, _ = infer(d, body)
        expect(st == 200 and [o["name"] for o in doc["outputs"]] == ["probability"], doc)
        body["outputs"] = [{"name": "nope"}]
        st, doc, _ = infer(d, body)
        expect_error(st, doc, 400, "unexpected inference output 'nope'")
        body["outputs"] = [{"name": "probability"}, {"name": "probability"}]
        st, doc, _ = infer(d, body)
        expect_error(st, doc, 400, "already exists")
        body["outputs"] = [{"name": "probability", "parameters": {"classification": 2}}]
        st, doc, _ = infer(d, body)
        expect(st == 200, doc)
        out = doc["outputs"][0]
        expect(out["datatype"] == "BYTES" and out["shape"] == [1, 2], out)
        first, second = out["data"]
        expect(float(first.split(":")[0]) >= float(second.split(":")[0]), out)
        expect({first.split(":", 1)[1], second.split(":", 1)[1]} ==
               {"0:negative", "1:positive"}, out)
        body["outputs"] = [{"name": "probability", "parameters": {"binary_data": True}}]
        st, data, hdrs = d.request("POST", "/v2/models/bench/infer", body)
        expect(st == 200 and hdrs["content-type"] == "application/octet-stream", hdrs)
        n = int(hdrs["inference-header-content-length"])
        out = json.loads(data[:n])["outputs"][0]
        expect(out["parameters"] == {"binary_data_size": 4} and "data" not in out, out)
        expect(len(data) == n + 4, data)
        body["outputs"] = [{"name": "probability", "parameters": {"binary_data": False}}]
        st, doc, hdrs = infer(d, body)
        expect(st == 200 and hdrs["content-type"] == "application/json", hdrs)
        expect("inference-header-content-length" not in hdrs, hdrs)


def test_statistics_and_config():
    with Daemon() as d:
        for _ in range(3):
            infer(d, v2_row([0.1] * 30))
        infer(d, {"inputs": []})
        st, doc, _ = d.json("GET", "/v2/models/bench/stats")
        expect(st == 200, doc)
        s = doc["model_stats"][0]
        expect(s["name"] == "bench" and s["version"] == "1", s)
        expect(s["inference_count"] == 3 and s["execution_count"] == 3, s)
        expect(s["inference_stats"]["success"]["count"] == 3, s)
        expect(s["inference_stats"]["fail"]["count"] == 1, s)
        expect(s["inference_stats"]["success"]["ns"] > 0, s)
        expect(s["last_inference"] > 1.7e12, s)
        st, doc, _ = d.json("GET", "/v2/models/stats")
        expect(st == 200 and any(m["name"] == "bench" for m in doc["model_stats"]), doc)
        st, doc, _ = d.json("GET", "/v2/models/nosuch/stats")
        expect_error(st, doc, 404)
        st, doc, _ = d.json("GET", "/v2/models/bench/config")
        expect(st == 200 and doc["name"] == "bench" and doc["backend"] == "trees", doc)
        expect(doc["input"][0]["data_type"] == "TYPE_FP32", doc["input"][0])


def test_keepalive_many_requests_one_connection():
    import http.client
    with Daemon() as d:
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        body = json.dumps(v2_row([0.5] * 30))
        for i in range(300):
            c.request("POST", "/v2/models/bench/infer", body)
            r = c.getresponse()
            data = r.read()
            expect(r.status == 200, data)
        c.close()


if __name__ == "__main__":
    run([test_model_metadata_and_ready, test_infer_matches_libxgboost_on_every_bench_row,
         test_response_shape_and_request_id, test_flat_and_nested_data_agree,
         test_optional_features_may_be_absent, test_requested_outputs,
         test_statistics_and_config, test_keepalive_many_requests_one_connection])
