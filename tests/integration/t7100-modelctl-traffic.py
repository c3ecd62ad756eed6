#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""t7100-modelctl-traffic: modelctl's versions, alias, aliases, traffic,
archive, restore and events commands against a real modeld: what each
prints, what it changes on the server (read back over HTTP), and how each
refusal exits with the server's reason (unknown model, version and alias,
bad weights and fractions, a revision that moved)."""
import json
import os
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import EXAMPLES, MODELCTL, Daemon, expect, run, wait_for

FRAUD_SAMPLE = os.path.join(os.path.dirname(EXAMPLES), "data", "fraud_sample.json")


def ctl(d, *args, stdin=None, timeout=30):
    """Runs modelctl against d; returns (exit status, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    p = subprocess.run([MODELCTL, "--url", "http://127.0.0.1:%d" % d.port] + list(args),
                       input=stdin, capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def ok(d, *args, stdin=None):
    rc, out, err = ctl(d, *args, stdin=stdin)
    expect(rc == 0 and err == "", "modelctl %s: rc=%d\n%s%s" % (" ".join(args), rc, out, err))
    return out


def refused(d, rc_want, fragment, *args):
    """modelctl exits rc_want with one line on stderr that holds fragment, and prints nothing."""
    rc, out, err = ctl(d, *args)
    expect(rc == rc_want and fragment in err and out == "" and err.count("\n") == 1,
           "modelctl %s: want rc=%d and %r, got rc=%d\nstdout: %s\nstderr: %s"
           % (" ".join(args), rc_want, fragment, rc, out, err))
    return err


def table(out):
    """A table's rows as dicts by header name (cells hold no spaces in these tests)."""
    lines = out.splitlines()
    head = lines[0].split()
    return [dict(zip(head, line.split())) for line in lines[1:]]


def policy(d, model="fraud"):
    st, doc, _ = d.json("GET", "/api/v1/models/%s/traffic" % model)
    expect(st == 200, doc)
    return doc


def infer(d, headers=None, version=None):
    """(version, route) that answered one fraud prediction."""
    path = "/v2/models/fraud%s/infer" % ("/versions/" + version if version else "")
    with open(FRAUD_SAMPLE) as f:
        body = f.read()
    st, data, hdrs = d.request("POST", path, body, headers or {})
    expect(st == 200, data)
    doc = json.loads(data)
    expect(doc["model_version"] == hdrs["x-model-version"], (doc, hdrs))
    return hdrs["x-model-version"], hdrs["x-model-route"]


def test_versions_and_aliases():
    with Daemon(bench=False) as d:
        rows = table(ok(d, "versions", "fraud"))
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/versions")
        expect(st == 200, doc)
        by_v = {r["VERSION"]: r for r in rows}
        expect(sorted(by_v) == ["1", "2"], rows)
        v2 = by_v["2"]
        expect(v2["STATE"] == "READY" and v2["ALIASES"] == "champion" and
               v2["ROUTES"] == "stable" and v2["TRAFFIC"] == "100%" and
               v2["SOURCE"] == "repository", v2)
        sha = {v["version"]: v["sha256"] for v in doc["versions"]}
        expect(v2["SHA256"] == sha["2"][:12] and by_v["1"]["SHA256"] == sha["1"][:12], rows)
        expect(by_v["1"]["TRAFFIC"] == "0%" and by_v["1"]["ROUTES"] == "-", rows)
        expect(json.loads(ok(d, "versions", "fraud", "--json")) == doc, "--json is the answer")

        expect(ok(d, "alias", "fraud", "candidate", "1") ==
               "alias candidate of fraud set to version 1\n", "alias set")
        # an alias may name another alias's version
        expect(ok(d, "alias", "fraud", "next", "candidate") ==
               "alias next of fraud set to version 1\n", "alias of an alias")
        rows = table(ok(d, "aliases", "fraud"))
        expect({r["ALIAS"]: r["VERSION"] for r in rows} ==
               {"champion": "2", "candidate": "1", "next": "1"}, rows)
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/aliases")
        expect(doc["aliases"] == {"champion": "2", "candidate": "1", "next": "1"}, doc)
        expect(json.loads(ok(d, "aliases", "fraud", "--json")) == doc, "aliases --json")
        row1 = [r for r in table(ok(d, "versions", "fraud")) if r["VERSION"] == "1"][0]
        expect(row1["ALIASES"] == "candidate,next" and row1["STATE"] == "READY", row1)
        # the alias works where a version does: predict --version, V2 and TF Serving paths
        expect(infer(d, version="candidate") == ("1", "direct"), "alias in a V2 path")
        st, _, hdrs = d.request("POST", "/v1/models/fraud/labels/next:predict",
                                {"instances": [{"amount": 12.5, "hour": 3,
                                                "account_age_days": 100,
                                                "merchant_category": "travel",
                                                "is_international": False}]})
        expect(st == 200 and hdrs["x-model-version"] == "1", (st, hdrs))
        out = ok(d, "predict", "fraud", "--version", "candidate", "amount=12.5", "hour=3",
                 "account_age_days=100", "merchant_category=travel", "is_international=false")
        expect("label: " in out, out)

        expect(ok(d, "alias", "fraud", "next", "--delete") == "alias next of fraud removed\n",
               "alias removed")
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/aliases")
        expect("next" not in doc["aliases"], doc)
        expect(json.loads(ok(d, "--json", "alias", "fraud", "candidate", "2")) ==
               {"model": "fraud", "alias": "candidate", "version": "2"}, "alias --json")

        # refusals: the server's reason, exit 1, nothing changed
        refused(d, 1, "unknown model 'nosuch'", "versions", "nosuch")
        refused(d, 1, "unknown model 'nosuch'", "aliases", "nosuch")
        refused(d, 1, "unknown model 'nosuch'", "alias", "nosuch", "a", "1")
        refused(d, 1, "model 'fraud' has no version 9", "alias", "fraud", "candidate", "9")
        refused(d, 1, "model 'fraud' has no alias 'nosuch'", "alias", "fraud", "x", "nosuch")
        refused(d, 1, "model 'fraud' has no alias 'nosuch'", "alias", "fraud", "nosuch",
                "--delete")
        refused(d, 1, "'9lives' is not an alias name", "alias", "fraud", "9lives", "1")
        st, doc, _ = d.json("GET", "/api/v1/models/fraud/aliases")
        expect(doc["aliases"] == {"champion": "2", "candidate": "2"}, doc)
        # usage errors: exit 2, nothing sent
        refused(d, 2, "missing MODEL", "versions")
        refused(d, 2, "missing VERSION", "alias", "fraud", "x")
        refused(d, 2, "--delete takes no VERSION", "alias", "fraud", "x", "1", "--delete")
        refused(d, 2, "unexpected argument", "aliases", "fraud", "more")


def test_traffic_pin_split_sticky():
    with Daemon(bench=False) as d:
        out = ok(d, "traffic", "fraud")
        expect("revision:  1\n" in out and "sticky:    none\n" in out, out)
        rows = table(out[out.index("ROUTE"):])
        expect(rows == [{"ROUTE": "stable", "VERSION": "2", "WEIGHT": "100", "TRAFFIC": "100%",
                         "SERVING": "yes", "SPLIT": "#" * 40}], rows)

        out = ok(d, "traffic", "fraud", "--split", "2=90,1=10")
        rows = table(out[out.index("ROUTE"):])
        expect(rows == [{"ROUTE": "stable", "VERSION": "2", "WEIGHT": "90", "TRAFFIC": "90%",
                         "SPLIT": "#" * 36 + "." * 4},
                        {"ROUTE": "canary", "VERSION": "1", "WEIGHT": "10", "TRAFFIC": "10%",
                         "SPLIT": "#" * 4 + "." * 36}], rows)
        doc = policy(d)
        expect(doc["revision"] == 2 and
               [(r["name"], r["version"], r["percent"], r["serving"]) for r in doc["routes"]] ==
               [("stable", "2", 90, True), ("canary", "1", 10, True)], doc)
        seen = {infer(d) for _ in range(60)}
        expect(seen <= {("2", "stable"), ("1", "canary")} and ("2", "stable") in seen, seen)
        rows = {r["VERSION"]: r for r in table(ok(d, "versions", "fraud"))}
        expect(rows["1"]["ROUTES"] == "canary" and rows["1"]["TRAFFIC"] == "10%" and
               rows["2"]["TRAFFIC"] == "90%", rows)

        # sticky by a header: a caller keeps its route; both routes get callers
        out = ok(d, "traffic", "fraud", "--split", "2=50,1=50", "--sticky-header", "X-User-Id")
        expect("sticky:    header X-User-Id (salt " in out, out)
        first = {u: infer(d, {"X-User-Id": "user-%d" % u}) for u in range(40)}
        again = {u: infer(d, {"X-User-Id": "user-%d" % u}) for u in range(40)}
        expect(first == again, "sticky callers moved")
        expect(set(first.values()) == {("2", "stable"), ("1", "canary")}, first)
        salt = policy(d)["policy"]["sticky"]["salt"]
        # a new revision sticky by the same header keeps the experiment's salt
        ok(d, "traffic", "fraud", "--split", "2=25,1=75", "--sticky-header", "X-User-Id")
        expect(policy(d)["policy"]["sticky"]["salt"] == salt, "salt kept")
        for u, (v, route) in first.items():
            if route == "canary":
                expect(infer(d, {"X-User-Id": "user-%d" % u}) == ("1", "canary"),
                       "a canary caller left the canary when its weight rose")

        # a key the model's contract does not declare cannot route
        refused(d, 1, "sticky.key: 'user_id' is not a key", "traffic", "fraud", "--split",
                "a=2:34,b=1:33", "--sticky-key", "user_id")
        # named routes, three of them; --json prints the server's answer
        doc = json.loads(ok(d, "--json", "traffic", "fraud", "--split",
                            "a=2:34,b=1:33,c=champion:33", "--sticky-header", "X-User-Id",
                            "--salt", "exp-9"))
        expect([(r["name"], r["version"], r["weight"]) for r in doc["policy"]["routes"]] ==
               [("a", "2", 34), ("b", "1", 33), ("c", "2", 33)] and
               doc["policy"]["routes"][2].get("alias") == "champion" and
               doc["policy"]["sticky"] == {"header": "X-User-Id", "salt": "exp-9"}, doc)

        # --pin: everything to one version
        out = ok(d, "traffic", "fraud", "--pin", "1")
        expect(policy(d)["policy"]["routes"] == [{"name": "stable", "version": "1",
                                                  "weight": 100}], out)
        expect({infer(d) for _ in range(10)} == {("1", "stable")}, "pinned to 1")

        # --set: a file, standard input, inline JSON
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"routes": [{"name": "blue", "version": "2", "weight": 1}]}, f)
        try:
            ok(d, "traffic", "fraud", "--set", f.name)
        finally:
            os.unlink(f.name)
        expect(policy(d)["policy"]["routes"][0]["name"] == "blue", "--set FILE")
        ok(d, "traffic", "fraud", "--set", "-",
           stdin='{"routes": [{"name": "green", "version": "1"}]}')
        expect(policy(d)["policy"]["routes"][0]["name"] == "green", "--set -")
        ok(d, "traffic", "fraud", "--set", '{"routes": [{"name": "blue", "version": "2"}]}')
        expect(policy(d)["policy"]["routes"][0]["name"] == "blue", "--set JSON")


def test_traffic_refusals_and_revision():
    with Daemon(bench=False) as d:
        ok(d, "traffic", "fraud", "--split", "2=90,1=10")
        rev = policy(d)["revision"]
        # bad weights and fractions, unknown versions and aliases: the server's reason, exit 1
        refused(d, 1, "routes[1].weight: must be an integer from 0 to 1000000",
                "traffic", "fraud", "--split", "2=90,1=-10")
        refused(d, 1, "routes[0].weight: must be an integer", "traffic", "fraud", "--split",
                "2=12.5")
        refused(d, 1, "at least one route needs a positive weight", "traffic", "fraud",
                "--split", "2=0,1=0")
        refused(d, 1, "shadows[0].fraction: must be a number greater than 0 and at most 1",
                "traffic", "fraud", "--pin", "2", "--shadow", "1:1.5")
        refused(d, 1, "routes[0].version: model 'fraud' has no version 9", "traffic", "fraud",
                "--pin", "9")
        refused(d, 1, "has no alias 'nosuch'", "traffic", "fraud", "--pin", "nosuch")
        refused(d, 1, "unknown model 'nosuch'", "traffic", "nosuch")
        refused(d, 1, "unknown model 'nosuch'", "traffic", "nosuch", "--pin", "1")
        refused(d, 1, "invalid JSON", "traffic", "fraud", "--set", "{bad")
        expect(policy(d)["revision"] == rev, "a refused policy changed the revision")

        # --revision: accepted while current, refused (409) once it moved
        ok(d, "traffic", "fraud", "--pin", "2", "--revision", str(rev))
        refused(d, 1, "is at revision %d, not %d" % (rev + 1, rev), "traffic", "fraud",
                "--pin", "1", "--revision", str(rev))
        doc = policy(d)
        expect(doc["revision"] == rev + 1 and doc["routes"][0]["version"] == "2", doc)

        # usage errors: exit 2, nothing sent
        refused(d, 2, "three or more routes need names", "traffic", "fraud", "--split",
                "2=1,1=1,2=1")
        refused(d, 2, "mixes", "traffic", "fraud", "--split", "a=2:1,1=1")
        refused(d, 2, "'x' in '2=x' is not a number", "traffic", "fraud", "--split", "2=x")
        refused(d, 2, "--pin and --split", "traffic", "fraud", "--pin", "1", "--split", "1=1")
        refused(d, 2, "go with --split", "traffic", "fraud", "--pin", "1", "--sticky-key", "k")
        refused(d, 2, "--revision goes with a change", "traffic", "fraud", "--revision", "1")
        refused(d, 2, "not a revision number", "traffic", "fraud", "--pin", "1",
                "--revision", "x")
        refused(d, 2, "cannot open", "traffic", "fraud", "--set", "/nonexistent/policy.json")
        expect(policy(d)["revision"] == rev + 1, "a usage error changed the policy")


def test_shadows():
    with Daemon(bench=False) as d:
        ok(d, "traffic", "fraud", "--split", "2=90,1=10", "--sticky-header", "X-User-Id")
        ok(d, "alias", "fraud", "candidate", "1")
        # a shadow of a version that takes traffic, named by an alias, is refused like one
        # named by its number (and so never stored to fail its parse at the next start)
        refused(d, 1, "shadows[0].version: version 1 already takes traffic on route 'canary'",
                "traffic", "fraud", "--shadow", "candidate")
        refused(d, 1, "already takes traffic", "traffic", "fraud", "--shadow", "1")
        ok(d, "traffic", "fraud", "--pin", "2")
        rev = policy(d)["revision"]
        out = ok(d, "traffic", "fraud", "--shadow", "candidate:25%")
        expect("shadows:   1 (candidate) at 25%\n" in out, out)
        doc = policy(d)
        expect(doc["revision"] == rev + 1 and
               doc["policy"]["shadows"] == [{"version": "1", "alias": "candidate",
                                              "fraction": 0.25}] and
               doc["policy"]["routes"][0]["version"] == "2", doc)
        row1 = [r for r in table(ok(d, "versions", "fraud")) if r["VERSION"] == "1"][0]
        expect(row1["TRAFFIC"] == "0%", row1)
        expect(row1["ROUTES"] == "shadow(25%)", row1)
        # --shadow alone keeps the routes and sticky of the policy in force
        ok(d, "traffic", "fraud", "--split", "2=90,champion=10", "--sticky-header", "X-User-Id")
        routes = policy(d)["policy"]["routes"]
        ok(d, "traffic", "fraud", "--shadow", "1:0.5")
        doc = policy(d)["policy"]
        expect(doc["routes"] == routes and doc["sticky"]["header"] == "X-User-Id" and
               doc["shadows"] == [{"version": "1", "fraction": 0.5}], doc)
        refused(d, 1, "already takes traffic", "traffic", "fraud", "--shadow", "2:0.5")
        ok(d, "traffic", "fraud", "--pin", "2", "--shadow", "1:0.5")
        ok(d, "traffic", "fraud", "--split", "champion=100", "--sticky-header", "X-User-Id",
           "--shadow", "1")
        doc = policy(d)["policy"]
        expect(doc["shadows"] == [{"version": "1", "fraction": 1}] and
               doc["sticky"]["header"] == "X-User-Id", doc)
        ok(d, "traffic", "fraud", "--no-shadows")
        doc = policy(d)["policy"]
        expect(doc["shadows"] == [] and doc["sticky"]["header"] == "X-User-Id", doc)
        # the policy survives a restart as set
        before = policy(d)
        d.stop()
        d2 = Daemon(repo=d.repo, args=["--data", d.data])
        try:
            after = policy(d2)
            expect(after["revision"] == before["revision"] and
                   after["policy"] == before["policy"], (before, after))
        finally:
            d2.stop()


def test_archive_restore():
    with Daemon(bench=False) as d:
        ok(d, "traffic", "fraud", "--split", "2=90,1=10")
        refused(d, 1, "version 1 of model 'fraud' is named by the traffic policy",
                "archive", "fraud", "1")
        ok(d, "traffic", "fraud", "--pin", "2")
        ok(d, "alias", "fraud", "old", "1")
        refused(d, 1, "named by alias 'old'", "archive", "fraud", "1")
        ok(d, "alias", "fraud", "old", "--delete")
        expect(ok(d, "archive", "fraud", "1") == "archived version 1 of fraud\n", "archive")
        row = [r for r in table(ok(d, "versions", "fraud")) if r["VERSION"] == "1"][0]
        expect(row["STATE"] == "ARCHIVED", row)
        st, data, _ = d.request("GET", "/v2/models/fraud/versions/1/ready")
        expect(st == 503 and b"archived" in data, (st, data))
        refused(d, 1, "is archived", "traffic", "fraud", "--pin", "1")
        refused(d, 1, "is archived", "alias", "fraud", "old", "1")
        expect(ok(d, "restore", "fraud", "1") == "restored version 1 of fraud\n", "restore")
        row = [r for r in table(ok(d, "versions", "fraud")) if r["VERSION"] == "1"][0]
        expect(row["STATE"] != "ARCHIVED", row)
        expect(json.loads(ok(d, "--json", "archive", "fraud", "1")) ==
               {"model": "fraud", "version": "1", "archived": True}, "archive --json")
        ok(d, "restore", "fraud", "1")
        refused(d, 1, "model 'fraud' has no registered version 7", "archive", "fraud", "7")
        refused(d, 1, "is named by the traffic policy", "archive", "fraud", "champion")
        refused(d, 1, "unknown model 'nosuch'", "restore", "nosuch", "1")
        refused(d, 2, "missing VERSION", "archive", "fraud")


def test_events():
    with Daemon(bench=False) as d:
        ok(d, "alias", "fraud", "candidate", "1")
        ok(d, "traffic", "fraud", "--split", "2=90,1=10")
        st, doc, _ = d.json("GET", "/api/v1/events?model=fraud")
        expect(st == 200, doc)
        out = ok(d, "events", "--model", "fraud")
        lines = out.splitlines()
        expect(lines[0].split() == ["TIME", "MODEL", "KIND", "MESSAGE"], out)
        # oldest first: the server's list reversed
        expect([l.split()[2] for l in lines[1:]] == [e["kind"] for e in doc["events"]][::-1],
               (out, doc))
        expect(lines[-1].split()[2] == "policy_changed" and
               lines[-2].split()[2] == "alias_moved" and
               "alias 'candidate' set to version 1" in lines[-2], out)
        out = ok(d, "events", "--kind", "alias_moved")
        expect(len(out.splitlines()) == 2 and "fraud" in out, out)
        expect(json.loads(ok(d, "events", "--model", "fraud", "--json")) == doc, "--json")
        page = json.loads(ok(d, "events", "--limit", "2", "--json"))
        expect(len(page["events"]) == 2 and "next_before" in page, page)
        older = json.loads(ok(d, "events", "--limit", "2", "--before",
                              str(page["next_before"]), "--json"))
        expect(older["events"][0]["id"] < page["events"][-1]["id"], (page, older))
        refused(d, 1, "since: 'yesterday' is neither", "events", "--since", "yesterday")
        refused(d, 1, "limit: '0' is not a number from 1 to 1000", "events", "--limit", "0")
        refused(d, 2, "go with --follow", "events", "--max-events", "3")
        refused(d, 2, "not with --follow", "events", "--follow", "--until", "5")

        # --follow: the last event, then the new ones as they come, until --max-events
        tmp = tempfile.mkdtemp(prefix="t7100-")
        out_path = os.path.join(tmp, "follow.out")
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        with open(out_path, "w") as out_f:
            p = subprocess.Popen([MODELCTL, "--url", "http://127.0.0.1:%d" % d.port, "events",
                                  "--model", "fraud", "--follow", "--limit", "1",
                                  "--max-events", "3", "--max-seconds", "60"],
                                 stdout=out_f, stderr=subprocess.PIPE, text=True, env=env)
        try:
            expect(wait_for(lambda: open(out_path).read().count("\n") >= 2),
                   "follow printed no first event: %s" % open(out_path).read())
            ok(d, "alias", "fraud", "next", "2")
            ok(d, "traffic", "fraud", "--pin", "2")
            ok(d, "alias", "fraud", "other", "2")  # after --max-events: never printed
            rc = p.wait(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        out = open(out_path).read()
        lines = out.splitlines()
        expect(rc == 0 and p.stderr.read() == "", (rc, out))
        expect(len(lines) == 4 and "policy_changed" in lines[1] and
               "alias 'next' set to version 2" in lines[2] and "policy_changed" in lines[3],
               out)
        os.unlink(out_path)
        os.rmdir(tmp)

        # --follow --max-seconds: returns on time with what came
        start = time.time()
        rc, out, err = ctl(d, "events", "--follow", "--kind", "nosuch", "--max-seconds", "1.5")
        took = time.time() - start
        expect(rc == 0 and out.splitlines() == [out.splitlines()[0]] and 1.4 <= took < 10,
               (rc, out, err, took))
        # --json --follow: one object per line
        rc, out, err = ctl(d, "--json", "events", "--follow", "--model", "fraud", "--limit", "2",
                           "--max-events", "2")
        events = [json.loads(l) for l in out.splitlines()]
        expect(rc == 0 and len(events) == 2 and events[0]["id"] < events[1]["id"], out)


class Recorder:
    """A server on 127.0.0.1 that answers GET .../traffic with a canned policy
    at revision 5 and records every request: (method, path, headers, body)."""

    POLICY = {"model": "m", "revision": 5, "updated": "2026-12-07T10:00:00.000Z",
              "policy": {"routes": [{"name": "stable", "version": "2", "weight": 90},
                                    {"name": "canary", "version": "3", "weight": 10}],
                         "sticky": {"header": "X-User-Id", "salt": "s1"},
                         "shadows": [], "mirror": 0},
              "routes": [{"name": "stable", "version": "2", "percent": 90, "serving": True},
                         {"name": "canary", "version": "3", "percent": 10, "serving": True}]}

    def __init__(self):
        self.requests = []
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n > 0 else b""
                rec.requests.append((self.command, self.path, dict(self.headers), body))
                if self.command == "GET":
                    out = json.dumps(Recorder.POLICY).encode()
                else:
                    out = json.dumps({"model": "m", "revision": 6,
                                      "policy": json.loads(body) if body else {},
                                      "alias": "x", "version": None}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_PUT = do_DELETE = do_POST = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def take(self):
        out, self.requests = self.requests, []
        return out


def test_requests_sent():
    """What the shortcuts send: --shadow alone puts back the policy it read with
    new shadows under If-Match of the revision read; --revision overrides it;
    --pin and --split send a whole policy and no If-Match; names are encoded."""
    rec = Recorder()
    try:
        ok(rec, "traffic", "m", "--shadow", "4:25%", "--shadow", "5")
        (m1, p1, _, _), (m2, p2, h2, b2) = rec.take()
        expect((m1, p1, m2, p2) == ("GET", "/api/v1/models/m/traffic", "PUT",
                                    "/api/v1/models/m/traffic"), (m1, p1, m2, p2))
        want = dict(Recorder.POLICY["policy"],
                    shadows=[{"version": "4", "fraction": 0.25}, {"version": "5"}])
        expect(h2.get("If-Match") == '"5"' and json.loads(b2) == want, (h2, b2))
        ok(rec, "traffic", "m", "--no-shadows", "--revision", "9")
        (_, _, _, _), (_, _, h2, b2) = rec.take()
        expect(h2.get("If-Match") == '"9"' and json.loads(b2)["shadows"] == [], (h2, b2))
        ok(rec, "traffic", "m", "--pin", "champion")
        [(m, p, h, b)] = rec.take()
        expect(m == "PUT" and "If-Match" not in h and json.loads(b) ==
               {"routes": [{"name": "stable", "version": "champion", "weight": 100}],
                "shadows": []}, (m, h, b))
        ok(rec, "traffic", "m", "--split", "2=90,3=10", "--sticky-key", "user_id", "--salt",
           "e1", "--mirror", "0.5", "--revision", "7")
        [(m, p, h, b)] = rec.take()
        expect(h.get("If-Match") == '"7"' and json.loads(b) ==
               {"routes": [{"name": "stable", "version": "2", "weight": 90},
                           {"name": "canary", "version": "3", "weight": 10}],
                "sticky": {"key": "user_id", "salt": "e1"}, "shadows": [], "mirror": 0.5},
               (h, b))
        ok(rec, "alias", "a b", "x", "--delete")
        ok(rec, "archive", "a/b", "3")
        reqs = rec.take()
        expect([(m, p, b) for m, p, _, b in reqs] ==
               [("DELETE", "/api/v1/models/a%20b/aliases/x", b""),
                ("POST", "/api/v1/models/a%2Fb/versions/3/archive", b"")], reqs)
        refused(rec, 2, "'0x10' in '2=0x10' is not a number", "traffic", "m", "--split",
                "2=0x10")
        expect(rec.take() == [], "a usage error sent a request")
    finally:
        rec.httpd.shutdown()
        rec.httpd.server_close()


def test_help():
    for cmd in ("versions", "alias", "aliases", "traffic", "archive", "restore", "events"):
        p = subprocess.run([MODELCTL, cmd, "--help"], capture_output=True, text=True, timeout=10)
        expect(p.returncode == 0 and p.stdout.startswith("NAME\n") and
               "EXIT STATUS" in p.stdout, (cmd, p.stdout, p.stderr))
        p = subprocess.run([MODELCTL, "help", cmd], capture_output=True, text=True, timeout=10)
        expect(p.returncode == 0 and "SYNOPSIS" in p.stdout, (cmd, p.stdout))
        p = subprocess.run([MODELCTL, cmd, "--bogus"], capture_output=True, text=True, timeout=10)
        expect(p.returncode == 2 and "unknown option '--bogus'" in p.stderr, (cmd, p.stderr))
    p = subprocess.run([MODELCTL, "--help"], capture_output=True, text=True, timeout=10)
    for cmd in ("versions", "alias", "aliases", "traffic", "archive", "restore", "events"):
        expect("\n  %s " % cmd in p.stdout, (cmd, p.stdout))


if __name__ == "__main__":
    run([test_versions_and_aliases, test_traffic_pin_split_sticky,
         test_traffic_refusals_and_revision, test_shadows, test_archive_restore, test_events,
         test_requests_sent, test_help])
