#!/usr/bin/env python3
"""Training runs across a stop: a daemon killed (SIGKILL) while a run is
running leaves it so in the store, and the next start marks it failed with
the reason (it is not resumed); a daemon stopped (SIGTERM) while a run is
running kills its child and stores the run as failed before it exits. An
external trainer dies with a daemon killed by SIGKILL (it is started
through `modeld --exec-trainer`, which sets the parent-death signal). The
model serves as before either way, and can be trained again."""

import os
import shutil
import signal
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, expect, run, wait_for  # noqa: E402
import trainlib as tl  # noqa: E402

SECTION = "training:\n  trainer: sleepy\n  min_rows: 100\n  holdout: 0.25\n"


def setup(tmp):
    repo = tl.fraud_repo(tmp, training=SECTION)
    path = os.path.join(tmp, "modeld.yaml")
    with open(path, "w") as f:
        f.write("trainers:\n  sleepy:\n    command: [/bin/sleep, \"30\"]\n")
    return repo, ["--config", path], os.path.join(tmp, "data")


def children(pid):
    """The pids of pid's children (every thread's)."""
    out = []
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1].split()[0] != "Z"
    except OSError:
        return False


def state(d, rid):
    st, doc, _ = d.json("GET", "/api/v1/models/fraud/trainings/%d" % rid)
    expect(st == 200, doc)
    return doc


def test_sigkill_run_marked_failed_at_start():
    tmp = tempfile.mkdtemp(prefix="modeld-t6423-")
    try:
        repo, args, data = setup(tmp)
        d = Daemon(repo=repo, args=args, data=data)
        tl.labelled_traffic(d, "fraud", 200, 6423)
        rid = tl.retrain(d, "fraud")
        expect(wait_for(lambda: state(d, rid)["state"] == "running", 10), state(d, rid))
        expect(wait_for(lambda: children(d.proc.pid), 10), "no trainer process")
        kids = children(d.proc.pid)
        d.signal(signal.SIGKILL)
        d.proc.wait(timeout=10)
        d.log.close()
        # The trainer (sleep 30) is gone with the daemon, not orphaned.
        expect(wait_for(lambda: not any(alive(k) for k in kids), 5),
               "the trainer outlived the daemon: %s" % kids)
        with Daemon(repo=repo, args=args, data=data) as d2:
            r = state(d2, rid)
            expect(r["state"] == "failed", r)
            expect(r["result"]["reason"] ==
                   "the daemon stopped before the run finished (it is not resumed)", r)
            expect(r["finished_ms"] >= r["started_ms"] > 0, r)
            st, doc, _ = d2.json("GET", "/api/v1/models/fraud/versions")
            expect([v["version"] for v in doc["versions"]] == ["1", "2"], doc)
            # Not busy any more: a new run is taken.
            rid2 = tl.retrain(d2, "fraud")
            expect(rid2 > rid, (rid, rid2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_sigterm_stops_the_child():
    tmp = tempfile.mkdtemp(prefix="modeld-t6423-")
    try:
        repo, args, data = setup(tmp)
        d = Daemon(repo=repo, args=args, data=data)
        tl.labelled_traffic(d, "fraud", 200, 64231)
        rid = tl.retrain(d, "fraud")
        expect(wait_for(lambda: state(d, rid)["state"] == "running", 10), state(d, rid))
        expect(d.stop() == 0, "modeld did not exit 0")
        with Daemon(repo=repo, args=args, data=data) as d2:
            r = state(d2, rid)
            expect(r["state"] == "failed", r)
            expect(r["result"]["reason"] ==
                   "the trainer was stopped: the daemon is shutting down", r)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_sigkill_run_marked_failed_at_start, test_sigterm_stops_the_child])
