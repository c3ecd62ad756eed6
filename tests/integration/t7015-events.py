#!/usr/bin/python3
"""GET /api/v1/events: newest first; filters by model, kind and time (ms
since 1970 or an RFC 3339 UTC time; since inclusive, until exclusive);
pages of `limit` followed by `before=next_before` give every event once, in
order."""
import datetime
import shutil

from harness import Daemon, expect, run
import trafficlib as T


def iso(ms):
    t = datetime.datetime.fromtimestamp(ms / 1000.0, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def test_filters_and_paging():
    repo = T.make_repo({"a": ([1, 2], ""), "b": ([1, 2], "")})
    with Daemon(repo=repo) as d:
        for k in range(12):
            T.set_alias(d, "a", "x", str(1 + k % 2))
        for k in range(5):
            T.set_alias(d, "b", "y", str(1 + k % 2))
        T.set_traffic(d, "b", {"routes": [{"version": "1"}]})
        every = T.events(d, limit=1000)["events"]
        ids = [e["id"] for e in every]
        expect(ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids), ids)
        expect("next_before" not in T.events(d, limit=1000), "a next page after the last")
        for e in every:
            for key in ("id", "time", "at_ms", "model", "kind", "message", "details"):
                expect(key in e, (key, e))
        # Model and kind.
        a = T.events(d, model="a")["events"]
        expect(a and all(e["model"] == "a" for e in a), a)
        expect(len(a) == sum(1 for e in every if e["model"] == "a"), a)
        moved = T.events(d, model="a", kind="alias_moved")["events"]
        expect(len(moved) == 12, len(moved))
        expect([e["details"]["version"] for e in moved] == [2, 1] * 6, moved)
        expect(moved[0]["message"] == "alias 'x' moved from version 1 to 2", moved[0])
        expect(moved[-1]["message"] == "alias 'x' set to version 1", moved[-1])
        pol = T.events(d, kind="policy_changed")["events"]
        expect({e["model"] for e in pol} == {"a", "b"} and len(pol) == 3, pol)
        expect(pol[0]["details"]["policy"]["routes"][0]["version"] == "1", pol[0])
        expect(T.events(d, model="nosuch")["events"] == [], "events of no model")
        # Paging: pages of 5 give every event once, in order.
        got, before, pages = [], None, 0
        while pages < 100:
            q = {"limit": 5}
            if before:
                q["before"] = before
            page = T.events(d, **q)
            pages += 1
            expect(len(page["events"]) <= 5, page)
            got += page["events"]
            before = page.get("next_before")
            if not before:
                break
            expect(before == page["events"][-1]["id"], page)
        expect([e["id"] for e in got] == ids, ([e["id"] for e in got], ids))
        # Paging with a filter.
        got = T.events(d, model="a", kind="alias_moved", limit=7)
        rest = T.events(d, model="a", kind="alias_moved", limit=7, before=got["next_before"])
        expect(got["events"] + rest["events"] == moved and "next_before" not in rest, rest)
        # Time: since is inclusive, until exclusive, in ms or RFC 3339.
        mid = moved[5]["at_ms"]
        since = T.events(d, model="a", kind="alias_moved", since=mid)["events"]
        expect(since == [e for e in moved if e["at_ms"] >= mid], since)
        until = T.events(d, model="a", kind="alias_moved", until=mid)["events"]
        expect(until == [e for e in moved if e["at_ms"] < mid], until)
        expect(since and until, (since, until))
        expect(T.events(d, model="a", kind="alias_moved", since=iso(mid))["events"] == since,
               iso(mid))
        expect(T.events(d, model="a", kind="alias_moved", until=iso(mid))["events"] == until,
               iso(mid))
        expect(moved[0]["time"] == iso(moved[0]["at_ms"]), moved[0])
        both = T.events(d, model="a", kind="alias_moved", since=moved[-1]["at_ms"],
                        until=moved[0]["at_ms"] + 1)["events"]
        expect(both == moved, both)
    shutil.rmtree(repo)


if __name__ == "__main__":
    run([test_filters_and_paging])
