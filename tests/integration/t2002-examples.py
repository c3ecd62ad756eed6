#!/usr/bin/python3
"""The example models, as a new user meets them: every sample request in
examples/data answers 200 with the contract's outputs; both request forms and
both protocols agree; contract violations on real models are refused."""
import json
import os

from harness import ROOT, Daemon, expect, expect_error, run

DATA = os.path.join(ROOT, "examples", "data")


def sample(name):
    with open(os.path.join(DATA, name + "_sample.json")) as f:
        return json.load(f)


def test_every_sample_answers():
    with Daemon(bench=False) as d:
        want = {"fraud": (["probability", "label"], "2"), "churn": (["probability", "label"], "1"),
                "housing": (["prediction"], "1"), "iris": (["probability", "label"], "1")}
        for model, (outputs, version) in want.items():
            st, doc, _ = d.json("POST", "/v2/models/%s/infer" % model, sample(model))
            expect(st == 200, (model, doc))
            expect(doc["model_version"] == version, (model, doc))
            expect([o["name"] for o in doc["outputs"]] == outputs, (model, doc))
            for o in doc["outputs"]:
                expect(o["shape"][0] == 2, (model, o))
                if o["name"] == "probability":
                    for v in o["data"]:
                        expect(0 <= v <= 1, (model, o))
            st, doc, _ = d.json("GET", "/v2/models/%s/ready" % model)
            expect(st == 200, (model, doc))


def test_protocols_agree_on_fraud():
    with Daemon(bench=False) as d:
        body = sample("fraud")
        st, v2, _ = d.json("POST", "/v2/models/fraud/infer", body)
        rows = []
        for i in range(2):
            rows.append({inp["name"]: inp["data"][i][0] for inp in body["inputs"]})
        st, tf, _ = d.json("POST", "/v1/models/fraud:predict", {"instances": rows})
        expect(st == 200, tf)
        for i in range(2):
            expect(abs(tf["predictions"][i]["probability"] - v2["outputs"][0]["data"][i]) < 1e-7,
                   (tf, v2))
            expect(tf["predictions"][i]["label"] == v2["outputs"][1]["data"][i], (tf, v2))
        # v1 of fraud is on disk but not selected by the policy
        st, doc, _ = d.json("POST", "/v2/models/fraud/versions/1/infer", body)
        expect_error(st, doc, 503, "version policy")


def test_contract_violations_on_examples():
    with Daemon(bench=False) as d:
        body = sample("fraud")
        for inp in body["inputs"]:
            if inp["name"] == "merchant_category":
                inp["data"] = [["casino"], ["grocery"]]
        st, doc, _ = d.json("POST", "/v2/models/fraud/infer", body)
        expect_error(st, doc, 400, "casino")
        body = sample("churn")
        body["inputs"] = [i for i in body["inputs"] if i["name"] != "tenure_months"]
        st, doc, _ = d.json("POST", "/v2/models/churn/infer", body)
        expect_error(st, doc, 400, "tenure_months")
        st, doc, _ = d.json("POST", "/v1/models/housing:predict",
                            {"instances": [{"sqft": 50, "bedrooms": 2, "bathrooms": 1,
                                            "age_years": 3, "neighborhood": "rural"}]})
        expect_error(st, doc, 400, "sqft")
        # the optional lot size may be left out; the ordinal card tier defaults
        st, doc, _ = d.json("POST", "/v1/models/housing:predict",
                            {"instances": [{"sqft": 1500, "bedrooms": 2, "bathrooms": 1,
                                            "age_years": 3, "neighborhood": "rural"}]})
        expect(st == 200 and doc["predictions"][0] > 0, doc)
        st, doc, _ = d.json("POST", "/v1/models/churn:predict",
                            {"instances": [{"tenure_months": 3, "monthly_charges": 89.5,
                                            "contract": "month-to-month", "support_calls": 4,
                                            "has_partner": False}]})
        expect(st == 200 and doc["predictions"][0]["label"] in ("stay", "churn"), doc)


if __name__ == "__main__":
    run([test_every_sample_answers, test_protocols_agree_on_fraud,
         test_contract_violations_on_examples])
