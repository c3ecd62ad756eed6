#!/usr/bin/python3
"""A rollout survives SIGKILL: killed in its second step, modeld started
again on the same --data shows the rollout in the same stage and step,
with every decision stored before the kill, the traffic of that step and
operators' traffic changes still refused; with traffic again the rollout
goes on from that step and is promoted. A rollout that a plain stop
(SIGTERM) interrupts goes on the same way. A paused rollout is still
paused after SIGKILL, its traffic held, and can be resumed."""
import signal

from harness import expect, run, wait_for
import rolloutlib as rl

STRATEGY = {"kind": "canary", "steps": [10, 50, 100], "interval_s": 1, "min_requests": 20,
            "gates": [{"metric": "error_rate", "max_delta": 0.01},
                      {"metric": "agreement", "min": 0.95, "min_samples": 5}],
            "mirror": 1, "inconclusive": {"after_s": 600, "action": "pause"}}


def daemon():
    return rl.RolloutDaemon(lambda repo: rl.trees_model(repo, "kept", {1: rl.BINARY,
                                                                       2: rl.BINARY}))


def continue_after_restart(kill):
    with daemon() as d:
        rid = rl.start(d, "kept", {"candidate": "1", "strategy": STRATEGY})["id"]
        t = rl.Traffic(d.port, "/v2/models/kept/infer", rl.binary_rows())
        seen = {}

        def stepped():
            seen["doc"] = rl.get(d, "kept", rid)
            return seen["doc"]["step"] == 1

        try:
            ok = wait_for(stepped, 30)
            if ok:
                # At once, before the next step can be reached.
                d.signal(signal.SIGKILL if kill else signal.SIGTERM)
        finally:
            t.stop()
        expect(ok, seen)
        before = seen["doc"]
        expect(before["phase"] == "running" and rl.actions(before)[-1] == "advance", before)
        d.restart(kill=kill)
        doc = rl.get(d, "kept", rid)
        expect(doc["phase"] == "running" and doc["active"], doc)
        expect(doc["state"]["stage"] == "canary" and doc["state"]["step"] == 1, doc["state"])
        expect(doc["decisions"] == before["decisions"], (doc["decisions"], before["decisions"]))
        expect(rl.weights(d, "kept")[0] == {"2": 50, "1": 50}, rl.traffic(d, "kept"))
        st, body, _ = d.json("PUT", "/api/v1/models/kept/traffic", {"routes": [{"version": "2"}]})
        expect(st == 409, (st, body))
        st, body, _ = d.json("POST", "/api/v1/models/kept/rollouts", {"candidate": "1"})
        expect(st == 409, (st, body))
        t = rl.Traffic(d.port, "/v2/models/kept/infer", rl.binary_rows())
        try:
            doc = rl.wait_phase(d, "kept", rid, ("promoted", "rolled_back", "paused"), 30)
        finally:
            counts = t.stop()
        expect(doc["phase"] == "promoted", doc)
        after = doc["decisions"][[x["action"] for x in doc["decisions"]].index("advance") + 1:]
        expect(after[-1]["action"] == "promote" and after[-1]["step"] == 1, after)
        expect(all(x["step"] == 1 for x in after), after)
        expect(not t.failures and {k[0] for k in counts} == {200}, (t.failures[:5], counts))
        expect(rl.champion(d, "kept") == "1", rl.champion(d, "kept"))
        expect(rl.weights(d, "kept") == ({"1": 100}, {}, 0), rl.traffic(d, "kept"))
        logs = d.logs()
        expect('"msg":"rollout continues"' in logs, logs[-3000:])


def test_sigkill_mid_rollout():
    continue_after_restart(kill=True)


def test_sigterm_mid_rollout():
    continue_after_restart(kill=False)


def test_paused_survives_sigkill():
    with daemon() as d:
        rid = rl.start(d, "kept", {"candidate": "1", "strategy": STRATEGY})["id"]
        rl.command(d, "kept", rid, "pause", note="hold on")
        d.restart(kill=True)
        doc = rl.get(d, "kept", rid)
        expect(doc["phase"] == "paused" and "hold on" in doc["state"]["reason"], doc)
        expect(rl.weights(d, "kept")[0] == {"2": 90, "1": 10}, rl.traffic(d, "kept"))
        st, body, _ = d.json("PUT", "/api/v1/models/kept/traffic", {"routes": [{"version": "2"}]})
        expect(st == 409, (st, body))
        doc = rl.command(d, "kept", rid, "resume")
        expect(doc["phase"] == "running", doc)
        doc = rl.command(d, "kept", rid, "rollback")
        expect(doc["phase"] == "rolled_back", doc)
        expect(rl.actions(rl.get(d, "kept", rid)) == ["start", "pause", "resume", "rollback"],
               rl.get(d, "kept", rid))
        expect(rl.weights(d, "kept") == ({"2": 100}, {}, 0), rl.traffic(d, "kept"))


if __name__ == "__main__":
    run([test_sigkill_mid_rollout, test_sigterm_mid_rollout, test_paused_survives_sigkill])
