#!/usr/bin/python3
"""Operators' commands on a rollout, under traffic, each seen in the
traffic policy, in what clients get and in the events: pause (the traffic
held where it is, no step taken however long the traffic flows), resume
(the stage starts again and steps), promote now (all traffic to the
candidate, the champion alias moved), abort and roll back (all traffic to
the champion), each with its note; commands on a rollout that ended are
refused (409) with the reason; the list of a model's rollouts, newest
first."""
import time

from harness import expect, run, wait_for
import rolloutlib as rl

STRATEGY = {"kind": "canary", "steps": [10, 50, 100], "interval_s": 1, "min_requests": 10,
            "gates": [{"metric": "error_rate", "max_delta": 0.01}],
            "inconclusive": {"after_s": 600, "action": "pause"}}


def daemon():
    return rl.RolloutDaemon(lambda repo: rl.trees_model(repo, "ops", {1: rl.BINARY,
                                                                      2: rl.BINARY,
                                                                      3: rl.BINARY}))


def event_of(d, kind):
    evs = rl.events(d, "ops", kind)
    expect(evs, "no %s event" % kind)
    return evs[-1]


def test_pause_resume_promote():
    with daemon() as d:
        expect(rl.champion(d, "ops") == "3", rl.champion(d, "ops"))
        rid = rl.start(d, "ops", {"candidate": "2", "strategy": STRATEGY})["id"]
        doc = rl.command(d, "ops", rid, "pause", note="weekend freeze")
        expect(doc["phase"] == "paused" and doc["decision"]["action"] == "pause", doc)
        expect(doc["decision"]["cause"] == "command" and doc["decision"]["command"] == "pause",
               doc["decision"])
        expect("weekend freeze" in doc["state"]["reason"], doc["state"])
        ev = event_of(d, "rollout_paused")
        expect("weekend freeze" in ev["message"], ev)
        # Paused under traffic: the policy is held at 10/90, the candidate keeps
        # its share, and no step is taken however long the traffic flows.
        t = rl.Traffic(d.port, "/v2/models/ops/infer", rl.binary_rows())
        try:
            time.sleep(3.5)  # three ticks: each would have judged the step
            doc = rl.get(d, "ops", rid)
            expect(doc["phase"] == "paused" and doc["step"] == 0, doc)
            expect(rl.actions(doc) == ["start", "pause"], rl.actions(doc))
            expect(rl.weights(d, "ops")[0] == {"3": 90, "2": 10}, rl.traffic(d, "ops"))
            counts = t.snapshot()
            expect(counts[(200, "2", "canary")] > 0 and counts[(200, "3", "stable")] > 0,
                   counts)
            st, body, _ = d.json("POST", "/api/v1/models/ops/rollouts/%d/pause" % rid)
            expect(st == 409 and "is paused already" in body["error"], (st, body))
            # Resumed: the stage starts again and steps.
            doc = rl.command(d, "ops", rid, "resume")
            expect(doc["phase"] == "running" and doc["decision"]["action"] == "resume", doc)
            expect(event_of(d, "rollout_resumed")["details"]["command"] == "resume",
                   event_of(d, "rollout_resumed"))
            expect(wait_for(lambda: rl.get(d, "ops", rid)["step"] == 1, 20),
                   rl.get(d, "ops", rid))
            rl.settled(d, "ops", rl.get(d, "ops", rid))
            expect(rl.weights(d, "ops")[0] == {"3": 50, "2": 50}, rl.traffic(d, "ops"))
            # Promoted now, from the step it is in.
            doc = rl.command(d, "ops", rid, "promote", note="looks fine")
            expect(doc["phase"] == "promoted" and doc["weights"]["candidate"] == 100, doc)
            n = t.total()
            expect(wait_for(lambda: t.total() > n + 50, 20), t.snapshot())
        finally:
            counts = t.stop()
        expect(not t.failures and {k[0] for k in counts} == {200}, (t.failures[:5], counts))
        expect(rl.weights(d, "ops") == ({"2": 100}, {}, 0), rl.traffic(d, "ops"))
        expect(rl.champion(d, "ops") == "2", rl.champion(d, "ops"))
        expect(counts[(200, "2", "stable")] > 0, counts)
        ev = event_of(d, "rollout_promoted")
        expect("looks fine" in ev["message"] and ev["details"]["cause"] == "command", ev)
        doc = rl.get(d, "ops", rid)
        expect(rl.actions(doc) == ["start", "pause", "resume", "advance", "promote"],
               rl.actions(doc))
        expect(not doc["active"] and doc["state"]["ended_ms"] > 0, doc)
        # A rollout that ended takes no command, and says why.
        back = " (to go back to version 3, change the traffic policy or start a rollout of it)"
        for cmd, why in (("pause", "nothing to pause"), ("resume", "nothing to resume"),
                         ("promote", "nothing to promote"), ("abort", "nothing to abort" + back),
                         ("rollback", "nothing to roll back" + back)):
            st, body, _ = d.json("POST", "/api/v1/models/ops/rollouts/%d/%s" % (rid, cmd))
            expect(st == 409 and body == {"error": "rollout %d is promoted; %s" % (rid, why)},
                   (cmd, st, body))
        expect(rl.get(d, "ops", rid)["decisions"] == doc["decisions"], "a refused command stored")
        # One that never was is not found.
        st, body, _ = d.json("POST", "/api/v1/models/ops/rollouts/%d/pause" % (rid + 1))
        expect(st == 404 and body == {"error": "model 'ops' has no rollout %d" % (rid + 1)},
               (st, body))


def test_abort_and_rollback():
    with daemon() as d:
        t = rl.Traffic(d.port, "/v2/models/ops/infer", rl.binary_rows())
        try:
            first = rl.start(d, "ops", {"candidate": "2", "strategy": STRATEGY})["id"]
            expect(wait_for(lambda: t.snapshot()[(200, "2", "canary")] > 0, 20), t.snapshot())
            doc = rl.command(d, "ops", first, "abort", note="wrong candidate")
            expect(doc["phase"] == "aborted" and doc["weights"]["candidate"] == 0, doc)
            expect(rl.weights(d, "ops") == ({"3": 100}, {}, 0), rl.traffic(d, "ops"))
            ev = event_of(d, "rollout_aborted")
            expect("wrong candidate" in ev["message"], ev)
            n = t.snapshot()
            expect(wait_for(lambda: t.total() > sum(n.values()) + 50, 20), t.snapshot())
            later = t.snapshot()
            # After the abort the candidate answers nobody.
            expect(later[(200, "2", "canary")] == n[(200, "2", "canary")] or
                   later[(200, "2", "canary")] - n[(200, "2", "canary")] <= 4, (n, later))
            second = rl.start(d, "ops", {"candidate": 1, "strategy": STRATEGY})["id"]
            expect(second > first, (first, second))
            expect(rl.weights(d, "ops")[0] == {"3": 90, "1": 10}, rl.traffic(d, "ops"))
            doc = rl.command(d, "ops", second, "rollback", note="too early")
            expect(doc["phase"] == "rolled_back", doc)
            expect(rl.weights(d, "ops") == ({"3": 100}, {}, 0), rl.traffic(d, "ops"))
        finally:
            counts = t.stop()
        expect(not t.failures and {k[0] for k in counts} == {200}, (t.failures[:5], counts))
        expect(rl.champion(d, "ops") == "3", rl.champion(d, "ops"))
        ev = event_of(d, "rollout_rolled_back")
        expect("too early" in ev["message"] and ev["details"]["command"] == "rollback", ev)
        st, doc, _ = d.json("GET", "/api/v1/models/ops/rollouts")
        expect(st == 200 and [r["id"] for r in doc["rollouts"]] == [second, first], doc)
        expect([r["phase"] for r in doc["rollouts"]] == ["rolled_back", "aborted"], doc)
        expect(doc["rollouts"][0]["candidate"] == "1" and "decisions" not in doc["rollouts"][0],
               doc["rollouts"][0])
        st, body, _ = d.json("POST", "/api/v1/models/ops/rollouts/%d/resume" % first)
        expect(st == 409 and body["error"] == "rollout %d is aborted; nothing to resume" % first,
               (st, body))
        st, body, _ = d.json("POST", "/api/v1/models/ops/rollouts/%d/rollback" % second)
        expect(st == 409 and "rollout %d is rolled back; nothing to roll back" % second
               in body["error"], (st, body))


if __name__ == "__main__":
    run([test_pause_resume_promote, test_abort_and_rollback])
