#!/usr/bin/python3
"""Runs every tests/integration/tNNNN-*.py (or those named on the command
line), each in its own process, and adds up their "N passed, N failed" lines.
Tests whose first lines carry the tag "# slow" are skipped when QUICK=1."""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def main():
    names = sys.argv[1:] or sorted(f for f in os.listdir(HERE) if re.match(r"t\d{4}-.*\.py$", f))
    quick = os.environ.get("QUICK") == "1"
    passed = failed = 0
    for name in names:
        path = os.path.join(HERE, name)
        with open(path) as f:
            head = f.read(400)
        if quick and "# slow" in head:
            print("skip %s (slow)" % name)
            continue
        start = time.time()
        try:
            p = subprocess.run(["/usr/bin/python3", path], cwd=ROOT, capture_output=True,
                               text=True, timeout=900)
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
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
