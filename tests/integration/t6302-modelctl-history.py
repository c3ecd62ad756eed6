#!/usr/bin/python3
"""modelctl history draws a metric's history as a bar chart, without a
terminal: after two bursts of crafted traffic (5 requests, then 20, in
separate steps of MODELD_HISTORY_STEP_MS=300), the chart's title names the
model, metric, unit and step, its top label and its figures are the
highest count, its columns reach the top, it has the rows asked for, no
line is wider than $COLUMNS, a narrow $COLUMNS makes it ask for a coarser
step that fits, a locale that is not UTF-8 (or --ascii) draws in ASCII,
--json prints the server's answer; bad usage exits 2, a refusal 1 with the
server's message."""
import json
import os
import subprocess

from harness import MODELCTL, expect, run, wait_for
from rolloutlib import RolloutDaemon, linear_model

os.environ["MODELD_HISTORY_STEP_MS"] = "300"

OK = {"inputs": [{"name": "x1", "datatype": "FP32", "shape": [1], "data": [1.0]},
                 {"name": "x2", "datatype": "FP32", "shape": [1], "data": [0.5]},
                 {"name": "x3", "datatype": "FP32", "shape": [1], "data": [0.5]}]}


def build(repo):
    linear_model(repo, "lin", {1: True})


def stored(d):
    st, doc, _ = d.json("GET", "/api/v1/models/lin/history?metric=requests&since=20s&step=300ms")
    expect(st == 200, doc)
    return sum(p["value"] for p in doc["points"])


def send(d, n, want):
    for _ in range(n):
        st, doc, _ = d.json("POST", "/v2/models/lin/infer", OK)
        expect(st == 200, doc)
    expect(wait_for(lambda: stored(d) == want, 10), stored(d))


def ctl(d, args, columns="100", lang="C.UTF-8"):
    env = dict(os.environ, MODELD_URL="http://127.0.0.1:%d" % d.port, COLUMNS=columns, LANG=lang)
    env.pop("LC_ALL", None)
    env.pop("LC_CTYPE", None)
    return subprocess.run([MODELCTL] + args, env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=30, stdin=subprocess.DEVNULL)


def test_chart():
    with RolloutDaemon(build) as d:
        send(d, 5, 5)
        send(d, 20, 25)
        p = ctl(d, ["history", "lin", "--metric", "requests", "--since", "20s", "--step", "300ms",
                    "--height", "8"])
        expect(p.returncode == 0, p.stderr)
        lines = p.stdout.splitlines()
        expect(len(lines) == 1 + 8 + 2 + 1, p.stdout)
        expect(lines[0].startswith("lin requests (count): ") and lines[0].endswith("step 300ms"),
               lines[0])
        expect(lines[1].startswith("20\u2524") and "\u2588" in lines[1], p.stdout)
        expect(lines[8].lstrip().startswith("0\u2524"), p.stdout)
        expect(lines[-1].startswith("min 0  max 20  last "), lines[-1])
        expect(all(len(line) <= 100 for line in lines), p.stdout)
        # A narrow terminal: a coarser step, asked again, so that it fits.
        p = ctl(d, ["history", "lin", "--metric", "requests", "--since", "20s"], columns="40")
        expect(p.returncode == 0, p.stderr)
        lines = p.stdout.splitlines()
        expect(all(len(line) <= 40 for line in lines[1:-1]), p.stdout)
        expect(not lines[0].endswith("step 300ms"), lines[0])
        expect(" max 25 " in lines[-1] or " max 20 " in lines[-1] or " max 5 " in lines[-1],
               p.stdout)
        # Not UTF-8: ASCII only.
        p = ctl(d, ["history", "lin", "--metric", "requests", "--since", "20s", "--step", "300ms"],
                lang="C")
        expect(p.returncode == 0 and all(ord(c) < 128 for c in p.stdout), p.stdout)
        expect("#" in p.stdout and "|" in p.stdout, p.stdout)
        p = ctl(d, ["history", "lin", "--metric", "requests", "--since", "20s", "--step", "300ms",
                    "--ascii"])
        expect(p.returncode == 0 and all(ord(c) < 128 for c in p.stdout), p.stdout)
        # --json: the server's answer.
        p = ctl(d, ["history", "lin", "--metric", "requests", "--since", "20s", "--step", "300ms",
                    "--json"])
        expect(p.returncode == 0, p.stderr)
        doc = json.loads(p.stdout)
        expect(sum(pt["value"] for pt in doc["points"]) == 25, doc)
        # A step without requests draws as an empty column for a latency.
        p = ctl(d, ["history", "lin", "--metric", "latency_p99_ms", "--since", "20s",
                    "--step", "300ms"])
        expect(p.returncode == 0 and "without data" in p.stdout, p.stdout)


def test_errors():
    with RolloutDaemon(build) as d:
        for args, code, fragment in (
                (["history", "lin"], 2, "missing --metric"),
                (["history", "--metric", "requests"], 2, "missing MODEL"),
                (["history", "lin", "--metric", "requests", "--height", "2"], 2, "--height"),
                (["history", "lin", "x", "--metric", "requests"], 2, "unexpected argument"),
                (["history", "lin", "--metric", "requests", "--bogus"], 2, "--bogus"),
                (["history", "lin", "--metric", "nosuch"], 1, "unknown metric 'nosuch'"),
                (["history", "nosuch", "--metric", "requests"], 1, "unknown model 'nosuch'"),
                (["history", "lin", "--metric", "requests", "--since", "x"], 1, "since")):
            p = ctl(d, args)
            expect(p.returncode == code and fragment in p.stderr,
                   (args, p.returncode, p.stdout, p.stderr))
        p = ctl(d, ["history", "--help"])
        expect(p.returncode == 0 and "modelctl history" in p.stdout, p.stdout)


if __name__ == "__main__":
    run([test_chart, test_errors])
