#!/usr/bin/python3
"""Runs every tests/integration/tNNNN-*.py (or those named on the command
line), each in its own process, and adds up their "N passed, N failed" lines.
Tests whose first lines carry the tag "# slow" are skipped when QUICK=1;
those tagged "# once" (long end-to-end runs) run on the plain build only,
and are skipped when MODELD names another (the sanitizer builds).

A run of every test ends with one more check, route coverage: each daemon
the tests start notes every route whose handler it ran (MODELD_ROUTE_LOG),
and each route of `modeld --routes` must have been run by some test."""
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MODELD = os.path.join(ROOT, os.environ.get("MODELD", "build/modeld"))


def route_coverage(log_path):
    """(passed, failed): whether every route of the table was called."""
    p = subprocess.run([MODELD, "--routes"], capture_output=True, text=True, timeout=60)
    routes = [tuple(line.split()[:2]) for line in p.stdout.splitlines()]
    with open(log_path) as f:
        called = {tuple(line.split()) for line in f.read().splitlines()}
    missing = [r for r in routes if r not in called]
    if p.returncode != 0 or not routes:
        print("FAIL route coverage: modeld --routes exited %d" % p.returncode, flush=True)
        return 0, 1
    if missing:
        print("FAIL route coverage: no integration test calls %s" %
              ", ".join(" ".join(r) for r in missing), flush=True)
        return 0, 1
    print("ok   route coverage: each of the %d routes is called by a test" % len(routes),
          flush=True)
    return 1, 0


def main():
    names = sys.argv[1:] or sorted(f for f in os.listdir(HERE) if re.match(r"t\d{4}-.*\.py$", f))
    quick = os.environ.get("QUICK") == "1"
    plain = os.path.normpath(os.environ.get("MODELD", "build/modeld")) == "build/modeld"
    passed = failed = 0
    env = dict(os.environ)
    log_fd, log_path = tempfile.mkstemp(prefix="modeld-routes-")
    os.close(log_fd)
    if not sys.argv[1:]:
        env["MODELD_ROUTE_LOG"] = log_path
    for name in names:
        path = os.path.join(HERE, name)
        with open(path) as f:
            head = f.read(400)
        if quick and "# slow" in head:
            print("skip %s (slow)" % name)
            continue
        if not plain and "# once" in head:
            print("skip %s (runs once, on the plain build)" % name)
            continue
        start = time.time()
        try:
            p = subprocess.run(["/usr/bin/python3", path], cwd=ROOT, capture_output=True,
                               text=True, timeout=900, env=env)
            out = p.stdout + p.stderr
            rc = p.returncode
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            out += "\nTIMEOUT after 900s"
            rc = 124
        m = re.findall(r"^(\d+) passed, (\d+) failed", out, re.M)
        p_n, f_n = (int(m[-1][0]), int(m[-1][1])) if m else (0, 1)
        if rc != 0 and f_n == 0:
            f_n = 1
        passed += p_n
        failed += f_n
        status = "ok  " if rc == 0 and f_n == 0 else "FAIL"
        print("%s %s: %d passed, %d failed (%.1fs)" % (status, name, p_n, f_n, time.time() - start),
              flush=True)
        if status == "FAIL":
            print("\n".join("    " + l for l in out.splitlines()[-60:]), flush=True)
    if not sys.argv[1:]:
        p_n, f_n = route_coverage(log_path)
        passed += p_n
        failed += f_n
    os.unlink(log_path)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
