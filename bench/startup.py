#!/usr/bin/python3
"""Start-up and memory.

Start-up: time from exec to ready (/v2/health/ready answers 200) with the
example repository plus COPIES copies of the benchmark model, and the
resident memory once ready; medians of ROUNDS start-ups.

Memory: build/modeld serving the benchmark model alone; resident memory when
idle (ready, no request yet), then after CYCLES unload/load cycles of the
model (POST /v2/repository/models/bench/unload, then .../load), with the
reading after cycle 20 (glibc's heap has settled by then) to show growth.

Usage: /usr/bin/python3 bench/startup.py [COPIES (50)]   (after `make`)

Environment: ROUNDS (5), CYCLES (200)."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import MODELD, ROOT, Servers, bench_repo, free_port, rss_kib

ROUNDS = int(os.environ.get("ROUNDS", "5"))
CYCLES = int(os.environ.get("CYCLES", "200"))


def startup(tmp, copies):
    repo = os.path.join(tmp, "repo")
    shutil.copytree(os.path.join(ROOT, "examples", "repo"), repo)
    for i in range(copies):
        bench_repo(repo, "bench%02d" % i)
    times, rss = [], []
    for _ in range(ROUNDS):
        port = free_port()
        url = "http://127.0.0.1:%d/v2/health/ready" % port
        t0 = time.monotonic()
        p = subprocess.Popen([MODELD, "--repo", repo, "--listen", "127.0.0.1:%d" % port,
                              "--data", os.path.join(tmp, "data"), "--log-level", "error"])
        try:
            while True:
                try:
                    if urllib.request.urlopen(url, timeout=1).status == 200:
                        break
                except OSError:
                    pass
                if p.poll() is not None:
                    raise SystemExit("modeld exited with status %d" % p.returncode)
                if time.monotonic() - t0 > 60:
                    raise SystemExit("not ready after 60 s")
                time.sleep(0.002)
            times.append((time.monotonic() - t0) * 1000)
            rss.append(rss_kib(p.pid))
        finally:
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    n_examples = len([d for d in os.listdir(os.path.join(ROOT, "examples", "repo"))
                      if os.path.isdir(os.path.join(ROOT, "examples", "repo", d))])
    print("start-up to ready, %d models (%d example + %d x 100-tree benchmark), %d runs: "
          "median %.0f ms (min %.0f, max %.0f)"
          % (n_examples + copies, n_examples, copies, ROUNDS, statistics.median(times),
             min(times), max(times)))
    print("resident memory when ready: median %.1f MiB" % (statistics.median(rss) / 1024))


def post(port, path):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=b"",
                                 method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()
        if r.status != 200:
            raise SystemExit("%s: status %d" % (path, r.status))


def memory(tmp):
    repo = bench_repo(os.path.join(tmp, "mem-repo"))
    with Servers() as srv:
        port, proc = srv.modeld(repo, os.path.join(tmp, "mem-data"))
        time.sleep(0.5)  # loader threads gone, nothing else running
        idle = rss_kib(proc.pid)
        settled = None
        for i in range(CYCLES):
            post(port, "/v2/repository/models/bench/unload")
            post(port, "/v2/repository/models/bench/load")
            if i == min(20, CYCLES - 1):
                settled = rss_kib(proc.pid)
        end = rss_kib(proc.pid)
    print("memory, benchmark model alone: idle %.1f MiB; after %d unload/load cycles "
          "%.1f MiB (%.1f MiB after cycle %d, growth since %+d KiB)"
          % (idle / 1024, CYCLES, end / 1024, settled / 1024, min(21, CYCLES), end - settled))


def main():
    copies = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    tmp = tempfile.mkdtemp(prefix="modeld-startup-")
    try:
        startup(tmp, copies)
        memory(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
