#!/usr/bin/python3
"""TF Serving rows given as lists (`"instances": [[42.5, 13, ...]]`) for
models with BYTES features: values in the contract's feature order, as the
metadata lists the inputs, each read as its feature's datatype; the same
predictions as rows of named features and as the V2 path. Rows of the wrong
length, and values of the wrong type, are refused naming the row and the
feature."""
import csv
import json
import os

from harness import ROOT, Daemon, expect, expect_error, run

CHECK = os.path.join(ROOT, "examples", "data", "fraud_check.csv")
MERCHANTS = ["grocery", "electronics", "travel", "online", "restaurant"]
TIERS = ["basic", "gold", "platinum"]


def fraud_rows():
    """The rows of examples/data/fraud_check.csv as feature values (None where
    the cell is empty) and the served version's probability for each."""
    rows = []
    with open(CHECK) as f:
        for r in csv.DictReader(f):
            merchant = [m for m in MERCHANTS if r["merchant_category=" + m] == "1"]
            expect(len(merchant) == 1, r)
            rows.append(({
                "amount": float(r["amount"]),
                "hour": int(r["hour"]),
                "account_age_days": int(r["account_age_days"]),
                "distance_km": float(r["distance_km"]) if r["distance_km"] else None,
                "merchant_category": merchant[0],
                "card_tier": TIERS[int(r["card_tier"])],
                "is_international": r["is_international"] == "1",
                "transactions_24h": int(r["transactions_24h"]) if r["transactions_24h"] else None,
            }, float(r["v2:probability"])))
    return rows


def feature_order(d, model):
    """The model's inputs in order, as a client reads them from the V2 metadata."""
    st, meta, _ = d.json("GET", "/v2/models/%s" % model)
    expect(st == 200, meta)
    return [i["name"] for i in meta["inputs"]]


def test_lists_match_named_rows_and_v2():
    rows = fraud_rows()
    expect(len(rows) == 50 and any(r["distance_km"] is None for r, _ in rows), len(rows))
    with Daemon() as d:
        order = feature_order(d, "fraud")
        expect(order[4] == "merchant_category", order)
        # The TF Serving metadata lists them in the same order.
        st, tmeta, _ = d.json("GET", "/v1/models/fraud/metadata")
        sig = tmeta["metadata"]["signature_def"]["signature_def"]["serving_default"]
        expect(list(sig["inputs"]) == order, (list(sig["inputs"]), order))
        lists = [[r[name] for name in order] for r, _ in rows]
        st, by_list, _ = d.json("POST", "/v1/models/fraud:predict", {"instances": lists})
        expect(st == 200, by_list)
        st, by_name, _ = d.json("POST", "/v1/models/fraud:predict",
                                {"instances": [r for r, _ in rows]})
        expect(st == 200, by_name)
        expect(by_list["predictions"] == by_name["predictions"], (by_list, by_name))
        for got, (_, ref) in zip(by_list["predictions"], rows):
            expect(abs(got["probability"] - ref) <= 1e-6, (got, ref))
        # "inputs" as a list of rows answers in the columnar form, the same numbers.
        st, cols, _ = d.json("POST", "/v1/models/fraud:predict", {"inputs": lists})
        expect(st == 200, cols)
        expect(cols["outputs"]["probability"] == [p["probability"] for p in by_list["predictions"]],
               cols)
        # Base64 bytes, [v] for a value, NaN for an optional float, as in named rows.
        one = [[12.5, 13, 812, "NaN", {"b64": "Z3JvY2VyeQ=="}, ["gold"], False, None]]
        text = json.dumps({"instances": one}).replace('"NaN"', "NaN")
        st, a, _ = d.json("POST", "/v1/models/fraud:predict", text)
        st2, b, _ = d.json("POST", "/v1/models/fraud:predict", {"instances": [
            {"amount": 12.5, "hour": 13, "account_age_days": 812, "distance_km": None,
             "merchant_category": "grocery", "card_tier": "gold", "is_international": False}]})
        expect(st == st2 == 200 and a["predictions"] == b["predictions"], (a, b))
        # A second model with BYTES features (the linear engine).
        order = feature_order(d, "churn")
        row = {"tenure_months": 3, "monthly_charges": 70.5, "contract": "month-to-month",
               "support_calls": 4, "has_partner": False, "satisfaction_score": None}
        expect(sorted(order) == sorted(row), order)
        st, a, _ = d.json("POST", "/v1/models/churn:predict",
                          {"instances": [[row[n] for n in order]]})
        st2, b, _ = d.json("POST", "/v1/models/churn:predict", {"instances": [row]})
        expect(st == st2 == 200 and a["predictions"] == b["predictions"], (a, b))


def test_list_errors_name_row_and_feature():
    good = [42.5, 13, 812, 3.2, "grocery", "gold", False, 2]
    with Daemon() as d:
        expect(feature_order(d, "fraud")[:3] == ["amount", "hour", "account_age_days"], "order")
        cases = [
            ([good, good[:7]], "instances[1]: expected a list of 8 values in feature order "
                               "(amount, hour, account_age_days, distance_km, merchant_category, "
                               "card_tier, is_international, transactions_24h), got 7"),
            ([good, good + [1]], "instances[1]: expected a list of 8 values in feature order"),
            ([good, {"amount": 1}], "instances[1]: expected a list of 8 values in feature order"),
            ([["42.5"] + good[1:]], "instances[0] feature 'amount': not of expected type: float"),
            ([good, good[:4] + [7] + good[5:]],
             "instances[1] feature 'merchant_category': not of expected type: string"),
            ([good[:1] + [13.5] + good[2:]], "instances[0] feature 'hour': not of expected type: "
                                             "int32"),
            ([good[:6] + [1] + good[7:]], "instances[0] feature 'is_international': not of "
                                          "expected type: bool"),
            # The contract's checks after decoding: category, range, required.
            ([good, good[:4] + ["casino"] + good[5:]],
             "feature 'merchant_category' row 1: unknown category 'casino'"),
            ([good[:1] + [24] + good[2:]], "feature 'hour' row 0: 24 above max 23"),
            ([[None] + good[1:]], "feature 'amount' row 0: null value for required feature"),
        ]
        for instances, frag in cases:
            st, doc, _ = d.json("POST", "/v1/models/fraud:predict", {"instances": instances})
            expect_error(st, doc, 400, frag)
        st, doc, _ = d.json("POST", "/v1/models/fraud:predict", {"inputs": [good, good[:2]]})
        expect_error(st, doc, 400, "inputs[1]: expected a list of 8 values in feature order")
        # Still serving.
        st, doc, _ = d.json("POST", "/v1/models/fraud:predict", {"instances": [good]})
        expect(st == 200 and len(doc["predictions"]) == 1, doc)


if __name__ == "__main__":
    run([test_lists_match_named_rows_and_v2, test_list_errors_name_row_and_feature])
