#!/usr/bin/python3
"""modelctl alert-rule put|list|delete and modelctl alerts against a real
daemon: a rule stored from JSON text and from a file, listed as a table and
as JSON, refused with the server's message and exit 1, removed; the alerts
now (none, then one firing after bad requests) and their history."""
import json
import os
import subprocess

from harness import MODELCTL, Daemon, expect, run, wait_for

BAD_ROW = {"inputs": [{"name": "f0", "datatype": "FP32", "shape": [1, 1], "data": ["x"]}]}


def ctl(d, *args, stdin=None):
    env = dict(os.environ)
    for k in ("MODELD_URL", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(k, None)
    p = subprocess.run([MODELCTL, "--url", "http://127.0.0.1:%d" % d.port, "--timeout", "10"]
                       + list(args), input=stdin, capture_output=True, text=True, env=env,
                       timeout=60)
    expect("Sanitizer" not in p.stderr and "runtime error:" not in p.stderr, p.stderr)
    return p


def test_alert_rules_and_alerts():
    with Daemon(examples=False) as d:
        rule = {"metric": "success_rate", "model": "bench", "op": "<", "threshold": 0.5,
                "window": "30s", "severity": "critical"}
        p = ctl(d, "alert-rule", "put", "bench_bad", json.dumps(rule))
        expect(p.returncode == 0 and p.stdout == "stored alert rule bench_bad\n", p)
        path = os.path.join(d.tmp, "rule.json")
        with open(path, "w") as f:
            json.dump(dict(rule, route="canary", version=1), f)
        p = ctl(d, "alert-rule", "put", "from_file", path)
        expect(p.returncode == 0, p)
        p = ctl(d, "alert-rule", "list")
        lines = p.stdout.splitlines()
        expect(p.returncode == 0 and lines[0].split() == ["NAME", "SOURCE", "CONDITION", "WINDOW",
                                                         "FOR", "SEVERITY"], p)
        expect("bench success_rate < 0.5" in lines[1] and "30s" in lines[1]
               and "critical" in lines[1], p.stdout)
        expect("bench v1 route canary success_rate < 0.5" in p.stdout, p.stdout)
        p = ctl(d, "alert-rule", "list", "bench_bad")
        expect(p.returncode == 0 and json.loads(p.stdout)["op"] == "<", p)
        p = ctl(d, "--json", "alert-rule", "list")
        expect(len(json.loads(p.stdout)["alert_rules"]) == 2, p)
        p = ctl(d, "alert-rule", "put", "bad", json.dumps(dict(rule, op="~")))
        expect(p.returncode == 1 and "op: '~' is not a comparison" in p.stderr, p)
        p = ctl(d, "alert-rule", "delete", "nothing")
        expect(p.returncode == 1 and "no alert rule named 'nothing'" in p.stderr, p)
        p = ctl(d, "alert-rule", "frobnicate")
        expect(p.returncode == 2, p)
        p = ctl(d, "alert-rule", "delete", "from_file")
        expect(p.returncode == 0 and p.stdout == "removed alert rule from_file\n", p)

        p = ctl(d, "alerts")
        expect(p.returncode == 0 and p.stdout == "no alert is pending or firing\n", p)
        for _ in range(5):
            d.request("POST", "/v2/models/bench/infer", BAD_ROW)
        expect(wait_for(lambda: "bench_bad" in ctl(d, "alerts", "--state", "firing").stdout, 10),
               "never firing")
        p = ctl(d, "alerts", "--state", "firing")
        row = p.stdout.splitlines()[1].split()
        expect(row[:5] == ["bench_bad", "bench", "firing", "critical", "0"], p.stdout)
        # The change is in the history once its store job has committed.
        expect(wait_for(lambda: len(ctl(d, "alerts", "--history", "--rule", "bench_bad")
                                    .stdout.splitlines()) == 2, 10), "no history")
        p = ctl(d, "alerts", "--history", "--rule", "bench_bad")
        expect(p.returncode == 0 and p.stdout.splitlines()[0].split() == ["TIME", "RULE", "MODEL",
                                                                           "STATE", "VALUE"]
               and p.stdout.splitlines()[1].split()[1:5] == ["bench_bad", "bench", "firing", "0"],
               p.stdout)
        p = ctl(d, "alerts", "--state", "resolved")
        expect(p.returncode == 1 and "state:" in p.stderr, p)
        p = ctl(d, "alerts", "--rule", "x")
        expect(p.returncode == 0 and p.stdout == "no alert is pending or firing\n", p)
        p = ctl(d, "alerts", "--limit", "3")
        expect(p.returncode == 2 and "--limit goes with --history" in p.stderr, p)


if __name__ == "__main__":
    run([test_alert_rules_and_alerts])
