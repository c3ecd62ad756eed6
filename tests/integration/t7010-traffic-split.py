#!/usr/bin/python3
"""Traffic policies under real traffic on loopback: weighted routes (a
canary) split 10,000 requests within 2 points of the weights; sticky
assignment by a header splits 1,000 keys within 5 points, each key keeps its
route over repeated calls, every key in the canary at 10% is still there at
25%, and keys keep their routes across a restart on the same --data. Every
answer names the version and route that made it."""
import shutil
import tempfile
import threading

from harness import Daemon, clients, expect, run
import trafficlib as T

CANARY = {"routes": [{"name": "stable", "version": "1", "weight": 90},
                     {"name": "canary", "version": "2", "weight": 10}]}


def share(counts, route):
    total = sum(counts.values())
    return 100.0 * sum(n for (_, r), n in counts.items() if r == route) / total


def test_weighted_routes_10000_requests():
    repo = T.make_repo({"m": ([1, 2], "")})
    with Daemon(repo=repo) as d:
        rev = T.traffic(d, "m")["revision"]
        doc = T.set_traffic(d, "m", CANARY, revision=rev)
        expect(doc["revision"] == rev + 1, doc)
        counts = T.tally(d.port, "m", 10000, threads=4)
        expect(sum(counts.values()) == 10000, counts)
        # Each route answers with its own version, and nothing else answers.
        expect(set(counts) == {("1", "stable"), ("2", "canary")}, counts)
        canary = share(counts, "canary")
        expect(abs(canary - 10.0) <= 2.0, "canary got %.2f%% of 10,000 at weight 10" % canary)
        # The versions listing shows each version's share, aliases and routes.
        vs = T.versions(d, "m")
        expect(vs["1"]["traffic_percent"] == 90 and vs["1"]["routes"] == ["stable"], vs["1"])
        expect(vs["2"]["traffic_percent"] == 10 and vs["2"]["routes"] == ["canary"], vs["2"])
        expect(vs["2"]["state"] == "READY" and len(vs["2"]["sha256"]) == 64, vs["2"])
        expect(vs["1"]["sha256"] != vs["2"]["sha256"], vs)
        # The GET shows the percentages and that both routes serve.
        got = T.traffic(d, "m")
        expect([(r["name"], r["percent"], r["serving"]) for r in got["routes"]] ==
               [("stable", 90, True), ("canary", 10, True)], got)
    shutil.rmtree(repo)


def sticky(canary_weight, salt=None):
    s = {"header": "X-User-Id"}
    if salt:
        s["salt"] = salt
    return {"routes": [{"name": "stable", "version": "1", "weight": 100 - canary_weight},
                       {"name": "canary", "version": "2", "weight": canary_weight}],
            "sticky": s}


def assign(d, keys, rounds=1):
    """{key: route} over `rounds` calls per key; a key answered by two routes fails."""
    seen = {}
    lock = threading.Lock()
    n = len(keys)

    def body(conn, i, deadline):
        mine = {}
        for k in range(i, n * rounds, 4):
            key = keys[k % n]
            st, v, route, data = T.infer(conn, "m", headers={"X-User-Id": key})
            expect(st == 200, (st, data[:200]))
            expect((route, v) in (("stable", "1"), ("canary", "2")), (route, v))
            expect(mine.setdefault(key, route) == route,
                   "key %s answered by %s and %s" % (key, mine[key], route))
        with lock:
            for key, route in mine.items():
                expect(seen.setdefault(key, route) == route,
                       "key %s answered by %s and %s" % (key, seen[key], route))

    clients(d.port, 4, body)
    expect(len(seen) == n, len(seen))
    return seen


def test_sticky_keys_split_hold_and_survive_restart():
    repo = T.make_repo({"m": ([1, 2], "")})
    data = tempfile.mkdtemp(prefix="modeld-data-")
    keys = ["user-%d" % i for i in range(1000)]
    with Daemon(repo=repo, data=data) as d:
        T.set_traffic(d, "m", sticky(10))
        salt = T.traffic(d, "m")["policy"]["sticky"]["salt"]
        expect(isinstance(salt, str) and salt, T.traffic(d, "m"))
        at10 = assign(d, keys, rounds=3)  # each key three times: one route each
        in10 = {k for k, r in at10.items() if r == "canary"}
        pct = 100.0 * len(in10) / len(keys)
        expect(abs(pct - 10) <= 5, "%.1f%% of 1,000 keys in the canary at 10%%" % pct)
        # Raising the canary's weight only moves keys into it.
        T.set_traffic(d, "m", sticky(25))
        expect(T.traffic(d, "m")["policy"]["sticky"]["salt"] == salt, "salt changed")
        at25 = assign(d, keys, rounds=2)
        in25 = {k for k, r in at25.items() if r == "canary"}
        left = sorted(in10 - in25)
        expect(not left, "%d keys left the canary when it went from 10%% to 25%%: %r"
               % (len(left), left[:5]))
        pct = 100.0 * len(in25) / len(keys)
        expect(abs(pct - 25) <= 5, "%.1f%% of 1,000 keys in the canary at 25%%" % pct)
    # The same --data after a restart: the same salt, the same routes.
    with Daemon(repo=repo, data=data) as d:
        expect(T.traffic(d, "m")["policy"]["sticky"]["salt"] == salt, T.traffic(d, "m"))
        again = assign(d, keys)
        moved = [k for k in keys if again[k] != at25[k]]
        expect(not moved, "%d keys changed route across a restart: %r" % (len(moved), moved[:5]))
    shutil.rmtree(repo)
    shutil.rmtree(data)


def test_new_salt_is_a_new_experiment():
    """A salt the policy names replaces the old one: the assignment is redrawn
    (so the test above would see a salt that changed per revision)."""
    repo = T.make_repo({"m": ([1, 2], "")})
    keys = ["user-%d" % i for i in range(200)]
    with Daemon(repo=repo) as d:
        T.set_traffic(d, "m", sticky(50, salt="exp-1"))
        a = assign(d, keys)
        T.set_traffic(d, "m", sticky(50, salt="exp-2"))
        expect(T.traffic(d, "m")["policy"]["sticky"]["salt"] == "exp-2", T.traffic(d, "m"))
        b = assign(d, keys)
        moved = sum(1 for k in keys if a[k] != b[k])
        # Two independent 50/50 draws of 200 keys differ on about 100 of them.
        expect(50 <= moved <= 150, "%d of 200 keys moved with a new salt" % moved)
    shutil.rmtree(repo)


if __name__ == "__main__":
    run([test_weighted_routes_10000_requests, test_sticky_keys_split_hold_and_survive_restart,
         test_new_salt_is_a_new_experiment])
