#!/usr/bin/python3
"""The order in which a prediction's failures are answered, the same over V2
and TF Serving (one pipeline decodes the body before it resolves the
version, yet answers the version first): an unknown model or version, a
version not ready, an unloaded model and a TF Serving version label win
over a malformed body; a malformed body wins over an input the contract
refuses; a body is counted as a rejected request of its version only once
the version is resolved."""
import json

from harness import Daemon, expect, expect_error, run

BAD = "{\"inputs\": ["  # not JSON
FRAUD = {"amount": 12.5, "hour": 13, "account_age_days": 400, "merchant_category": "travel",
         "is_international": False}


def v2_named(values):
    types = {"amount": "FP32", "hour": "INT32", "account_age_days": "INT32",
             "merchant_category": "BYTES", "is_international": "BOOL"}
    return {"inputs": [{"name": k, "datatype": types[k], "shape": [1], "data": [v]}
                       for k, v in values.items()]}


def post(d, path, body, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    st, data, hdrs = d.request("POST", path, body, h)
    return st, json.loads(data), hdrs


def stats(d, model):
    st, doc, _ = d.json("GET", "/v2/models/%s/stats" % model)
    expect(st == 200, doc)
    s = doc["model_stats"][0]
    return s["inference_stats"]["success"]["count"], s["inference_stats"]["fail"]["count"]


def test_the_version_is_answered_before_the_body():
    with Daemon() as d:
        for path in ("/v2/models/nope/infer", "/v1/models/nope:predict"):
            st, doc, _ = post(d, path, BAD)
            expect_error(st, doc, 404)
            expect(doc["error"] == "unknown model 'nope'", (path, doc))
        for path in ("/v2/models/fraud/versions/9/infer", "/v1/models/fraud/versions/9:predict"):
            st, doc, _ = post(d, path, BAD)
            expect_error(st, doc, 404)
            expect(doc["error"] == "model 'fraud' has no version '9'", (path, doc))
        # fraud keeps its newest version only: version 1 is on disk, not served.
        for path in ("/v2/models/fraud/versions/1/infer", "/v1/models/fraud/versions/1:predict"):
            st, doc, hdrs = post(d, path, BAD)
            expect_error(st, doc, 503, "model 'fraud' version 1 is not ready")
            expect(hdrs.get("retry-after") == "1", hdrs)
        st, doc, _ = post(d, "/v1/models/fraud/labels/stable:predict", BAD)
        expect_error(st, doc, 400)
        expect(doc["error"] == "Unrecognized servable version label: stable", doc)
        # A raw binary body whose one input cannot be the model's: the version first.
        st, doc, _ = post(d, "/v2/models/nope/infer", b"\x00" * 8,
                          {"Inference-Header-Content-Length": "0"})
        expect_error(st, doc, 404, "unknown model 'nope'")
        st, doc, _ = post(d, "/v2/models/fraud/infer", b"\x00" * 8,
                          {"Inference-Header-Content-Length": "0"})
        expect_error(st, doc, 400, "raw binary request: model 'fraud' takes 8 inputs")
        st, _, _ = d.request("POST", "/v2/repository/models/housing/unload")
        expect(st == 200, st)
        for path in ("/v2/models/housing/infer", "/v1/models/housing:predict"):
            st, doc, _ = post(d, path, BAD)
            expect_error(st, doc, 503, "model 'housing' was unloaded by an operator")


def test_the_body_is_answered_before_the_contract():
    with Daemon() as d:
        ok0, fail0 = stats(d, "fraud")
        st, doc, _ = post(d, "/v2/models/fraud/infer", BAD)
        expect_error(st, doc, 400)
        st, doc, _ = post(d, "/v1/models/fraud:predict", BAD)
        expect_error(st, doc, 400)
        # Well-formed, but refused by the contract: the value's rule, named.
        st, doc, _ = post(d, "/v2/models/fraud/infer", json.dumps(v2_named(dict(FRAUD, amount=-5))))
        expect_error(st, doc, 400, "feature 'amount' row 0: -5 below min 0")
        st, doc, _ = post(d, "/v1/models/fraud:predict",
                          json.dumps({"instances": [dict(FRAUD, amount=-5)]}))
        expect_error(st, doc, 400, "feature 'amount' row 0: -5 below min 0")
        # TF Serving's values are typed by the contract: a wrong type is named as TF Serving does.
        st, doc, _ = post(d, "/v1/models/fraud:predict",
                          json.dumps({"instances": [dict(FRAUD, hour="x")]}))
        expect_error(st, doc, 400, "instances[0] feature 'hour': not of expected type: int32")
        # V2 outputs asked for are checked against the version's contract.
        body = dict(v2_named(FRAUD), outputs=[{"name": "nope"}])
        st, doc, _ = post(d, "/v2/models/fraud/infer", json.dumps(body))
        expect_error(st, doc, 400, "unexpected inference output 'nope' for model 'fraud'")
        # Each of those six was a rejected request of fraud v2; the unknown model's were nobody's.
        post(d, "/v2/models/nope/infer", BAD)
        ok1, fail1 = stats(d, "fraud")
        expect((ok1, fail1) == (ok0, fail0 + 6), (ok0, fail0, ok1, fail1))
        for path, body in (("/v2/models/fraud/infer", v2_named(FRAUD)),
                           ("/v1/models/fraud:predict", {"instances": [FRAUD]})):
            st, doc, _ = post(d, path, json.dumps(body))
            expect(st == 200, (path, doc))
        expect(stats(d, "fraud") == (ok1 + 2, fail1), stats(d, "fraud"))


if __name__ == "__main__":
    run([test_the_version_is_answered_before_the_body,
         test_the_body_is_answered_before_the_contract])
