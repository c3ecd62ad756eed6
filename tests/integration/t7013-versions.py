#!/usr/bin/python3
"""The registry of versions against the repository directory: every version
registered on first sight (sha256, size, source, contract hash) and listed
with its state, aliases and share of traffic; new_versions: serve moves the
policy to a version dropped in the directory (with an event), register
leaves it; a changed artifact under a registered number is refused with the
reason while the old one keeps serving, and stays refused after a restart;
a version outside version_policy is loaded while a policy or an alias names
it; archiving unloads a version and keeps its record."""
import hashlib
import os
import shutil
import tempfile

from harness import Daemon, expect, expect_error, run
import trafficlib as T


def sha256_of(repo, model, v):
    with open(os.path.join(repo, model, str(v), "model.json"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def answers(d, model):
    c = T.conn(d)
    try:
        st, v, route, data = T.infer(c, model)
        expect(st == 200, (st, data[:200]))
        return v, route
    finally:
        c.close()


def test_registered_on_first_sight_and_listed():
    repo = T.make_repo({"m": ([1, 2], "")})
    with Daemon(repo=repo) as d:
        st, doc, _ = d.json("GET", "/api/v1/models/m/versions")
        expect(st == 200 and doc["model"] == "m" and doc["champion"] == "2", doc)
        expect(doc["policy_revision"] == T.traffic(d, "m")["revision"], doc)
        vs = {v["version"]: v for v in doc["versions"]}
        for v in ("1", "2"):
            e = vs[v]
            for key in ("state", "reason", "sha256", "size", "created", "source", "engine",
                        "contract_sha256", "metadata", "aliases", "routes", "traffic_percent"):
                expect(key in e, "version %s lacks %r: %r" % (v, key, e))
            expect(e["registered"] is True and e["source"] == "repository", e)
            expect(e["sha256"] == sha256_of(repo, "m", v), e)
            expect(e["size"] == os.path.getsize(os.path.join(repo, "m", v, "model.json")), e)
            expect(e["engine"] == "trees" and len(e["contract_sha256"]) == 64, e)
        expect(vs["2"]["state"] == "READY" and vs["2"]["traffic_percent"] == 100, vs["2"])
        expect(vs["1"]["state"] == "UNAVAILABLE" and vs["1"]["traffic_percent"] == 0, vs["1"])
        expect(vs["1"]["contract_sha256"] == vs["2"]["contract_sha256"], vs)
        regs = [e for e in T.events(d, model="m", kind="version_registered")["events"]]
        expect(sorted(e["details"]["version"] for e in regs) == [1, 2], regs)
        # The first start stored a policy pinning what serves, with its event.
        pol = T.traffic(d, "m")
        expect(T.routes(pol) == {"stable": ("2", 100)} and pol["revision"] == 1, pol)
        first = T.events(d, model="m", kind="policy_changed")["events"]
        expect(len(first) == 1 and "first policy" in first[0]["message"], first)
        st, doc, _ = d.json("GET", "/api/v1/models/nosuch/versions")
        expect_error(st, doc, 404, "nosuch")
    shutil.rmtree(repo)


def test_new_versions_serve_and_register():
    repo = T.make_repo({"s": ([1], ""), "r": ([1], "new_versions: register\n"),
                        "c": ([1, 2], "")})
    with Daemon(repo=repo) as d:
        # c runs an experiment: a policy that is not a pin is not moved.
        T.set_traffic(d, "c", {"routes": [{"name": "a", "version": "1", "weight": 50},
                                          {"name": "b", "version": "2", "weight": 50}]})
        revs = {m: T.traffic(d, m)["revision"] for m in ("s", "r", "c")}
        for m, v in (("s", "2"), ("r", "2"), ("c", "3")):
            T.add_version(repo, m, int(v))
        expect(T.rescan(d, lambda: all(T.versions(d, m).get(v, {}).get("state") == "READY"
                                       for m, v in (("s", "2"), ("r", "2"), ("c", "3")))),
               [T.versions(d, m) for m in ("s", "r", "c")])
        # serve: the policy moved to version 2, with its event; champion moved too.
        pol = T.traffic(d, "s")
        expect(T.routes(pol) == {"stable": ("2", 100)} and pol["revision"] == revs["s"] + 1, pol)
        expect(answers(d, "s") == ("2", "stable"), answers(d, "s"))
        expect(T.aliases(d, "s")["champion"] == "2", T.aliases(d, "s"))
        # ... and version 1, named by nothing now, retired in that same scan.
        expect(T.versions(d, "s")["1"]["state"] == "UNAVAILABLE", T.versions(d, "s")["1"])
        moved = T.events(d, model="s", kind="policy_changed")["events"][0]
        expect("new version 2" in moved["message"] and "new_versions: serve" in moved["message"],
               moved)
        # register: version 2 is registered and loaded, the policy still pins 1.
        pol = T.traffic(d, "r")
        expect(T.routes(pol) == {"stable": ("1", 100)} and pol["revision"] == revs["r"], pol)
        expect(answers(d, "r") == ("1", "stable"), answers(d, "r"))
        expect(T.aliases(d, "r")["champion"] == "1", T.aliases(d, "r"))
        vs = T.versions(d, "r")
        expect(vs["2"]["registered"] and vs["2"]["traffic_percent"] == 0, vs["2"])
        expect(vs["1"]["state"] == "READY", vs["1"])  # named by the policy: kept loaded
        c = T.conn(d)
        st, v, route, _ = T.infer(c, "r", version="2")
        c.close()
        expect((st, v, route) == (200, "2", "direct"), (st, v, route))
        # It gets traffic through a policy change only.
        T.set_traffic(d, "r", {"routes": [{"version": "2"}]}, revision=revs["r"])
        expect(answers(d, "r") == ("2", "stable"), answers(d, "r"))
        # c: an experiment is left as it is.
        pol = T.traffic(d, "c")
        expect(pol["revision"] == revs["c"] and set(T.routes(pol)) == {"a", "b"}, pol)
        expect(T.versions(d, "c")["3"]["traffic_percent"] == 0, T.versions(d, "c")["3"])
    shutil.rmtree(repo)


def test_policy_put_meeting_a_new_version():
    """A PUT whose check finds a new version (new_versions: serve) in the
    directory: the move to it is stored and served, and a PUT that named the
    revision before it is refused; what the daemon serves is what it stored."""
    repo = T.make_repo({"m": ([1, 2], "")})
    data = tempfile.mkdtemp(prefix="modeld-data-")
    with Daemon(repo=repo, data=data) as d:
        rev = T.traffic(d, "m")["revision"]
        T.add_version(repo, "m", 3)  # no re-scan yet: the PUT's check finds it
        st, doc, _ = d.json("PUT", "/api/v1/models/m/traffic", {"routes": [{"version": "1"}]},
                            {"If-Match": '"%d"' % rev})
        expect_error(st, doc, 409, "at revision %d, not %d" % (rev + 1, rev))
        pol = T.traffic(d, "m")
        expect(pol["revision"] == rev + 1 and T.routes(pol) == {"stable": ("3", 100)}, pol)
        expect(answers(d, "m") == ("3", "stable"), answers(d, "m"))
        # Without If-Match the operator's policy replaces the move.
        T.add_version(repo, "m", 4)
        doc = T.set_traffic(d, "m", {"routes": [{"version": "1"}]})
        expect(doc["revision"] == rev + 3, doc)
        expect(answers(d, "m") == ("1", "stable"), answers(d, "m"))
        served = T.traffic(d, "m")
    with Daemon(repo=repo, data=data) as d:
        got = T.traffic(d, "m")
        expect(got["revision"] == served["revision"] and got["policy"] == served["policy"],
               (got, served))
    shutil.rmtree(repo)
    shutil.rmtree(data)


def test_changed_artifact_is_refused_and_old_keeps_serving():
    repo = T.make_repo({"m": ([1, 2], "")})
    data = tempfile.mkdtemp(prefix="modeld-data-")
    with Daemon(repo=repo, data=data) as d:
        was = T.versions(d, "m")["2"]["sha256"]
        T.add_version(repo, "m", 2, variant=7)  # other bytes under number 2
        expect(T.rescan(d, lambda: "add a version instead" in T.versions(d, "m")["2"]["reason"]),
               T.versions(d, "m")["2"])
        e = T.versions(d, "m")["2"]
        expect(e["sha256"] == was and "immutable" in e["reason"], e)
        expect(answers(d, "m") == ("2", "stable"), "the old version 2 stopped serving")
        expect("version artifact changed in place" in d.logs(), d.logs()[-2000:])
        expect(e["state"] == "READY", e)
    # After a restart the changed file is still not version 2.
    with Daemon(repo=repo, data=data) as d:
        e = T.versions(d, "m")["2"]
        expect(e["state"] == "UNAVAILABLE" and "add a version instead" in e["reason"], e)
        expect(e["sha256"] == was, e)
        st, doc, _ = d.json("POST", "/v2/models/m/versions/2/infer", T.BODY)
        expect_error(st, doc, 503, "add a version instead")
        # Putting the registered bytes back makes it version 2 again.
        T.add_version(repo, "m", 2)
        expect(T.rescan(d, lambda: T.versions(d, "m")["2"]["state"] == "READY"),
               T.versions(d, "m")["2"])
        expect(answers(d, "m") == ("2", "stable"), answers(d, "m"))
    shutil.rmtree(repo)
    shutil.rmtree(data)


def test_policy_and_alias_load_versions_outside_version_policy():
    repo = T.make_repo({"m": ([1, 2, 3], "")})  # latest: 1 loads 3 only
    with Daemon(repo=repo) as d:
        vs = T.versions(d, "m")
        expect([vs[v]["state"] for v in "123"] == ["UNAVAILABLE", "UNAVAILABLE", "READY"], vs)
        T.set_traffic(d, "m", {"routes": [{"name": "stable", "version": "3", "weight": 50},
                                          {"name": "old", "version": "1", "weight": 50}]})
        expect(T.versions(d, "m")["1"]["state"] == "READY", T.versions(d, "m")["1"])
        counts = T.tally(d.port, "m", 200, threads=2)
        expect(set(counts) == {("3", "stable"), ("1", "old")}, counts)
        T.set_alias(d, "m", "two", "2")
        expect(T.versions(d, "m")["2"]["state"] == "READY", T.versions(d, "m")["2"])
        # No longer named: unloaded with the change (--poll 0: no scan would come).
        T.set_traffic(d, "m", {"routes": [{"version": "3"}]})
        vs = T.versions(d, "m")
        expect(vs["1"]["state"] == "UNAVAILABLE" and vs["2"]["state"] == "READY", vs)
        st, _, _ = d.request("DELETE", "/api/v1/models/m/aliases/two")
        expect(st == 200, st)
        expect(T.versions(d, "m")["2"]["state"] == "UNAVAILABLE", T.versions(d, "m"))
    shutil.rmtree(repo)


def test_archive_and_restore():
    repo = T.make_repo({"m": ([1, 2], "version_policy:\n  all: true\n")})
    with Daemon(repo=repo) as d:
        T.set_alias(d, "m", "old", "1")
        st, doc, _ = d.json("POST", "/api/v1/models/m/versions/1/archive")
        expect_error(st, doc, 409, "alias 'old'")
        d.request("DELETE", "/api/v1/models/m/aliases/old")
        st, doc, _ = d.json("POST", "/api/v1/models/m/versions/2/archive")
        expect_error(st, doc, 409, "traffic policy")
        st, doc, _ = d.json("POST", "/api/v1/models/m/versions/1/archive")
        expect(st == 200 and doc == {"model": "m", "version": "1", "archived": True}, (st, doc))
        e = T.versions(d, "m")["1"]
        expect(e["state"] == "ARCHIVED" and e["sha256"], e)
        st, doc, _ = d.json("POST", "/v2/models/m/versions/1/infer", T.BODY)
        expect(st in (404, 503), (st, doc))
        expect(os.path.exists(os.path.join(repo, "m", "1", "model.json")), "files removed")
        st, doc, _ = d.json("POST", "/api/v1/models/m/versions/1/restore")
        expect(st == 200 and doc["archived"] is False, (st, doc))
        expect(T.rescan(d, lambda: T.versions(d, "m")["1"]["state"] == "READY"),
               T.versions(d, "m")["1"])
        kinds = [e["kind"] for e in T.events(d, model="m")["events"][:2]]
        expect(kinds == ["version_restored", "version_archived"], kinds)
    shutil.rmtree(repo)


if __name__ == "__main__":
    run([test_registered_on_first_sight_and_listed, test_new_versions_serve_and_register,
         test_policy_put_meeting_a_new_version, test_changed_artifact_is_refused_and_old_keeps_serving,
         test_policy_and_alias_load_versions_outside_version_policy, test_archive_and_restore])
