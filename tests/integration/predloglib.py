"""Helpers of the prediction log's tests (t62xx): a repository with the
fraud example and a keyed copy of it, request bodies, and waiting for the
log's writer through /metrics. Python 3 standard library only."""
import os
import shutil

from harness import expect, make_repo, wait_for

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


def keyed_repo(tmp, extra_yaml="", feature_yaml=None):
    """The examples, and fraudk: fraud with KEYS_YAML and extra_yaml appended;
    feature_yaml(text) may rewrite its model.yaml first."""
    repo = make_repo(os.path.join(tmp, "repo"), bench=False)
    shutil.copytree(os.path.join(repo, "fraud"), os.path.join(repo, "fraudk"))
    with open(os.path.join(repo, "fraudk", "model.yaml")) as f:
        text = f.read().replace("name: fraud\n", "")
    if feature_yaml is not None:
        text = feature_yaml(text)
    with open(os.path.join(repo, "fraudk", "model.yaml"), "w") as f:
        f.write(text + KEYS_YAML + extra_yaml)
    return repo


def v2_body(rows, params=None):
    body = {"inputs": [{"name": n, "datatype": dt, "shape": [len(rows)],
                        "data": [r[n] for r in rows]} for n, dt in DTYPES.items()]}
    if params is not None:
        body["parameters"] = params
    return body


def metric(d, name):
    st, data, _ = d.request("GET", "/metrics")
    expect(st == 200, data)
    for line in data.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def settled(d, written):
    """Waits until the log has written `written` records in all (polls /metrics)."""
    ok = wait_for(lambda: metric(d, "modeld_predlog_records_written_total") >= written, 15)
    expect(ok, "the log wrote %s of %d records" %
           (metric(d, "modeld_predlog_records_written_total"), written))


def listing(d, **query):
    """GET /api/v1/predictions with query; (status, doc)."""
    from urllib.parse import urlencode
    st, doc, _ = d.json("GET", "/api/v1/predictions" + ("?" + urlencode(query) if query else ""))
    return st, doc
