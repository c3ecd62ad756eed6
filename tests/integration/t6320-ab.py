#!/usr/bin/python3
"""A/B statistics on a real daemon: a model whose policy splits its calls
between routes a and b, sticky by the `keys:` field `user`; 150 users make
1 to 4 predictions each, which the prediction log stores; labels arrive as
feedback with a known conversion per arm (a user converts on a row more
often on b); GET /api/v1/models/m/ab analyses per user (the unit that was
randomised) and agrees with scipy on the same per-user rates: means, t
intervals, Welch's t-test, the sample size per arm and the verdict. Rows
that are no arm (a call that named a version) and replaced feedback do
not count; per row (a policy not sticky), the z-test and Wilson's interval
agree with scipy too. Bad arguments are 400s naming the argument.

The labels arrive through POST /api/v1/feedback; the test reads which
route and key each stored prediction row has from the store's file."""
import math
import os
import sqlite3
import sys
import time

from harness import Daemon, expect, expect_error, run
import trafficlib as tl

try:
    from scipy import stats
except ImportError as e:
    print("skip t6320-ab: scipy is not installed (%s); apt-get install python3-scipy" % e)
    print("0 passed, 0 failed")
    sys.exit(0)

KEYS = "keys:\n  - name: user\n"
Z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)


def predict(conn, user=None, version=None):
    body = ('{"inputs":[{"name":"features","datatype":"FP32","shape":[1,5],'
            '"data":[1,2,3,4,5]}]%s}' % (',"parameters":{"user":"%s"}' % user if user else ""))
    path = "/v2/models/m%s/infer" % ("/versions/%s" % version if version else "")
    conn.request("POST", path, body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    expect(r.status == 200, (r.status, data[:200]))
    return r.getheader("X-Model-Route")


def wait_rows(data, n, timeout=15):
    """Polls the store until the model's n prediction rows are there; returns them."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        db = sqlite3.connect(os.path.join(data, "modeld.db"), timeout=10)
        try:
            rows = db.execute("SELECT p.request_id, p.row, p.route, k.value FROM predictions p "
                              "LEFT JOIN prediction_keys k ON k.prediction = p.id "
                              "AND k.name = 'user' WHERE p.model = 'm'").fetchall()
        finally:
            db.close()
        if len(rows) >= n:
            return rows
        time.sleep(0.05)
    raise AssertionError("%d prediction rows of %d stored after %ds" % (len(rows), n, timeout))


def add_feedback(d, items):
    """items: (request_id, row, label, current); POST /api/v1/feedback, the items
    that are replaced later (current 0) in a first batch, the rest in a second."""
    for current in (0, 1):
        batch = [{"model": "m", "request_id": rid, "row": row, "label": label, "source": "user"}
                 for rid, row, label, cur in items if cur == current]
        st, doc, _ = d.json("POST", "/api/v1/feedback", {"items": batch})
        expect(st == 200 and doc["stored"] == len(batch) and doc["failed"] == 0, (st, doc))
        expect(all(i["state"] == "attached" for i in doc["items"]), doc)


def converts(route, user, j):
    """The known truth: a user's row j converts 3 times in 10 on a, 5 in 10 on b."""
    h = (int(user[1:]) * 7 + j * 3) % 10
    return h < (5 if route == "b" else 3)


def close(got, want, tol=1e-9):
    ok = (got is None and want is None) or (
        got is not None and want is not None and abs(got - want) <= tol * max(1.0, abs(want)))
    expect(ok, "got %r, want %r" % (got, want))


def ab(d, query):
    st, doc, _ = d.json("GET", "/api/v1/models/m/ab?" + query)
    expect(st == 200, (st, doc))
    return doc


def scenario(d):
    """The predictions and their feedback; returns {route: {user: [outcomes]}}."""
    tl.set_traffic(d, "m", {"routes": [{"name": "a", "version": "1", "weight": 50},
                                       {"name": "b", "version": "2", "weight": 50}],
                            "sticky": {"key": "user"}})
    c = tl.conn(d)
    n = 0
    for u in range(150):
        for _ in range(1 + u % 4):
            predict(c, "u%d" % u)
            n += 1
    predict(c, "u0", version="2")  # a call that named a version: no arm
    c.close()
    rows = wait_rows(d.data, n + 1)
    truth = {"a": {}, "b": {}}
    items = []
    for rid, row, route, user in rows:
        if route not in truth:
            expect(route == "direct", route)
            items.append((rid, row, "yes", 1))
            continue
        seen = truth[route].setdefault(user, [])
        yes = converts(route, user, len(seen))
        seen.append(1.0 if yes else 0.0)
        items.append((rid, row, "yes" if yes else "no", 1))
        if len(seen) == 1:  # an earlier item, replaced: history only
            items.append((rid, row, "no" if yes else "yes", 0))
    add_feedback(d, items)
    return truth


def check_arm(arm, values):
    n = len(values)
    m = sum(values) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in values) / (n - 1))
    lo, hi = stats.t.interval(0.95, n - 1, loc=m, scale=sd / math.sqrt(n))
    expect(arm["n"] == n, (arm, n))
    close(arm["outcome"], m)
    close(arm["sd"], sd)
    close(arm["ci"][0], lo)
    close(arm["ci"][1], hi)


def test_per_key_agrees_with_scipy():
    repo = tl.make_repo({"m": ([1, 2], KEYS)})
    with Daemon(repo=repo, examples=False, bench=False) as d:
        truth = scenario(d)
        rates = {r: [sum(v) / len(v) for v in truth[r].values()] for r in ("a", "b")}
        expect(len(rates["a"]) > 40 and len(rates["b"]) > 40, {r: len(v) for r, v in rates.items()})
        doc = ab(d, "metric=conversion&positive=yes&min_effect=0.1")
        expect(doc["key"] == "user" and doc["positive"] == "yes", doc)
        a = doc["analysis"]
        expect(a["unit"] == "key" and a["control"] == "a", a)
        expect([x["route"] for x in a["arms"]] == ["a", "b"], a["arms"])
        expect(a["arms"][0]["versions"] == ["1"] and a["arms"][1]["versions"] == ["2"], a["arms"])
        expect(a["arms"][0]["rows"] + a["arms"][1]["rows"] ==
               sum(len(v) for r in truth for v in truth[r].values()), a["arms"])
        check_arm(a["arms"][0], rates["a"])
        check_arm(a["arms"][1], rates["b"])
        c = a["comparisons"][0]
        t = stats.ttest_ind(rates["b"], rates["a"], equal_var=False)
        expect(c["route"] == "b" and c["control"] == "a" and c["test"] == "welch", c)
        close(c["statistic"], t.statistic)
        close(c["p_value"], t.pvalue)
        ma, mb = (sum(rates[r]) / len(rates[r]) for r in ("a", "b"))
        close(c["difference"], mb - ma)
        close(c["lift"], (mb - ma) / ma)
        va, vb = (stats.tvar(rates[r]) for r in ("a", "b"))
        needed = math.ceil(Z * Z * (va + vb) / 0.01)
        close(c["needed_per_arm"], needed)
        close(c["still_needed"], max(0, needed - min(len(rates["a"]), len(rates["b"]))))
        want = ("keep_running" if needed > min(len(rates["a"]), len(rates["b"]))
                else "winner" if t.pvalue < 0.05 else "no_difference")
        expect(c["verdict"] == want, (c, want))
        expect(c["winner"] == ("b" if want == "winner" and mb > ma else None), c)
        # A larger effect is reached with these users; b converts more.
        c = ab(d, "positive=yes&min_effect=0.3")["analysis"]["comparisons"][0]
        expect(c["still_needed"] == 0, c)
        expect(c["verdict"] == ("winner" if t.pvalue < 0.05 else "no_difference"), (c, t))
        # Per row once the policy is not sticky: every row a unit.
        tl.set_traffic(d, "m", {"routes": [{"name": "a", "version": "1", "weight": 50},
                                           {"name": "b", "version": "2", "weight": 50}]})
        a = ab(d, "positive=yes&window=1h")["analysis"]
        expect(a["unit"] == "row", a)
        k = {r: int(sum(sum(v) for v in truth[r].values())) for r in ("a", "b")}
        n = {r: sum(len(v) for v in truth[r].values()) for r in ("a", "b")}
        for i, r in enumerate(("a", "b")):
            ci = stats.binomtest(k[r], n[r]).proportion_ci(method="wilson")
            expect(a["arms"][i]["n"] == n[r], (a["arms"][i], n[r]))
            close(a["arms"][i]["ci"][0], ci.low)
            close(a["arms"][i]["ci"][1], ci.high)
        p = (k["a"] + k["b"]) / (n["a"] + n["b"])
        z = (k["b"] / n["b"] - k["a"] / n["a"]) / math.sqrt(p * (1 - p) * (1 / n["a"] + 1 / n["b"]))
        c = a["comparisons"][0]
        expect(c["test"] == "z" and c["df"] is None, c)
        close(c["statistic"], z)
        close(c["p_value"], 2 * stats.norm.sf(abs(z)))


def test_bad_arguments():
    repo = tl.make_repo({"m": ([1], KEYS)})
    with Daemon(repo=repo, examples=False, bench=False) as d:
        for query, fragment in [
                ("", "positive: required for metric conversion"),
                ("metric=ctr", "metric: 'ctr' is not one of conversion, reward, value"),
                ("metric=value&positive=yes", "positive: only for metric conversion"),
                ("positive=yes&min_effect=0", "min_effect: '0' is not a number above 0"),
                ("positive=yes&min_effect=x", "min_effect: 'x' is not a number above 0"),
                ("positive=yes&window=5w", "window: '5w' is not a duration"),
                ("positive=yes&window=401d", "window: '401d' is not a duration"),
                ("positive=ys", "positive: 'ys' is not a class of model 'm'"),
                ("metric=value", "metric: model 'm' is a classification: its outcome is a "
                                 "label (metric conversion), not a value")]:
            st, doc, _ = d.json("GET", "/api/v1/models/m/ab?" + query)
            expect_error(st, doc, 400, fragment)
        st, doc, _ = d.json("GET", "/api/v1/models/nope/ab?metric=value")
        expect_error(st, doc, 404, "unknown model 'nope'")
        # Nothing yet: no arm, an empty answer.
        a = ab(d, "metric=reward")["analysis"]
        expect(a["arms"] == [] and a["comparisons"] == [] and a["control"] is None, a)


if __name__ == "__main__":
    run([test_per_key_agrees_with_scipy, test_bad_arguments])
