#!/usr/bin/python3
"""model.yaml `keys:`: request fields that are checked but never sent to an
engine. A copy of the fraud example declares a required string key
`user_id` (header X-User-Id, at most 16 bytes) and an optional int64 key
`txn`. Keys are read from V2 request parameters, TF Serving row objects
and columnar inputs, or the key's header when the body has none; a
required key missing, a value of the wrong type and one too long are 400s
naming the key; predictions equal those of the same model without keys
(the engine never sees them); both protocols' metadata list the keys; a
bad `keys:` entry fails the model at load, naming the entry."""
import os
import shutil
import tempfile

from harness import Daemon, expect, expect_error, make_repo, repo_index, run

KEYS_YAML = """keys:
  - name: user_id
    required: true
    header: X-User-Id
    max_length: 16
    description: the card holder
  - name: txn
    type: int64
"""

ROW = {"amount": 42.5, "hour": 13, "account_age_days": 812, "distance_km": 3.2,
       "merchant_category": "travel", "card_tier": "gold", "is_international": False,
       "transactions_24h": 4}
ROW2 = dict(ROW, amount=900.0, merchant_category="online", distance_km=None)
DTYPES = {"amount": "FP32", "hour": "INT32", "account_age_days": "INT32",
          "distance_km": "FP32", "merchant_category": "BYTES", "card_tier": "BYTES",
          "is_international": "BOOL", "transactions_24h": "INT32"}


def keyed_repo(tmp):
    """The examples, and fraudk: fraud with KEYS_YAML appended."""
    repo = make_repo(os.path.join(tmp, "repo"), bench=False)
    shutil.copytree(os.path.join(repo, "fraud"), os.path.join(repo, "fraudk"))
    with open(os.path.join(repo, "fraudk", "model.yaml")) as f:
        text = f.read().replace("name: fraud\n", "")
    with open(os.path.join(repo, "fraudk", "model.yaml"), "w") as f:
        f.write(text + KEYS_YAML)
    return repo


class daemon(Daemon):  # noqa: N801 - used as `with daemon() as d`
    """A Daemon serving keyed_repo, which it removes when it stops."""

    def __init__(self):
        self.keys_tmp = tempfile.mkdtemp(prefix="modeld-keys-")
        super().__init__(repo=keyed_repo(self.keys_tmp))

    def __exit__(self, exc_type, exc, tb):
        try:
            super().__exit__(exc_type, exc, tb)
        finally:
            shutil.rmtree(self.keys_tmp, ignore_errors=True)


def v2_body(rows, params=None):
    inputs = []
    for name, dt in DTYPES.items():
        inputs.append({"name": name, "datatype": dt, "shape": [len(rows)],
                       "data": [r[name] for r in rows]})
    body = {"inputs": inputs}
    if params is not None:
        body["parameters"] = params
    return body


def v2(d, model, rows, params=None, headers=None):
    return d.json("POST", "/v2/models/%s/infer" % model, v2_body(rows, params), headers)


def probs(doc):
    return [o for o in doc["outputs"] if o["name"] == "probability"][0]["data"]


def test_v2_parameters():
    with daemon() as d:
        st, plain, _ = v2(d, "fraud", [ROW, ROW2])
        expect(st == 200, plain)
        st, doc, _ = v2(d, "fraudk", [ROW, ROW2], {"user_id": "u-17", "txn": 99,
                                                   "something_else": "ignored"})
        expect(st == 200, doc)
        # The key never reaches the engine: the same numbers as without it.
        expect(probs(doc) == probs(plain), (doc, plain))
        expect(doc["model_name"] == "fraudk", doc)
        # A key is no input: sent as a tensor it is an unknown input, as before.
        body = v2_body([ROW], {"user_id": "u-17"})
        body["inputs"].append({"name": "txn", "datatype": "INT64", "shape": [1], "data": [5]})
        st, doc, _ = d.json("POST", "/v2/models/fraudk/infer", body)
        expect_error(st, doc, 400, "'txn'")
        # The model without keys ignores a parameter of that name, as any other.
        st, doc, _ = v2(d, "fraud", [ROW], {"user_id": 5})
        expect(st == 200, doc)


def test_required_missing_and_order():
    with daemon() as d:
        st, doc, _ = v2(d, "fraudk", [ROW])
        expect_error(st, doc, 400, "key 'user_id': missing required key")
        expect("X-User-Id" in doc["error"], doc)
        st, doc, _ = v2(d, "fraudk", [ROW], {"txn": 1})
        expect_error(st, doc, 400, "key 'user_id': missing required key")
        # Resolution, then the body's syntax, come first, as for features.
        st, doc, _ = v2(d, "nosuch", [ROW])
        expect_error(st, doc, 404, "unknown model")
        st, doc, _ = d.json("POST", "/v2/models/fraudk/infer", '{"inputs": 7}')
        expect_error(st, doc, 400, "inputs: expected a non-empty array")
        st, doc, _ = d.json("POST", "/v1/models/fraudk:predict", '{"nothing": 1}')
        expect_error(st, doc, 400, "Missing 'inputs' or 'instances' key")
        # A request fine but for a feature: the feature is named.
        st, doc, _ = v2(d, "fraudk", [dict(ROW, amount=-1.0)], {"user_id": "u"})
        expect_error(st, doc, 400, "feature 'amount'")


def test_wrong_type_and_too_long():
    with daemon() as d:
        cases = [
            ({"user_id": 5}, "key 'user_id': expected a string, got a number"),
            ({"user_id": True}, "key 'user_id': expected a string, got a boolean"),
            ({"user_id": ""}, "key 'user_id': empty value"),
            ({"user_id": "x" * 17}, "key 'user_id': 17 bytes, longer than max_length 16"),
            ({"user_id": "u", "txn": "12"}, "key 'txn': expected an integer, got a string"),
            ({"user_id": "u", "txn": 1.5}, "key 'txn': '1.5' is not an integer within int64"),
            ({"user_id": "u", "txn": 2 ** 63}, "is not an integer within int64"),
        ]
        for params, fragment in cases:
            st, doc, _ = v2(d, "fraudk", [ROW], params)
            expect_error(st, doc, 400, fragment)
        st, doc, _ = v2(d, "fraudk", [ROW], {"user_id": "x" * 16, "txn": -(2 ** 63)})
        expect(st == 200, doc)


def test_header():
    with daemon() as d:
        st, plain, _ = v2(d, "fraud", [ROW])
        st, doc, _ = v2(d, "fraudk", [ROW], None, {"X-User-Id": "from-header"})
        expect(st == 200 and probs(doc) == probs(plain), doc)
        # Header names ignore case.
        st, doc, _ = v2(d, "fraudk", [ROW], None, {"x-user-id": "from-header"})
        expect(st == 200, doc)
        st, doc, _ = v2(d, "fraudk", [ROW], None, {"X-User-Id": "y" * 17})
        expect_error(st, doc, 400, "key 'user_id' (header X-User-Id): 17 bytes, longer than")
        # The body first: a header that would be refused is not even read.
        st, doc, _ = v2(d, "fraudk", [ROW], {"user_id": "body"}, {"X-User-Id": "y" * 17})
        expect(st == 200, doc)
        # TF Serving rows as lists carry no fields: the header carries the key.
        lists = [[ROW[k] for k in DTYPES]]
        st, doc, _ = d.json("POST", "/v1/models/fraudk:predict", {"instances": lists})
        expect_error(st, doc, 400, "key 'user_id': missing required key")
        st, doc, _ = d.json("POST", "/v1/models/fraudk:predict", {"instances": lists},
                            {"X-User-Id": "h"})
        expect(st == 200, doc)


def test_tfs_instances():
    with daemon() as d:
        st, plain, _ = d.json("POST", "/v1/models/fraud:predict", {"instances": [ROW, ROW2]})
        expect(st == 200, plain)
        rows = [dict(ROW, user_id="a", txn=1), dict(ROW2, user_id="b")]
        st, doc, _ = d.json("POST", "/v1/models/fraudk:predict", {"instances": rows})
        expect(st == 200, doc)
        expect(doc["predictions"] == plain["predictions"], (doc, plain))
        # Each row its own value: row 1 without one, and no header.
        rows = [dict(ROW, user_id="a"), dict(ROW2)]
        st, doc, _ = d.json("POST", "/v1/models/fraudk:predict", {"instances": rows})
        expect_error(st, doc, 400, "key 'user_id' row 1: missing required key")
        # ... filled by the header.
        st, doc, _ = d.json("POST", "/v1/models/fraudk:predict", {"instances": rows},
                            {"X-User-Id": "h"})
        expect(st == 200 and doc["predictions"] == plain["predictions"], doc)
        st, doc, _ = d.json("POST", "/v1/models/fraudk:predict",
                            {"instances": [dict(ROW, user_id="a", txn="7")]})
        expect_error(st, doc, 400, "key 'txn' row 0: expected an integer, got a string")
        # A field that is neither a feature nor a key is still refused.
        st, doc, _ = d.json("POST", "/v1/models/fraudk:predict",
                            {"instances": [dict(ROW, user_id="a", colour="red")]})
        expect_error(st, doc, 400, "instances[0]: unknown feature 'colour'")
        # The model without keys: a key's name is an unknown feature.
        st, doc, _ = d.json("POST", "/v1/models/fraud:predict",
                            {"instances": [dict(ROW, user_id="a")]})
        expect_error(st, doc, 400, "unknown feature 'user_id'")


def test_tfs_columns():
    with daemon() as d:
        cols = {k: [ROW[k], ROW2[k]] for k in DTYPES}
        st, plain, _ = d.json("POST", "/v1/models/fraud:predict", {"inputs": cols})
        expect(st == 200, plain)
        st, doc, _ = d.json("POST", "/v1/models/fraudk:predict",
                            {"inputs": dict(cols, user_id=["a", "b"], txn=[1, 2])})
        expect(st == 200 and doc["outputs"] == plain["outputs"], (doc, plain))
        # One value for every row.
        st, doc, _ = d.json("POST", "/v1/models/fraudk:predict",
                            {"inputs": dict(cols, user_id="a")})
        expect(st == 200 and doc["outputs"] == plain["outputs"], doc)
        st, doc, _ = d.json("POST", "/v1/models/fraudk:predict",
                            {"inputs": dict(cols, user_id=["a", "b", "c"])})
        expect_error(st, doc, 400, "key 'user_id': 3 values for 2 rows")
        st, doc, _ = d.json("POST", "/v1/models/fraudk:predict",
                            {"inputs": dict(cols, user_id=["a", None])})
        expect_error(st, doc, 400, "key 'user_id' row 1: missing required key")


def test_metadata():
    with daemon() as d:
        st, meta, _ = d.json("GET", "/v2/models/fraudk")
        expect(st == 200, meta)
        expect(meta["parameters"]["keys"] == [
            {"name": "user_id", "type": "string", "required": True, "max_length": 16,
             "header": "X-User-Id", "description": "the card holder"},
            {"name": "txn", "type": "int64", "required": False, "max_length": 20}], meta)
        expect("user_id" not in [i["name"] for i in meta["inputs"]], meta)
        st, meta, _ = d.json("GET", "/v2/models/fraud")
        expect(st == 200 and "parameters" not in meta, meta)
        st, meta, _ = d.json("GET", "/v1/models/fraudk/metadata")
        expect(st == 200, meta)
        expect([k["name"] for k in meta["metadata"]["keys"]] == ["user_id", "txn"], meta)
        sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
        expect("user_id" not in sig["inputs"], sig)
        st, meta, _ = d.json("GET", "/v1/models/fraud/metadata")
        expect(st == 200 and list(meta["metadata"]) == ["signature_def"], meta)


def test_bad_keys_refused_at_load():
    tmp = tempfile.mkdtemp(prefix="modeld-keys-")
    repo = keyed_repo(tmp)
    bad = {
        "k_feature": ("keys:\n  - name: amount\n", "keys[0].name: 'amount' is a feature's name"),
        "k_type": ("keys:\n  - name: u\n    type: float\n",
                   "keys[0].type: 'float' is not one of string, int64"),
        "k_length": ("keys:\n  - name: u\n    max_length: 5000\n",
                     "keys[0].max_length: 5000 is not between 1 and 4096"),
        "k_header": ("keys:\n  - name: u\n    header: 'X User'\n",
                     "keys[0].header: 'X User' is not an HTTP header name"),
        "k_unknown": ("keys:\n  - name: u\n    colour: red\n", "keys[0].colour: unknown key"),
    }
    for model, (text, _) in bad.items():
        shutil.copytree(os.path.join(repo, "fraud"), os.path.join(repo, model))
        path = os.path.join(repo, model, "model.yaml")
        with open(path) as f:
            base = f.read().replace("name: fraud\n", "")
        with open(path, "w") as f:
            f.write(base + text)
    try:
        with Daemon(repo=repo) as d:
            idx = repo_index(d)
            for model, (_, fragment) in bad.items():
                e = idx[(model, "")]
                expect(e["state"] == "UNAVAILABLE" and fragment in e["reason"], (model, e))
            expect(idx[("fraudk", "2")]["state"] == "READY", idx)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_v2_parameters, test_required_missing_and_order, test_wrong_type_and_too_long,
         test_header, test_tfs_instances, test_tfs_columns, test_metadata,
         test_bad_keys_refused_at_load])
