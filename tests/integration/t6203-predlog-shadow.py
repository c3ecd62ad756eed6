#!/usr/bin/python3
"""The prediction log records a shadow's answers beside the caller's: with
a policy whose shadow is version 1 and whose route is version 2, every
request leaves its answered row (version 2, route stable) and its shadow
row (version 1, route shadow, shadow true, same request id and row, the
shadow's own outputs and features); a mirrored canary's request leaves the
champion's copy under route mirror."""
import os
import shutil

import trafficlib as T
from harness import Daemon, expect, run, wait_for
from predloglib import listing, metric

SHADOW = {"routes": [{"name": "stable", "version": "2"}],
          "shadows": [{"version": "1", "fraction": 1}]}


def test_shadow_rows_land():
    repo = T.make_repo({"m": ([1, 2], "new_versions: register\nversion_policy:\n  all: true\n")})
    try:
        with Daemon(repo=repo) as d:
            st, doc, _ = d.json("PUT", "/api/v1/models/m/traffic", SHADOW)
            expect(st == 200, doc)
            n = 20
            for i in range(n):
                st, doc, _ = d.json("POST", "/v2/models/m/infer", T.BODY,
                                    {"X-Request-Id": "s-%d" % i})
                expect(st == 200, doc)
            expect(wait_for(lambda: metric(d, "modeld_predlog_records_written_total") >= 2 * n),
                   metric(d, "modeld_predlog_records_written_total"))
            st, doc = listing(d, route="shadow")
            rows = doc["predictions"]
            expect(len(rows) == n, rows)
            expect({r["request_id"] for r in rows} == {"s-%d" % i for i in range(n)}, rows)
            for r in rows:
                expect(r["shadow"] is True and r["version"] == 1 and r["row"] == 0, r)
                expect(r["status"] == 200 and r["outputs"] is not None, r)
                expect(r["features"] == dict(zip(["amount", "age", "score", "days", "ratio"],
                                                 T.ROW)), r)
            st, doc = listing(d, route="stable")
            expect(len(doc["predictions"]) == n, doc)
            expect(all(r["shadow"] is False and r["version"] == 2 for r in doc["predictions"]),
                   doc)
            # The pair shares (request id, row): one lookup finds both answers.
            st, doc = listing(d, request_id="s-3")
            expect(sorted((r["version"], r["route"]) for r in doc["predictions"]) ==
                   [(1, "shadow"), (2, "stable")], doc)
    finally:
        shutil.rmtree(repo, ignore_errors=True)


def test_mirror_rows_land():
    repo = T.make_repo({"m": ([1, 2], "new_versions: register\nversion_policy:\n  all: true\n")})
    try:
        with Daemon(repo=repo) as d:
            policy = {"routes": [{"name": "stable", "version": "2", "weight": 1},
                                 {"name": "canary", "version": "1", "weight": 1}],
                      "mirror": 1}
            st, doc, _ = d.json("PUT", "/api/v1/models/m/traffic", policy)
            expect(st == 200, doc)
            c = T.conn(d)
            routes = [T.infer(c, "m")[2] for _ in range(40)]
            c.close()
            canary = routes.count("canary")
            expect(canary > 0, routes)
            expect(wait_for(lambda: len(listing(d, route="mirror")[1]["predictions"]) >= canary),
                   listing(d, route="mirror"))
            rows = listing(d, route="mirror")[1]["predictions"]
            expect(all(r["shadow"] is True and r["version"] == 2 for r in rows), rows)
    finally:
        shutil.rmtree(repo, ignore_errors=True)


if __name__ == "__main__":
    run([test_shadow_rows_land, test_mirror_rows_land])
