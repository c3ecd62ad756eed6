#!/usr/bin/python3
"""Start-up and memory: time from exec to ready (/v2/health/ready answers 200)
with the example repository plus N copies of the benchmark model, and the
resident memory once ready and after a burst of requests. Medians of ROUNDS
runs. Usage: bench/startup.py [COPIES (50)]"""
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PEERS = os.path.abspath(os.environ.get("MD_PEERS", os.path.join(ROOT, "..", "shared", "peers")))
ROUNDS = int(os.environ.get("ROUNDS", "5"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    copies = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    tmp = tempfile.mkdtemp(prefix="modeld-startup-")
    try:
        repo = os.path.join(tmp, "repo")
        shutil.copytree(os.path.join(ROOT, "examples", "repo"), repo)
        yaml = open(os.path.join(ROOT, "tests", "data", "bench", "model.yaml")).read()
        for i in range(copies):
            d = os.path.join(repo, "bench%02d" % i)
            os.makedirs(os.path.join(d, "1"))
            open(os.path.join(d, "model.yaml"), "w").write(yaml)
            shutil.copy(os.path.join(PEERS, "bench_model.json"), os.path.join(d, "1", "model.json"))
        times, rss = [], []
        for _ in range(ROUNDS):
            port = free_port()
            url = "http://127.0.0.1:%d/v2/health/ready" % port
            t0 = time.monotonic()
            p = subprocess.Popen([os.path.join(ROOT, "build", "modeld"), "--repo", repo,
                                  "--listen", "127.0.0.1:%d" % port, "--data",
                                  os.path.join(tmp, "data"), "--log-level", "error"])
            while True:
                try:
                    if urllib.request.urlopen(url, timeout=1).status == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() - t0 > 60:
                    raise SystemExit("not ready after 60 s")
                time.sleep(0.002)
            times.append((time.monotonic() - t0) * 1000)
            rss.append(rss_kib(p.pid))
            p.terminate()
            p.wait(timeout=20)
        print("start-up to ready, %d models (%d example + %d x 100-tree benchmark): "
              "median %.0f ms (min %.0f, max %.0f)" % (4 + copies, 4, copies,
                                                       statistics.median(times), min(times),
                                                       max(times)))
        print("resident memory when ready: median %.1f MiB" % (statistics.median(rss) / 1024))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
