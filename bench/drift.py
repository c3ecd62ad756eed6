#!/usr/bin/python3
"""The cost of drift on the 10,000-row binary request (bench/big_request.py's
body: 30 FP32 features of bench_rows.csv, 1.2 MB of binary tensor data).

One modeld serves the benchmark model three times: `bench` without a
reference profile (drift off: the observer returns at once), `sampled` with
a profile and the default drift.sample_rows (256 rows of a request counted),
and `every` with a profile and sample_rows: 0 (all 10,000 rows counted). The
profile is computed by `modelctl profile` from bench_rows.csv. The three are
POSTed in turn, keep-alive, ROUNDS rounds (default 60); the script prints each
one's median wall time and the ratio to `bench`. On a shared machine wall
times swing; so it also runs ROUNDS requests to each model in a block and
reads the daemon's CPU time (/proc/PID/stat, user + system) around each
block: CPU milliseconds per request, and their ratio to `bench`. It exits 1
when `sampled` costs more than 10% of CPU (the limit of docs/performance.md).

    /usr/bin/python3 bench/drift.py [ROUNDS]"""
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import big_request  # noqa: E402
from common import BENCH_DATA, MODELD, ROOT, bench_repo, free_port, wait_ready  # noqa: E402

MODELCTL = os.path.join(ROOT, os.environ.get("MODELCTL", "build/modelctl"))
ROWS = 10000


def profile(tmp):
    csv = os.path.join(tmp, "train.csv")
    with open(os.path.join(BENCH_DATA, "bench_rows.csv")) as src, open(csv, "w") as dst:
        dst.write(",".join("f%d" % i for i in range(30)) + "\n")
        for line in src:
            dst.write(",".join(line.rstrip("\n").split(",")[:30]) + "\n")
    r = subprocess.run([MODELCTL, "profile", csv, "--model-yaml",
                        os.path.join(BENCH_DATA, "model.yaml"), "--bins", "20"],
                       capture_output=True, text=True, check=True)
    return r.stdout


def post(conn, model, body, json_len):
    headers = {"Content-Type": "application/json",
               "Inference-Header-Content-Length": str(json_len)}
    t0 = time.perf_counter()
    conn.request("POST", "/v2/models/%s/infer" % model, body, headers)
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        raise SystemExit("%s: status %d: %r" % (model, r.status, data[:300]))
    return time.perf_counter() - t0


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    tmp = tempfile.mkdtemp(prefix="modeld-bench-drift-")
    repo = os.path.join(tmp, "repo")
    prof = profile(tmp)
    bench_repo(repo, "bench")
    bench_repo(repo, "sampled")
    bench_repo(repo, "every", extra_yaml="drift: {sample_rows: 0}\n")
    for m in ("sampled", "every"):
        with open(os.path.join(repo, m, "1", "profile.json"), "w") as f:
            f.write(prof)
    port = free_port()
    proc = subprocess.Popen([MODELD, "--repo", repo, "--listen", "127.0.0.1:%d" % port,
                             "--data", os.path.join(tmp, "data")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, proc=proc)
        _, body, json_len = big_request.bodies(ROWS)
        conns = {m: http.client.HTTPConnection("127.0.0.1", port) for m in
                 ("bench", "sampled", "every")}
        times = {m: [] for m in conns}
        for r in range(rounds + 3):
            for m, c in conns.items():
                t = post(c, m, body, json_len)
                if r >= 3:
                    times[m].append(t)
        base = statistics.median(times["bench"])
        for m in conns:
            med = statistics.median(times[m])
            print("%-8s median %.3f ms, min %.3f ms, %.3f x drift off" %
                  (m, med * 1e3, min(times[m]) * 1e3, med / base))
        cpu = {}
        for m, c in conns.items():
            t0 = cpu_s(proc.pid)
            for _ in range(rounds):
                post(c, m, body, json_len)
            cpu[m] = (cpu_s(proc.pid) - t0) / rounds
        for m in conns:
            print("%-8s CPU %.3f ms per request, %.3f x drift off" %
                  (m, cpu[m] * 1e3, cpu[m] / cpu["bench"]))
        ratio = cpu["sampled"] / cpu["bench"]
        print("drift on (default sampling) costs %+.1f%% CPU on the %d-row binary request"
              % ((ratio - 1) * 100, ROWS))
        sys.exit(0 if ratio <= 1.10 else 1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
