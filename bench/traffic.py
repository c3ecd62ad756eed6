#!/usr/bin/python3
"""What a traffic policy costs on the hot path.

1. Instructions per single-row request (callgrind, as bench/instructions.py)
   with the model's first policy (all traffic to one version) and with a
   90/10 policy sticky by a header; every request carries the header, with
   a different user each time. Target: the sticky policy at most 5% over.
2. Throughput at saturation (wrk, keep-alive connections) with no
   shadow and with a 100% shadow of the same model on a second version:
   callers' requests per second, their ratio (target: at least 0.85), and
   the share of the shadow copies that ran.

Usage: /usr/bin/python3 bench/traffic.py [MODELD]   (after `make`)
Environment: N1 (200), N2 (1200), SECONDS (10), CLIENTS (8)."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from common import MODELD, bench_repo, free_port, single_row_body, wait_ready, wrk
from instructions import count


def put_policy(port, policy):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("PUT", "/api/v1/models/bench/traffic", body=json.dumps(policy))
    r = c.getresponse()
    text = r.read()
    if r.status != 200:
        raise RuntimeError("PUT traffic: %d %s" % (r.status, text))


STICKY = {"routes": [{"name": "stable", "version": "1", "weight": 90},
                     {"name": "canary", "version": "2", "weight": 10}],
          "sticky": {"header": "X-User-Id"}}
SHADOW = {"routes": [{"name": "stable", "version": "1", "weight": 100}],
          "shadows": [{"version": "2", "fraction": 1}]}


def two_versions(tmp):
    repo = bench_repo(os.path.join(tmp, "repo"))
    os.makedirs(os.path.join(repo, "bench", "2"))
    shutil.copy(os.path.join(repo, "bench", "1", "model.json"),
                os.path.join(repo, "bench", "2", "model.json"))
    # Version 2 joins as a registered version; the first policy pins 1.
    with open(os.path.join(repo, "bench", "model.yaml"), "a") as f:
        f.write("\nnew_versions: register\nversion_policy:\n  all: true\n")
    return repo


def instructions(modeld, repo, body):
    n1 = int(os.environ.get("N1", "200"))
    n2 = int(os.environ.get("N2", "1200"))
    user = lambda i: {"X-User-Id": "user-%d" % i}
    out = {}
    for name, setup in (("pin", None), ("sticky 90/10", lambda p: put_policy(p, STICKY))):
        t1 = count(modeld, repo, body, n1, setup, user)
        t2 = count(modeld, repo, body, n2, setup, user)
        out[name] = (t2 - t1) / (n2 - n1)
        print("%-14s %10.0f instructions per request" % (name, out[name]), flush=True)
    print("sticky / pin   %10.3f   (target <= 1.05)" % (out["sticky 90/10"] / out["pin"]))


def scrape(port, name):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", "/metrics")
    total = 0.0
    for line in c.getresponse().read().decode().splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def throughput(modeld, repo, body_path, policy):
    tmp = tempfile.mkdtemp(prefix="modeld-traffic-")
    port = free_port()
    p = subprocess.Popen([modeld, "--repo", repo, "--listen", "127.0.0.1:%d" % port,
                          "--data", os.path.join(tmp, "data"), "--log-level", "error"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, 60, p)
        if policy is not None:
            put_policy(port, policy)
        rps = wrk("http://127.0.0.1:%d/v2/models/bench/infer" % port, body_path,
                  int(os.environ.get("CLIENTS", "8")), int(os.environ.get("SECONDS", "10"))).rps
        submitted = scrape(port, "modeld_shadow_submitted_total")
        dropped = scrape(port, "modeld_shadow_dropped_total")
        return rps, submitted, dropped
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    modeld = sys.argv[1] if len(sys.argv) > 1 else MODELD
    tmp = tempfile.mkdtemp(prefix="modeld-traffic-repo-")
    try:
        repo = two_versions(tmp)
        body_path = single_row_body(os.path.join(tmp, "body1.json"))
        with open(body_path, "rb") as f:
            body = f.read()
        if shutil.which("valgrind") is not None:
            instructions(modeld, repo, body)
        else:
            print("valgrind not installed: instruction counts skipped")
        base, _, _ = throughput(modeld, repo, body_path, None)
        shadowed, submitted, dropped = throughput(modeld, repo, body_path, SHADOW)
        offered = submitted + dropped
        print("no shadow      %10.0f requests/s" % base)
        print("100%% shadow    %10.0f requests/s   ratio %.3f (target >= 0.85)"
              % (shadowed, shadowed / base))
        print("shadow copies  %10.0f offered, %.1f%% ran, %.1f%% dropped" %
              (offered, 100.0 * submitted / offered if offered else 0,
               100.0 * dropped / offered if offered else 0))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
