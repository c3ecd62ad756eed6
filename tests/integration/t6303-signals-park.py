#!/usr/bin/python3
"""A signal whose provider waits on the store (the A/B signals) is never
evaluated on an HTTP thread: with one HTTP thread and the provider held
MODELD_SIGNALS_DELAY_MS, GET /api/v1/models/{m}/signals parks while other
requests are answered; at most 4 such evaluations run at once (503 with
Retry-After past that); a malformed MODELD_SIGNALS_DELAY_MS stops start-up."""
import os
import shutil
import subprocess
import tempfile
import threading
import time

from harness import MODELD, Daemon, expect, expect_error, free_port, make_repo, run

DELAY_MS = 2000
AB = "/api/v1/models/fraud/signals?metric=ab_conversion:fraud&window=1h"


def in_flight(d):
    st, data, _ = d.request("GET", "/metrics", timeout=30)
    expect(st == 200, st)
    for line in data.decode().splitlines():
        if line.startswith("modeld_http_requests_in_flight "):
            return int(float(line.split()[1]))
    raise AssertionError("no modeld_http_requests_in_flight")


def slow_daemon():
    os.environ["MODELD_SIGNALS_DELAY_MS"] = str(DELAY_MS)
    try:
        return Daemon(args=["--threads", "1"])
    finally:
        del os.environ["MODELD_SIGNALS_DELAY_MS"]


def start(d, results, i):
    def body():
        t0 = time.time()
        st, doc, hdrs = d.json("GET", AB)
        results[i] = (st, doc, hdrs, time.time() - t0)
    t = threading.Thread(target=body)
    t.start()
    return t


def wait_in_flight(d, n):
    """Until n requests are in flight beside the /metrics that asks (bounded)."""
    deadline = time.time() + DELAY_MS / 2000
    while time.time() < deadline:
        if in_flight(d) >= n + 1:
            return True
        time.sleep(0.02)
    return False


def test_slow_signal_does_not_hold_a_worker():
    with slow_daemon() as d:
        results = {}
        t = start(d, results, 0)
        # The parked request is in flight while /metrics, on the one HTTP
        # thread, is answered beside it.
        expect(wait_in_flight(d, 1), "the signals request held the only HTTP thread")
        t0 = time.time()
        st, _, _ = d.request("GET", "/v2/health/ready")
        expect(st == 200 and time.time() - t0 < DELAY_MS / 2000, (st, time.time() - t0))
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/signals?metric=rejected_rate")
        expect(st == 200 and doc["signals"][0]["samples"] == 0, doc)
        expect(t.is_alive(), "answered before the provider's delay")
        t.join(30)
        st, doc, _, took = results[0]
        expect(st == 200 and doc["signals"][0]["metric"] == "ab_conversion:fraud", doc)
        expect(doc["signals"][0]["samples"] == 0 and took >= DELAY_MS / 1000, (doc, took))


def test_bounded():
    with slow_daemon() as d:
        results = {}
        threads = [start(d, results, i) for i in range(4)]
        expect(wait_in_flight(d, 4), "four signals requests not parked at once")
        st, doc, hdrs = d.json("GET", AB)
        expect_error(st, doc, 503, "4 evaluations that wait on the store are running already")
        expect(hdrs.get("retry-after") == "1", hdrs)
        for t in threads:
            t.join(30)
        expect(sorted(r[0] for r in results.values()) == [200] * 4, results)
        st, doc, _ = d.json("GET", AB)
        expect(st == 200, (st, doc))


def test_bad_delay_refused():
    tmp = tempfile.mkdtemp(prefix="modeld-test-")
    try:
        repo = make_repo(os.path.join(tmp, "repo"), examples=False)
        p = subprocess.run([MODELD, "--repo", repo, "--listen", "127.0.0.1:%d" % free_port(),
                            "--data", os.path.join(tmp, "data")],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, MODELD_SIGNALS_DELAY_MS="soon"))
        out = p.stdout + p.stderr
        expect(p.returncode == 1 and "MODELD_SIGNALS_DELAY_MS: 'soon' is not a whole number"
               in out, (p.returncode, out))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_slow_signal_does_not_hold_a_worker, test_bounded, test_bad_delay_refused])
