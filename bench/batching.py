#!/usr/bin/python3
"""Dynamic batching on and off: the benchmark model of the peers served by
build/modeld twice per engine, once as tests/data/bench/model.yaml has it and
once with `dynamic_batching: {max_batch_size: 64, max_queue_delay_us: 500}`
added, under each engine asked for. wrk (-t1 --latency, the peers' post.lua
and their 725-byte single-row V2 body) runs against the off and the on server
alternately (the order swaps every round), ROUNDS times per scenario; the
script prints medians of requests/s, p50 and p99, rows per engine call (from
/metrics: modeld_batch_size, or requests per execution where the version does
not batch) and the on/off ratios.

Targets (docs/performance.md): xgboost at 64 connections, on >= 3x off;
trees at 1 connection, on within the noise of off.

Usage: /usr/bin/python3 bench/batching.py   (after `make`)

Environment: ROUNDS (3), DURATION seconds per wrk run (10),
SCENARIOS (xgboost:64,trees:1,trees:64: ENGINE:CONNECTIONS, comma-separated),
THREADS (modeld's --threads, default 0 = one per core, as in docs/batching.md),
PROTOCOL (v2; tfs sends the same row as TF Serving's {"instances": [[...]]}
to /v1/models/bench:predict)."""
import json
import os
import shutil
import statistics
import sys
import tempfile

from common import BATCHING_YAML, Servers, bench_repo, http_get, metric, single_row_body, wrk

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "10"))
SCENARIOS = [(e, int(c)) for e, c in (s.split(":") for s in
                                      os.environ.get("SCENARIOS",
                                                     "xgboost:64,trees:1,trees:64").split(","))]
THREADS = os.environ.get("THREADS", "0")
PROTOCOL = os.environ.get("PROTOCOL", "v2")
PATH = "/v1/models/bench:predict" if PROTOCOL == "tfs" else "/v2/models/bench/infer"
LABELS = 'model="bench",version="1"'


def engine_calls(port):
    """(rows, engine calls) so far, from /metrics."""
    text = http_get(port, "/metrics")
    count = metric(text, "modeld_batch_size_count", LABELS)
    if count:
        return metric(text, "modeld_batch_size_sum", LABELS), count
    # Not batching: one engine call per request, of one row each here.
    return (metric(text, "modeld_inference_requests_total", LABELS + ',route="default"'),
            metric(text, "modeld_inference_executions_total", LABELS))


def measure(port, body, conns):
    """One wrk run; returns (Run, rows per engine call during it)."""
    rows0, calls0 = engine_calls(port)
    run = wrk("http://127.0.0.1:%d%s" % (port, PATH), body, conns, DURATION)
    rows1, calls1 = engine_calls(port)
    return run, (rows1 - rows0) / max(1.0, calls1 - calls0)


def main():
    tmp = tempfile.mkdtemp(prefix="modeld-batching-")
    try:
        body = single_row_body(os.path.join(tmp, "body1.json"))
        if PROTOCOL == "tfs":
            with open(body) as f:
                row = json.load(f)["inputs"][0]["data"]
            body = os.path.join(tmp, "tfs1.json")
            with open(body, "w") as f:
                json.dump({"instances": [row]}, f)
        results = {}  # (engine, conns, "off"/"on") -> [(Run, rows per call)]
        with Servers() as srv:
            ports = {}
            for engine in sorted({e for e, _ in SCENARIOS}):
                for mode, extra in (("off", ""), ("on", BATCHING_YAML)):
                    name = "%s-%s" % (engine, mode)
                    repo = bench_repo(os.path.join(tmp, name), backend=engine, extra_yaml=extra)
                    ports[engine, mode], _ = srv.modeld(repo, os.path.join(tmp, name + "-data"),
                                                        THREADS)
            for r in range(ROUNDS):
                for engine, conns in SCENARIOS:
                    for mode in (("off", "on") if r % 2 == 0 else ("on", "off")):
                        run, per_call = measure(ports[engine, mode], body, conns)
                        results.setdefault((engine, conns, mode), []).append((run, per_call))
                        print("round %d %-7s -c%-3d batching %-3s %9.0f req/s  p50 %.3f ms  "
                              "p99 %.3f ms  %5.1f rows/call%s"
                              % (r + 1, engine, conns, mode, run.rps, run.p50, run.p99, per_call,
                                 "  (%d socket errors)" % run.errors if run.errors else ""),
                              flush=True)

        def med(engine, conns, mode):
            v = results[engine, conns, mode]
            return (statistics.median(x[0].rps for x in v), statistics.median(x[0].p50 for x in v),
                    statistics.median(x[0].p99 for x in v), statistics.median(x[1] for x in v))

        print("\ndynamic batching (max_batch_size 64, max_queue_delay_us 500), single-row %s, "
              "wrk -t1, %d rounds of %d s, medians; modeld --threads %s"
              % ("TF Serving :predict" if PROTOCOL == "tfs" else "V2 infer", ROUNDS, DURATION,
                 THREADS))
        print("%-8s %5s  %-8s %10s %8s %8s %10s" % ("engine", "conns", "batching", "req/s",
                                                    "p50 ms", "p99 ms", "rows/call"))
        ratios = {}
        for engine, conns in SCENARIOS:
            off, on = med(engine, conns, "off"), med(engine, conns, "on")
            ratios[engine, conns] = on[0] / off[0]
            for mode, m in (("off", off), ("on", on)):
                print("%-8s %5d  %-8s %10.0f %8.3f %8.3f %10.1f" % ((engine, conns, mode) + m))
            print("%-8s %5s  %-8s %10.2f %8.2f %8.2f" % ("", "", "on/off", on[0] / off[0],
                                                       on[1] / off[1], on[2] / off[2]))
        print()
        if ("xgboost", 64) in ratios:
            print("xgboost at 64 connections, on/off throughput %.2f (target >= 3): %s"
                  % (ratios["xgboost", 64], "met" if ratios["xgboost", 64] >= 3 else "NOT met"))
        if ("trees", 1) in ratios:
            print("trees at 1 connection, on/off throughput %.2f (target: no measurable cost, "
                  "i.e. within the rounds' spread)" % ratios["trees", 1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
