#!/usr/bin/python3
"""Retention of the prediction log, enforced by the control loop: records
older than --log-horizon-days go (with their key index entries), features
older than --log-features-days are removed while the record stays (what
feedback needs: ids, time, version, route, outputs), and only the newest
--log-features-rows records keep their features. Old records are written
into the store between two runs of the daemon."""
import json
import os
import shutil
import sqlite3
import tempfile
import time

from harness import Daemon, expect, run, wait_for
from predloglib import ROW, keyed_repo, listing, metric, settled, v2_body

DAY_MS = 86400 * 1000


def add_old(data, n, age_ms, prefix):
    db = sqlite3.connect(os.path.join(data, "modeld.db"), timeout=10)
    at = int(time.time() * 1000) - age_ms
    with db:
        for i in range(n):
            cur = db.execute(
                "INSERT INTO predictions (request_id, row, at_ms, model, version, route, shadow, "
                "status, latency_us, keys, features, label, score, outputs) VALUES "
                "(?, 0, ?, 'fraudk', 2, 'stable', 0, 200, 10, ?, ?, 'legit', 0.1, ?)",
                ("%s-%d" % (prefix, i), at, json.dumps({"txn": i}), json.dumps(ROW),
                 json.dumps({"probability": 0.1, "label": "legit"})))
            db.execute("INSERT INTO prediction_keys (model, name, value, prediction) "
                       "VALUES ('fraudk', 'txn', ?, ?)", (str(i), cur.lastrowid))
    db.close()


def test_horizon_age_and_count():
    tmp = tempfile.mkdtemp(prefix="modeld-t6206-")
    try:
        data = os.path.join(tmp, "data")
        repo = keyed_repo(tmp)
        with Daemon(repo=repo, data=data):
            pass  # the store, made
        add_old(data, 50, 3 * DAY_MS, "old")
        add_old(data, 50, DAY_MS + 3600 * 1000, "mid")
        with Daemon(repo=repo, data=data,
                    args=["--log-horizon-days", "2", "--log-features-days", "1",
                          "--log-features-rows", "10"]) as d:
            for i in range(30):
                st, doc, _ = d.json("POST", "/v2/models/fraudk/infer",
                                    v2_body([ROW], {"user_id": "u", "txn": 1000 + i}),
                                    {"X-Request-Id": "new-%d" % i})
                expect(st == 200, doc)
            settled(d, 30)
            expect(wait_for(lambda: metric(d, "modeld_predlog_records_expired_total") == 50 and
                            metric(d, "modeld_predlog_features_removed_total") == 70, 20),
                   (metric(d, "modeld_predlog_records_expired_total"),
                    metric(d, "modeld_predlog_features_removed_total")))
            st, doc = listing(d, limit="1000")
            rows = doc["predictions"]
            ids = [r["request_id"] for r in rows]
            expect(not any(x.startswith("old-") for x in ids), ids[:5])
            expect(sum(x.startswith("mid-") for x in ids) == 50, ids)
            for r in rows:
                expect(r["outputs"] is not None and r["label"] == "legit", r)
                keep = r["request_id"] in {"new-%d" % i for i in range(20, 30)}
                expect((r["features"] is not None) == keep, r)
            st, doc = listing(d, key="txn=7", model="fraudk")
            expect([r["request_id"] for r in doc["predictions"]] == ["mid-7"], doc)
        db = sqlite3.connect(os.path.join(data, "modeld.db"))
        left = db.execute("SELECT count(*) FROM prediction_keys k LEFT JOIN predictions p "
                          "ON p.id = k.prediction WHERE p.id IS NULL").fetchone()[0]
        db.close()
        expect(left == 0, "%d key index entries of removed records remain" % left)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_horizon_age_and_count])
