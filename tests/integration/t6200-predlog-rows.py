#!/usr/bin/python3
"""The prediction log on a real daemon: every row of every answered
prediction lands in the store with every field (request id, row, time,
model, version, route, keys, features as sent, outputs, latency, status),
a request refused by validation leaves one record of its failure, and a
clean stop writes what the ring still holds (the rows are read from the
store file after SIGTERM)."""
import json
import os
import shutil
import sqlite3
import tempfile
import time

from harness import Daemon, expect, make_repo, run

KEYS_YAML = """keys:
  - name: user_id
    header: X-User-Id
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
    repo = make_repo(os.path.join(tmp, "repo"), bench=False)
    shutil.copytree(os.path.join(repo, "fraud"), os.path.join(repo, "fraudk"))
    with open(os.path.join(repo, "fraudk", "model.yaml")) as f:
        text = f.read().replace("name: fraud\n", "")
    with open(os.path.join(repo, "fraudk", "model.yaml"), "w") as f:
        f.write(text + KEYS_YAML)
    return repo


def v2_body(rows, params=None):
    body = {"inputs": [{"name": n, "datatype": dt, "shape": [len(rows)],
                        "data": [r[n] for r in rows]} for n, dt in DTYPES.items()]}
    if params is not None:
        body["parameters"] = params
    return body


def stored(data, where="1"):
    db = sqlite3.connect(os.path.join(data, "modeld.db"))
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM predictions WHERE %s ORDER BY id"
                                            % where)]
    finally:
        db.close()


def test_rows_land_with_every_field():
    tmp = tempfile.mkdtemp(prefix="modeld-t6200-")
    try:
        data = os.path.join(tmp, "data")
        with Daemon(repo=keyed_repo(tmp), data=data) as d:
            t0 = int(time.time() * 1000)
            st, doc, h = d.json("POST", "/v2/models/fraudk/infer",
                                v2_body([ROW, ROW2], {"user_id": "u-17", "txn": 99}),
                                {"X-Request-Id": "req-two-rows"})
            expect(st == 200, doc)
            probs = [o for o in doc["outputs"] if o["name"] == "probability"][0]["data"]
            labels = [o for o in doc["outputs"] if o["name"] == "label"][0]["data"]
            version = int(h["x-model-version"])
            route = h["x-model-route"]
            # Refused by validation: one record of the failure, no outputs.
            st, doc, _ = d.json("POST", "/v2/models/fraudk/infer",
                                v2_body([dict(ROW, amount=-1.0)], {"user_id": "u-18"}),
                                {"X-Request-Id": "req-refused"})
            expect(st == 400, doc)
            t1 = int(time.time() * 1000)
        rows = stored(data, "request_id = 'req-two-rows'")
        expect(len(rows) == 2, rows)
        for i, r in enumerate(rows):
            expect(r["row"] == i, r)
            expect(t0 - 5 <= r["at_ms"] <= t1 + 5, (t0, r["at_ms"], t1))
            expect(r["model"] == "fraudk" and r["version"] == version, r)
            expect(r["route"] == route and r["shadow"] == 0, r)
            expect(r["status"] == 200 and r["latency_us"] > 0, r)
            expect(json.loads(r["keys"]) == {"user_id": "u-17", "txn": 99}, r["keys"])
            feats = json.loads(r["features"])
            want = [ROW, ROW2][i]
            expect(set(feats) == set(want), feats)
            for k, v in want.items():
                expect(feats[k] == v or (isinstance(v, float) and abs(feats[k] - v) < 1e-6),
                       (k, feats[k], v))
            outs = json.loads(r["outputs"])
            expect(abs(outs["probability"] - probs[i]) < 1e-6, (outs, probs))
            expect(outs["label"] == labels[i] and r["label"] == labels[i], (outs, labels))
            expect(abs(r["score"] - probs[i]) < 1e-6, r)
        bad = stored(data, "request_id = 'req-refused'")
        expect(len(bad) == 1 and bad[0]["status"] == 400 and bad[0]["outputs"] is None, bad)
        # The key index by which feedback finds a row.
        db = sqlite3.connect(os.path.join(data, "modeld.db"))
        keys = db.execute("SELECT k.name, k.value FROM prediction_keys k JOIN predictions p "
                          "ON p.id = k.prediction WHERE p.request_id = 'req-two-rows' "
                          "ORDER BY k.name, p.row").fetchall()
        db.close()
        expect(keys == [("txn", "99"), ("txn", "99"), ("user_id", "u-17"), ("user_id", "u-17")],
               keys)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_clean_stop_flushes_many():
    tmp = tempfile.mkdtemp(prefix="modeld-t6200-")
    try:
        data = os.path.join(tmp, "data")
        n = 300
        with Daemon(repo=keyed_repo(tmp), data=data) as d:
            for i in range(n):
                st, doc, _ = d.json("POST", "/v2/models/fraud/infer", v2_body([ROW]),
                                    {"X-Request-Id": "flush-%d" % i})
                expect(st == 200, doc)
        got = stored(data, "request_id LIKE 'flush-%'")
        expect(len(got) == n, len(got))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_rows_land_with_every_field, test_clean_stop_flushes_many])
