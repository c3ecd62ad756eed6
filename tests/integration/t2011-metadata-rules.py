#!/usr/bin/python3
"""The model metadata (GET /v2/models/{m}) shows each input's rules from
the contract under "parameters" (required, missing policy, default, range,
allow_nan, categories, encoding), beside the standard name, datatype and
shape, which stay as they were; a client can check a request with them
before sending it, and the server agrees with that check."""
import contextlib
import json
import os
import shutil
import tempfile

from harness import Daemon, add_bench, expect, expect_error, make_repo, run

YAML = """backend: trees
task: classification
labels: [no, yes]
features:
  - {name: amount, datatype: FP32, min: 0.1, max: 2.5e20}
  - {name: ratio, datatype: FP64, required: false, missing: default, default: 0.3,
     min: -1.5, max: 1}
  - {name: noisy, datatype: FP32, required: false, allow_nan: true}
  - {name: count, datatype: INT64, required: false, min: -9007199254740992, max: 4e18}
  - {name: vip, datatype: BOOL, required: false, missing: default, default: true}
  - {name: flag, datatype: BOOL}
  - {name: channel, datatype: INT32, categories: [3, 1, 2], required: false,
     missing: default, default: 2, encoding: ordinal}
  - {name: country, datatype: BYTES, categories: [US, "C\\u00f4te \\"d'Ivoire\\""]}
""" + "".join("  - {name: x%d, datatype: FP32, required: false}\n" % j for j in range(9, 30))

WANT = {
    "amount": {"required": True, "min": 0.1, "max": 2.5e20, "allow_nan": False},
    "ratio": {"required": False, "missing": "default", "default": 0.3, "min": -1.5, "max": 1,
              "allow_nan": False},
    "noisy": {"required": False, "missing": "nan", "allow_nan": True},
    "count": {"required": False, "missing": "nan", "min": -9007199254740992, "max": 4e18},
    "vip": {"required": False, "missing": "default", "default": True},
    "flag": {"required": True},
    "channel": {"required": False, "missing": "default", "default": 2, "categories": [3, 1, 2],
                "encoding": "ordinal"},
    "country": {"required": True, "categories": ["US", "C\u00f4te \"d'Ivoire\""],
                "encoding": "onehot"},
    "x9": {"required": False, "missing": "nan", "allow_nan": False},
}


@contextlib.contextmanager
def served():
    tmp = tempfile.mkdtemp(prefix="modeld-t2011-")
    try:
        repo = make_repo(os.path.join(tmp, "repo"), examples=True, bench=True)
        add_bench(repo, "rules", [1, 2], YAML)
        with Daemon(repo=repo) as d:
            yield d
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_inputs_carry_their_rules():
    with served() as d:
        for path in ("/v2/models/rules", "/v2/models/rules/versions/2"):
            st, data, _ = d.request("GET", path)
            expect(st == 200, data)
            doc = json.loads(data)
            expect(doc["name"] == "rules" and doc["platform"] == "modeld_trees", doc)
            expect([i["name"] for i in doc["inputs"]][:9] == list(WANT), doc["inputs"])
            for i in doc["inputs"]:
                # The standard fields first and unchanged; the rules under parameters.
                expect(list(i) == ["name", "datatype", "shape", "parameters"], i)
                expect(i["shape"] == [-1, 1], i)
                if i["name"] in WANT:
                    expect(i["parameters"] == WANT[i["name"]], (i, WANT[i["name"]]))
            expect(doc["inputs"][3]["datatype"] == "INT64", doc["inputs"][3])
            # Exact numbers: the text reads back as the double of model.yaml.
            expect(b'"min":0.1,' in data and b'"default":0.3,' in data, data[:400])
            expect(b'"max":4e+18' in data, data[:600])
            expect(all("parameters" not in o for o in doc["outputs"]), doc["outputs"])
        # Every example model's inputs have parameters with at least "required".
        for m in ("fraud", "churn", "iris", "housing", "bench", "strict"):
            st, doc, _ = d.json("GET", "/v2/models/%s" % m)
            expect(st == 200 and all(isinstance(i["parameters"]["required"], bool)
                                     for i in doc["inputs"]), (m, doc))


def client_check(meta, row):
    """What a client can tell from the metadata alone: the first broken rule."""
    for i in meta["inputs"]:
        p = i["parameters"]
        v = row.get(i["name"])
        if v is None:
            if p["required"]:
                return "feature '%s'" % i["name"]
            continue
        if "categories" in p and v not in p["categories"]:
            return "feature '%s'" % i["name"]
        if "min" in p and v < p["min"] or "max" in p and v > p["max"]:
            return "feature '%s'" % i["name"]
    return None


def test_a_client_can_check_before_sending():
    with served() as d:
        st, meta, _ = d.json("GET", "/v2/models/fraud")
        expect(st == 200, meta)
        good = {"amount": 12.5, "hour": 13, "account_age_days": 812, "distance_km": None,
                "merchant_category": "grocery", "card_tier": "gold", "is_international": False,
                "transactions_24h": 2}
        bad = [dict(good, hour=24), dict(good, amount=-1.0), dict(good, card_tier="iron"),
               dict(good, merchant_category="casino"), dict(good, account_age_days=None),
               dict(good, transactions_24h=10001)]
        for row in [good] + bad:
            verdict = client_check(meta, row)
            st, doc, _ = d.json("POST", "/v1/models/fraud:predict", {"instances": [row]})
            if verdict is None:
                expect(st == 200, (row, doc))
            else:
                expect_error(st, doc, 400, verdict)


if __name__ == "__main__":
    run([test_inputs_carry_their_rules, test_a_client_can_check_before_sending])
