#!/usr/bin/env python3
"""modelctl's training commands against a real daemon: `retrain MODEL
--wait` asks for a run and follows it to its end (exit 0 when it
succeeded), `trainings MODEL [ID]` lists and shows runs, `versions MODEL
--lineage` shows where each version came from; refusals exit 1 with the
server's reason, usage errors exit 2."""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import MODELCTL, Daemon, expect, run  # noqa: E402
import trainlib as tl  # noqa: E402


def ctl(d, *args):
    env = dict(os.environ, MODELD_URL="http://127.0.0.1:%d" % d.port)
    return subprocess.run([MODELCTL] + list(args), capture_output=True, text=True, env=env,
                          timeout=120)


def test_modelctl_training():
    tmp = tempfile.mkdtemp(prefix="modeld-t6424-")
    try:
        with Daemon(repo=tl.fraud_repo(tmp)) as d:
            tl.labelled_traffic(d, "fraud", 400, 6424)
            p = ctl(d, "retrain", "fraud", "--note", "by hand", "--wait")
            expect(p.returncode == 0, (p.returncode, p.stdout, p.stderr))
            lines = p.stdout.splitlines()
            expect(lines[0] == "training 1 of fraud queued", p.stdout)
            expect(lines[1].startswith("training 1 of fraud: succeeded in ") and
                   lines[1].endswith(": registered as version 3, alias 'candidate'"), p.stdout)
            expect("roc_auc " in p.stdout and "(champion version 2: " in p.stdout and
                   "300 rows trained, 100 held out" in p.stdout, p.stdout)
            p = ctl(d, "trainings", "fraud")
            expect(p.returncode == 0, p.stderr)
            head, row = p.stdout.splitlines()[:2]
            expect(head.split() == ["ID", "TRIGGER", "STATE", "REQUESTED", "DURATION", "ROWS",
                                    "VERSION", "OUTCOME"], head)
            expect(row.split()[:3] == ["1", "manual", "succeeded"] and " 400 " in row and
                   "registered as version 3" in row, row)
            p = ctl(d, "trainings", "fraud", "1")
            expect(p.returncode == 0 and "trigger manual" in p.stdout and
                   "400 rows (feedback 400, expert 0, base 0; skipped 0)" in p.stdout, p.stdout)
            p = ctl(d, "--json", "trainings", "fraud", "1")
            expect(p.returncode == 0 and '"state":"succeeded"' in p.stdout.replace(" ", ""),
                   p.stdout)
            p = ctl(d, "versions", "fraud", "--lineage")
            expect(p.returncode == 0, p.stderr)
            rows = [ln.split() for ln in p.stdout.splitlines()]
            expect(rows[0] == ["VERSION", "SOURCE", "PARENT", "TRIGGER", "TRAINING", "WINDOW",
                               "ROWS", "EVALUATED", "VERDICT"], rows[0])
            v3 = [r for r in rows if r[0] == "3"][0]
            expect(v3[1:5] == ["training", "2", "manual", "1"] and v3[6] == "300+100" and
                   v3[7] == "roc_auc" and v3[-1] in ("better", "comparable"), v3)
            v2 = [r for r in rows if r[0] == "2"][0]
            expect(v2[1] == "repository" and v2[2:] == ["-"] * 7, v2)
            # A refusal, and usage errors.
            p = ctl(d, "retrain", "iris")
            expect(p.returncode == 1 and "model 'iris' has no training: section" in p.stderr,
                   (p.returncode, p.stderr))
            p = ctl(d, "trainings", "fraud", "x1")
            expect(p.returncode == 2 and "is not a training run's id" in p.stderr, p.stderr)
            p = ctl(d, "retrain")
            expect(p.returncode == 2 and "missing MODEL" in p.stderr, p.stderr)
            p = ctl(d, "versions", "fraud", "--lineages")
            expect(p.returncode == 2, p.stderr)
            p = ctl(d, "trainings", "fraud", "99")
            expect(p.returncode == 1 and "model 'fraud' has no training 99" in p.stderr, p.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_modelctl_training])
