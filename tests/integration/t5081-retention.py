#!/usr/bin/python3
"""Retention by age of everything the prediction log's horizon covers:
prediction records, and now feedback items and review items, older than
--log-horizon-days are removed by the control loop's retention, newer ones
kept; what went is recorded as one `retention` event (server-wide) with
the counts, and counted in /metrics. Old rows are written into the store
between two runs of the daemon."""
import os
import shutil
import sqlite3
import tempfile
import time

from harness import Daemon, expect, run, wait_for

DAY_MS = 86400 * 1000


def add_rows(data, age_ms, prefix, n):
    db = sqlite3.connect(os.path.join(data, "modeld.db"), timeout=10)
    at = int(time.time() * 1000) - age_ms
    with db:
        for i in range(n):
            cur = db.execute(
                "INSERT INTO predictions (request_id, row, at_ms, model, version, route, shadow, "
                "status, latency_us, label, score) VALUES (?, 0, ?, 'fraud', 1, 'stable', 0, 200, "
                "10, 'legit', 0.1)", ("%s-%d" % (prefix, i), at))
            db.execute("INSERT INTO feedback (model, request_id, row, kind, label, source, "
                       "comment, at_ms) VALUES ('fraud', ?, 0, 'label', 'legit', 'user', ?, ?)",
                       ("%s-%d" % (prefix, i), "%s comment" % prefix, at))
            db.execute("INSERT INTO review_items (model, prediction, request_id, row, version, "
                       "reason, created_ms) VALUES ('fraud', ?, ?, 0, 1, 'all', ?)",
                       (cur.lastrowid, "%s-%d" % (prefix, i), at))
    db.close()


def count(data, table, prefix):
    db = sqlite3.connect(os.path.join(data, "modeld.db"), timeout=10)
    try:
        return db.execute("SELECT count(*) FROM %s WHERE request_id LIKE ?" % table,
                          (prefix + "-%",)).fetchone()[0]
    finally:
        db.close()


def metric(d, name):
    _, text, _ = d.request("GET", "/metrics")
    for line in text.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def test_feedback_and_review_expire():
    tmp = tempfile.mkdtemp(prefix="modeld-t5081-")
    try:
        data = os.path.join(tmp, "data")
        with Daemon(data=data, bench=False):
            pass  # the store, made
        add_rows(data, 3 * DAY_MS, "old", 40)
        add_rows(data, DAY_MS, "new", 25)
        with Daemon(data=data, bench=False, args=["--log-horizon-days", "2"]) as d:
            ok = wait_for(lambda: count(data, "feedback", "old") == 0 and
                          count(data, "review_items", "old") == 0, 20)
            expect(ok, (count(data, "feedback", "old"), count(data, "review_items", "old")))
            expect(count(data, "predictions", "old") == 0, count(data, "predictions", "old"))
            for t in ("predictions", "feedback", "review_items"):
                expect(count(data, t, "new") == 25, (t, count(data, t, "new")))
            expect(metric(d, "modeld_predlog_feedback_expired_total") == 40 and
                   metric(d, "modeld_predlog_review_items_expired_total") == 40,
                   (metric(d, "modeld_predlog_feedback_expired_total"),
                    metric(d, "modeld_predlog_review_items_expired_total")))
            ok = wait_for(lambda: d.json("GET", "/api/v1/events?kind=retention")[1]["events"], 10)
            expect(ok, "no retention event")
            st, doc, _ = d.json("GET", "/api/v1/events?kind=retention")
            expect(st == 200 and len(doc["events"]) == 1, (st, doc))
            det = doc["events"][0]["details"]
            expect(det["predictions"] == 40 and det["feedback"] == 40 and
                   det["review_items"] == 40 and det["since_ms"] == 0 and
                   det["before_ms"] < int(time.time() * 1000) - 2 * DAY_MS + 60000, det)
            expect(doc["events"][0]["model"] == "", doc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_feedback_and_review_expire])
