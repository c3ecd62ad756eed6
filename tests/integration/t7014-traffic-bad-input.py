#!/usr/bin/python3
"""Bad input to every endpoint of /api/v1 for versions, traffic, aliases and
events: each answers a 4xx whose {"error"} names the field and the reason,
and none changes anything: after each refused policy the GET shows the same
revision and policy, after each refused alias the same aliases, and no
event is added."""
import os
import shutil

from harness import Daemon, expect, expect_error, run
import trafficlib as T


def route(name, version, weight):
    return {"name": name, "version": version, "weight": weight}


def two(w1=90, w2=10, v1="2", v2="1"):
    return {"routes": [route("stable", v1, w1), route("canary", v2, w2)]}


# (body, status, fragment of the error): PUT /api/v1/models/m/traffic
POLICIES = [
    ("{bad", 400, "invalid JSON"),
    ("", 400, "invalid JSON"),
    ("[]", 400, "must be a JSON object"),
    ('{"routes": [{"version": "2"}], "routes": []}', 400, "duplicate"),
    ({"routes": [{"version": "2"}], "colour": "blue"}, 400, "colour: unknown field"),
    ({"routes": [{"version": "2", "colour": "blue"}]}, 400, "routes[0].colour: unknown field"),
    ({}, 400, "routes: required"),
    ({"routes": []}, 400, "routes: must be an array of 1 to 8 routes"),
    ({"routes": [route("r%d" % i, "2", 1) for i in range(9)]}, 400, "1 to 8 routes"),
    ({"routes": "2"}, 400, "routes: must be an array"),
    ({"routes": [7]}, 400, "routes[0]: must be an object"),
    (two(90, -10), 400, "routes[1].weight: must be an integer from 0 to 1000000"),
    (two(1000001, 10), 400, "routes[0].weight: must be an integer from 0 to 1000000"),
    (two(90, 10.5), 400, "routes[1].weight: must be an integer"),
    (two(90, "10"), 400, "routes[1].weight: must be an integer"),
    (two(0, 0), 400, "routes: at least one route needs a positive weight"),
    ({"routes": [{"version": "2", "weight": 0}]}, 400, "at least one route needs a positive"),
    ({"routes": [{"version": "2", "weight": 90}, route("canary", "1", 10)]}, 400,
     "routes[0].name: required when there are two or more routes"),
    ({"routes": [route("stable", "2", 90), {"name": "canary", "version": "1"}]}, 400,
     "routes[1].weight: required"),
    ({"routes": [route("stable", "2", 90), route("stable", "1", 10)]}, 400,
     "routes[1].name: 'stable' is used by routes[0]"),
    ({"routes": [route("direct", "2", 90)]}, 400, "routes[0].name: 'direct' is reserved"),
    ({"routes": [route("shadow", "2", 90)]}, 400, "'shadow' is reserved"),
    ({"routes": [route("9lives", "2", 90)]}, 400, "routes[0].name: must be a letter"),
    ({"routes": [{"name": "stable"}]}, 400, "routes[0].version: required"),
    (two(v2="9"), 400, "routes[1].version: model 'm' has no version 9"),
    (two(v2="nosuch"), 400, "routes[1].version: model 'm' has no alias 'nosuch'"),
    (two(v2="01"), 400, "routes[1].version: '01' is not a version number"),
    (two(v2=-1), 400, "routes[1].version: must be a version number"),
    (two(v2=0), 400, "routes[1].version: must be a version number"),
    (two(v2=True), 400, "routes[1].version: must be a version number or an alias"),
    (two(v2="3"), 400, "routes[1].version: version 3 of model 'm' is archived"),
    (two(v2="4"), 400, "routes[1].version: version 4 of model 'm' does not serve"),
    ({"routes": [{"version": "2"}], "sticky": {}}, 400, "sticky: give either"),
    ({"routes": [{"version": "2"}], "sticky": {"header": "X-User-Id", "key": "u"}}, 400,
     "sticky: give either"),
    ({"routes": [{"version": "2"}], "sticky": {"header": "X User"}}, 400, "sticky.header"),
    ({"routes": [{"version": "2"}], "sticky": {"header": "X-U", "salt": "a b"}}, 400,
     "sticky.salt"),
    ({"routes": [{"version": "2"}], "sticky": "X-User-Id"}, 400, "sticky: must be an object"),
    ({"routes": [{"version": "2"}], "shadows": [{"version": "1", "fraction": 0}]}, 400,
     "shadows[0].fraction: must be a number greater than 0 and at most 1"),
    ({"routes": [{"version": "2"}], "shadows": [{"version": "1", "fraction": 1.5}]}, 400,
     "shadows[0].fraction"),
    ({"routes": [{"version": "2"}], "shadows": [{"version": "2"}]}, 400,
     "shadows[0].version: version 2 already takes traffic on route 'stable'"),
    # The same, found once the alias is resolved.
    ({"routes": [{"version": "champion"}], "shadows": [{"version": "2"}]}, 400,
     "shadows[0].version: version 2 already takes traffic on route 'stable'"),
    ({"routes": [{"version": "2"}], "shadows": [{"version": "9"}]}, 400,
     "shadows[0].version: model 'm' has no version 9"),
    ({"routes": [{"version": "2"}], "mirror": 2}, 400, "mirror: must be a number from 0 to 1"),
]


def test_bad_policies_change_nothing():
    # Versions 1 and 2 serve, 3 is archived below, 4 does not load.
    repo = T.make_repo({"m": ([1, 2, 3], "version_policy:\n  all: true\n")})
    os.makedirs(os.path.join(repo, "m", "4"))
    with open(os.path.join(repo, "m", "4", "model.json"), "w") as f:
        f.write("{not a model")
    with Daemon(repo=repo) as d:
        T.set_traffic(d, "m", two())
        T.set_alias(d, "m", "champion", "2")
        st, _, _ = d.request("POST", "/api/v1/models/m/versions/3/archive")
        expect(st == 200, st)
        before = T.traffic(d, "m")
        n_events = len(T.events(d, limit=1000)["events"])
        for body, status, fragment in POLICIES:
            st, doc, _ = d.json("PUT", "/api/v1/models/m/traffic", body)
            expect_error(st, doc, status, fragment)
            now = T.traffic(d, "m")
            expect(now["revision"] == before["revision"] and now["policy"] == before["policy"],
                   "after %r: %r" % (body, now))
        # Revisions: a stale or malformed If-Match.
        for value, status, fragment in (('"1"', 409, "is at revision 2, not 1"),
                                        ("7", 409, "not 7"), ('"x"', 400, "If-Match"),
                                        ('"0"', 400, "If-Match"), ("", 400, "If-Match")):
            st, doc, _ = d.json("PUT", "/api/v1/models/m/traffic", two(80, 20),
                                {"If-Match": value})
            expect_error(st, doc, status, fragment)
            expect(T.traffic(d, "m")["revision"] == before["revision"], value)
        # Unknown model.
        st, doc, _ = d.json("PUT", "/api/v1/models/nosuch/traffic", two())
        expect_error(st, doc, 404, "unknown model 'nosuch'")
        for path in ("traffic", "versions", "aliases"):
            st, doc, _ = d.json("GET", "/api/v1/models/nosuch/" + path)
            expect_error(st, doc, 404, "nosuch")
        expect(len(T.events(d, limit=1000)["events"]) == n_events, "a refusal added an event")
        # And the right If-Match is taken.
        doc = T.set_traffic(d, "m", two(80, 20), revision=before["revision"])
        expect(doc["revision"] == before["revision"] + 1, doc)
    shutil.rmtree(repo)


def test_bad_aliases_change_nothing():
    repo = T.make_repo({"m": ([1, 2, 3], "")})
    with Daemon(repo=repo) as d:
        T.set_alias(d, "m", "old", "1")
        T.set_traffic(d, "m", {"routes": [{"version": "2"}]})
        T.set_alias(d, "m", "champion", "2")
        st, _, _ = d.request("POST", "/api/v1/models/m/versions/3/archive")
        expect(st == 200, st)
        before = T.aliases(d, "m")
        n_events = len(T.events(d, limit=1000)["events"])
        for alias, body, status, fragment in (
                ("x", "{bad", 400, "malformed JSON"),
                ("x", "", 400, "malformed JSON"),
                ("x", "[1]", 400, "must be a JSON object"),
                ("x", {"version": "1", "colour": "red"}, 400, "colour: unknown field"),
                ("x", {}, 400, "version: required"),
                ("x", {"version": 0}, 400, "version: required, a version number"),
                ("x", {"version": -2}, 400, "version"),
                ("x", {"version": True}, 400, "version"),
                ("x", {"version": "01"}, 400, "version: '01' is not a version number or alias"),
                ("x", {"version": "a b"}, 400, "version: 'a b' is not a version number or alias"),
                ("x", {"version": "9"}, 400, "version: model 'm' has no version 9"),
                ("x", {"version": "nosuch"}, 400, "version: model 'm' has no alias 'nosuch'"),
                ("x", {"version": "3"}, 400, "version: version 3 of model 'm' is archived"),
                ("old", {"version": "3"}, 400, "is archived"),
                ("x.", {"version": "1"}, 200, None)):  # a valid name: the control case
            st, doc, _ = d.json("PUT", "/api/v1/models/m/aliases/%s" % alias, body)
            if status == 200:
                expect(st == 200, (st, doc))
                d.json("DELETE", "/api/v1/models/m/aliases/%s" % alias)
                continue
            expect_error(st, doc, status, fragment)
            expect(T.aliases(d, "m") == before, "after %r: %r" % (body, T.aliases(d, "m")))
        n_events += 2  # the control case's set and removal
        # Names that are not alias names: the path does not name an alias.
        for alias in ("9x", "-x", "a%20b", "%C3%A9t%C3%A9", "a" * 64):
            st, doc, _ = d.json("PUT", "/api/v1/models/m/aliases/%s" % alias, {"version": "1"})
            expect(st in (400, 404) and isinstance(doc, dict) and "error" in doc, (alias, st, doc))
        st, doc, _ = d.json("PUT", "/api/v1/models/nosuch/aliases/x", {"version": "1"})
        expect_error(st, doc, 404, "unknown model 'nosuch'")
        st, doc, _ = d.json("DELETE", "/api/v1/models/m/aliases/nosuch")
        expect_error(st, doc, 404, "has no alias 'nosuch'")
        st, doc, _ = d.json("DELETE", "/api/v1/models/nosuch/aliases/old")
        expect_error(st, doc, 404, "unknown model 'nosuch'")
        # Archive and restore.
        for path, status, fragment in (
                ("/api/v1/models/m/versions/9/archive", 404, "no registered version 9"),
                ("/api/v1/models/m/versions/9/restore", 404, "no registered version 9"),
                ("/api/v1/models/nosuch/versions/1/archive", 404, "unknown model 'nosuch'"),
                ("/api/v1/models/m/versions/nosuch/archive", 404, "no version or alias 'nosuch'"),
                ("/api/v1/models/m/versions/old/archive", 409, "named by alias 'old'"),
                ("/api/v1/models/m/versions/1/archive", 409, "named by alias 'old'"),
                ("/api/v1/models/m/versions/2/archive", 409, "named by the traffic policy")):
            st, doc, _ = d.json("POST", path)
            expect_error(st, doc, status, fragment)
        expect(T.aliases(d, "m") == before, T.aliases(d, "m"))
        expect(T.versions(d, "m")["1"]["state"] == "READY", T.versions(d, "m")["1"])
        expect(len(T.events(d, limit=1000)["events"]) == n_events, "a refusal added an event")
    shutil.rmtree(repo)


def test_bad_event_queries():
    with Daemon(repo=T.make_repo({"m": ([1], "")})) as d:
        for query, fragment in (("since=yesterday", "since: 'yesterday' is neither"),
                                ("until=2026-13-01T00:00:00Z", "until:"),
                                ("since=2026-01-01T00:00:00+02:00", "since:"),
                                ("since=-5", "since:"),
                                ("before=0", "before: '0' is not an event id"),
                                ("before=x", "before:"),
                                ("limit=0", "limit: '0' is not a number from 1 to 1000"),
                                ("limit=1001", "limit: '1001'"),
                                ("limit=ten", "limit:"),
                                ("model=" + "m" * 200, "model: longer than"),
                                ("kind=" + "k" * 200, "kind: longer than 127 bytes")):
            st, doc, _ = d.json("GET", "/api/v1/events?" + query)
            expect_error(st, doc, 400, fragment)
        shutil.rmtree(d.repo)


if __name__ == "__main__":
    run([test_bad_policies_change_nothing, test_bad_aliases_change_nothing,
         test_bad_event_queries])
