#!/usr/bin/python3
"""Progressive rollouts of a model that gets no traffic: every stage is
inconclusive (too few requests to judge), never a pass. The first
inconclusive verdict is stored; after inconclusive.after_s the rollout
pauses (its traffic held where it is) or rolls back (all traffic to the
champion), as its strategy says, and is never promoted. A resumed rollout
that still gets no traffic pauses again."""
import time

from harness import expect, run
import rolloutlib as rl


def daemon():
    return rl.RolloutDaemon(lambda repo: rl.trees_model(repo, "idle", {1: rl.BINARY,
                                                                       2: rl.BINARY}))


def strategy(action, kind="canary", after_s=1):
    s = {"kind": kind, "min_requests": 5, "inconclusive": {"after_s": after_s, "action": action}}
    if kind == "bluegreen":
        s["shadow_s"] = 1
    else:
        s.update({"steps": [10, 100], "interval_s": 1})
    return s


def check_never_promoted(d, rid):
    doc = rl.get(d, "idle", rid)
    expect("promote" not in rl.actions(doc) and "advance" not in rl.actions(doc),
           rl.actions(doc))
    for x in doc["decisions"][1:]:
        expect(x["requests"] == {"candidate": 0, "champion": 0}, x)
        expect(all(g["result"] == "inconclusive" for g in x["gates"]), x["gates"])
    return doc


def test_no_traffic_pauses():
    with daemon() as d:
        rid = rl.start(d, "idle", {"candidate": "1", "strategy": strategy("pause")})["id"]
        doc = rl.wait_phase(d, "idle", rid, ("paused", "promoted", "rolled_back"), 20)
        expect(doc["phase"] == "paused", doc)
        expect(rl.actions(doc) == ["start", "inconclusive", "pause"], rl.actions(doc))
        first, last = doc["decisions"][1], doc["decisions"][2]
        expect(first["cause"] == "inconclusive" and "0 requests of 5 needed" in first["reason"],
               first)
        expect(last["cause"] == "inconclusive" and last["reason"].endswith("; paused"), last)
        expect(doc["state"]["inconclusive_since_ms"] == first["at_ms"], doc["state"])
        # Paused: the traffic stays where it was, and nothing more happens.
        expect(rl.weights(d, "idle")[0] == {"2": 90, "1": 10}, rl.traffic(d, "idle"))
        time.sleep(2.5)  # two ticks of the control loop: nothing to wait for but time
        doc = check_never_promoted(d, rid)
        expect(doc["phase"] == "paused" and len(doc["decisions"]) == 3, rl.actions(doc))
        kinds = [e["kind"] for e in rl.events(d, "idle") if e["kind"].startswith("rollout_")]
        expect(kinds == ["rollout_started", "rollout_inconclusive", "rollout_paused"], kinds)
        # Resumed, still without traffic: inconclusive again, paused again.
        doc = rl.command(d, "idle", rid, "resume")
        expect(doc["phase"] == "running" and doc["decision"]["action"] == "resume", doc)
        doc = rl.wait_phase(d, "idle", rid, ("paused", "promoted", "rolled_back"), 20)
        expect(doc["phase"] == "paused", doc)
        expect(rl.actions(doc) == ["start", "inconclusive", "pause", "resume", "inconclusive",
                                   "pause"], rl.actions(doc))
        check_never_promoted(d, rid)


def test_no_traffic_rolls_back():
    with daemon() as d:
        rid = rl.start(d, "idle", {"candidate": "1", "strategy": strategy("rollback")})["id"]
        doc = rl.wait_phase(d, "idle", rid, ("rolled_back", "paused", "promoted"), 20)
        expect(doc["phase"] == "rolled_back", doc)
        expect(rl.actions(doc) == ["start", "inconclusive", "rollback"], rl.actions(doc))
        expect(doc["decisions"][-1]["cause"] == "inconclusive", doc["decisions"][-1])
        check_never_promoted(d, rid)
        expect(rl.weights(d, "idle") == ({"2": 100}, {}, 0), rl.traffic(d, "idle"))
        expect(rl.champion(d, "idle") == "2", rl.champion(d, "idle"))
        kinds = [e["kind"] for e in rl.events(d, "idle") if e["kind"].startswith("rollout_")]
        expect(kinds[-1] == "rollout_rolled_back", kinds)


def test_bluegreen_no_traffic_acts_on_first_verdict():
    with daemon() as d:
        doc = rl.start(d, "idle", {"candidate": "1", "strategy": strategy(
            "rollback", "bluegreen", after_s=0)})
        rid = doc["id"]
        expect(doc["stage"] == "check", doc)
        expect(rl.weights(d, "idle") == ({"2": 100, "1": 0}, {"1": 1}, 0),
               rl.traffic(d, "idle"))
        doc = rl.wait_phase(d, "idle", rid, ("rolled_back", "paused", "promoted"), 20)
        expect(doc["phase"] == "rolled_back", doc)
        # after_s 0: the first verdict acts, nothing stored in between.
        expect(rl.actions(doc) == ["start", "rollback"], rl.actions(doc))
        check_never_promoted(d, rid)
        expect(rl.weights(d, "idle") == ({"2": 100}, {}, 0), rl.traffic(d, "idle"))


if __name__ == "__main__":
    run([test_no_traffic_pauses, test_no_traffic_rolls_back,
         test_bluegreen_no_traffic_acts_on_first_verdict])
