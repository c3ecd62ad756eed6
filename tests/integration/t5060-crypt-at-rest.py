#!/usr/bin/python3
"""Encryption at rest on a real daemon. With --data-key-file, predictions
with keys (a header and a parameter), feedback by request id and by key with
comments, and review verdicts with comments are stored; the values sent
(the features' amounts, the key values, the comments) and the exact texts
of the stored keys, features and outputs are searched for in the bytes of
the database file and of its write-ahead log, while it runs and after a
clean stop, and none is found; the same values are searched for in a store
written without the key, and found there (so the search can fail). Through
the API with the key, the listing by key, the export, feedback by key and
the review queue return every value intact, and feedback given by key
finds its row (the key is stored as a keyed hash). modeld says at start
that encryption is on, or plainly that data is stored in clear; started
without the key on an encrypted store it says so, and a listing is
refused naming the flag. A key file others may read is refused at start."""
import json
import os
import shutil
import tempfile

from cryptlib import (found_in_store, key_file, keyed_repo, new_key, row, sealed_key_ids,
                      v2_body)
from feedbacklib import db_rows, post, wait_rows
from harness import Daemon, expect, run, wait_for

USER = "user-zq-55123"
TXN = "txn-zq-918273645"
COMMENT = "comment-zq-4242 card stolen"
REVIEW_COMMENT = "review-zq-9191 looks fine"


def fill(d):
    """Predictions, feedback and a review verdict; the texts the API returned for them."""
    st, doc, _ = d.json("POST", "/v2/models/fraudk/infer",
                        v2_body([row(0), row(1)], {"txn": TXN}),
                        {"X-Request-Id": "req-zq-1", "X-User-Id": USER})
    expect(st == 200, (st, doc))
    st, doc, _ = d.json("POST", "/v2/models/fraudk/infer", v2_body([row(2)]),
                        {"X-Request-Id": "req-zq-2"})
    expect(st == 200, (st, doc))
    wait_rows(d.data, "model = 'fraudk'", 3)
    doc = post(d, {"model": "fraudk", "items": [
        {"request_id": "req-zq-2", "label": "fraud", "comment": COMMENT},
        {"key": {"name": "txn", "value": TXN}, "label": "legit",
         "comment": COMMENT + " by key"}]})
    expect(doc["stored"] == 2 and [it["state"] for it in doc["items"]] == ["attached"] * 2, doc)
    st, item, _ = d.json("GET", "/api/v1/review/next?model=fraudk&reviewer=ann")
    expect(st == 200, (st, item))
    st, ans, _ = d.json("POST", "/api/v1/review/%d" % item["id"],
                        {"lease": item["lease"], "verdict": "fraud", "comment": REVIEW_COMMENT})
    expect(st == 200, (st, ans))
    return item


def check_api(d, item):
    """With the key: every value back through the API, lookups by key included."""
    st, doc, _ = d.json("GET", "/api/v1/predictions?model=fraudk&key=txn=%s" % TXN)
    expect(st == 200 and len(doc["predictions"]) == 2, (st, doc))
    p = doc["predictions"]
    expect([r["features"]["amount"] for r in p] == [31337.25, 31338.25], p)
    expect(p[0]["keys"] == {"user_id": USER, "txn": TXN}, p[0])
    expect(all(r["outputs"] for r in p), p)
    st, doc, _ = d.json("GET", "/api/v1/predictions?model=fraudk&key=user_id=%s" % USER)
    expect(st == 200 and len(doc["predictions"]) == 2, (st, doc))
    st, doc, _ = d.json("GET", "/api/v1/predictions?model=fraudk&request_id=req-zq-2")
    expect(st == 200 and doc["predictions"][0]["features"]["amount"] == 31339.25, doc)
    st, doc, _ = d.json("GET", "/api/v1/review?model=fraudk&state=done")
    expect(st == 200, (st, doc))
    done = [it for it in doc["items"] if it["id"] == item["id"]]
    expect(done and done[0]["comment"] == REVIEW_COMMENT and
           done[0]["features"]["amount"] == item["features"]["amount"], doc)
    rows = db_rows(d.data, "SELECT request_id, row FROM feedback WHERE key_name = 'txn'")
    expect(rows == [{"request_id": "req-zq-1", "row": 1}], rows)
    return p


def needles(p):
    """What must not be in the store's files: the values sent and the stored texts."""
    out = [USER, TXN, COMMENT, REVIEW_COMMENT, "31337.25", "31338.25", "31339.25"]
    for r in p:
        out.append(json.dumps(r["features"], separators=(",", ":"))[:40])
        out.append(json.dumps(r["outputs"], separators=(",", ":"))[:40])
    return out


def test_nothing_in_clear_with_the_key():
    tmp = tempfile.mkdtemp(prefix="modeld-t5060-")
    try:
        in_clear_nowhere(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def in_clear_nowhere(tmp):
    keys = key_file(os.path.join(tmp, "data.key"), new_key())
    data = os.path.join(tmp, "data")
    repo = keyed_repo(tmp)
    with Daemon(repo=repo, data=data, args=["--data-key-file", keys]) as d:
        expect("encryption at rest on" in d.logs(), d.logs()[-2000:])
        expect("stored in clear" not in d.logs(), d.logs()[-2000:])
        item = fill(d)
        p = check_api(d, item)
        wanted = needles(p)
        hits = found_in_store(data, wanted)
        expect(hits == [], "found in clear while running: %s" % hits)
        # The sealed columns hold sealed values only, all under the one key.
        ids, clear = sealed_key_ids(data)
        expect(len(ids) == 1 and clear == 0, (ids, clear))
        vals = db_rows(data, "SELECT value FROM prediction_keys")
        expect(len(vals) == 4 and all(v["value"].startswith("hmac-sha256:") for v in vals), vals)
    hits = found_in_store(data, wanted)
    expect(hits == [], "found in clear after a stop: %s" % hits)
    # Restarted with the key: all there still.
    with Daemon(repo=repo, data=data, args=["--data-key-file", keys]) as d:
        check_api(d, item)
    # Without the key: said at start; a listing refused naming the flag.
    with Daemon(repo=repo, data=data) as d:
        logs = d.logs()
        expect("data is stored in clear" in logs and "holds encrypted data" in logs, logs[-2000:])
        st, doc, _ = d.json("GET", "/api/v1/predictions?model=fraudk")
        expect(st == 503 and "--data-key-file" in doc["error"], (st, doc))


def test_found_in_clear_without_a_key():
    """The same search finds the values in a store written without a key."""
    tmp = tempfile.mkdtemp(prefix="modeld-t5060-")
    data = os.path.join(tmp, "data")
    try:
        with Daemon(repo=keyed_repo(tmp), data=data) as d:
            logs = d.logs()
            expect("data is stored in clear" in logs and "--data-key-file" in logs, logs[-2000:])
            expect("holds encrypted data" not in logs, logs[-2000:])
            item = fill(d)
            p = check_api(d, item)
            wanted = needles(p)
        hits = {n for n, _ in found_in_store(data, wanted)}
        expect(hits == set(wanted), "not found in clear: %s" % (set(wanted) - hits))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_bad_key_files_refused():
    tmp = tempfile.mkdtemp(prefix="modeld-t5060-")
    try:
        refused(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def refused(tmp):
    cases = [("0644", "0644", new_key() + "\n", "other users may read or write it"),
             ("short", "0600", "abcd\n", "line 1: a key is 64 hex digits"),
             ("nothex", "0600", "z" * 64 + "\n", "line 1: character 1 is not a hex digit"),
             ("twice", "0600", "%s\n%s\n" % ("a" * 64, "a" * 64),
              "line 2: the same key as an earlier line"),
             ("empty", "0600", "# none\n", "holds no key")]
    for name, mode, text, msg in cases:
        path = os.path.join(tmp, name + ".key")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, int(mode, 8))
        d = Daemon(repo=keyed_repo(os.path.join(tmp, name)), wait=False,
                   data=os.path.join(tmp, name, "data"), args=["--data-key-file", path])
        try:
            ok = wait_for(lambda: d.proc.poll() is not None, 20)
            expect(ok and d.proc.returncode == 1, "%s: still running or exit %s" %
                   (name, d.proc.returncode))
            logs = d.logs()
            expect("cannot turn encryption at rest on" in logs and msg in logs,
                   "%s: %s" % (name, logs[-1500:]))
        finally:
            d.stop(check=False)


if __name__ == "__main__":
    run([test_nothing_in_clear_with_the_key, test_found_in_clear_without_a_key,
         test_bad_key_files_refused])
