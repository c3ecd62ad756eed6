#!/usr/bin/python3
"""Progressive rollouts end to end, a good candidate: under real traffic
from several client threads, a candidate that predicts what the champion
predicts (the same artifact as a new version) is promoted to 100% by the
control loop alone, step by step (each step's weights reach the traffic
policy, agreement measured on mirrored requests), the champion alias moves
to it, no client sees a failed request, and the champion answers until the
promotion. The same with a shadow stage first (shadow_canary): the
candidate answers no request before its first canary step; and as a
blue/green switch: the idle candidate is checked on shadow copies, then
takes all the traffic in one policy change."""
from harness import expect, run, wait_for
import rolloutlib as rl

GATES = [{"metric": "error_rate", "max_delta": 0.01},
         {"metric": "agreement", "min": 0.95, "min_samples": 20},
         {"metric": "latency_p99", "max": 0.5},
         {"metric": "success_rate", "min_delta": -0.01}]


def good_daemon():
    return rl.RolloutDaemon(lambda repo: rl.trees_model(repo, "good", {1: rl.BINARY,
                                                                        2: rl.BINARY}))


def test_good_candidate_promoted():
    with good_daemon() as d:
        expect(rl.champion(d, "good") == "2", "the newest version serves first")
        # Version 1 is the candidate: the same trees as the champion.
        doc = rl.start(d, "good", {"candidate": "1", "strategy": {
            "kind": "canary", "steps": [20, 50, 100], "interval_s": 1, "min_requests": 20,
            "mirror": 1, "gates": GATES}})
        rid = doc["id"]
        expect(doc["phase"] == "running" and doc["stage"] == "canary" and doc["step"] == 0, doc)
        expect(doc["candidate"] == "1" and doc["champion"] == "2", doc)
        expect(doc["weights"] == {"candidate": 20, "champion": 80, "shadow": 0, "mirror": 1},
               doc["weights"])
        expect(rl.weights(d, "good") == ({"2": 80, "1": 20}, {}, 1), rl.traffic(d, "good"))
        t = rl.Traffic(d.port, "/v2/models/good/infer", rl.binary_rows())
        try:
            seen_steps = set()

            def promoted():
                doc = rl.get(d, "good", rid)
                if doc["phase"] == "running":
                    w, _, _ = rl.weights(d, "good")
                    seen_steps.add(w.get("1"))
                return doc["phase"] != "running"

            expect(wait_for(promoted, 40), "not promoted: %r" % rl.get(d, "good", rid))
            before = t.snapshot()
            # The traffic after the promotion: the candidate alone.
            expect(wait_for(lambda: t.total() > sum(before.values()) + 50, 20), t.snapshot())
        finally:
            counts = t.stop()
        doc = rl.get(d, "good", rid)
        expect(doc["phase"] == "promoted", doc)
        expect(rl.actions(doc)[0] == "start" and rl.actions(doc)[-1] == "promote", rl.actions(doc))
        expect(rl.actions(doc).count("advance") == 1, rl.actions(doc))
        expect("rollback" not in rl.actions(doc), rl.actions(doc))
        expect(seen_steps <= {20, 50} and 50 in seen_steps, seen_steps)
        last = doc["decisions"][-1]
        expect(last["cause"] == "gates" and last["weights"]["candidate"] == 100, last)
        expect([g["result"] for g in last["gates"]] == ["held"] * 4, last["gates"])
        agreement = [g for g in last["gates"] if g["metric"] == "agreement"][0]
        expect(agreement["candidate"] == 1 and agreement["samples"]["candidate"] >= 20, agreement)
        # No client saw a failure; both versions answered; no retry was needed.
        expect(not t.failures, t.failures[:5])
        expect({k[0] for k in counts} == {200}, counts)
        expect(counts[(200, "2", "stable")] > 0 and counts[(200, "1", "canary")] > 0, counts)
        expect(not [k for k in counts if k[2] == "retry"], counts)
        # Promoted: the champion alias moved, all traffic on version 1.
        expect(rl.champion(d, "good") == "1", rl.champion(d, "good"))
        expect(rl.weights(d, "good") == ({"1": 100}, {}, 0), rl.traffic(d, "good"))
        expect(counts[(200, "1", "stable")] > 0, counts)
        kinds = [e["kind"] for e in rl.events(d, "good") if e["kind"].startswith("rollout_")]
        expect(kinds[0] == "rollout_started" and "rollout_stepped" in kinds and
               kinds[-1] == "rollout_promoted", kinds)
        # Nothing runs any more: the policy is the operators' again.
        st, body, _ = d.json("PUT", "/api/v1/models/good/traffic",
                             {"routes": [{"version": "2"}]})
        expect(st == 200, (st, body))


def test_shadow_first_then_canary():
    with good_daemon() as d:
        doc = rl.start(d, "good", {"candidate": 1, "champion": 2, "strategy": {
            "kind": "shadow_canary", "shadow_s": 1, "shadow_fraction": 1, "steps": [50, 100],
            "interval_s": 1, "min_requests": 20, "mirror": 1, "gates": GATES}})
        rid = doc["id"]
        expect(doc["stage"] == "shadow" and doc["weights"]["candidate"] == 0, doc)
        expect(rl.weights(d, "good") == ({"2": 100, "1": 0}, {"1": 1}, 0), rl.traffic(d, "good"))
        t = rl.Traffic(d.port, "/v2/models/good/infer", rl.binary_rows())
        try:
            doc = rl.wait_phase(d, "good", rid, ("promoted", "rolled_back", "paused"), 40)
        finally:
            counts = t.stop()
        expect(doc["phase"] == "promoted", doc)
        expect(rl.actions(doc) == ["start", "advance", "promote"] or
               rl.actions(doc)[-2:] == ["advance", "promote"], rl.actions(doc))
        shadow = [x for x in doc["decisions"] if x["stage"] == "shadow" and x["action"] == "advance"]
        expect(len(shadow) == 1, doc["decisions"])
        agreement = [g for g in shadow[0]["gates"] if g["metric"] == "agreement"][0]
        expect(agreement["result"] == "held" and agreement["candidate"] == 1, agreement)
        expect(not t.failures and {k[0] for k in counts} == {200}, (t.failures[:5], counts))
        expect(rl.champion(d, "good") == "1", rl.champion(d, "good"))


def test_bluegreen_switch():
    with good_daemon() as d:
        doc = rl.start(d, "good", {"candidate": "1", "strategy": {
            "kind": "bluegreen", "shadow_s": 1, "min_requests": 20,
            "gates": [{"metric": "error_rate", "max_delta": 0.01},
                      {"metric": "agreement", "min": 0.95}]}})
        rid = doc["id"]
        expect(doc["stage"] == "check" and doc["weights"]["candidate"] == 0, doc)
        t = rl.Traffic(d.port, "/v2/models/good/infer", rl.binary_rows())
        try:
            doc = rl.wait_phase(d, "good", rid, ("promoted", "rolled_back", "paused"), 30)
            before = t.snapshot()
            expect(wait_for(lambda: t.total() > sum(before.values()) + 50, 20), t.snapshot())
        finally:
            counts = t.stop()
        expect(doc["phase"] == "promoted" and rl.actions(doc) == ["start", "promote"], doc)
        check = doc["decisions"][-1]
        expect(check["stage"] == "check" and check["requests"]["candidate"] >= 20, check)
        # Idle, the candidate answered nobody (only shadow copies ran on it);
        # after the switch, everybody.
        expect(counts[(200, "1", "canary")] == 0, counts)
        expect(counts[(200, "1", "stable")] > 50 and before[(200, "2", "stable")] > 0, counts)
        expect(not t.failures and {k[0] for k in counts} == {200}, (t.failures[:5], counts))
        expect(rl.weights(d, "good") == ({"1": 100}, {}, 0), rl.traffic(d, "good"))
        expect(rl.champion(d, "good") == "1", rl.champion(d, "good"))


if __name__ == "__main__":
    run([test_good_candidate_promoted, test_shadow_first_then_canary, test_bluegreen_switch])
