#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The README's tour as a user runs it: `make demo PORT=N` serves the example
models on 127.0.0.1:N, and modelctl finds it through MODELD_URL, printing the
status table the README shows; the `modeld --check` block of the README is
what the check prints for examples/repo."""
import os
import re
import signal
import subprocess
import time
import urllib.request

from harness import MODELD, MODELCTL, ROOT, expect, free_port, run

README = os.path.join(ROOT, "README.md")


def readme_block(command):
    """The indented lines printed after `    $ <command>` in the README."""
    lines = open(README).read().splitlines()
    start = lines.index("    $ " + command) + 1
    out = []
    for line in lines[start:]:
        if line.startswith("    $ ") or not (line.startswith("    ") or line == ""):
            break
        out.append(line[4:])
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def test_make_demo_on_a_chosen_port():
    port = free_port()
    log = open(os.path.join(ROOT, "build", "t0021-demo.log"), "wb")
    # MAKEFLAGS from an outer make would pass its variables (BUILD=...) on.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    p = subprocess.Popen(["make", "--no-print-directory", "demo", "PORT=%d" % port], cwd=ROOT,
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    try:
        deadline = time.time() + 120  # `make all` may have a little to do
        ready = False
        while time.time() < deadline and p.poll() is None:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/v2/health/ready" % port,
                                            timeout=2) as r:
                    ready = r.status == 200
            except OSError:
                pass
            if ready:
                break
            time.sleep(0.1)
        log.flush()
        text = open(log.name, errors="replace").read()
        expect(ready, "make demo PORT=%d not ready (exit %r):\n%s" % (port, p.poll(), text[-3000:]))
        expect("--listen 127.0.0.1:%d" % port in text, text[-3000:])
        env = dict(os.environ, MODELD_URL="http://127.0.0.1:%d" % port)
        s = subprocess.run([MODELCTL, "status"], capture_output=True, text=True, timeout=30,
                           env=env)
        expect(s.returncode == 0, s.stderr)
        expect(s.stdout == readme_block("build/modelctl status"),
               "modelctl status:\n%s\nREADME shows:\n%s" % (s.stdout,
                                                           readme_block("build/modelctl status")))
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        log.close()


def test_readme_check_block():
    c = subprocess.run([MODELD, "--check", "--repo", "examples/repo"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    want = readme_block("build/modeld --check --repo examples/repo")
    expect(c.returncode == 0 and c.stdout == want,
           "exit %d:\n%s\nREADME shows:\n%s" % (c.returncode, c.stdout, want))
    expect(re.search(r"^    make demo .*PORT=", open(README).read(), re.M), "README: make demo PORT")


if __name__ == "__main__":
    run([test_make_demo_on_a_chosen_port, test_readme_check_block])
