#!/usr/bin/python3
"""What the prediction log costs the requests it records (docs/performance.md).

For the single-row request of the benchmark model (30 features), with the
log off (--log-ring 0) and logging every row with its features (the
default), alternating, ROUNDS times each (medians reported):
1. saturation: wrk with CONNS keep-alive connections as fast as they go:
   requests per second, p99, and with the log on the share of records
   dropped (ring full) and the writer's batches;
2. half of saturation: connections that each pause PACE_MS (2) before each
   request, as many as make the offered load half of the log-off saturation
   (wrk's delay(), whole milliseconds: a fixed schedule per connection, so
   a slower answer shows as fewer requests):
   requests per second, p99 (target: within 10% of the log off) and drops
   (target: none);
3. bytes on disk per record (database and write-ahead log, after a clean
   stop, divided by the records stored).
The writer alone: build/bench/predlog_bench (make build/bench/predlog_bench).

Usage: /usr/bin/python3 bench/predlog.py [MODELD]   (after `make`)
Environment: ROUNDS (3), DURATION (8 s), CONNS (32), PACE_MS (2)."""
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

from common import MODELD, PEERS, bench_repo, free_port, single_row_body, wait_ready, wrk


def metric(port, name):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/metrics")
    for line in c.getresponse().read().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def paced(url, body, conns, duration, delay_ms):
    """wrk with every connection waiting delay_ms before each request: (rps, p99 ms)."""
    env = dict(os.environ, BODY=body, DELAY_MS="%.3f" % delay_ms)
    out = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % duration, "--latency",
                          "-s", os.path.join(PEERS, "post_paced.lua"), url],
                         capture_output=True, text=True, env=env, timeout=duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise RuntimeError("non-2xx answers:\n" + out)
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    return rps, p99


class Server:
    def __init__(self, modeld, repo, log_on):
        self.tmp = tempfile.mkdtemp(prefix="modeld-predlog-bench-")
        self.data = os.path.join(self.tmp, "data")
        self.port = free_port()
        args = [modeld, "--repo", repo, "--listen", "127.0.0.1:%d" % self.port, "--data",
                self.data, "--log-level", "error"]
        if not log_on:
            args += ["--log-ring", "0"]
        args += os.environ.get("MODELD_ARGS", "").split()
        self.p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(self.port, proc=self.p)
        self.url = "http://127.0.0.1:%d/v2/models/bench/infer" % self.port

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(timeout=120)

    def bytes_per_record(self):
        db = os.path.join(self.data, "modeld.db")
        size = sum(os.path.getsize(db + s) for s in ("", "-wal") if os.path.exists(db + s))
        c = sqlite3.connect(db)
        n = c.execute("SELECT count(*) FROM predictions").fetchone()[0]
        c.close()
        return size / n if n else 0, n

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def run_one(modeld, repo, body, log_on, conns, duration, delay_ms):
    s = Server(modeld, repo, log_on)
    try:
        r = {}
        if delay_ms is None:
            run = wrk(s.url, body, conns, duration)
            r["rps"], r["p99"] = run.rps, run.p99
        else:
            r["rps"], r["p99"] = paced(s.url, body, conns, duration, delay_ms)
        if log_on:
            ok = lambda: metric(s.port, "modeld_predlog_ring_depth") == 0
            deadline = time.time() + 60
            while not ok() and time.time() < deadline:
                time.sleep(0.1)
            r["written"] = metric(s.port, "modeld_predlog_records_written_total")
            r["dropped"] = metric(s.port, "modeld_predlog_records_dropped_total")
            r["batches"] = metric(s.port, "modeld_predlog_batches_total")
            r["largest"] = metric(s.port, "modeld_predlog_batch_records_max")
        s.stop()
        if log_on:
            r["bytes"], r["stored"] = s.bytes_per_record()
        return r
    finally:
        if s.p.poll() is None:
            s.p.kill()
        s.cleanup()


def med(rs, k):
    return statistics.median(r[k] for r in rs)


def main():
    modeld = sys.argv[1] if len(sys.argv) > 1 else MODELD
    rounds = int(os.environ.get("ROUNDS", "3"))
    duration = int(os.environ.get("DURATION", "8"))
    conns = int(os.environ.get("CONNS", "32"))
    tmp = tempfile.mkdtemp(prefix="modeld-predlog-repo-")
    try:
        repo = bench_repo(os.path.join(tmp, "repo"))
        body = single_row_body(os.path.join(tmp, "body.json"))
        sat = {True: [], False: []}
        for _ in range(rounds):
            for on in (False, True):
                sat[on].append(run_one(modeld, repo, body, on, conns, duration, None))
        off, on = med(sat[False], "rps"), med(sat[True], "rps")
        drop = [r["dropped"] / max(1.0, r["dropped"] + r["written"]) for r in sat[True]]
        print("saturation, %d connections, median of %d:" % (conns, rounds))
        print("  log off  %9.0f requests/s  p99 %6.2f ms" % (off, med(sat[False], "p99")))
        print("  log on   %9.0f requests/s  p99 %6.2f ms  ratio %.3f  dropped %.2f%%  "
              "batches %.0f (largest %.0f records)" %
              (on, med(sat[True], "p99"), on / off, 100 * statistics.median(drop),
               med(sat[True], "batches"), med(sat[True], "largest")))
        # Half of saturation: wrk's delay() is whole milliseconds, so each connection
        # pauses PACE_MS (2) before each request and the connections are as many as the
        # target needs: target * PACE_MS / 1000 (a little under the target: each
        # request's own latency adds to its connection's period).
        target = off / 2
        delay_ms = float(int(os.environ.get("PACE_MS", "2")))
        paced_conns = max(1, int(round(target * delay_ms / 1000.0)))
        half = {True: [], False: []}
        for _ in range(rounds):
            for on_ in (False, True):
                half[on_].append(run_one(modeld, repo, body, on_, paced_conns, duration,
                                         delay_ms))
        hoff, hon = med(half[False], "rps"), med(half[True], "rps")
        poff, pon = med(half[False], "p99"), med(half[True], "p99")
        print("half of saturation (offered %.0f requests/s: %d connections, each pausing %.0f ms "
              "before each request), median of %d:" % (target, paced_conns, delay_ms, rounds))
        print("  log off  %9.0f requests/s  p99 %6.2f ms" % (hoff, poff))
        print("  log on   %9.0f requests/s  p99 %6.2f ms  throughput ratio %.3f  p99 ratio %.3f "
              "(target <= 1.10)  dropped %.0f" % (hon, pon, hon / hoff, pon / poff,
                                                   max(r["dropped"] for r in half[True])))
        b = [r["bytes"] for r in sat[True] + half[True] if r.get("stored")]
        print("bytes on disk per record (database + WAL, 30 features): %.0f" %
              statistics.median(b))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
