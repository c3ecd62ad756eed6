"""Helpers of the traffic tests (t70xx): a small repository of their own,
a model whose versions are the same five-feature tree model with distinct
bytes (so each version has its own sha256 and all answer alike), and the
calls they make: predictions that report which version and route answered,
policies, aliases. Python 3 standard library only."""
import http.client
import json
import os
import tempfile
import threading
import time

from harness import ROOT, clients, expect

MODELS = os.path.join(ROOT, "tests", "data", "models")
ARTIFACT = os.path.join(MODELS, "binary.json")  # features amount, age, score, days, ratio

YAML = """backend: trees
task: classification
labels: [no, yes]
features:
  - {name: amount, datatype: FP32, required: false}
  - {name: age, datatype: FP32, required: false}
  - {name: score, datatype: FP32, required: false}
  - {name: days, datatype: FP32, required: false}
  - {name: ratio, datatype: FP32, required: false}
"""

ROW = [1.0, 2.0, 3.0, 4.0, 5.0]
BODY = json.dumps({"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 5],
                               "data": ROW}]})
TFS_BODY = json.dumps({"instances": [ROW]})


def artifact_bytes(variant):
    """binary.json with `variant` newlines after it: loads the same, hashes apart."""
    with open(ARTIFACT, "rb") as f:
        return f.read() + b"\n" * variant


def add_version(repo, model, version, variant=None):
    vdir = os.path.join(repo, model, str(version))
    os.makedirs(vdir, exist_ok=True)
    tmp = os.path.join(vdir, ".model.json.tmp")
    with open(tmp, "wb") as f:
        f.write(artifact_bytes(version if variant is None else variant))
    os.rename(tmp, os.path.join(vdir, "model.json"))  # never seen half-written


def make_repo(models):
    """models: {name: (versions, extra model.yaml text)}; returns the directory."""
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    for name, (versions, extra) in models.items():
        os.makedirs(os.path.join(repo, name))
        with open(os.path.join(repo, name, "model.yaml"), "w") as f:
            f.write(YAML + extra)
        for v in versions:
            add_version(repo, name, v)
    return repo


def infer(conn, model, version=None, headers=None):
    """One V2 prediction on a keep-alive connection: (status, version, route, body)."""
    path = "/v2/models/%s%s/infer" % (model, "/versions/%s" % version if version else "")
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    conn.request("POST", path, BODY, h)
    r = conn.getresponse()
    data = r.read()
    return r.status, r.getheader("X-Model-Version"), r.getheader("X-Model-Route"), data


def tally(port, model, total, threads=4, headers_of=None):
    """total predictions from `threads` keep-alive clients; {(version, route): count}.
    headers_of(k) gives request k's headers. Any failure fails the test."""
    counts = {}
    lock = threading.Lock()

    def body(conn, i, deadline):
        mine = {}
        for k in range(i, total, threads):
            st, v, route, data = infer(conn, model, headers=headers_of(k) if headers_of else None)
            expect(st == 200, (st, data[:200]))
            mine[(v, route)] = mine.get((v, route), 0) + 1
        with lock:
            for key, n in mine.items():
                counts[key] = counts.get(key, 0) + n

    clients(port, threads, body)
    return counts


def traffic(d, model):
    st, doc, _ = d.json("GET", "/api/v1/models/%s/traffic" % model)
    expect(st == 200, (st, doc))
    return doc


def set_traffic(d, model, policy, revision=None, status=200):
    headers = {"If-Match": '"%d"' % revision} if revision is not None else {}
    st, doc, _ = d.json("PUT", "/api/v1/models/%s/traffic" % model, policy, headers)
    expect(st == status, "PUT traffic %r -> %d %r" % (policy, st, doc))
    return doc


def set_alias(d, model, alias, version, status=200):
    st, doc, _ = d.json("PUT", "/api/v1/models/%s/aliases/%s" % (model, alias),
                        {"version": version})
    expect(st == status, "PUT alias %s=%r -> %d %r" % (alias, version, st, doc))
    return doc


def aliases(d, model):
    st, doc, _ = d.json("GET", "/api/v1/models/%s/aliases" % model)
    expect(st == 200, (st, doc))
    return doc["aliases"]


def versions(d, model):
    """GET /api/v1/models/{m}/versions as {version: entry}."""
    st, doc, _ = d.json("GET", "/api/v1/models/%s/versions" % model)
    expect(st == 200, (st, doc))
    return {v["version"]: v for v in doc["versions"]}


def events(d, **query):
    q = "&".join("%s=%s" % kv for kv in query.items())
    st, doc, _ = d.json("GET", "/api/v1/events" + ("?" + q if q else ""))
    expect(st == 200, (st, doc))
    return doc


def all_events(d, **query):
    """Every event matching query, newest first, page after page."""
    out, before = [], None
    for _ in range(1000):
        q = dict(query, limit=1000)
        if before:
            q["before"] = before
        page = events(d, **q)
        out += page["events"]
        before = page.get("next_before")
        if not before:
            return out
    raise AssertionError("more than 1,000 pages of events")


def rescan(d, until, timeout=15):
    """SIGHUP (a re-scan) until until() holds; polled, bounded."""
    import signal
    deadline = time.time() + timeout
    while time.time() < deadline:
        d.signal(signal.SIGHUP)
        end = time.time() + 1
        while time.time() < end:
            if until():
                return True
            time.sleep(0.05)
    return False


def routes(policy_doc):
    """{route name: (version, weight)} of a GET traffic answer's policy."""
    return {r["name"]: (r["version"], r["weight"]) for r in policy_doc["policy"]["routes"]}


def conn(d):
    return http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
