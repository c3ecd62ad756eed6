"""Helpers of the encryption-at-rest tests (t506x): data key files, a
repository whose model has keys and sends every row to review, predictions
with values found nowhere else, and a search of the store's files for
bytes. Python 3 standard library only."""
import hashlib
import os
import secrets
import shutil

from feedbacklib import db_rows
from harness import expect, make_repo

KEYED_YAML = """keys:
  - name: user_id
    header: X-User-Id
  - name: txn
review:
  rules:
    - sample: 1
      name: audit
"""

TYPES = {"amount": "FP32", "hour": "INT32", "account_age_days": "INT32",
         "distance_km": "FP32", "merchant_category": "BYTES", "card_tier": "BYTES",
         "is_international": "BOOL", "transactions_24h": "INT32"}


def key_file(path, *keys):
    """Writes the data keys (hex) to path, mode 0600; returns path."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# data keys: the last encrypts\n" + "".join(k + "\n" for k in keys))
    os.chmod(path, 0o600)
    return path


def new_key():
    return secrets.token_hex(32)


def key_id(hexkey):
    """The key id modeld gives a key: the first 4 bytes of its SHA-256."""
    return hashlib.sha256(bytes.fromhex(hexkey)).digest()[:4]


def keyed_repo(tmp):
    """The examples and fraudk: fraud with a user_id and a txn key, every row reviewed."""
    repo = make_repo(os.path.join(tmp, "repo"), bench=False)
    shutil.copytree(os.path.join(repo, "fraud"), os.path.join(repo, "fraudk"))
    path = os.path.join(repo, "fraudk", "model.yaml")
    with open(path) as f:
        text = f.read().replace("name: fraud\n", "")
    with open(path, "w") as f:
        f.write(text + KEYED_YAML)
    return repo


def row(i):
    """A row whose amount (31337.25 + i) appears nowhere but in what was sent."""
    return {"amount": 31337.25 + i, "hour": 13, "account_age_days": 812, "distance_km": 3.5,
            "merchant_category": "travel", "card_tier": "gold", "is_international": False,
            "transactions_24h": 4}


def v2_body(rows, params=None):
    body = {"inputs": [{"name": n, "datatype": dt, "shape": [len(rows)],
                        "data": [r[n] for r in rows]} for n, dt in TYPES.items()]}
    if params is not None:
        body["parameters"] = params
    return body


def store_files(data):
    """The database file and, when there is one, its write-ahead log."""
    base = os.path.join(data, "modeld.db")
    return [p for p in (base, base + "-wal") if os.path.exists(p)]


def found_in_store(data, needles):
    """The needles (str) found in the bytes of the store's files, as (needle, file)."""
    hits = []
    for path in store_files(data):
        with open(path, "rb") as f:
            blob = f.read()
        for n in needles:
            if n.encode() in blob:
                hits.append((n, os.path.basename(path)))
    return hits


def sealed_key_ids(data):
    """The key ids (4 bytes) of every sealed value the store holds, and the count of values
    of the sealed columns stored in clear."""
    ids = set()
    clear = 0
    cols = [("predictions", "keys"), ("predictions", "features"), ("predictions", "label"),
            ("predictions", "outputs"), ("feedback", "comment"), ("review_items", "comment"),
            ("crypt", "value")]
    for table, col in cols:
        for r in db_rows(data, "SELECT %s AS v FROM %s WHERE %s IS NOT NULL" % (col, table, col)):
            if isinstance(r["v"], bytes):
                expect(r["v"][0] == 1, "%s.%s: a sealed value of version %d" %
                       (table, col, r["v"][0]))
                ids.add(r["v"][1:5])
            else:
                clear += 1
    return ids, clear
