#!/usr/bin/python3
"""Progressive rollouts end to end, bad candidates rolled back by the
control loop alone, under real traffic from several client threads, with
no failed request seen by any client and the champion answering
throughout:

- a candidate whose labels differ from the champion's on every row (the
  champion's trees with every leaf negated) fails the agreement gate on
  the mirrored requests of its first canary step;
- the same candidate as a shadow first (shadow_canary) fails in the shadow
  stage: it never answers a client;
- a candidate that fails requests (a linear model without a fill for an
  optional feature: every request that leaves it out fails in the engine,
  a 500) fails the error-rate gate; each of its failures was retried on
  the champion (route "retry"), so clients saw only answers.
"""
from harness import expect, run, wait_for
import rolloutlib as rl


def flip_daemon():
    return rl.RolloutDaemon(lambda repo: rl.trees_model(
        repo, "flip", {1: rl.flipped(rl.BINARY), 2: rl.BINARY}))


def check_rolled_back(d, model, rid, counts, failures, metric):
    doc = rl.get(d, model, rid)
    expect(doc["phase"] == "rolled_back", doc)
    last = doc["decisions"][-1]
    expect(last["action"] == "rollback" and last["cause"] == "gates", last)
    failed = last["gates"][last["failed"]]
    expect(failed["metric"] == metric and failed["result"] == "failed", last["gates"])
    expect("rolled back" in doc["state"]["reason"] and metric in doc["state"]["reason"],
           doc["state"])
    expect("promote" not in rl.actions(doc), rl.actions(doc))
    # All traffic back on the champion, which is still the champion.
    expect(rl.weights(d, model) == ({"2": 100}, {}, 0), rl.traffic(d, model))
    expect(rl.champion(d, model) == "2", rl.champion(d, model))
    kinds = [e["kind"] for e in rl.events(d, model) if e["kind"].startswith("rollout_")]
    expect(kinds[0] == "rollout_started" and kinds[-1] == "rollout_rolled_back", kinds)
    ev = [e for e in rl.events(d, model, "rollout_rolled_back")][-1]
    expect(ev["details"]["gates"][ev["details"]["failed"]]["metric"] == metric, ev)
    # No client saw a failure, and the champion answered.
    expect(not failures, failures[:5])
    expect({k[0] for k in counts} == {200}, counts)
    expect(counts[(200, "2", "stable")] > 0, counts)
    return doc


def test_disagreeing_candidate_rolled_back():
    with flip_daemon() as d:
        rows = rl.binary_rows()
        doc = rl.start(d, "flip", {"candidate": "1", "strategy": {
            "kind": "canary", "steps": [10, 50, 100], "interval_s": 1, "min_requests": 10,
            "mirror": 1, "gates": [{"metric": "error_rate", "max_delta": 0.01},
                                   {"metric": "agreement", "min": 0.95, "min_samples": 10}],
            "inconclusive": {"after_s": 60, "action": "pause"}}})
        rid = doc["id"]
        # The candidate (loaded now) really disagrees: its label differs on every row.
        for body in rows[:10]:
            st, a, _ = d.json("POST", "/v2/models/flip/versions/2/infer", body)
            expect(st == 200, (st, a))
            st, b, _ = d.json("POST", "/v2/models/flip/versions/1/infer", body)
            expect(st == 200, (st, b))
            pa, pb = a["outputs"][0]["data"][0], b["outputs"][0]["data"][0]
            expect(abs(pa + pb - 1) < 1e-5 and abs(pa - 0.5) > 1e-3, (pa, pb))
        t = rl.Traffic(d.port, "/v2/models/flip/infer", rows)
        try:
            rl.wait_phase(d, "flip", rid, ("rolled_back", "promoted", "paused"), 30)
            n = t.total()
            expect(wait_for(lambda: t.total() > n + 50, 20), t.snapshot())
        finally:
            counts = t.stop()
        doc = check_rolled_back(d, "flip", rid, counts, t.failures, "agreement")
        agreement = doc["decisions"][-1]["gates"][doc["decisions"][-1]["failed"]]
        expect(agreement["candidate"] < 0.05 and agreement["samples"]["candidate"] >= 10,
               agreement)
        # It never got past its first step.
        expect("advance" not in rl.actions(doc), rl.actions(doc))
        expect(doc["decisions"][-1]["step"] == 0, doc["decisions"][-1])
        # The comparison the gate read.
        st, cmp, _ = d.json("GET", "/api/v1/models/flip/comparison")
        pair = [p for p in cmp["pairs"] if p["a"] == "2" and p["b"] == "1"]
        expect(st == 200 and pair and pair[0]["agreement"] < 0.05, cmp)


def test_disagreeing_shadow_rolled_back():
    with flip_daemon() as d:
        doc = rl.start(d, "flip", {"candidate": 1, "strategy": {
            "kind": "shadow_canary", "shadow_s": 1, "steps": [50, 100], "interval_s": 1,
            "min_requests": 10, "gates": [{"metric": "agreement", "min": 0.95}]}})
        rid = doc["id"]
        t = rl.Traffic(d.port, "/v2/models/flip/infer", rl.binary_rows())
        try:
            rl.wait_phase(d, "flip", rid, ("rolled_back", "promoted", "paused"), 30)
        finally:
            counts = t.stop()
        doc = check_rolled_back(d, "flip", rid, counts, t.failures, "agreement")
        expect(doc["decisions"][-1]["stage"] == "shadow", doc["decisions"][-1])
        # A shadow answers nobody.
        expect(set(counts) == {(200, "2", "stable")}, counts)


def test_failing_candidate_rolled_back():
    def build(repo):
        rl.linear_model(repo, "skew", {1: False, 2: True})

    with rl.RolloutDaemon(build) as d:
        rows = rl.linear_rows()
        doc = rl.start(d, "skew", {"candidate": "1", "strategy": {
            "kind": "canary", "steps": [25, 50, 100], "interval_s": 1, "min_requests": 10,
            "gates": [{"metric": "error_rate", "max_delta": 0.01},
                      {"metric": "latency_p99", "max": 0.5}]}})
        rid = doc["id"]
        # The candidate (loaded now) fails a request without x3 in its engine,
        # answers the others.
        st, doc, _ = d.json("POST", "/v2/models/skew/versions/1/infer", rows[1])
        expect(st == 500 and "no fill" in doc["error"], (st, doc))
        st, doc, _ = d.json("POST", "/v2/models/skew/versions/1/infer", rows[0])
        expect(st == 200, (st, doc))
        t = rl.Traffic(d.port, "/v2/models/skew/infer", rows)
        try:
            rl.wait_phase(d, "skew", rid, ("rolled_back", "promoted", "paused"), 30)
        finally:
            counts = t.stop()
        doc = check_rolled_back(d, "skew", rid, counts, t.failures, "error_rate")
        gate = doc["decisions"][-1]["gates"][0]
        expect(gate["candidate"] > 0.3 and gate["champion"] == 0, gate)
        # The candidate's failures were answered by the champion.
        expect(counts[(200, "2", "retry")] > 0, counts)
        expect(counts[(200, "1", "canary")] > 0, counts)
        st, text, _ = d.request("GET", "/metrics")
        expect(st == 200, st)
        lines = [l for l in text.decode().splitlines()
                 if l.startswith("modeld_inference_requests_total{") and 'model="skew"' in l]
        expect([l for l in lines if 'version="2",route="retry"' in l], lines)


if __name__ == "__main__":
    run([test_disagreeing_candidate_rolled_back, test_disagreeing_shadow_rolled_back,
         test_failing_candidate_rolled_back])
