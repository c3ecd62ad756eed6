#!/usr/bin/python3
"""Instructions the server executes per single-row request, counted by
callgrind: repeatable on a shared, noisy machine, unlike wall time.

Each binary serves the benchmark model (trees engine, one HTTP thread) under
`valgrind --tool=callgrind`; one keep-alive client sends N1, then in a second
run N2, single-row V2 requests. The difference of the two totals over
N2 - N1 is the cost of one request, start-up and shutdown cancelled out.

Usage: /usr/bin/python3 bench/instructions.py [MODELD ...]   (after `make`)
  With several binaries (an older build beside the new one), prints each
  one's figure and the ratio to the first.
Environment: N1 (200), N2 (1200), BACKEND (trees), BATCHING (0; 1 adds the
dynamic_batching block of docs/batching.md)."""
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from common import BATCHING_YAML, MODELD, bench_repo, free_port, single_row_body


def count(modeld, repo, body, n, setup=None, headers=None):
    """Total instructions of one modeld run that answered n requests.
    setup(port), when given, runs once the server is ready (a traffic
    policy, say); headers(i) gives request i's extra headers."""
    tmp = tempfile.mkdtemp(prefix="modeld-instr-")
    out = os.path.join(tmp, "callgrind.out")
    port = free_port()
    p = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                          modeld, "--repo", repo, "--listen", "127.0.0.1:%d" % port,
                          "--data", os.path.join(tmp, "data"), "--threads", "1",
                          "--log-level", "error"] + os.environ.get("MODELD_ARGS", "").split(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while True:
            if p.poll() is not None:
                raise RuntimeError("modeld exited %d under valgrind" % p.returncode)
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                c.request("GET", "/v2/health/ready")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("modeld not ready under valgrind")
            time.sleep(0.2)
        if setup is not None:
            setup(port)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in range(n):
            h = {"Content-Type": "application/json"}
            if headers is not None:
                h.update(headers(i))
            c.request("POST", "/v2/models/bench/infer", body=body, headers=h)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError("answer %d" % r.status)
        c.close()
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=300)
        with open(out) as f:
            text = f.read()
        m = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
        if m is None:
            raise RuntimeError("no total in callgrind's output")
        return int(m.group(1))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    binaries = sys.argv[1:] or [MODELD]
    n1 = int(os.environ.get("N1", "200"))
    n2 = int(os.environ.get("N2", "1200"))
    tmp = tempfile.mkdtemp(prefix="modeld-instr-repo-")
    try:
        extra = BATCHING_YAML if os.environ.get("BATCHING") == "1" else ""
        repo = bench_repo(os.path.join(tmp, "repo"), backend=os.environ.get("BACKEND", "trees"),
                          extra_yaml=extra)
        with open(single_row_body(os.path.join(tmp, "body1.json")), "rb") as f:
            body = f.read()
        first = None
        print("%-40s %14s %14s %12s %7s" % ("binary", "total N1", "total N2", "per request",
                                           "ratio"))
        for b in binaries:
            t1 = count(b, repo, body, n1)
            t2 = count(b, repo, body, n2)
            per = (t2 - t1) / (n2 - n1)
            first = first or per
            print("%-40s %14d %14d %12.0f %7.3f" % (b[-40:], t1, t2, per, per / first),
                  flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
