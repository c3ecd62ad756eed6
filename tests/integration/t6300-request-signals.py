#!/usr/bin/python3
"""Request signals over windows (GET /api/v1/models/{m}/signals): after
crafted traffic to a linear model whose version fails every request that
leaves x3 out (500), answers the others (200) and refuses bad input (400),
the counts are exact (requests, errors, error_rate, success_rate, the rates
over the window), the latency quantiles lie inside the bucket of /metrics'
histogram that holds them, and version and route narrow the sums; bad
arguments get a 400 naming the argument, an unknown model a 404."""
import json

from harness import expect, expect_error, run, wait_for
from rolloutlib import RolloutDaemon, linear_model

OK = {"inputs": [{"name": "x1", "datatype": "FP32", "shape": [1], "data": [1.0]},
                 {"name": "x2", "datatype": "FP32", "shape": [1], "data": [0.5]},
                 {"name": "x3", "datatype": "FP32", "shape": [1], "data": [0.5]}]}
FAIL = {"inputs": OK["inputs"][:2]}
BAD = {"inputs": [{"name": "x1", "datatype": "FP32", "shape": [1], "data": [1000.0]},
                  OK["inputs"][1], OK["inputs"][2]]}
N_OK, N_FAIL, N_BAD = 12, 3, 5


def build(repo):
    linear_model(repo, "lin", {1: False})


def send(d):
    """The crafted traffic; returns the route it took (X-Model-Route)."""
    routes = set()
    for body, n, status in ((OK, N_OK, 200), (FAIL, N_FAIL, 500), (BAD, N_BAD, 400)):
        for _ in range(n):
            st, doc, hdrs = d.json("POST", "/v2/models/lin/infer", body)
            expect(st == status, (st, doc))
            if st == 200:
                routes.add(hdrs["x-model-route"])
    expect(len(routes) == 1, routes)
    return routes.pop()


def signals(d, query=""):
    st, doc, _ = d.json("GET", "/api/v1/models/lin/signals" + query)
    expect(st == 200, (st, doc))
    return {s["metric"]: s for s in doc["signals"]}


def buckets(d, route):
    """The latency buckets of /metrics for lin v1 by route: [(le, cumulative)]."""
    st, data, _ = d.request("GET", "/metrics")
    expect(st == 200, st)
    out = []
    for line in data.decode().splitlines():
        if line.startswith('modeld_request_duration_seconds_bucket{model="lin",version="1",'
                           'route="%s",' % route):
            le = line.split('le="')[1].split('"')[0]
            out.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    return out


def bucket_of(bks, q):
    """The (lower, upper) bounds in ms of the bucket holding quantile q."""
    total = bks[-1][1]
    rank = q * total
    lo = 0.0
    for le, cum in bks:
        if cum >= rank and cum > 0:
            return lo * 1e3, le * 1e3
        lo = le
    raise AssertionError("no bucket for %g in %r" % (q, bks))


def test_counts_and_quantiles():
    with RolloutDaemon(build) as d:
        route = send(d)
        total = N_OK + N_FAIL + N_BAD
        got = {}

        def counted():
            got.update(signals(d, "?window=5m"))
            return got["requests"]["value"] == total

        expect(wait_for(counted, 10), got)
        expect(got["errors"]["value"] == N_FAIL, got)
        expect(abs(got["error_rate"]["value"] - N_FAIL / total) < 1e-12, got)
        expect(got["error_rate"]["samples"] == total, got)
        expect(abs(got["success_rate"]["value"] - N_OK / total) < 1e-12, got)
        expect(abs(got["requests_per_second"]["value"] - total / 300.0) < 1e-9, got)
        expect(abs(got["rows_per_second"]["value"] - N_OK / 300.0) < 1e-9, got)
        bks = buckets(d, route)
        expect(bks and bks[-1][1] == N_OK, bks)
        for name, q in (("latency_p50_ms", 0.5), ("latency_p90_ms", 0.9),
                        ("latency_p99_ms", 0.99)):
            lo, hi = bucket_of(bks, q)
            v = got[name]["value"]
            expect(lo <= v <= hi, "%s %r outside the bucket (%g, %g]" % (name, v, lo, hi))
            expect(got[name]["samples"] == N_OK, got[name])
        expect(got["latency_mean_ms"]["value"] > 0, got)
        # Narrowed: the version and its route give the same; another route nothing.
        one = signals(d, "?window=5m&version=1&route=%s&metric=requests,errors" % route)
        expect(one["requests"]["value"] == total and one["errors"]["value"] == N_FAIL, one)
        none = signals(d, "?window=5m&route=canary&metric=requests,error_rate,latency_p99_ms")
        expect(none["requests"]["value"] == 0, none)
        expect(none["error_rate"]["value"] is None, none)
        expect(none["latency_p99_ms"]["value"] is None, none)
        other = signals(d, "?version=2&metric=requests")
        expect(other["requests"]["value"] == 0, other)


def test_bad_arguments():
    with RolloutDaemon(build) as d:
        st, doc, _ = d.json("GET", "/api/v1/models/lin/signals?window=abc")
        expect_error(st, doc, 400, "window")
        st, doc, _ = d.json("GET", "/api/v1/models/lin/signals?window=0s")
        expect_error(st, doc, 400, "window")
        st, doc, _ = d.json("GET", "/api/v1/models/lin/signals?metric=nosuch")
        expect_error(st, doc, 400, "unknown metric 'nosuch'")
        st, doc, _ = d.json("GET", "/api/v1/models/lin/signals?metric=error_rate:x")
        expect_error(st, doc, 400, "takes no argument")
        st, doc, _ = d.json("GET", "/api/v1/models/lin/signals?version=x")
        expect_error(st, doc, 400, "version")
        st, doc, _ = d.json("GET", "/api/v1/models/lin/signals?route=" + "r" * 80)
        expect_error(st, doc, 400, "route")
        st, doc, _ = d.json("GET", "/api/v1/models/nosuch/signals")
        expect_error(st, doc, 404, "unknown model 'nosuch'")
        # Every signal without an argument is listed by default, with its value.
        doc = signals(d)
        expect({"requests", "error_rate", "latency_p99_ms", "rows_per_second"} <= set(doc), doc)
        json.dumps(doc)


if __name__ == "__main__":
    run([test_counts_and_quantiles, test_bad_arguments])
