#!/usr/bin/python3
"""Shadows on a real daemon over loopback: a shadow that takes 50 ms a copy
(MODELD_SHADOW_DELAY_MS holds each copy that long before it runs), at 10
requests a second, has at least 99% of its copies compared with the answer,
and no caller waits for it; with a queue too small for a burst, copies are
dropped and counted and every caller is answered; a canary's requests
mirrored to the champion are compared on the same calls."""
import json
import os
import threading
import time

import trafficlib as T
from harness import Daemon, expect, run, wait_for

SHADOW = {"routes": [{"name": "stable", "version": "2"}],
          "shadows": [{"version": "1", "fraction": 1}]}


def daemon(repo, *args):
    os.environ["MODELD_SHADOW_DELAY_MS"] = "50"
    try:
        return Daemon(repo=repo, args=list(args))
    finally:
        del os.environ["MODELD_SHADOW_DELAY_MS"]


def comparison(d, a, b):
    st, doc, _ = d.json("GET", "/api/v1/models/m/comparison")
    expect(st == 200, doc)
    for p in doc["pairs"]:
        if p["a"] == a and p["b"] == b:
            return p
    return None


def metric(d, prefix):
    st, data, _ = d.request("GET", "/metrics")
    total = 0.0
    for line in data.decode().splitlines():
        if line.startswith(prefix):
            total += float(line.rsplit(" ", 1)[1])
    return total


def infer(d):
    t = time.monotonic()
    st, doc, h = d.json("POST", "/v2/models/m/infer", T.BODY)
    return st, h.get("x-model-version"), time.monotonic() - t


def test_slow_shadow_compared_callers_never_wait():
    repo = T.make_repo({"m": ([1, 2], "new_versions: register\nversion_policy:\n  all: true\n")})
    with daemon(repo) as d:
        st, doc, _ = d.json("PUT", "/api/v1/models/m/traffic", SHADOW)
        expect(st == 200, doc)
        n = 50
        slow = 0
        for _ in range(n):
            st, version, took = infer(d)
            expect(st == 200 and version == "2", (st, version))
            slow += took >= 0.05
            time.sleep(0.1)
        # A caller that waited for its 50 ms copy would take 50 ms every time.
        expect(slow <= 2, "%d of %d callers took 50 ms or more" % (slow, n))
        expect(wait_for(lambda: (comparison(d, "2", "1") or {}).get("requests", 0) >= n,
                        timeout=20), comparison(d, "2", "1"))
        p = comparison(d, "2", "1")
        expect(p["compared"] >= 0.99 * n and p["agreement"] == 1, p)
        expect(metric(d, 'modeld_shadow_dropped_total') == 0, "copies dropped")
        expect(metric(d, 'modeld_inference_requests_total{model="m",version="1",route="shadow"')
               >= 0.99 * n, "the shadow's requests are not counted under route shadow")


def test_full_queue_drops_and_counts():
    repo = T.make_repo({"m": ([1, 2], "new_versions: register\nversion_policy:\n  all: true\n")})
    with daemon(repo, "--shadow-queue", "4") as d:
        st, doc, _ = d.json("PUT", "/api/v1/models/m/traffic", SHADOW)
        expect(st == 200, doc)
        answers = []

        def burst():
            for _ in range(25):
                answers.append(infer(d)[0])

        threads = [threading.Thread(target=burst) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        expect(answers.count(200) == 100, answers)
        dropped = metric(d, "modeld_shadow_dropped_total")
        submitted = metric(d, "modeld_shadow_submitted_total")
        expect(dropped > 0 and dropped + submitted == 100, (dropped, submitted))


def test_mirror_compares_canary_with_champion():
    repo = T.make_repo({"m": ([1, 2], "new_versions: register\nversion_policy:\n  all: true\n")})
    with Daemon(repo=repo) as d:
        policy = {"routes": [{"name": "stable", "version": "2", "weight": 1},
                             {"name": "canary", "version": "1", "weight": 1}],
                  "mirror": 1}
        st, doc, _ = d.json("PUT", "/api/v1/models/m/traffic", policy)
        expect(st == 200, doc)
        c = T.conn(d)
        routes = [T.infer(c, "m")[2] for _ in range(60)]
        c.close()
        canary = routes.count("canary")
        expect(canary > 0, routes)
        # The champion (alias champion: version 2) against the canary (1).
        expect(wait_for(lambda: (comparison(d, "2", "1") or {}).get("requests", 0) >= canary),
               (canary, comparison(d, "2", "1")))


if __name__ == "__main__":
    run([test_slow_shadow_compared_callers_never_wait, test_full_queue_drops_and_counts,
         test_mirror_compares_canary_with_champion])
