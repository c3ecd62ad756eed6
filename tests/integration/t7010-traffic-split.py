#!/usr/bin/python3
"""Traffic policies under real traffic on loopback: weighted routes (a
canary) split 10,000 requests within 2 points of the weights; sticky
assignment by a header splits 1,000 keys within 5 points, each key keeps its
route over repeated calls, every key in the canary at 10% is still there at
25%, and keys keep their routes across a restart on the same --data. Every
answer names the version and route that made it."""
import json
import re
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
        print("    canary at weight 10 of 100: %.2f%% of 10,000 requests" % canary)
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
        # A salt of the experiment's own: the split is then the same each run
        # (the hash is documented: test_sticky_routes_follow_the_documented_hash).
        T.set_traffic(d, "m", sticky(10, salt="ab-test-1"))
        salt = T.traffic(d, "m")["policy"]["sticky"]["salt"]
        expect(salt == "ab-test-1", T.traffic(d, "m"))
        at10 = assign(d, keys, rounds=3)  # each key three times: one route each
        in10 = {k for k, r in at10.items() if r == "canary"}
        pct = 100.0 * len(in10) / len(keys)
        expect(abs(pct - 10) <= 5, "%.1f%% of 1,000 keys in the canary at 10%%" % pct)
        print("    sticky canary at 10%%: %.1f%% of 1,000 keys" % pct)
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
        print("    sticky canary at 25%%: %.1f%% of 1,000 keys, all %d of 10%% among them"
              % (pct, len(in10)))
    # The same --data after a restart: the same salt, the same routes.
    with Daemon(repo=repo, data=data) as d:
        expect(T.traffic(d, "m")["policy"]["sticky"]["salt"] == salt, T.traffic(d, "m"))
        again = assign(d, keys)
        moved = [k for k in keys if again[k] != at25[k]]
        expect(not moved, "%d keys changed route across a restart: %r" % (len(moved), moved[:5]))
    shutil.rmtree(repo)
    shutil.rmtree(data)


def test_new_salt_is_a_new_experiment():
    """A sticky policy that names no salt gets one, kept by the revisions
    after it; a salt the policy names replaces it, and the assignment is
    redrawn (so the test above would see a salt that changed per revision)."""
    repo = T.make_repo({"m": ([1, 2], "")})
    keys = ["user-%d" % i for i in range(200)]
    with Daemon(repo=repo) as d:
        T.set_traffic(d, "m", sticky(10))
        salt = T.traffic(d, "m")["policy"]["sticky"]["salt"]
        expect(re.match(r"^[0-9a-f]{16}$", salt), salt)
        T.set_traffic(d, "m", sticky(30))
        expect(T.traffic(d, "m")["policy"]["sticky"]["salt"] == salt, T.traffic(d, "m"))
        T.set_traffic(d, "m", {"routes": [{"version": "1"}]})  # the experiment ends
        expect(T.traffic(d, "m")["policy"]["sticky"] is None, T.traffic(d, "m"))
        T.set_traffic(d, "m", sticky(10))
        expect(T.traffic(d, "m")["policy"]["sticky"]["salt"] != salt, "an old salt came back")
        T.set_traffic(d, "m", sticky(50, salt="exp-1"))
        a = assign(d, keys)
        T.set_traffic(d, "m", sticky(50, salt="exp-2"))
        expect(T.traffic(d, "m")["policy"]["sticky"]["salt"] == "exp-2", T.traffic(d, "m"))
        b = assign(d, keys)
        moved = sum(1 for k in keys if a[k] != b[k])
        # Two independent 50/50 draws of 200 keys differ on about 100 of them.
        expect(50 <= moved <= 150, "%d of 200 keys moved with a new salt" % moved)
    shutil.rmtree(repo)


MASK = (1 << 64) - 1


def point_bits(salt, key):
    """The sticky hash as src/serve/policy.h defines it: 53 bits."""
    h = 0xcbf29ce484222325
    for c in salt.encode() + b"\0" + key.encode():
        h = ((h ^ c) * 0x100000001b3) & MASK
    h = ((h ^ (h >> 30)) * 0xbf58476d1ce4e5b9) & MASK
    h = ((h ^ (h >> 27)) * 0x94d049bb133111eb) & MASK
    return (h ^ (h >> 31)) >> 11


def documented_route(salt, key, weights):
    t = (point_bits(salt, key) * sum(weights)) >> 53
    cum = 0
    for i, w in enumerate(weights):
        cum += w
        if t < cum:
            return i
    raise AssertionError("no route")


def test_sticky_routes_follow_the_documented_hash():
    """Another implementation given the policy (another replica, a client
    that predicts its arm) assigns every key as modeld does."""
    expect(point_bits("", "") * 2.0 ** -53 == 0.14838301097631856, point_bits("", ""))
    repo = T.make_repo({"m": ([1, 2], "")})
    names, weights = ["a", "b", "c"], [60, 30, 10]
    with Daemon(repo=repo) as d:
        T.set_traffic(d, "m", {"routes": [{"name": n, "version": "12"[i % 2], "weight": w}
                                          for i, (n, w) in enumerate(zip(names, weights))],
                               "sticky": {"header": "X-User-Id", "salt": "exp-7"}})
        c = T.conn(d)
        for k in range(300):
            key = "u%d" % k
            st, v, route, _ = T.infer(c, "m", headers={"X-User-Id": key})
            want = names[documented_route("exp-7", key, weights)]
            expect(st == 200 and route == want, "key %s: %s, documented %s" % (key, route, want))
        c.close()
    shutil.rmtree(repo)


def test_every_answer_names_version_and_route():
    """V2 and TF Serving, by the policy or naming a version: the header and
    the body say which version answered, the header which route; a sticky
    key takes the same route over both protocols."""
    repo = T.make_repo({"m": ([1, 2], "")})
    with Daemon(repo=repo) as d:
        T.set_traffic(d, "m", sticky(50))
        c = T.conn(d)
        for key in ("k%d" % i for i in range(40)):
            h = {"X-User-Id": key, "Content-Type": "application/json"}
            c.request("POST", "/v2/models/m/infer", T.BODY, h)
            r = c.getresponse()
            v2 = json.loads(r.read())
            v2_route, v2_version = r.getheader("X-Model-Route"), r.getheader("X-Model-Version")
            expect(r.status == 200 and v2["model_version"] == v2_version, (r.status, v2))
            c.request("POST", "/v1/models/m:predict", T.TFS_BODY, h)
            r = c.getresponse()
            tfs = json.loads(r.read())
            expect(r.status == 200 and tfs["model_version"] == r.getheader("X-Model-Version"),
                   (r.status, tfs))
            expect((r.getheader("X-Model-Route"), r.getheader("X-Model-Version")) ==
                   (v2_route, v2_version), (key, v2_route, r.getheader("X-Model-Route")))
            expect((v2_route, v2_version) in (("stable", "1"), ("canary", "2")), v2_route)
        for path, body in (("/v2/models/m/versions/2/infer", T.BODY),
                           ("/v1/models/m/versions/2:predict", T.TFS_BODY)):
            c.request("POST", path, body, {"X-User-Id": "k1"})
            r = c.getresponse()
            doc = json.loads(r.read())
            expect(r.status == 200 and doc["model_version"] == "2", (path, doc))
            expect(r.getheader("X-Model-Route") == "direct", (path, r.getheaders()))
            expect(r.getheader("X-Model-Version") == "2", (path, r.getheaders()))
        c.close()
    shutil.rmtree(repo)


if __name__ == "__main__":
    run([test_weighted_routes_10000_requests, test_sticky_keys_split_hold_and_survive_restart,
         test_new_salt_is_a_new_experiment, test_sticky_routes_follow_the_documented_hash,
         test_every_answer_names_version_and_route])
