#!/usr/bin/python3
"""Runs the same wrk workload against modeld, noop_http (the ceiling for any
libmicrohttpd server) and fastapi_v2.py (what a Python team would write), in
rounds, and prints medians and ratios. Standard library only.

Environment: ROUNDS (3), DURATION seconds per run (10), CONNS (32),
THREADS (modeld's --threads, default 1: the same one thread noop_http gets),
MD_PEERS (../shared/peers), SKIP_FASTAPI=1 to leave the Python peer out."""
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PEERS = os.path.abspath(os.environ.get("MD_PEERS", os.path.join(ROOT, "..", "shared", "peers")))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "10"))
CONNS = int(os.environ.get("CONNS", "32"))
THREADS = os.environ.get("THREADS", "1")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("no answer from " + url)


def wrk(url, body_file, conns=CONNS, duration=DURATION):
    env = dict(os.environ, BODY=body_file)
    out = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % duration, "--latency",
                          "-s", os.path.join(PEERS, "post.lua"), url],
                         capture_output=True, text=True, env=env, timeout=duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct, val, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        lat[pct] = float(val) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError("non-2xx answers from %s:\n%s" % (url, out))
    return rps, lat.get("50"), lat.get("99")


def start(cmd, env=None):
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def main():
    tmp = tempfile.mkdtemp(prefix="modeld-bench-")
    procs = []
    try:
        noop = os.path.join(tmp, "noop_http")
        subprocess.run(["cc", "-O2", os.path.join(PEERS, "noop_http.c"), "-o", noop,
                        "-lmicrohttpd"], check=True)
        repo = os.path.join(tmp, "repo")
        os.makedirs(os.path.join(repo, "bench", "1"))
        shutil.copy(os.path.join(ROOT, "tests", "data", "bench", "model.yaml"),
                    os.path.join(repo, "bench", "model.yaml"))
        shutil.copy(os.path.join(PEERS, "bench_model.json"),
                    os.path.join(repo, "bench", "1", "model.json"))
        body1 = os.path.join(tmp, "body1.json")
        subprocess.run(["/usr/bin/python3", os.path.join(PEERS, "v2_body.py"), "1", body1],
                       check=True)

        servers = []
        p_md = free_port()
        procs.append(start([os.path.join(ROOT, "build", "modeld"), "--repo", repo, "--listen",
                            "127.0.0.1:%d" % p_md, "--data", os.path.join(tmp, "data"),
                            "--threads", THREADS, "--log-level", "warn"]))
        wait_http("http://127.0.0.1:%d/v2/health/ready" % p_md)
        servers.append(("modeld", p_md))
        p_noop = free_port()
        procs.append(start([noop, str(p_noop), "1"]))
        wait_http("http://127.0.0.1:%d/" % p_noop)
        servers.append(("noop_http", p_noop))
        if os.environ.get("SKIP_FASTAPI") != "1":
            p_fa = free_port()
            env = dict(os.environ, MODEL=os.path.join(PEERS, "bench_model.json"))
            procs.append(start(["/usr/bin/python3", "-m", "uvicorn", "fastapi_v2:app",
                                "--app-dir", PEERS, "--host", "127.0.0.1", "--port", str(p_fa),
                                "--log-level", "warning"], env=env))
            wait_http("http://127.0.0.1:%d/docs" % p_fa)
            servers.append(("fastapi_v2", p_fa))

        results = {name: [] for name, _ in servers}
        for r in range(ROUNDS):
            for name, port in servers:
                url = "http://127.0.0.1:%d/v2/models/bench/infer" % port
                dur = DURATION if name != "fastapi_v2" else max(3, DURATION // 2)
                results[name].append(wrk(url, body1, duration=dur))
                print("round %d %-10s %10.0f req/s  p50 %.3f ms  p99 %.3f ms" %
                      ((r + 1, name) + results[name][-1]), flush=True)

        med = {n: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v),
                   statistics.median(x[2] for x in v)) for n, v in results.items()}
        print("\nsingle-row Open Inference Protocol infer, wrk -t1 -c%d, %d rounds, medians; "
              "modeld --threads %s, noop_http 1 thread" % (CONNS, ROUNDS, THREADS))
        print("%-12s %12s %10s %10s" % ("server", "req/s", "p50 ms", "p99 ms"))
        for n, (rps, p50, p99) in med.items():
            print("%-12s %12.0f %10.3f %10.3f" % (n, rps, p50, p99))
        md = med["modeld"]
        print("\nmodeld / noop_http throughput: %.2f" % (md[0] / med["noop_http"][0]))
        if "fastapi_v2" in med:
            print("modeld / fastapi_v2 throughput: %.1fx" % (md[0] / med["fastapi_v2"][0]))
            print("fastapi_v2 / modeld p99 latency: %.1fx" % (med["fastapi_v2"][2] / md[2]))
        print("modeld p99 at %d connections: %.3f ms" % (CONNS, md[2]))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
