#!/usr/bin/python3
# slow
# once
"""The fraud story of examples/fraud-loop/run.py, run as a user runs it
(issue 17, item 11): the schedule trains a new version on the
investigators' verdicts, it is evaluated no worse than the champion, shadowed,
canaried and promoted by itself; the new version catches the ring's frauds
the old one missed; no transaction fails. Then the same with the example's
training script as an external trainer (--external): its name and exit
status are in the promoted version's lineage. Needs Debian's numpy,
xgboost, scikit-learn and yaml for /usr/bin/python3 (says it is skipped
without). Runs once, on the plain build."""
import os
import re
import subprocess
import threading

from harness import MODELD, ROOT, expect, run

SCRIPT = os.path.join(ROOT, "examples", "fraud-loop", "run.py")


def have_modules():
    p = subprocess.run(["/usr/bin/python3", "-c", "import numpy, xgboost, sklearn, yaml"],
                       capture_output=True, timeout=60)
    return p.returncode == 0


RUNS = {}


def start(name, *args):
    """Runs the story on a thread of its own (the two runs overlap: each
    waits mostly on the clock); RUNS[name] gets (status, output)."""
    def body():
        env = dict(os.environ, MODELD=MODELD)
        p = subprocess.run(["/usr/bin/python3", SCRIPT, "--time-limit", "240"] + list(args),
                           capture_output=True, text=True, timeout=400, env=env)
        RUNS[name] = (p.returncode, p.stdout + p.stderr)

    t = threading.Thread(target=body)
    t.start()
    return t


def story(name, thread):
    thread.join(420)
    expect(name in RUNS, "the story %s did not end" % name)
    rc, out = RUNS[name]
    print("\n".join("    " + line for line in out.splitlines()))
    expect(rc == 0, "the story ended with status %d" % rc)
    expect("training 1 asked for by the schedule trigger" in out, "no scheduled training")
    expect(re.search(r"evaluated on the \d+ newest labelled rows: .*: (better|comparable)", out),
           "no evaluation at least as good as the champion's")
    for stage in ("shadow", "canary 5%", "canary 25%", "canary 50%", "promoted"):
        expect("rollout 1 of version 3: %s" % stage in out, "no rollout stage %r" % stage)
    caught = {v: int(p_) for v, p_ in re.findall(r"version (\d+) caught \d+ of the ring's \d+ "
                                                  r"frauds it answered \((\d+)%\)", out)}
    expect(caught.get("3", 0) >= caught.get("2", 100) + 30,
           "the new version does not catch the ring: %r" % caught)
    expect(re.search(r"\d+ transactions, 0 failed", out), "a transaction failed")
    return out


THREADS = {}


def test_fraud_story():
    if not have_modules():
        print("    skipped: numpy, xgboost, scikit-learn or yaml is missing")
        return
    THREADS["native"] = start("native")
    THREADS["external"] = start("external", "--external")
    out = story("native", THREADS["native"])
    expect("trainer" not in out.split("version 3's lineage")[1].split("\n")[0],
           "a native training names no trainer")


def test_fraud_story_external_trainer():
    if not have_modules():
        print("    skipped: numpy, xgboost, scikit-learn or yaml is missing")
        return
    if "external" not in THREADS:
        THREADS["external"] = start("external", "--external")
    out = story("external", THREADS["external"])
    expect('trainer {"name": "fraud-script", "outcome": "exited with status 0"}' in out,
           "the lineage does not name the trainer")


run([test_fraud_story, test_fraud_story_external_trainer])
