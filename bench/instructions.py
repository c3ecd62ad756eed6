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
import os
import re
import shutil
import sys
import tempfile

from common import BATCHING_YAML, MODELD, bench_repo, callgrind, single_row_body


def count(modeld, repo, body, n, setup=None, headers=None):
    """Total instructions of one modeld run that answered n requests.
    setup(port), when given, runs once the server is ready (a traffic
    policy, say); headers(i) gives request i's extra headers."""
    def total(out):
        with open(out) as f:
            m = re.search(r"^(?:summary|totals):\s+(\d+)", f.read(), re.M)
        if m is None:
            raise RuntimeError("no total in callgrind's output")
        return int(m.group(1))

    return callgrind(modeld, repo, body, n, total, os.environ.get("MODELD_ARGS", "").split(),
                     setup, headers)


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
