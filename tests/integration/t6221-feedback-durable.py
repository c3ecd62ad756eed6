#!/usr/bin/python3
"""A 2xx on POST /api/v1/feedback means the items are durably stored: four
clients stream feedback (single items and batches) at a daemon that is
killed with SIGKILL in the middle; after a restart on the same data every
acknowledged item is there, once, and the figures count them (the API's
from the rows, and the live sums of /metrics, filled again from the store
at start)."""
import http.client
import json
import os
import random
import shutil
import tempfile
import threading
import time

from feedbacklib import (db_rows, feedback_repo, fraud_rows, predict, rng_for, wait_metric,
                         wait_rows)
from harness import Daemon, clients, expect, run


def test_sigkill_keeps_every_acknowledged_item():
    tmp = tempfile.mkdtemp(prefix="modeld-t6221-")
    rng = rng_for(6224)
    try:
        repo = feedback_repo(tmp)
        data = os.path.join(tmp, "data")
        with Daemon(repo=repo, data=data) as d:
            predict(d, "fraud", fraud_rows(20, rng), "dur-1")
            wait_rows(data, "request_id = 'dur-1'", 20)
        for round_ in range(2):
            d = Daemon(repo=repo, data=data)
            acked = {i: [] for i in range(4)}

            def stream(conn, i, deadline):
                k = 0
                while time.time() < deadline:
                    tags = ["r%d-c%d-%d-%d" % (round_, i, k, j) for j in range(1 + (i % 2) * 4)]
                    items = [{"request_id": "dur-1", "row": (k + j) % 20,
                              "label": "fraud" if (k + j) % 3 else "legit", "comment": t}
                             for j, t in enumerate(tags)]
                    body = {"model": "fraud", "items": items} if len(items) > 1 else \
                        dict(items[0], model="fraud")
                    try:
                        conn.request("POST", "/api/v1/feedback", json.dumps(body))
                        r = conn.getresponse()
                        text = r.read()
                    except (OSError, http.client.HTTPException):
                        return  # killed: this one is in flight
                    expect(r.status == 200, (r.status, text))
                    expect(json.loads(text)["stored"] == len(items), text)
                    acked[i].extend(tags)
                    k += 1

            errors = []
            runner = threading.Thread(target=clients, args=(d.port, 4, stream, 30, errors))
            try:
                runner.start()
                time.sleep(random.uniform(0.3, 0.8))
                d.proc.kill()
                d.proc.wait()
                runner.join()
                expect(not errors, errors[:3])
            finally:
                if d.proc.poll() is None:
                    d.proc.kill()
                d.stop(check=False)
                shutil.rmtree(d.tmp, ignore_errors=True)
            want = [t for tags in acked.values() for t in tags]
            expect(len(want) >= 20, "only %d items acknowledged before the kill" % len(want))
            with Daemon(repo=repo, data=data) as d:
                got = db_rows(data, "SELECT comment FROM feedback WHERE comment LIKE 'r%d-%%'"
                              % round_)
                have = [r["comment"] for r in got]
                missing = set(want) - set(have)
                expect(not missing, "%d of %d acknowledged items lost, e.g. %r"
                       % (len(missing), len(want), sorted(missing)[:3]))
                expect(len(have) == len(set(have)), "an item stored twice")
                # One current label per row, whatever was replaced.
                cur = db_rows(data, "SELECT row, count(*) AS n FROM feedback WHERE "
                              "request_id = 'dur-1' AND current = 1 GROUP BY row")
                expect(all(r["n"] == 1 for r in cur) and len(cur) == 20, cur)
                st, q, _ = d.json("GET", "/api/v1/models/fraud/quality")
                expect(st == 200 and q["all"]["labelled"] == 20, q)
                # The live sums are filled again from the store at start.
                p = db_rows(data, "SELECT version, route FROM predictions LIMIT 1")[0]
                wait_metric(d, "modeld_quality_labelled_rows",
                            {"model": "fraud", "version": str(p["version"]),
                             "route": p["route"]}, 20)
                wait_metric(d, "modeld_quality_predictions",
                            {"model": "fraud", "version": str(p["version"]),
                             "route": p["route"]}, 20)
            print("    round %d: %d items acknowledged before the kill, all found"
                  % (round_, len(want)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_sigkill_keeps_every_acknowledged_item])
