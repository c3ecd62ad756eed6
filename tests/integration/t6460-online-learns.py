#!/usr/bin/python3
"""Online learning on a real daemon: a linear logistic model whose
weights start at 0 (its answers no better than chance) learns from the
labels that follow its predictions (SGD), so the accuracy of its answers
on a stream rises above 0.9; /metrics counts the updates; every 300
updates it writes a snapshot, registered as a new version with source
"snapshot" and its lineage (parent version, updates, the feedback window,
the algorithm), which loads and predicts as the live weights did; the
snapshot takes no traffic. Then a burst of poisoned labels (each reversed)
right after a snapshot turns the live weights, whose accuracy on the
clean labels that follow falls below the snapshot's by more than
fallback_margin: the weights go back to the snapshot, an online_fallback
event says why, and /metrics counts it."""
import os
import shutil
import tempfile

from feedbacklib import metric, rng_for
from harness import Daemon, expect, run, wait_for
from onlinelib import accuracy, online_repo, rows, send, start_learning, updates, wait_learned

ONLINE = """online:
  algo: sgd
  learning_rate: 0.5
  snapshot_updates: 300
  snapshot_s: 0
  window: 40
  fallback_margin: 0.2
"""


def snapshots(d):
    st, doc, _ = d.json("GET", "/api/v1/models/ol/versions")
    expect(st == 200, doc)
    return [v for v in doc["versions"] if v.get("source") == "snapshot"]


def test_learns_snapshots_falls_back():
    tmp = tempfile.mkdtemp(prefix="modeld-t6460-")
    rng = rng_for(6460)
    try:
        with Daemon(repo=online_repo(tmp, ONLINE), data=os.path.join(tmp, "data")) as d:
            start_learning(d, rng)
            first = rows(100, rng)
            acc_first = accuracy(first, send(d, first, "first"))
            base = updates(d)
            wait_learned(d, base + 100)
            for i in range(3):
                send(d, rows(100, rng), "learn-%d" % i)
            wait_learned(d, base + 400)
            last = rows(200, rng)
            acc_last = accuracy(last, send(d, last, "last"))
            print("accuracy: first 100 rows %.2f, after 400 labels %.2f" % (acc_first, acc_last))
            expect(acc_first < 0.75, acc_first)
            expect(acc_last > 0.9, acc_last)
            # Snapshots: registered versions with their lineage, taking no traffic.
            ok = wait_for(lambda: len(snapshots(d)) >= 1, 20)
            send(d, rows(100, rng), "more")
            ok = ok and wait_for(lambda: len(snapshots(d)) >= 2, 20)
            snaps = snapshots(d)
            expect(ok, snaps)
            meta = snaps[0]["metadata"]
            expect(meta["source"] == "snapshot" and meta["parent"] == 1 and
                   meta["algo"] == "sgd" and meta["updates"] >= 200 and
                   meta["updates_since_snapshot"] >= 200 and
                   0 < meta["window"]["since_ms"] <= meta["window"]["until_ms"], meta)
            expect(snaps[1]["metadata"]["parent_snapshot"] == int(snaps[0]["version"]),
                   snaps[1]["metadata"])
            expect(snaps[0]["engine"] == "linear" and snaps[0]["traffic_percent"] == 0, snaps[0])
            expect(metric(d, "modeld_online_snapshots_total", {"model": "ol"}) >= 2,
                   metric(d, "modeld_online_snapshots_total", {"model": "ol"}))
            # The snapshot serves when named: it classifies as the learned weights do.
            st, _, _ = d.json("PUT", "/api/v1/models/ol/aliases/snap",
                              {"version": snaps[-1]["version"]})
            expect(st == 200, st)
            probe = {"inputs": [{"name": "x0", "datatype": "FP32", "shape": [2],
                                 "data": [1.5, -1.5]},
                                {"name": "x1", "datatype": "FP32", "shape": [2],
                                 "data": [-1.5, 1.5]}]}
            st, doc, _ = d.json("POST", "/v2/models/ol/versions/snap/infer", probe)
            expect(st == 200, doc)
            labels = [o for o in doc["outputs"] if o["name"] == "label"][0]["data"]
            expect(labels == ["yes", "no"], labels)
            # A burst of poisoned labels (each reversed) right after a snapshot, then clean
            # ones: the live weights, turned by the burst, answer the clean labels worse
            # than the snapshot does, and go back to it before the next snapshot is due.
            n_snaps = len(snapshots(d))
            need = 300 - (int(updates(d)) - snapshots(d)[-1]["metadata"]["updates"])
            before = updates(d)
            send(d, rows(need, rng), "to-snapshot")
            wait_learned(d, before + need)
            expect(wait_for(lambda: len(snapshots(d)) > n_snaps, 10), snapshots(d))
            since = updates(d) - snapshots(d)[-1]["metadata"]["updates"]
            expect(since == 0, since)
            done = updates(d) + 150
            send(d, rows(150, rng), "poison", poisoned=True)
            wait_learned(d, done)

            def fell_back():
                return (metric(d, "modeld_online_fallbacks_total", {"model": "ol"}) or 0) >= 1

            for i in range(8):
                b = rows(10, rng)
                print("clean after the burst: accuracy %.1f" % accuracy(b, send(d, b, "relearn-%d" % i)))
                if wait_for(fell_back, 1):
                    break
            expect(fell_back(), d.logs()[-3000:])
            st, doc, _ = d.json("GET", "/api/v1/events?model=ol&kind=online_fallback")
            expect(st == 200 and len(doc["events"]) >= 1, doc)
            ev = doc["events"][0]
            print("fallback:", ev["message"])
            expect(ev["message"].startswith("version 1 went back to snapshot version %s:"
                                             % snapshots(d)[-1]["version"]) and
                   ev["details"]["metric"] == "accuracy" and
                   ev["details"]["live"] < ev["details"]["snapshot_value"] - 0.2, ev)
            # Right after the fallback the model answers as the snapshot did.
            after = rows(100, rng)
            acc_after = accuracy(after, send(d, after, "after"))
            print("accuracy after the fallback: %.2f" % acc_after)
            expect(acc_after > 0.7, acc_after)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_learns_snapshots_falls_back])
