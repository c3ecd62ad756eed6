#!/usr/bin/python3
"""An erasure answered 200 is stored: a copy of the fraud model whose `user`
key is a subject gets predictions for twelve subjects; eight of them are
erased one after another (DELETE /api/v1/subjects/{id}) while the daemon is
killed with SIGKILL during the erasures. After a restart on the same store
no row remains of any subject whose erasure was answered 200, every row of
the four never asked about is there, and a subject whose erasure was asked
for but not answered has all of its rows or none (one transaction)."""
import hashlib
import hmac
import http.client
import os
import shutil
import signal
import tempfile
import threading
import time

from feedbacklib import db_rows, fraud_rows, predict, rng_for, wait_rows
from harness import Daemon, expect, make_repo, run

KEYS_YAML = """keys:
  - name: user
    subject: true
    header: X-User-Id
"""
SUBJECTS = ["subject-%02d-Qw8" % i for i in range(12)]
ERASED = SUBJECTS[:8]
ROWS_EACH = 6  # 3 requests of 2 rows


def subject_repo(tmp):
    repo = make_repo(tempfile.mkdtemp(prefix="repo-", dir=tmp), bench=False)
    for name in os.listdir(repo):
        if name != "fraud":
            shutil.rmtree(os.path.join(repo, name))
    path = os.path.join(repo, "fraud", "model.yaml")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text + KEYS_YAML)
    return repo


def counts(data, key):
    got = db_rows(data, "SELECT subject, count(*) AS n FROM predictions GROUP BY subject")
    by = {r["subject"]: r["n"] for r in got}
    return {s: by.get(hmac.new(key, s.encode(), hashlib.sha256).hexdigest(), 0)
            for s in SUBJECTS}


def eraser(port, answered, asked):
    for s in ERASED:
        asked.append(s)
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("DELETE", "/api/v1/subjects/" + s)
            r = c.getresponse()
            r.read()
            c.close()
        except (OSError, http.client.HTTPException):
            return
        if r.status == 200:
            answered.append(s)


def test_erasure_survives_sigkill():
    tmp = tempfile.mkdtemp(prefix="modeld-t5082-")
    rng = rng_for(5082)
    data = os.path.join(tmp, "data")
    try:
        repo = subject_repo(tmp)
        answered, asked = [], []
        d = Daemon(repo=repo, data=data)
        try:
            with open(os.path.join(data, "subject.key"), "rb") as f:
                key = f.read().rstrip(b"\n\r \t")
            for s in SUBJECTS:
                for i in range(ROWS_EACH // 2):
                    predict(d, "fraud", fraud_rows(2, rng), "r-%s-%d" % (s, i),
                            params={"user": s})
            wait_rows(data, "request_id LIKE 'r-subject-%'", ROWS_EACH * len(SUBJECTS))
            expect(all(n == ROWS_EACH for n in counts(data, key).values()), counts(data, key))
            t = threading.Thread(target=eraser, args=(d.port, answered, asked))
            t.start()
            deadline = time.time() + 30
            while len(answered) < 3 and t.is_alive() and time.time() < deadline:
                time.sleep(0.001)
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait(timeout=10)
            t.join(timeout=30)
        finally:
            d.stop(check=False)
        expect(len(answered) >= 3, answered)
        with Daemon(repo=repo, data=data) as d:
            got = counts(data, key)
            for s in SUBJECTS:
                if s in answered:
                    expect(got[s] == 0, "erasure of %s answered 200 but %d rows are back" %
                           (s, got[s]))
                elif s in asked:
                    expect(got[s] in (0, ROWS_EACH), "half an erasure of %s: %d" % (s, got[s]))
                else:
                    expect(got[s] == ROWS_EACH, "%s lost rows: %d" % (s, got[s]))
            print("%d erasures answered before the kill, %d asked; none lost" %
                  (len(answered), len(asked)))
    finally:
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    run([test_erasure_survives_sigkill])
