#!/usr/bin/python3
"""Aliases: set, moved and removed through /api/v1/models/{m}/aliases, each
with its event; an alias works wherever a version number does: V2
/v2/models/{m}/versions/{alias}/infer, its metadata and readiness, and TF
Serving's /v1/models/{m}/labels/{label}:predict with its status and
metadata forms. A call naming a version or alias bypasses the policy (route
"direct"); a removed alias is an error naming it."""
import shutil

from harness import Daemon, expect, expect_error, run
import trafficlib as T


def v2_infer(d, model, version):
    st, doc, h = d.json("POST", "/v2/models/%s/versions/%s/infer" % (model, version),
                        T.BODY, {"Content-Type": "application/json"})
    return st, doc, h


def tfs_predict(d, model, label):
    return d.json("POST", "/v1/models/%s/labels/%s:predict" % (model, label), T.TFS_BODY)


def test_alias_set_move_remove_everywhere():
    repo = T.make_repo({"m": ([1, 2], "")})
    with Daemon(repo=repo) as d:
        # The first start names the version that serves champion.
        expect(T.aliases(d, "m") == {"champion": "2"}, T.aliases(d, "m"))
        # Set: version 1 is outside version_policy (latest: 1); the alias loads it.
        doc = T.set_alias(d, "m", "candidate", "1")
        expect(doc == {"model": "m", "alias": "candidate", "version": "1"}, doc)
        expect(T.aliases(d, "m") == {"champion": "2", "candidate": "1"}, T.aliases(d, "m"))
        vs = T.versions(d, "m")
        expect(vs["1"]["aliases"] == ["candidate"] and vs["1"]["state"] == "READY", vs["1"])
        expect(vs["2"]["aliases"] == ["champion"], vs["2"])
        # V2: infer, metadata, readiness through the alias.
        st, doc, h = v2_infer(d, "m", "candidate")
        expect(st == 200 and doc["model_version"] == "1", (st, doc))
        expect(h["x-model-version"] == "1" and h["x-model-route"] == "direct", h)
        st, doc, _ = d.json("GET", "/v2/models/m/versions/candidate")
        expect(st == 200 and doc["name"] == "m" and doc["versions"] == ["1"], (st, doc))
        st, _, _ = d.request("GET", "/v2/models/m/versions/candidate/ready")
        expect(st == 200, st)
        # TF Serving: a label is an alias.
        st, doc, h = tfs_predict(d, "m", "candidate")
        expect(st == 200 and doc["model_version"] == "1", (st, doc))
        expect(h["x-model-version"] == "1" and h["x-model-route"] == "direct", h)
        st, doc, _ = d.json("GET", "/v1/models/m/labels/candidate")
        expect(st == 200 and doc["model_version_status"][0]["version"] == "1", (st, doc))
        expect(doc["model_version_status"][0]["state"] == "AVAILABLE", doc)
        st, doc, _ = d.json("GET", "/v1/models/m/labels/candidate/metadata")
        expect(st == 200 and doc["model_spec"]["version"] == "1", (st, doc))
        # A call that names no version follows the policy: the champion's route.
        c = T.conn(d)
        st, v, route, _ = T.infer(c, "m")
        expect((st, v, route) == (200, "2", "stable"), (st, v, route))
        # Move (to what another alias names, and by a JSON integer).
        doc = T.set_alias(d, "m", "candidate", "champion")
        expect(doc["version"] == "2", doc)
        st, doc, _ = v2_infer(d, "m", "candidate")
        expect(st == 200 and doc["model_version"] == "2", (st, doc))
        doc = T.set_alias(d, "m", "candidate", 1)
        expect(doc["version"] == "1", doc)
        st, v, route, _ = T.infer(c, "m", version="candidate")
        expect((st, v, route) == (200, "1", "direct"), (st, v, route))
        c.close()
        # Setting the value it has already stores nothing new.
        n = len(T.events(d, model="m", kind="alias_moved")["events"])
        T.set_alias(d, "m", "candidate", "1")
        expect(len(T.events(d, model="m", kind="alias_moved")["events"]) == n, "event for no change")
        # Remove.
        st, doc, _ = d.json("DELETE", "/api/v1/models/m/aliases/candidate")
        expect(st == 200 and doc == {"model": "m", "alias": "candidate", "version": None},
               (st, doc))
        expect(T.aliases(d, "m") == {"champion": "2"}, T.aliases(d, "m"))
        st, doc, _ = v2_infer(d, "m", "candidate")
        expect_error(st, doc, 404, "candidate")
        st, doc, _ = tfs_predict(d, "m", "candidate")
        expect_error(st, doc, 400, "Unrecognized servable version label: candidate")
        st, doc, _ = d.json("GET", "/v1/models/m/labels/candidate")
        expect_error(st, doc, 400, "candidate")
        st, doc, _ = d.json("DELETE", "/api/v1/models/m/aliases/candidate")
        expect_error(st, doc, 404, "no alias 'candidate'")
        # Unaliased and outside version_policy again: version 1 is unloaded.
        expect(T.rescan(d, lambda: T.versions(d, "m")["1"]["state"] == "UNAVAILABLE"),
               T.versions(d, "m")["1"])
        # Each change left its event, newest first.
        got = [(e["kind"], e["details"]["alias"], e["details"]["version"])
               for e in T.events(d, model="m")["events"] if e["kind"].startswith("alias_")]
        expect(got == [("alias_removed", "candidate", 0), ("alias_moved", "candidate", 1),
                       ("alias_moved", "candidate", 2), ("alias_moved", "candidate", 1)], got)
    shutil.rmtree(repo)


def test_alias_in_a_policy_resolves_when_set():
    """A route may name an alias: it is resolved to its number when the policy
    is stored (the policy reads back with both), and moving the alias later
    does not move the route."""
    repo = T.make_repo({"m": ([1, 2], "")})
    with Daemon(repo=repo) as d:
        T.set_alias(d, "m", "old", "1")
        T.set_traffic(d, "m", {"routes": [{"name": "stable", "version": "champion", "weight": 50},
                                          {"name": "canary", "version": "old", "weight": 50}]})
        pol = T.traffic(d, "m")["policy"]["routes"]
        expect([(r["name"], r["version"], r.get("alias")) for r in pol] ==
               [("stable", "2", "champion"), ("canary", "1", "old")], pol)
        T.set_alias(d, "m", "old", "2")
        expect(T.routes(T.traffic(d, "m"))["canary"] == ("1", 50), T.traffic(d, "m"))
        counts = T.tally(d.port, "m", 200, threads=2)
        expect(set(counts) == {("2", "stable"), ("1", "canary")}, counts)
    shutil.rmtree(repo)


if __name__ == "__main__":
    run([test_alias_set_move_remove_everywhere, test_alias_in_a_policy_resolves_when_set])
