#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The README's tour as a user runs it: `make demo PORT=N` serves the example
models on 127.0.0.1:N, and modelctl finds it through MODELD_URL, printing the
status table and the prediction the README shows; curl's predictions in the
tour are the server's (request ids aside); the traffic step's commands print
what the README shows (times and revision numbers aside) and leave fraud
pinned to version 2 again; the watch step's commands (predictions,
feedback, quality, drift, history) print what the README shows (figures
aside); the `modeld --check` block of the README is what the check prints
for examples/repo."""
import os
import re
import json
import signal
import subprocess
import time
import urllib.request

from harness import MODELD, MODELCTL, ROOT, expect, free_port, run

README = os.path.join(ROOT, "README.md")


def readme_block(command):
    """The indented lines printed after `    $ <command>` in the README (a
    command continued on lines indented by 8 is matched by its start)."""
    lines = open(README).read().splitlines()
    start = [i for i, l in enumerate(lines) if l.startswith("    $ " + command)][0] + 1
    while lines[start].startswith("        "):  # the command's continuation lines
        start += 1
    out = []
    for line in lines[start:]:
        if line.startswith("    $ ") or not (line.startswith("    ") or line == ""):
            break
        out.append(line[4:])
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def readme_json(command):
    """The JSON the README shows after command, its wrapped lines joined."""
    return json.loads("".join(l.strip() for l in readme_block(command).splitlines()))


def without_ids(doc):
    doc.pop("request_id", None)
    doc.get("parameters", {}).pop("request_id", None)
    return doc


def unstable(text):
    """text with what differs from run to run masked: times, revision numbers
    (the demo's --data keeps them across runs)."""
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "TIME", text)
    return re.sub(r"(revision:? +)\d+", r"\1N", text)


def traffic_tour(env, base):
    """The tour's traffic step: pin, split 90/10, versions, events, switch back."""
    def ctl(*args):
        s = subprocess.run([MODELCTL] + list(args), capture_output=True, text=True, timeout=30,
                           env=env)
        expect(s.returncode == 0, "modelctl %s: %s" % (" ".join(args), s.stderr))
        return s.stdout

    ctl("traffic", "fraud", "--pin", "1")
    for args in (["traffic", "fraud", "--split", "2=90,1=10"], ["versions", "fraud"],
                 ["events", "--model", "fraud", "--limit", "2"]):
        got = ctl(*args)
        want = readme_block("build/modelctl " + " ".join(args))
        expect(unstable(got) == unstable(want),
               "modelctl %s:\n%s\nREADME shows:\n%s" % (" ".join(args), got, want))
    body = open(os.path.join(ROOT, "examples", "data", "fraud_sample.json"), "rb").read()
    with urllib.request.urlopen(base + "/v2/models/fraud/infer", body, timeout=30) as r:
        got = (r.headers["X-Model-Version"], r.headers["X-Model-Route"])
    want = readme_block("curl -si localhost:8080/v2/models/fraud/infer").splitlines()
    expect(want == ["X-Model-Version: 2", "X-Model-Route: stable"] and
           got in (("2", "stable"), ("1", "canary")), (got, want))
    ctl("traffic", "fraud", "--pin", "2")
    with urllib.request.urlopen(base + "/api/v1/models/fraud/traffic", timeout=30) as r:
        routes = json.load(r)["policy"]["routes"]
    expect(routes == [{"name": "stable", "version": "2", "weight": 100}], routes)
    rollout_tour(ctl, base, body)


def rollout_tour(ctl, base, body):
    """The tour's rollout: started as the README shows, promoted under the
    tour's calls, then version 2 brought back as the README says."""
    strategy = ('{"kind": "canary", "steps": [50, 100], "interval_s": 3, "min_requests": 5, '
                '"gates": [{"metric": "error_rate", "max": 0.05}]}')
    text = open(README).read()
    expect("rollout start fraud 1 --champion 2 --strategy '" + strategy[:18] in text,
           "README: the rollout command")
    got = ctl("rollout", "start", "fraud", "1", "--champion", "2", "--strategy", strategy)
    want = readme_block("build/modelctl rollout start fraud 1")
    expect(re.sub(r"rollout \d+", "rollout N", got) == re.sub(r"rollout \d+", "rollout N", want),
           (got, want))
    phase = ""
    deadline = time.time() + 60
    while time.time() < deadline and phase != "promoted":
        for _ in range(10):
            urllib.request.urlopen(base + "/v2/models/fraud/infer", body, timeout=30).read()
            time.sleep(0.1)
        out = ctl("rollout", "status", "fraud")
        phase = re.search(r"^phase +(\w+)", out, re.M).group(1)
    expect(phase == "promoted", out)
    want = readme_block("build/modelctl rollout status fraud")
    # Columns are as wide as their widest cell: compared without the padding.
    squeeze = lambda text: re.sub(r" +", " ", text)
    for line in ("phase promoted", "METRIC RESULT CANDIDATE CHAMPION LIMIT SAMPLES NOTE"):
        expect(line in squeeze(want) and line in squeeze(out), (line, out, want))
    # Sample counts are whole numbers.
    expect(re.search(r"^error_rate +held .* \d+ / \d+\s*$", out, re.M), out)
    ctl("traffic", "fraud", "--pin", "2")
    ctl("alias", "fraud", "champion", "2")
    watch_tour(ctl, base)


def watch_tour(ctl, base):
    """The tour's watch step: the prediction log's first rows are the tour's
    first predictions (modelctl's, then the sample's two rows), feedback for
    the sample's rows is attached, and quality, drift and history print what
    the README shows (figures aside)."""
    squeeze = lambda text: re.sub(r" +", " ", text)
    got = ctl("predictions", "--model", "fraud", "--limit", "3").splitlines()
    want = readme_block("build/modelctl predictions --model fraud --limit 3").splitlines()
    expect(len(got) == 4 and len(want) == 4 and squeeze(got[0]) == squeeze(want[0]), (got, want))
    rows = [l.split() for l in got[1:]]
    expect([(r[2], r[3], r[4], r[6], r[7]) for r in rows] ==
           [("fraud", "2", "stable", "200", "fraud"), ("fraud", "2", "stable", "200", "legit"),
            ("fraud", "2", "stable", "200", "fraud")], got)
    rid = rows[1][5].split(":")[0]
    expect(rows[1][5] == rid + ":0" and rows[2][5] == rid + ":1", got)
    # The README's curl, with this run's request id.
    cmd = "curl -s localhost:8080/api/v1/feedback -d '"
    text = open(README).read()
    start = text.index("    $ " + cmd) + len("    $ " + cmd)
    body = " ".join(l.strip() for l in text[start:text.index("'\n", start)].splitlines())
    readme_rid = json.loads(body)["items"][0]["request_id"]
    body = body.replace(readme_rid, rid).encode()
    with urllib.request.urlopen(base + "/api/v1/feedback", body, timeout=30) as r:
        got = json.load(r)
    expect(got == readme_json(cmd), (got, readme_block(cmd)))
    got = ctl("quality", "fraud")
    want = readme_block("build/modelctl quality fraud")
    expect(squeeze(got).splitlines()[:2] == squeeze(want).splitlines()[:2], (got, want))
    for text in (got, want):
        expect(re.search(r"^all +- +([2-9]|\d\d+) +[\d.]+% +1\.0000 +1\.0000 ", text, re.M),
               (got, want))
    got = ctl("drift", "fraud")
    want = readme_block("build/modelctl drift fraud")
    expect(re.match(r"fraud version 2: ", got) and want.startswith("fraud version 2: "),
           (got, want))
    expect(squeeze(got).splitlines()[1] == squeeze(want).splitlines()[1], (got, want))
    expect(re.search(r"^amount +numeric +\d+ ", got, re.M), got)
    cmd = "build/modelctl history fraud --metric requests --since 10m --height 5"
    got = ctl(*cmd.split()[1:])
    want = readme_block(cmd)
    form = (r"fraud requests \(count\): \S+ \S+ to \S+ \S+ UTC, step 1m\n(.*\n){7}"
            r"min \d+  max \d+  last \d+  \(10 points, 0 without data\)\n$")
    expect(re.match(form, got) and re.match(form, want), (got, want))


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
        # The predictions of the tour, request ids aside.
        cmd = "build/modelctl predict fraud amount=2500 hour=3 account_age_days=12"
        args = ["amount=2500", "hour=3", "account_age_days=12", "distance_km=null",
                "merchant_category=electronics", "is_international=true"]
        s = subprocess.run([MODELCTL, "predict", "fraud"] + args, capture_output=True, text=True,
                           timeout=30, env=env)
        got = [l for l in s.stdout.splitlines() if not l.startswith("request_id:")]
        want = [l for l in readme_block(cmd).splitlines() if not l.startswith("request_id:")]
        expect(s.returncode == 0 and got == want, "%r\nREADME shows %r" % (s.stdout, want))
        base = "http://127.0.0.1:%d" % port
        body = open(os.path.join(ROOT, "examples", "data", "fraud_sample.json"), "rb").read()
        with urllib.request.urlopen(base + "/v2/models/fraud/infer", body, timeout=30) as r:
            got = without_ids(json.load(r))
        want = without_ids(readme_json("curl -s localhost:8080/v2/models/fraud/infer -d "
                                       "@examples/data/fraud_sample.json"))
        expect(got == want, "%r\nREADME shows %r" % (got, want))
        body = json.dumps({"instances": [{"tenure_months": 3, "monthly_charges": 89.5,
                                          "contract": "month-to-month", "support_calls": 4,
                                          "has_partner": False}]}).encode()
        with urllib.request.urlopen(base + "/v1/models/churn:predict", body, timeout=30) as r:
            got = without_ids(json.load(r))
        want = without_ids(readme_json("curl -s localhost:8080/v1/models/churn:predict -d "
                                       "'{\"instances\": [{\"tenure_months\": 3,"))
        expect(got == want, "%r\nREADME shows %r" % (got, want))
        traffic_tour(env, base)
        # The security report: every line the README shows is in what it prints.
        s = subprocess.run([MODELCTL, "security-report"], capture_output=True, text=True,
                           timeout=30, env=env)
        got = s.stdout.splitlines()
        want = [l.replace("127.0.0.1:8080", "127.0.0.1:%d" % port)
                for l in readme_block("build/modelctl security-report").splitlines()
                if l != "..."]
        expect(s.returncode in (0, 1) and all(l in got for l in want),
               "%s\nREADME shows:\n%s" % (s.stdout, "\n".join(want)))
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
