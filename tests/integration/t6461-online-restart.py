#!/usr/bin/python3
"""Online learning across a restart: a version that learned and took
snapshots, restarted on the same store, goes on from its newest snapshot
(its first answers after the start are the learned ones, not its
artifact's, and the log says so), and learns the labels given after that
snapshot was taken, which the daemon had not snapshotted when it
stopped."""
import os
import shutil
import tempfile

from feedbacklib import rng_for
from harness import Daemon, expect, run, wait_for
from onlinelib import accuracy, online_repo, rows, send, start_learning, updates, wait_learned

ONLINE = """online:
  learning_rate: 0.5
  snapshot_updates: 100
  snapshot_s: 0
"""


def snapshots(d):
    st, doc, _ = d.json("GET", "/api/v1/models/ol/versions")
    expect(st == 200, doc)
    return [v for v in doc["versions"] if v.get("source") == "snapshot"]


def test_resumes_from_newest_snapshot():
    tmp = tempfile.mkdtemp(prefix="modeld-t6461-")
    rng = rng_for(6461)
    data = os.path.join(tmp, "data")
    repo = online_repo(tmp, ONLINE)
    try:
        with Daemon(repo=repo, data=data) as d:
            start_learning(d, rng)
            send(d, rows(150, rng), "learn")
            wait_learned(d, 150)
            expect(wait_for(lambda: len(snapshots(d)) >= 1, 20), snapshots(d))
            # 20 labels after the newest snapshot: fewer than snapshot_updates
            before = updates(d)
            send(d, rows(20, rng), "tail")
            wait_learned(d, before + 20)
            n_snaps = len(snapshots(d))
            since = int(updates(d)) - snapshots(d)[-1]["metadata"]["updates"]
        expect(0 < since < 100, since)
        with Daemon(repo=repo, data=data) as d:
            expect(wait_for(lambda: "resumed from a snapshot" in d.logs(), 10), d.logs())
            probe = rows(200, rng)
            acc = accuracy(probe, send(d, probe, "probe-after-restart"))
            print("accuracy right after the restart: %.2f (%d snapshots, %d labels after the "
                  "newest)" % (acc, n_snaps, since))
            expect(acc > 0.9, acc)
            # the labels learned after the snapshot, then the probe's 200 labels
            wait_learned(d, since + 200)
            expect(updates(d) == since + 200, (updates(d), since))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_resumes_from_newest_snapshot])
