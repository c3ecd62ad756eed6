"""Helpers of the feedback and quality tests (t6220-t6239): a repository
with the examples and a copy of the fraud model that declares a `txn` key,
random valid rows for the fraud (binary) and housing (regression) models,
predictions sent with request ids of the test's choosing, waiting for the
prediction log to store them, and reading the store file."""
import os
import random
import shutil
import sqlite3
import time

from harness import expect, make_repo, wait_for

KEYS_YAML = """keys:
  - name: txn
    type: string
"""

FRAUD_TYPES = {"amount": "FP32", "hour": "INT32", "account_age_days": "INT32",
               "distance_km": "FP32", "merchant_category": "BYTES", "card_tier": "BYTES",
               "is_international": "BOOL", "transactions_24h": "INT32"}
HOUSING_TYPES = {"sqft": "FP32", "bedrooms": "INT32", "bathrooms": "FP32", "age_years": "INT32",
                 "lot_size_sqft": "FP32", "garage_spaces": "INT32", "neighborhood": "BYTES"}


def feedback_repo(tmp):
    """The examples, and 'fraudk': the fraud model with a string key `txn`."""
    repo = make_repo(os.path.join(tmp, "repo"), bench=False)
    shutil.copytree(os.path.join(repo, "fraud"), os.path.join(repo, "fraudk"))
    with open(os.path.join(repo, "fraudk", "model.yaml")) as f:
        text = f.read().replace("name: fraud\n", "")
    with open(os.path.join(repo, "fraudk", "model.yaml"), "w") as f:
        f.write(text + KEYS_YAML)
    return repo


def fraud_rows(n, rng):
    return [{"amount": round(rng.uniform(1, 3000), 2), "hour": rng.randrange(24),
             "account_age_days": rng.randrange(5000),
             "distance_km": None if rng.random() < 0.1 else round(rng.uniform(0, 2000), 1),
             "merchant_category": rng.choice(["grocery", "electronics", "travel", "online",
                                              "restaurant"]),
             "card_tier": rng.choice(["basic", "gold", "platinum"]),
             "is_international": rng.random() < 0.3, "transactions_24h": rng.randrange(20)}
            for _ in range(n)]


def housing_rows(n, rng):
    return [{"sqft": round(rng.uniform(400, 5000)), "bedrooms": rng.randrange(1, 7),
             "bathrooms": rng.choice([1, 1.5, 2, 2.5, 3, 4]), "age_years": rng.randrange(100),
             "lot_size_sqft": None if rng.random() < 0.2 else round(rng.uniform(0, 20000)),
             "garage_spaces": rng.randrange(4),
             "neighborhood": rng.choice(["downtown", "suburb", "rural", "waterfront"])}
            for _ in range(n)]


def v2_body(rows, types, params=None):
    body = {"inputs": [{"name": n, "datatype": dt, "shape": [len(rows)],
                        "data": [r[n] for r in rows]} for n, dt in types.items()]}
    if params is not None:
        body["parameters"] = params
    return body


def predict(d, model, rows, request_id, types=FRAUD_TYPES, params=None):
    """Sends rows in one V2 request with X-Request-Id request_id; the answer's document."""
    st, doc, _ = d.json("POST", "/v2/models/%s/infer" % model, v2_body(rows, types, params),
                        {"X-Request-Id": request_id})
    expect(st == 200, (st, doc))
    return doc


def db_rows(data, sql, args=()):
    db = sqlite3.connect(os.path.join(data, "modeld.db"), timeout=30)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(sql, args)]
    finally:
        db.close()


def wait_rows(data, where, n, timeout=20):
    """Waits until the prediction log has stored n rows matching where."""
    sql = "SELECT count(*) AS n FROM predictions WHERE " + where
    ok = wait_for(lambda: db_rows(data, sql)[0]["n"] >= n, timeout)
    expect(ok, "the prediction log stored %d of %d rows (%s)"
           % (db_rows(data, sql)[0]["n"], n, where))


def post(d, body, status=200):
    st, doc, _ = d.json("POST", "/api/v1/feedback", body)
    expect(st == status, (st, doc, body if len(str(body)) < 400 else "..."))
    return doc


def metric(d, name, labels):
    """The value of the /metrics sample name{labels...} (a dict), or None."""
    _, text, _ = d.request("GET", "/metrics")
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    for line in text.decode().splitlines():
        if line.startswith(name + "{") and all(('%s="%s"' % kv) in line for kv in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    del want
    return None


def wait_metric(d, name, labels, value, timeout=15):
    ok = wait_for(lambda: metric(d, name, labels) == value, timeout)
    expect(ok, "%s%r is %r, not %r" % (name, labels, metric(d, name, labels), value))


def rng_for(seed):
    return random.Random(seed)


def now_ms():
    return int(time.time() * 1000)
