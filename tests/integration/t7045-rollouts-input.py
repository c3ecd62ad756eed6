#!/usr/bin/python3
"""Rollout and strategy endpoints refuse bad input with a 4xx naming the
field and the reason, and change nothing when they do: unknown models,
versions and aliases, a candidate that is the champion or does not
serve (named as the request's field), bad strategies,
unknown stored strategies, malformed JSON, a second rollout while one is
active, operators' traffic changes while a rollout moves the traffic,
commands with a bad body or for another model's rollout. Stored
strategies: PUT, GET (one and all), DELETE, their events, and a rollout
started by a strategy's name keeps its own copy of it."""
from harness import expect, expect_error, run
import rolloutlib as rl

FAST = {"kind": "canary", "steps": [20, 100], "interval_s": 1, "min_requests": 5,
        "gates": [{"metric": "error_rate", "max": 0.05}]}


def daemon():
    def build(repo):
        rl.trees_model(repo, "m", {1: rl.BINARY, 2: rl.BINARY, 3: {"broken": True}})
        rl.trees_model(repo, "other", {1: rl.BINARY, 2: rl.BINARY})

    return rl.RolloutDaemon(build)


def post(d, path, body):
    return d.json("POST", "/api/v1/models/" + path, body)


def test_bad_starts_change_nothing():
    with daemon() as d:
        st, doc, _ = d.json("PUT", "/api/v1/models/m/aliases/prev", {"version": "1"})
        expect(st == 200, (st, doc))
        policy = rl.traffic(d, "m")
        cases = [
            ("nosuch/rollouts", {"candidate": "1"}, 404, "unknown model 'nosuch'"),
            ("m/rollouts", {"candidate": "9"}, 400, "candidate: model 'm' has no version 9"),
            ("m/rollouts", {"candidate": "later"}, 400, "candidate: model 'm' has no alias 'later'"),
            ("m/rollouts", {"candidate": "1", "champion": "7"}, 400,
             "champion: model 'm' has no version 7"),
            ("m/rollouts", {"candidate": "3"}, 400,
             "candidate: version 3 of model 'm' does not serve: model.json: learner: missing"),
            ("m/rollouts", {"candidate": "3", "strategy": {"kind": "shadow_canary"}}, 400,
             "candidate: version 3 of model 'm' does not serve"),
            ("m/rollouts", {"candidate": "1", "champion": "3"}, 400,
             "champion: version 3 of model 'm' does not serve"),
            ("m/rollouts", {"candidate": "2"}, 400,
             "candidate: version 2 is the champion; a rollout needs another one"),
            ("m/rollouts", {"candidate": "champion"}, 400, "candidate: version 2 is the champion"),
            ("m/rollouts", {"candidate": "prev", "champion": "1"}, 400,
             "candidate: version 1 is the champion"),
            ("m/rollouts", {"candidate": 0}, 400, "candidate: a version number or an alias"),
            ("m/rollouts", {"candidate": True}, 400, "candidate: a version number or an alias"),
            ("m/rollouts", {}, 400, "candidate: required"),
            ("m/rollouts", {"candidate": "1", "colour": "blue"}, 400, "colour: unknown field"),
            ("m/rollouts", {"candidate": "1", "strategy": {"kind": "canary", "steps": [50, 25, 100]}},
             400, "strategy.steps[1]: 25 is not above steps[0] (50): steps increase"),
            ("m/rollouts", {"candidate": "1", "strategy": {"steps": [50, 100]}}, 400,
             "strategy.kind: missing"),
            ("m/rollouts", {"candidate": "1", "strategy": {"kind": "canary", "gates": [
                {"metric": "error_rate", "max": 0.1, "min": 0}]}}, 400,
             "strategy.gates[0]: both 'min' and 'max' given"),
            ("m/rollouts", {"candidate": "1", "strategy": {"kind": "bluegreen", "mirror": 0.5}},
             400, "strategy.mirror: not used by kind 'bluegreen'"),
            ("m/rollouts", {"candidate": "1", "strategy": {"kind": "canary", "interval_s": 0}},
             400, "strategy.interval_s"),
            ("m/rollouts", {"candidate": "1", "strategy": "careful"}, 400,
             "strategy: no stored strategy named 'careful'"),
            ("m/rollouts", {"candidate": "1", "strategy": 5}, 400,
             "strategy: an object, or the name of a stored strategy"),
            ("m/rollouts", '{"candidate": "1"', 400, "malformed JSON"),
            ("m/rollouts", '{"candidate": "1", "candidate": "1"}', 400, "duplicate"),
            ("m/rollouts", "[1]", 400, "the body must be a JSON object"),
            ("m/rollouts", "", 400, "malformed JSON"),
        ]
        for path, body, status, fragment in cases:
            st, doc, _ = post(d, path, body)
            expect_error(st, doc, status, fragment)
        st, doc, _ = d.json("GET", "/api/v1/models/m/rollouts")
        expect(st == 200 and doc == {"model": "m", "rollouts": []}, doc)
        expect(rl.traffic(d, "m") == policy, (rl.traffic(d, "m"), policy))
        expect(not [e for e in rl.events(d, "m") if e["kind"].startswith("rollout_")],
               rl.events(d, "m"))


def test_conflicts_while_running():
    with daemon() as d:
        doc = rl.start(d, "m", {"candidate": "1", "strategy": FAST})
        rid = doc["id"]
        policy = rl.traffic(d, "m")
        # A second rollout of the model, while this one runs: refused.
        st, body, _ = post(d, "m/rollouts", {"candidate": "1", "strategy": FAST})
        expect_error(st, body, 409, "model 'm' has an active rollout (%d)" % rid)
        # Operators' traffic changes: refused while the rollout moves the traffic.
        st, body, _ = d.json("PUT", "/api/v1/models/m/traffic", {"routes": [{"version": "2"}]})
        expect_error(st, body, 409)
        expect("rollout" in body["error"], body)
        expect(rl.traffic(d, "m") == policy, (rl.traffic(d, "m"), policy))
        # Another model is free.
        other = rl.start(d, "other", {"candidate": "1", "strategy": FAST})
        expect(other["id"] != rid, (other, rid))
        # Commands: bad bodies, another model's rollout, no such command.
        for body, fragment in (({"note": 5}, "note: a string, the only field"),
                               ({"why": "x"}, "note: a string, the only field"),
                               ('{"note":', "the body must be a JSON object"),
                               ("[]", "the body must be a JSON object")):
            st, doc, _ = post(d, "m/rollouts/%d/pause" % rid, body)
            expect_error(st, doc, 400, fragment)
        st, doc, _ = post(d, "m/rollouts/%d/pause" % other["id"], None)
        expect_error(st, doc, 404, "model 'm' has no rollout %d" % other["id"])
        st, doc, _ = d.json("GET", "/api/v1/models/m/rollouts/%d" % other["id"])
        expect_error(st, doc, 404, "model 'm' has no rollout %d" % other["id"])
        st, doc, _ = post(d, "nosuch/rollouts/%d/pause" % rid, None)
        expect_error(st, doc, 404, "unknown model 'nosuch'")
        st, doc, _ = d.json("GET", "/api/v1/models/nosuch/rollouts")
        expect_error(st, doc, 404, "unknown model 'nosuch'")
        st, doc, _ = d.json("GET", "/api/v1/models/nosuch/rollouts/1")
        expect_error(st, doc, 404, "unknown model 'nosuch'")
        st, doc, _ = d.json("GET", "/api/v1/models/m/rollouts/first")
        expect_error(st, doc, 404)
        st, doc, _ = post(d, "m/rollouts/%d/explode" % rid, None)
        expect_error(st, doc, 404)
        st, doc, hdrs = d.json("GET", "/api/v1/models/m/rollouts/%d/pause" % rid)
        expect(st == 405 and hdrs.get("allow") == "POST", (st, doc, hdrs))
        # None of that changed the rollout.
        doc = rl.get(d, "m", rid)
        expect(doc["phase"] == "running" and rl.actions(doc) == ["start"], doc)
        expect(doc["champion"] == "2" and doc["stage"] == "canary" and doc["step"] == 0 and
               doc["weights"]["candidate"] == 20, doc)
        # Once it ended, the traffic is the operators' again.
        rl.command(d, "m", rid, "abort")
        st, body, _ = d.json("PUT", "/api/v1/models/m/traffic", {"routes": [{"version": "2"}]})
        expect(st == 200, (st, body))


def test_stored_strategies():
    with daemon() as d:
        st, doc, _ = d.json("GET", "/api/v1/strategies")
        expect(st == 200 and doc == {"strategies": []}, doc)
        st, doc, _ = d.json("PUT", "/api/v1/strategies/fast", FAST)
        expect(st == 200 and doc["name"] == "fast", doc)
        stored = doc["strategy"]
        # Stored with every default filled in.
        expect(stored["steps"] == [20, 100] and stored["mirror"] == 0.1 and
               stored["inconclusive"] == {"after_s": 600, "action": "pause"}, stored)
        st, doc, _ = d.json("GET", "/api/v1/strategies/fast")
        expect(st == 200 and doc == {"name": "fast", "strategy": stored}, doc)
        for name, body, status, fragment in (
                ("9lives", FAST, 400, "name: '9lives' is not a strategy name"),
                ("x", {"kind": "canary", "steps": [100]}, 400, "steps: must be an array"),
                ("x", {"kind": "canary", "speed": 2}, 400, "speed: unknown field"),
                ("x", {"kind": "rainbow"}, 400, "kind"),
                ("x", '{"kind":', 400, "invalid JSON"),
                ("x", "", 400, "invalid JSON")):
            st, doc, _ = d.json("PUT", "/api/v1/strategies/" + name, body)
            expect_error(st, doc, status, fragment)
        st, doc, _ = d.json("GET", "/api/v1/strategies/x")
        expect_error(st, doc, 404, "no strategy named 'x'")
        # A rollout by the strategy's name keeps a copy: changing the stored one
        # later does not touch it.
        doc = rl.start(d, "m", {"candidate": "1", "strategy": "fast"})
        expect(doc["spec"]["strategy_name"] == "fast" and doc["spec"]["strategy"] == stored, doc)
        slow = dict(FAST, steps=[5, 100], interval_s=60)
        st, doc, _ = d.json("PUT", "/api/v1/strategies/fast", slow)
        expect(st == 200 and doc["strategy"]["steps"] == [5, 100], doc)
        got = rl.get(d, "m", 1)
        expect(got["spec"]["strategy"] == stored and got["weights"]["candidate"] == 20, got)
        st, doc, _ = d.json("PUT", "/api/v1/strategies/careful", dict(FAST, kind="bluegreen",
                                                                        steps=None))
        expect(st == 400, (st, doc))
        st, doc, _ = d.json("PUT", "/api/v1/strategies/careful", {"kind": "bluegreen",
                                                                 "shadow_s": 30})
        expect(st == 200, (st, doc))
        st, doc, _ = d.json("GET", "/api/v1/strategies")
        expect([s["name"] for s in doc["strategies"]] == ["careful", "fast"], doc)
        st, doc, _ = d.json("DELETE", "/api/v1/strategies/fast")
        expect(st == 200 and doc == {"name": "fast", "removed": True}, doc)
        st, doc, _ = d.json("DELETE", "/api/v1/strategies/fast")
        expect_error(st, doc, 404, "no strategy named 'fast'")
        st, doc, _ = d.json("GET", "/api/v1/strategies")
        expect([s["name"] for s in doc["strategies"]] == ["careful"], doc)
        kinds = [e["kind"] for e in rl.events(d, "")]
        expect(kinds.count("strategy_stored") == 3 and kinds.count("strategy_removed") == 1,
               kinds)
        # The running rollout still has its copy.
        expect(rl.get(d, "m", 1)["spec"]["strategy"] == stored, rl.get(d, "m", 1))


if __name__ == "__main__":
    run([test_bad_starts_change_nothing, test_conflicts_while_running, test_stored_strategies])
