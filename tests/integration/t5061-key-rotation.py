#!/usr/bin/python3
"""Rotating the data keys on a real daemon. Rows, review items and
feedback written in clear, then under key A; key B added to the file and
modeld restarted; `modelctl keys rotate --wait` follows the rotation to its
end (progress, then the rows walked and resealed); every sealed value in
the store is then under B, no sealed column holds a value in clear and
every key value is a keyed hash, and what was in clear is found in neither
the database file nor its write-ahead log (the rotation zeroes what it
rewrites and checkpoints at its end) while modeld runs; with A removed from the file, every value
still reads through the API and feedback given by key finds an old row.
`modelctl keys status` says what the last rotation did. A rotation killed
half-way resumes by itself at the next start and ends with every value
under the new key. Without a key file,
rotation is refused naming the flag; bad command lines exit 2."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from cryptlib import found_in_store, key_file, key_id, keyed_repo, new_key, row, sealed_key_ids, v2_body
from feedbacklib import db_rows, post, wait_rows
from harness import MODELCTL, Daemon, expect, run, wait_for

ROWS = 200  # per request; the rotation walks them a few hundred at a time


def modelctl(d, *args):
    return subprocess.run([MODELCTL, "--url", "http://127.0.0.1:%d" % d.port] + list(args),
                          capture_output=True, text=True, timeout=60)


def send(d, first, txn):
    rows = [row(first + i) for i in range(ROWS)]
    st, doc, _ = d.json("POST", "/v2/models/fraudk/infer", v2_body(rows, {"txn": txn}),
                        {"X-Request-Id": "req-%d" % first})
    expect(st == 200, (st, doc))


def test_rotate():
    tmp = tempfile.mkdtemp(prefix="modeld-t5061-")
    try:
        rotate(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def rotate(tmp):
    a, b = new_key(), new_key()
    keys = os.path.join(tmp, "data.key")
    data = os.path.join(tmp, "data")
    repo = keyed_repo(tmp)
    with Daemon(repo=repo, data=data) as d:
        send(d, 0, "t-clear")
        wait_rows(data, "model = 'fraudk'", ROWS)
        post(d, {"model": "fraudk", "request_id": "req-0", "row": 3, "label": "fraud",
                 "comment": "in clear"})
        st, doc, _ = d.json("POST", "/api/v1/keys/rotate")
        expect(st == 503 and "--data-key-file" in doc["error"], (st, doc))
        p = modelctl(d, "keys", "rotate")
        expect(p.returncode == 1 and "--data-key-file" in p.stderr, (p.returncode, p.stderr))
    key_file(keys, a)
    with Daemon(repo=repo, data=data, args=["--data-key-file", keys]) as d:
        send(d, ROWS, "t-a")
        wait_rows(data, "model = 'fraudk'", 2 * ROWS)
        post(d, {"model": "fraudk", "request_id": "req-%d" % ROWS, "row": 0, "label": "fraud",
                 "comment": "under a"})
    ids, clear = sealed_key_ids(data)
    expect(ids == {key_id(a)} and clear > 0, (ids, clear))
    key_file(keys, a, b)
    with Daemon(repo=repo, data=data, args=["--data-key-file", keys]) as d:
        p = modelctl(d, "keys", "status")
        expect(p.returncode == 0 and p.stdout ==
               "no rotation since modeld started; data is sealed under key %s\n"
               % key_id(b).hex(), (p.returncode, p.stdout, p.stderr))
        p = modelctl(d, "keys", "rotate", "--wait")
        expect(p.returncode == 0, (p.returncode, p.stdout, p.stderr))
        lines = p.stdout.splitlines()
        expect(lines[0].startswith("rotating to key %s: " % key_id(b).hex()), p.stdout)
        total = db_rows(data, "SELECT (SELECT count(*) FROM predictions) + (SELECT count(*) FROM "
                              "prediction_keys) + (SELECT count(*) FROM feedback) + (SELECT "
                              "count(*) FROM review_items) + 1 AS n")[0]["n"]
        expect(lines[-1].startswith("done: %d rows walked, " % total) and
               lines[-1].endswith(" resealed under key %s" % key_id(b).hex()), p.stdout)
        p = modelctl(d, "keys", "status", "--json")
        expect(p.returncode == 0 and '"state":"done"' in p.stdout, (p.returncode, p.stdout))
        # What was in clear is gone from the file and its log, the rotation's checkpoint
        # done (the daemon still runs).
        hits = found_in_store(data, ["in clear", "31337.25", "31338.25", "t-clear"])
        expect(hits == [], hits)
    ids, clear = sealed_key_ids(data)
    expect(ids == {key_id(b)} and clear == 0, (ids, clear))
    hashed = db_rows(data, "SELECT count(*) AS n FROM prediction_keys WHERE value NOT LIKE "
                           "'hmac-sha256:%'")[0]["n"]
    expect(hashed == 0, hashed)
    # Key A gone: everything reads, and a key written in clear finds its row.
    key_file(keys, b)
    with Daemon(repo=repo, data=data, args=["--data-key-file", keys]) as d:
        for first, txn in ((0, "t-clear"), (ROWS, "t-a")):
            st, doc, _ = d.json("GET", "/api/v1/predictions?model=fraudk&limit=1000&key=txn=" + txn)
            expect(st == 200 and len(doc["predictions"]) == ROWS, (st, len(doc["predictions"])))
            expect(sorted(r["features"]["amount"] for r in doc["predictions"]) ==
                   [31337.25 + first + i for i in range(ROWS)], txn)
        doc = post(d, {"model": "fraudk", "key": {"txn": "t-clear"}, "label": "legit",
                       "comment": "after rotation"})
        expect(doc["items"][0]["state"] == "attached", doc)
        st, doc, _ = d.json("GET", "/api/v1/review?model=fraudk&limit=5")
        expect(st == 200 and doc["items"] and doc["items"][0]["features"]["amount"] == 31337.25,
               (st, doc))
        p = modelctl(d, "keys")
        expect(p.returncode == 2 and "missing 'rotate' or 'status'" in p.stderr, p.stderr)
        p = modelctl(d, "keys", "status", "--wait")
        expect(p.returncode == 2 and "--wait goes with rotate" in p.stderr, p.stderr)
        p = modelctl(d, "keys", "spin")
        expect(p.returncode == 2 and "unknown action 'spin'" in p.stderr, p.stderr)


def test_resume_after_kill():
    """A rotation killed half-way (SIGKILL once it has walked some rows) goes on by itself at
    the next start, to the end: every value under the new key, the old one no longer needed."""
    tmp = tempfile.mkdtemp(prefix="modeld-t5061-")
    try:
        a, b = new_key(), new_key()
        keys = key_file(os.path.join(tmp, "data.key"), a)
        data = os.path.join(tmp, "data")
        repo = keyed_repo(tmp)
        with Daemon(repo=repo, data=data, args=["--data-key-file", keys]) as d:
            for i in range(20):
                send(d, i * ROWS, "t-%d" % i)
            wait_rows(data, "model = 'fraudk'", 20 * ROWS)
        key_file(keys, a, b)
        d = Daemon(repo=repo, data=data, args=["--data-key-file", keys])
        try:
            st, doc, _ = d.json("POST", "/api/v1/keys/rotate")
            expect(st == 202, (st, doc))
            deadline = time.time() + 30
            while time.time() < deadline:
                st, doc, _ = d.json("GET", "/api/v1/keys/rotate")
                if doc["rows_done"] > 0 or doc["state"] != "running":
                    break
            expect(doc["state"] == "running" and doc["rows_done"] < doc["rows_total"], doc)
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait(timeout=10)
        finally:
            d.stop(check=False)
        ids, _ = sealed_key_ids(data)
        expect(ids == {key_id(a), key_id(b)}, "the kill left %r" % ids)
        with Daemon(repo=repo, data=data, args=["--data-key-file", keys]) as d:
            ok = wait_for(lambda: d.json("GET", "/api/v1/keys/rotate")[1]["state"] == "done", 60)
            expect(ok, d.json("GET", "/api/v1/keys/rotate")[1])
            expect("resuming a data key rotation that had not finished" in d.logs(), d.logs())
        ids, clear = sealed_key_ids(data)
        expect(ids == {key_id(b)} and clear == 0, (ids, clear))
        # Nothing left to resume: the next start does not rotate again.
        key_file(keys, b)
        with Daemon(repo=repo, data=data, args=["--data-key-file", keys]) as d:
            st, doc, _ = d.json("GET", "/api/v1/keys/rotate")
            expect(st == 200 and doc["state"] == "none", doc)
            st, doc, _ = d.json("GET", "/api/v1/predictions?model=fraudk&limit=5&key=txn=t-19")
            expect(st == 200 and len(doc["predictions"]) == 5, (st, doc))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_rotate, test_resume_after_kill])
