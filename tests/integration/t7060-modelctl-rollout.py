#!/usr/bin/python3
"""modelctl's rollout commands against a real modeld: strategy put (inline
JSON and a file), get (all, one), delete; rollout start (by a stored
strategy's name, a file, inline JSON, with --champion), status (text and
--json), status --follow printing each decision until the rollout ends
(exit 0 when promoted, 1 when rolled back, 1 when --timeout passes first),
the commands with and without an ID and their notes, rollouts (the list),
and the exit codes and messages of refusals and usage errors."""
import json
import os
import subprocess
import tempfile

from harness import MODELCTL, expect, run
import rolloutlib as rl

QUICK = {"kind": "canary", "steps": [20, 50, 100], "interval_s": 1, "min_requests": 10,
         "mirror": 1, "gates": [{"metric": "error_rate", "max_delta": 0.01},
                                {"metric": "agreement", "min": 0.95, "min_samples": 10}]}


def ctl(d, *args, timeout=60, stdin=None):
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    p = subprocess.run([MODELCTL, "--url", "http://127.0.0.1:%d" % d.port] + list(args),
                       capture_output=True, text=True, timeout=timeout, env=env, input=stdin)
    return p.returncode, p.stdout, p.stderr


def daemon():
    def build(repo):
        rl.trees_model(repo, "good", {1: rl.BINARY, 2: rl.BINARY})
        rl.trees_model(repo, "flip", {1: rl.flipped(rl.BINARY), 2: rl.BINARY})

    return rl.RolloutDaemon(build)


def test_strategies():
    with daemon() as d:
        rc, out, err = ctl(d, "strategy", "put", "quick", json.dumps(QUICK))
        expect(rc == 0 and out == "stored strategy quick\n", (rc, out, err))
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"kind": "bluegreen", "shadow_s": 30}, f)
        try:
            rc, out, err = ctl(d, "strategy", "put", "switch", f.name)
            expect(rc == 0 and out == "stored strategy switch\n", (rc, out, err))
        finally:
            os.unlink(f.name)
        rc, out, err = ctl(d, "strategy", "put", "piped", "-", stdin=json.dumps(QUICK))
        expect(rc == 0, (rc, out, err))
        rc, out, err = ctl(d, "strategy", "get")
        lines = out.splitlines()
        expect(rc == 0 and lines[0].split()[:3] == ["NAME", "KIND", "STEPS"], out)
        expect([l.split()[0] for l in lines[1:]] == ["piped", "quick", "switch"], out)
        expect("20, 50, 100" in lines[2] and "error_rate, agreement" in lines[2], out)
        expect(lines[3].split()[:4] == ["switch", "bluegreen", "-", "30"], out)
        rc, out, err = ctl(d, "strategy", "get", "quick")
        expect(rc == 0 and json.loads(out)["steps"] == [20, 50, 100], (rc, out, err))
        expect('"mirror": 1' in out, out)
        rc, out, err = ctl(d, "--json", "strategy", "get", "switch")
        expect(rc == 0 and json.loads(out)["strategy"]["shadow_s"] == 30, (rc, out))
        rc, out, err = ctl(d, "strategy", "delete", "piped")
        expect(rc == 0 and out == "removed strategy piped\n", (rc, out, err))
        # Refusals: the server's reason, exit 1; usage errors, exit 2.
        rc, out, err = ctl(d, "strategy", "put", "bad", '{"kind": "canary", "steps": [50, 20, 100]}')
        expect(rc == 1 and "steps[1]: 20 is not above steps[0] (50)" in err, (rc, err))
        rc, out, err = ctl(d, "strategy", "get", "piped")
        expect(rc == 1 and "no strategy named 'piped'" in err, (rc, err))
        rc, out, err = ctl(d, "strategy", "delete", "piped")
        expect(rc == 1 and "no strategy named 'piped'" in err, (rc, err))
        rc, out, err = ctl(d, "strategy", "put", "x", "/nonexistent/strategy.json")
        expect(rc == 2 and "cannot open '/nonexistent/strategy.json'" in err, (rc, err))
        for args, fragment in ((["strategy"], "missing SUBCOMMAND"),
                               (["strategy", "list"], "unknown subcommand 'list'"),
                               (["strategy", "put", "x"], "missing the strategy"),
                               (["strategy", "delete"], "missing NAME"),
                               (["strategy", "get", "a", "b"], "unexpected argument 'b'"),
                               (["strategy", "get", "--all"], "unknown option '--all'")):
            rc, out, err = ctl(d, *args)
            expect(rc == 2 and fragment in err, (args, rc, err))
        st, doc, _ = d.json("GET", "/api/v1/strategies")
        expect([s["name"] for s in doc["strategies"]] == ["quick", "switch"], doc)


def test_start_follow_promoted():
    with daemon() as d:
        rc, out, err = ctl(d, "strategy", "put", "quick", json.dumps(QUICK))
        expect(rc == 0, err)
        rc, out, err = ctl(d, "rollout", "start", "good", "1", "--strategy", "quick")
        expect(rc == 0 and out.startswith("started rollout 1 of good: started: version 1 "
                                          "against version 2, step 1 (20%)"), (rc, out, err))
        rc, out, err = ctl(d, "rollout", "status", "good")
        expect(rc == 0, err)
        expect(out.startswith("rollout 1 of good: version 1 against version 2\n"), out)
        expect("\nphase     running\n" in out and "canary, step 1 of 3 (20%)" in out, out)
        expect("candidate 20%, champion 80%, mirror 1" in out, out)
        expect("'quick', canary: steps 20, 50, 100; 1 s a step; 10 requests" in out, out)
        rc, out, err = ctl(d, "rollouts", "good")
        expect(rc == 0 and out.splitlines()[1].split()[:4] == ["1", "1", "2", "running"], out)
        t = rl.Traffic(d.port, "/v2/models/good/infer", rl.binary_rows())
        try:
            rc, out, err = ctl(d, "rollout", "status", "good", "1", "--follow", "--timeout", "40")
        finally:
            t.stop()
        expect(rc == 0, (rc, out, err))
        lines = out.splitlines()
        actions = [l.split()[1] for l in lines[lines.index(
            [l for l in lines if l.startswith("TIME")][0]) + 1:]]
        expect(actions[0] == "start" and actions[-1] == "promote" and "advance" in actions,
               out)
        expect("promoted: all traffic to version 1" in lines[-1], out)
        rc, out, err = ctl(d, "rollout", "status", "good", "1")
        expect(rc == 0 and "\nphase     promoted\n" in out and "\nended     " in out, out)
        expect("gates at " in out, out)
        gates = {l.split()[0]: l.split()[1] for l in out.split("gates at ")[1].splitlines()[2:]}
        expect(gates == {"error_rate": "held", "agreement": "held"}, out)
        rc, out, err = ctl(d, "--json", "rollout", "status", "good")
        doc = json.loads(out)
        expect(rc == 0 and doc["phase"] == "promoted" and doc["decisions"][-1]["action"] ==
               "promote", doc)
        # A command on a rollout that ended: the server's reason, exit 1.
        rc, out, err = ctl(d, "rollout", "rollback", "good", "1")
        expect(rc == 1 and "rollout 1 is promoted; nothing to roll back" in err, (rc, err))
        rc, out, err = ctl(d, "rollout", "pause", "good")
        expect(rc == 1 and "model 'good' has no active rollout" in err, (rc, err))


def test_commands_and_outcomes():
    with daemon() as d:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(dict(QUICK, inconclusive={"after_s": 600, "action": "pause"}), f)
        try:
            rc, out, err = ctl(d, "rollout", "start", "good", "1", "--champion", "2",
                               "--strategy", f.name)
        finally:
            os.unlink(f.name)
        expect(rc == 0 and out.startswith("started rollout 1 of good"), (rc, out, err))
        rc, out, err = ctl(d, "rollout", "pause", "good", "--note", "not today")
        expect(rc == 0 and out.startswith("paused rollout 1 of good: ") and "not today" in out,
               (rc, out, err))
        expect(rl.get(d, "good", 1)["phase"] == "paused", rl.get(d, "good", 1))
        # Following a paused rollout with no traffic: still paused when --timeout passes.
        rc, out, err = ctl(d, "rollout", "status", "good", "--follow", "--timeout", "2")
        expect(rc == 1 and "rollout 1 still paused after 2 s" in err, (rc, out, err))
        rc, out, err = ctl(d, "rollout", "resume", "good", "1")
        expect(rc == 0 and out.startswith("resumed rollout 1 of good"), (rc, out, err))
        rc, out, err = ctl(d, "--json", "rollout", "rollback", "good", "1", "--note", "enough")
        doc = json.loads(out)
        expect(rc == 0 and doc["phase"] == "rolled_back" and "enough" in doc["state"]["reason"],
               (rc, out, err))
        rc, out, err = ctl(d, "rollout", "start", "good", "1", "--strategy",
                           '{"kind": "canary", "steps": [50, 100], "interval_s": 1}')
        expect(rc == 0 and out.startswith("started rollout 2 of good"), (rc, out, err))
        rc, out, err = ctl(d, "rollout", "abort", "good")
        expect(rc == 0 and out.startswith("aborted rollout 2 of good"), (rc, out, err))
        rc, out, err = ctl(d, "rollouts", "good")
        rows = [l.split()[:4] for l in out.splitlines()[1:]]
        expect(rc == 0 and rows == [["2", "1", "2", "aborted"], ["1", "1", "2", "rolled_back"]],
               out)
        rc, out, err = ctl(d, "--json", "rollouts", "good")
        expect(rc == 0 and [r["id"] for r in json.loads(out)["rollouts"]] == [2, 1], out)
        # A candidate that disagrees, followed: rolled back, exit 1 with the reason.
        rc, out, err = ctl(d, "rollout", "start", "flip", "1", "--strategy", json.dumps(QUICK))
        expect(rc == 0 and out.startswith("started rollout 3 of flip"), (rc, out, err))
        t = rl.Traffic(d.port, "/v2/models/flip/infer", rl.binary_rows())
        try:
            rc, out, err = ctl(d, "--json", "rollout", "status", "flip", "--follow",
                               "--timeout", "40")
        finally:
            t.stop()
        decisions = [json.loads(l) for l in out.splitlines()]
        expect(rc == 1 and decisions[-1]["action"] == "rollback", (rc, out, err))
        expect("rollout 3 of flip rolled back: " in err and "gate agreement min 0.95 failed" in err,
               err)


def test_usage_and_refusals():
    with daemon() as d:
        rc, out, err = ctl(d, "help", "rollout")
        expect(rc == 0 and "modelctl rollout - " in out and "--follow" in out, (rc, out))
        rc, out, err = ctl(d, "rollouts", "--help")
        expect(rc == 0 and "modelctl rollouts - " in out, (rc, out))
        rc, out, err = ctl(d, "--help")
        expect(rc == 0 and "  rollout " in out and "  strategy " in out, out)
        for args, fragment in (
                (["rollout"], "missing SUBCOMMAND"),
                (["rollout", "explode", "good"], "unknown subcommand 'explode'"),
                (["rollout", "start", "good"], "missing CANDIDATE"),
                (["rollout", "start"], "missing MODEL"),
                (["rollout", "start", "good", "1", "--strategy", "not a name!"],
                 "--strategy: 'not a name!' is neither a JSON object, a file nor a stored "
                 "strategy's name"),
                (["rollout", "start", "good", "1", "--strategy", "{\"kind\":"], "--strategy: not JSON"),
                (["rollout", "start", "good", "1", "--strategy", "[1]"],
                 "is neither a JSON object"),
                (["rollout", "start", "good", "1", "--colour", "blue"], "unknown option"),
                (["rollout", "status", "good", "first"], "ID: 'first' is not a rollout's id"),
                (["rollout", "status"], "missing MODEL"),
                (["rollout", "pause", "good", "1", "2"], "unexpected argument '2'"),
                (["rollout", "pause", "good", "--note"], "option '--note' needs a value"),
                (["rollouts"], "missing MODEL")):
            rc, out, err = ctl(d, *args)
            expect(rc == 2 and fragment in err, (args, rc, err))
        for args, fragment in (
                (["rollout", "start", "nosuch", "1"], "unknown model 'nosuch'"),
                (["rollout", "start", "good", "9"], "candidate: model 'good' has no version 9"),
                (["rollout", "start", "good", "2"], "candidate: version 2 is the champion"),
                (["rollout", "start", "good", "1", "--strategy", "careful"],
                 "strategy: no stored strategy named 'careful'"),
                (["rollout", "start", "good", "1", "--strategy", '{"kind": "canary", "steps": [7]}'],
                 "strategy.steps"),
                (["rollout", "status", "good"], "model 'good' has no rollout"),
                (["rollout", "status", "good", "4"], "model 'good' has no rollout 4"),
                (["rollout", "promote", "good", "4"], "model 'good' has no rollout 4"),
                (["rollouts", "nosuch"], "unknown model 'nosuch'")):
            rc, out, err = ctl(d, *args)
            expect(rc == 1 and fragment in err, (args, rc, err))
        st, doc, _ = d.json("GET", "/api/v1/models/good/rollouts")
        expect(doc["rollouts"] == [], doc)
        # A second rollout while one is active.
        rc, out, err = ctl(d, "rollout", "start", "good", "1")
        expect(rc == 0, (rc, out, err))
        rc, out, err = ctl(d, "rollout", "start", "good", "1")
        expect(rc == 1 and "model 'good' has an active rollout (1)" in err, (rc, err))


if __name__ == "__main__":
    run([test_strategies, test_start_follow_promoted, test_commands_and_outcomes,
         test_usage_and_refusals])
