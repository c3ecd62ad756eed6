#!/usr/bin/python3
"""Erasure of a subject on a real daemon: a copy of the fraud model whose
`user` key is marked `subject: true` (and a `txn` key, and a review rule
that sends every row to review) gets predictions for two subjects, alice
and bob, with feedback by row, by the txn key and by the subject's own id
(one still pending), and a review verdict with a comment on one of
alice's rows; a training set in the data directory holds rows of both.
Each stored row's subject is HMAC-SHA256 of the id under the subject key
the daemon made in the data directory (mode 0600). Before the erasure
alice's id, request ids, txn values, feature texts and review comment are
in the database file or its write-ahead log (the search can find them);
after DELETE /api/v1/subjects/alice... none of them is in the database
file, its write-ahead log or the training set, while all of bob's still
are; the answer counts what went and says the log was emptied; an event
names the subject by its hash only; the access log does not name her.
Once the daemon has stopped, the file still holds nothing of hers.
`modelctl erase` erases bob the same way. The same again with encryption
at rest on (--data-key-file): her values are then not in the files in
clear even before, and what is searched for is every value of her rows as
stored (sealed keys, features, outputs and comments, hashed key values,
request ids); after the erasure every record left, read back decrypted
through the API, is bob's. Refusals: an id too long (400),
a non-admin principal (403, when tokens exist; here the route's
permission is checked by t0040), a daemon without a store answers 503."""
import hashlib
import hmac
import json
import os
import shutil
import stat
import subprocess
import tempfile

from cryptlib import key_file, new_key
from feedbacklib import FRAUD_TYPES, db_rows, fraud_rows, post, predict, rng_for, wait_rows
from harness import Daemon, expect, expect_error, make_repo, run, wait_for

MODELCTL = os.environ.get("MODELCTL", os.path.join(os.path.dirname(__file__), "..", "..",
                                                   "build", "modelctl"))

ALICE = "alice-Zq7Xw3Kp"
BOB = "bob-Mv9Lr2Tn"
NOTE = "note-about-alice-Hy5Qe"

EXTRA_YAML = """keys:
  - name: user
    subject: true
    header: X-User-Id
  - name: txn
review:
  rules:
    - sample: 1
      name: all
  lease_s: 30
"""


def subject_repo(tmp):
    repo = make_repo(tempfile.mkdtemp(prefix="repo-", dir=tmp), bench=False)
    for name in os.listdir(repo):
        if name != "fraud":
            shutil.rmtree(os.path.join(repo, name))
    shutil.copytree(os.path.join(repo, "fraud"), os.path.join(repo, "fraudp"))
    path = os.path.join(repo, "fraudp", "model.yaml")
    with open(path) as f:
        text = f.read().replace("name: fraud\n", "")
    with open(path, "w") as f:
        f.write(text + EXTRA_YAML)
    return repo


def files_bytes(data):
    """The database file and its write-ahead log, as one bytes (the log may be absent)."""
    out = b""
    for name in ("modeld.db", "modeld.db-wal"):
        p = os.path.join(data, name)
        if os.path.exists(p):
            with open(p, "rb") as f:
                out += f.read()
    return out


def send(d, rng, who, n):
    """n requests of 2 rows for subject who: their request ids, txn values and rows."""
    rids, txns, rows = [], [], []
    for i in range(n):
        rid = "req-%s-%d" % (who[:3], i)  # the id itself only in the keys
        batch = fraud_rows(2, rng)
        txn = "txn-%s-%d" % (who[:3], i)
        predict(d, "fraudp", batch, rid, FRAUD_TYPES, {"user": who, "txn": txn})
        rids.append(rid)
        txns.append(txn)
        rows.extend(batch)
    return rids, txns, rows


def as_bytes(v):
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode()
    return None


def stored_of(data, who):
    """Every distinctive value of who's rows as the store keeps it (in clear or sealed):
    request ids, keys, features, outputs, key index values, feedback and review comments
    and key values."""
    like = ("req-%s-%%" % who[:3],)
    out = []
    for r in db_rows(data, "SELECT id, request_id, keys, features, outputs FROM predictions "
                     "WHERE request_id LIKE ?", like):
        out += [r["request_id"], r["keys"], r["features"], r["outputs"]]
        for k in db_rows(data, "SELECT value FROM prediction_keys WHERE prediction = ?",
                         (r["id"],)):
            out.append(k["value"])
    for r in db_rows(data, "SELECT comment FROM feedback WHERE request_id LIKE ?", like):
        out.append(r["comment"])
    for r in db_rows(data, "SELECT comment FROM review_items WHERE request_id LIKE ?", like):
        out.append(r["comment"])
    out = [as_bytes(v) for v in out]
    return sorted({v for v in out if v is not None and len(v) >= 8})


def training_set(data, rids_a, rids_b):
    """A training run's set as the daemon writes them, with rows of both subjects."""
    run_dir = os.path.join(data, "trainings", "1")
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, "train.jsonl")
    with open(path, "w") as f:
        for rid in rids_a + rids_b:
            for r in range(2):
                f.write(json.dumps({"features": {"amount": 1.5}, "label": "legit", "weight": 1,
                                    "source": "feedback", "at_ms": 1, "request_id": rid,
                                    "row": r}, separators=(",", ":")) + "\n")
    return path


def test_erase_end_to_end():
    erase_end_to_end(False)


def test_erase_end_to_end_encrypted():
    erase_end_to_end(True)


def erase_end_to_end(encrypt):
    tmp = tempfile.mkdtemp(prefix="modeld-t5080-")
    rng = rng_for(5080)
    data = os.path.join(tmp, "data")
    alog = os.path.join(tmp, "access.log")
    audit_key = key_file(os.path.join(tmp, "audit.key"), new_key())
    args = ["--access-log", alog, "--audit-key-file", audit_key]
    if encrypt:
        args += ["--data-key-file", key_file(os.path.join(tmp, "data.key"), new_key())]
    try:
        with Daemon(repo=subject_repo(tmp), data=data, args=args) as d:
            key_path = os.path.join(data, "subject.key")
            expect(stat.S_IMODE(os.stat(key_path).st_mode) == 0o600, oct(os.stat(key_path).st_mode))
            with open(key_path, "rb") as f:
                key = f.read().rstrip(b"\n\r \t")
            a_rids, a_txns, _ = send(d, rng, ALICE, 4)
            b_rids, b_txns, _ = send(d, rng, BOB, 3)
            wait_rows(data, "request_id LIKE 'req-%'", 14)
            h_alice = hmac.new(key, ALICE.encode(), hashlib.sha256).hexdigest()
            h_bob = hmac.new(key, BOB.encode(), hashlib.sha256).hexdigest()
            got = db_rows(data, "SELECT subject, count(*) AS n FROM predictions GROUP BY subject")
            expect({r["subject"]: r["n"] for r in got} == {h_alice: 8, h_bob: 6}, got)

            # Feedback: by row, by the txn key, by the subject's own id (one that waits).
            post(d, {"model": "fraudp", "items": [
                {"request_id": a_rids[0], "row": 0, "label": "fraud", "comment": NOTE + "-fb"},
                {"key": {"name": "txn", "value": a_txns[1]}, "label": "legit"},
                {"key": {"name": "user", "value": ALICE}, "reward": 1.0},
                {"key": {"name": "txn", "value": "txn-unknown-99"}, "label": "legit"},
                {"request_id": b_rids[0], "row": 1, "label": "legit"}]})
            # A verdict with a comment on alice's oldest item.
            st, item, _ = d.json("GET", "/api/v1/review/next?model=fraudp&reviewer=rita")
            expect(st == 200 and item["request_id"] == a_rids[0], (st, item))
            st, doc, _ = d.json("POST", "/api/v1/review/%d" % item["id"],
                                {"lease": item["lease"], "verdict": "fraud", "comment": NOTE})
            expect(st == 200, (st, doc))
            tset = training_set(data, a_rids, b_rids)

            plain = [ALICE.encode(), NOTE.encode()] + [t.encode() for t in a_txns]
            secrets = stored_of(data, ALICE)
            kept = stored_of(data, BOB)
            expect(len(secrets) >= 8 * 3 and len(kept) >= 6 * 3, (len(secrets), len(kept)))
            blob = files_bytes(data)
            missing = [s for s in secrets + kept if s not in blob]
            expect(not missing, "the search does not find what is stored: %r" % missing[:3])
            if encrypt:
                found = [s for s in plain if s in blob]
                expect(not found, "in clear with encryption on: %r" % found)
            else:
                secrets += plain
                missing = [s for s in plain if s not in blob]
                expect(not missing, "the search does not find what was sent: %r" % missing)

            # Too long an id; then the erasure.
            st, doc, _ = d.json("DELETE", "/api/v1/subjects/" + "x" * 4097)
            expect_error(st, doc, 400, "subject: an id is 1 to 4096 bytes")
            st, doc, _ = d.json("DELETE", "/api/v1/subjects/" + ALICE)
            expect(st == 200, (st, doc))
            expect(doc["subject"] == h_alice and doc["predictions"] == 8 and
                   doc["prediction_keys"] == 16 and doc["review_items"] == 8, doc)
            # By row (the label and the verdict's expert label), by txn, by her id: 4 at least.
            fb_left = db_rows(data, "SELECT request_id, key_value, comment FROM feedback")
            expect(all(r["request_id"] is None or r["request_id"].startswith("req-bob")
                       for r in fb_left), fb_left)
            expect(doc["feedback"] >= 4, doc)
            expect(any(r["request_id"] == b_rids[0] for r in fb_left), fb_left)
            # A pending item by a txn no row of hers has is not hers: it stays.
            expect(len([r for r in fb_left if r["request_id"] is None]) == 1, fb_left)
            expect(doc["checkpoint"]["complete"] is True, doc)
            expect(doc["training_sets"] == {"files": 1, "changed": 1, "rows": 8}, doc)

            blob = files_bytes(data)
            found = [s for s in secrets if s in blob]
            expect(not found, "erased data still in the database file or log: %r" % found[:3])
            missing = [s for s in kept if s not in blob]
            expect(not missing, "bob's rows went too: %r" % missing[:3])
            if encrypt:
                # Every record left, decrypted: bob's, whole.
                st, doc, _ = d.json("GET", "/api/v1/predictions?model=fraudp&limit=1000")
                expect(st == 200 and len(doc["predictions"]) == 6, (st, doc))
                expect(all(r["keys"]["user"] == BOB and r["features"] for r in doc["predictions"]),
                       doc["predictions"][:1])
                st, doc, _ = d.json("GET", "/api/v1/review?model=fraudp&limit=1000")
                expect(st == 200 and len(doc["items"]) == 6 and
                       all(it["request_id"] in b_rids for it in doc["items"]), (st, doc))
            with open(tset, "rb") as f:
                text = f.read()
            expect(all(r.encode() not in text for r in a_rids), text[:200])
            expect(all(r.encode() in text for r in b_rids), text[:200])
            expect(text.count(b"\n") == 6, text)

            # The store answers nothing of hers; bob's rows are all there.
            st, doc, _ = d.json("GET", "/api/v1/predictions?model=fraudp&key=user:" + ALICE)
            expect(st in (200, 400), (st, doc))
            left = db_rows(data, "SELECT count(*) AS n FROM predictions WHERE subject = ?",
                           (h_alice,))
            expect(left[0]["n"] == 0, left)
            left = db_rows(data, "SELECT count(*) AS n FROM review_items")
            expect(left[0]["n"] == 6, left)

            # The audit log records the erasure, naming the subject by a keyed hash only
            # (under the audit key, not the subject key); the searches of the files above
            # cover the audit table too.
            st, doc, _ = d.json("GET", "/api/v1/audit?action=DELETE")
            expect(st == 200, (st, doc))
            erased = [e for e in doc["entries"]
                      if e["action"] == "DELETE /api/v1/subjects/{subject}" and
                      e["outcome"].startswith("200")]
            expect(len(erased) == 1 and erased[0]["target"].startswith("subject:") and
                   ALICE not in json.dumps(doc) and h_alice not in json.dumps(doc), doc)
            with open(audit_key, "rb") as f:
                akey = f.read().rstrip(b"\n\r \t")
            want = hmac.new(akey, b"subject\n" + ALICE.encode(), hashlib.sha256).hexdigest()[:32]
            expect(erased[0]["target"] == "subject:" + want, (erased[0], want))

            # The event names the subject by its hash only.
            st, doc, _ = d.json("GET", "/api/v1/events?kind=subject_erased")
            expect(st == 200 and len(doc["events"]) == 1, (st, doc))
            ev = doc["events"][0]
            expect(ev["details"]["subject"] == h_alice and ev["details"]["predictions"] == 8, ev)
            expect(ALICE not in json.dumps(doc), doc)

            # A second erasure finds nothing and says so.
            st, doc, _ = d.json("DELETE", "/api/v1/subjects/" + ALICE)
            expect(st == 200 and doc["predictions"] == 0 and doc["feedback"] == 0, (st, doc))

            # modelctl erases bob.
            env = dict(os.environ, MODELD_URL="http://127.0.0.1:%d" % d.port)
            p = subprocess.run([MODELCTL, "erase", BOB], env=env, capture_output=True, text=True,
                               timeout=60)
            expect(p.returncode == 0, (p.returncode, p.stdout, p.stderr))
            expect(p.stdout.startswith("erased subject %s: 6 predictions, " % h_bob) and
                   "write-ahead log emptied" in p.stdout, p.stdout)
            p = subprocess.run([MODELCTL, "erase"], env=env, capture_output=True, text=True,
                               timeout=60)
            expect(p.returncode == 2 and "missing ID" in p.stderr, (p.returncode, p.stderr))
            blob = files_bytes(data)
            found = [s for s in kept if s in blob]
            expect(not found, "bob's data still in the files: %r" % found[:3])
            d.stop()
        blob = files_bytes(data)
        found = [s for s in secrets + kept if s in blob]
        expect(not found, "erased data in the files after the stop: %r" % found[:3])
        with open(alog, "rb") as f:
            text = f.read()
        erasures = [ln for ln in text.splitlines() if b'"method":"DELETE"' in ln]
        expect(len(erasures) == 4 and
               all(b'"path":"/api/v1/subjects/{subject}"' in ln for ln in erasures), erasures)
        expect(all(ALICE.encode() not in ln and BOB.encode() not in ln for ln in erasures),
               erasures)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_subject_key_file():
    """--subject-key-file: its key hashes the rows; a key file others may read is refused."""
    tmp = tempfile.mkdtemp(prefix="modeld-t5080-")
    try:
        key_path = os.path.join(tmp, "subject.key")
        with open(key_path, "w") as f:
            f.write("k" * 40 + "\n")
        os.chmod(key_path, 0o644)
        d = Daemon(repo=subject_repo(tmp), data=os.path.join(tmp, "data"),
                   args=["--subject-key-file", key_path], wait=False)
        rc = d.proc.wait(timeout=30)
        logs = d.logs()
        d.stop(check=False)
        shutil.rmtree(d.tmp, ignore_errors=True)
        expect(rc != 0 and "cannot read the subject key" in logs and "chmod 600" in logs,
               (rc, logs[-600:]))
        os.chmod(key_path, 0o600)
        data = os.path.join(tmp, "data")
        with Daemon(repo=subject_repo(tmp), data=data,
                    args=["--subject-key-file", key_path]) as d:
            send(d, rng_for(1), "carol", 1)
            wait_rows(data, "request_id LIKE 'req-car-%'", 2)
            want = hmac.new(b"k" * 40, b"carol", hashlib.sha256).hexdigest()
            got = db_rows(data, "SELECT DISTINCT subject FROM predictions")
            expect(got == [{"subject": want}], got)
            expect(not os.path.exists(os.path.join(data, "subject.key")), os.listdir(data))
            st, doc, _ = d.json("DELETE", "/api/v1/subjects/carol")
            expect(st == 200 and doc["predictions"] == 2, (st, doc))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_bad_contract():
    """Two keys marked subject: the model does not load, naming the second."""
    tmp = tempfile.mkdtemp(prefix="modeld-t5080-")
    try:
        repo = subject_repo(tmp)
        path = os.path.join(repo, "fraudp", "model.yaml")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("  - name: txn\n", "  - name: txn\n    subject: true\n"))
        with Daemon(repo=repo, data=os.path.join(tmp, "data")) as d:
            st, doc, _ = d.json("POST", "/v2/repository/index", {})
            entry = [m for m in doc if m["name"] == "fraudp"]
            expect(entry and "keys[1].subject: keys[0] 'user' is the subject id already" in
                   json.dumps(entry), entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_erase_end_to_end, test_erase_end_to_end_encrypted, test_subject_key_file, test_bad_contract])
