#!/usr/bin/python3
"""Every request passes the route table's permission check. Without --auth,
modeld refuses to start on a listener that is not loopback (0.0.0.0 here)
and says why, unless --insecure is given; with --auth it starts there, and
a request without a token gets 401 (t5000 walks every route and role); on a
loopback listener ([::1] here; 127.0.0.1 in every other test) requests
without credentials may do everything. `modeld --routes` prints the table,
and docs/api.md shows it as printed."""
import atexit
import os
import re
import shutil
import subprocess
import tempfile

from harness import (Daemon, MODELD, ROOT, expect, expect_error, free_port, make_repo, run,
                     v2_row)

ROW = [0.5] * 30


class ListenDaemon(Daemon):
    """A modeld listening on listen_host, reached through connect_host."""

    def __init__(self, listen_host, connect_host="127.0.0.1", args=(), data=None):
        self.tmp = tempfile.mkdtemp(prefix="modeld-test-")
        self.repo = make_repo(os.path.join(self.tmp, "repo"), examples=False)
        self.data = data or os.path.join(self.tmp, "data")
        self.port = free_port()
        self.host = connect_host
        self.log_path = os.path.join(self.tmp, "modeld.log")
        self.args = [MODELD, "--repo", self.repo, "--listen",
                     "%s:%d" % (listen_host, self.port), "--data", self.data] + list(args)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()


def setting(d, name):
    return setting_as(d, name, None)


def setting_as(d, name, headers):
    st, doc, _ = d.json("GET", "/api/v1/settings/" + name, headers=headers)
    expect(st == 200, (st, doc))
    return doc["value"], doc["source"]


def unload_and_load(d, headers=None):
    """Unloading and loading the model 'bench' work: the model stops and starts serving."""
    st, doc, _ = d.json("POST", "/v2/repository/models/bench/unload", headers=headers)
    expect(st == 200, (st, doc))
    st, doc, _ = d.json("GET", "/v2/models/bench/ready", headers=headers)
    expect(st == 503, (st, doc))
    st, doc, _ = d.json("POST", "/v2/repository/models/bench/load", headers=headers)
    expect(st == 200, (st, doc))
    st, doc, _ = d.json("POST", "/v2/models/bench/infer", v2_row(ROW), headers=headers)
    expect(st == 200, (st, doc))


def test_non_loopback_refused_without_auth():
    """Without --auth and --insecure, 0.0.0.0 is refused at start, naming both."""
    tmp = tempfile.mkdtemp(prefix="modeld-test-")
    atexit.register(shutil.rmtree, tmp, True)
    port = free_port()
    p = subprocess.run([MODELD, "--repo", make_repo(os.path.join(tmp, "repo"), examples=False),
                        "--listen", "0.0.0.0:%d" % port, "--data", os.path.join(tmp, "data")],
                       capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    expect(p.returncode == 1, (p.returncode, out))
    expect("--listen 0.0.0.0:%d is not a loopback address and authentication is off" % port
           in out, out)
    expect("--auth" in out and "--insecure" in out, out)


def test_non_loopback_with_auth():
    """With --auth, 0.0.0.0 serves; without a token a request is 401, with an admin's it works."""
    tmp = tempfile.mkdtemp(prefix="modeld-test-")
    atexit.register(shutil.rmtree, tmp, True)
    data = os.path.join(tmp, "data")
    p = subprocess.run([MODELD, "token", "create", "--role", "admin", "--data", data],
                       capture_output=True, text=True, timeout=30)
    expect(p.returncode == 0, (p.returncode, p.stderr))
    auth = {"Authorization": "Bearer " + p.stdout.strip()}
    with ListenDaemon("0.0.0.0", args=["--auth"], data=data) as d:
        expect(setting_as(d, "auth", auth) == (True, "flag"), d.logs())
        for method, path in [("POST", "/v2/repository/models/bench/unload"),
                             ("PUT", "/api/v1/settings/poll"),
                             ("POST", "/v2/models/bench/infer"),
                             ("POST", "/api/v1/models/bench/versions")]:
            st, doc, h = d.json(method, path, {})
            expect_error(st, doc, 401, "authorization: missing")
            expect(h.get("www-authenticate", "").startswith("Bearer"), h)
        st, doc, _ = d.json("GET", "/v2/models/bench/ready", headers=auth)
        expect(st == 200, (st, doc))
        unload_and_load(d, auth)
        st, data, _ = d.request("GET", "/metrics", headers=auth)
        expect(st == 200, st)
        expect(b'modeld_http_requests_total{api="repository",code="401"} 1\n' in data, data)
        expect(b'modeld_http_requests_total{api="management",code="401"} 2\n' in data, data)


def test_insecure_allows_state_changes():
    with ListenDaemon("0.0.0.0", args=["--insecure"]) as d:
        expect("--insecure on a non-loopback address" in d.logs(), d.logs())
        expect(setting(d, "insecure") == (True, "flag"), setting(d, "insecure"))
        unload_and_load(d)
        st, doc, _ = d.json("PUT", "/api/v1/settings/poll", {})
        expect(st == 405, (st, doc))


def test_loopback_allows_state_changes():
    """[::1] is loopback too; --insecure there changes nothing and warns of nothing."""
    with ListenDaemon("[::1]", connect_host="::1", args=["--insecure"]) as d:
        unload_and_load(d)
        st, doc, _ = d.json("PATCH", "/api/v1/settings/poll", {})
        expect(st == 405, (st, doc))
        expect("loopback" not in d.logs(), d.logs())


def test_tfs_classify_and_regress():
    """TF Serving's other verbs have routes of their own, which answer 501."""
    with Daemon(examples=False) as d:
        for verb in ("classify", "regress"):
            for path in ("/v1/models/bench:" + verb, "/v1/models/bench/versions/1:" + verb):
                st, doc, _ = d.json("POST", path, {"examples": []})
                expect_error(st, doc, 501, "classify and regress are not supported; use :predict")
            st, doc, _ = d.json("GET", "/v1/models/bench:" + verb)
            expect_error(st, doc, 400, "Malformed request: GET /v1/models/bench:" + verb)


def routes_text():
    p = subprocess.run([MODELD, "--routes"], capture_output=True, text=True, timeout=10)
    expect(p.returncode == 0 and p.stderr == "", (p.returncode, p.stderr))
    return p.stdout


def test_routes_flag():
    text = routes_text()
    lines = text.splitlines()
    expect(len(lines) >= 22, text)
    for line in lines:
        method, path, perm, scope = line.split()
        expect(method in ("GET", "POST", "PUT", "PATCH", "DELETE"), line)
        expect(path.startswith(("/v2", "/v1/", "/metrics", "/api/v1/", "/ui")) or path == "/",
               line)
        expect(perm in ("status", "read", "predict", "feedback", "review", "data", "deploy",
                        "admin"), line)
        expect(scope in ("none", "path-model", "body-items", "listing"), line)
        # A GET never changes the server's state (an admin's GET reads tokens or the audit log).
        expect(method != "GET" or perm in ("status", "read", "data", "review", "admin"), line)
    # The dashboard's sessions: any role signs itself in and out (api/session.c).
    session = {tuple(l.split()[:3]) for l in lines if l.split()[1] == "/api/v1/session"}
    expect(session == {("POST", "/api/v1/session", "status"), ("GET", "/api/v1/session", "status"),
                       ("DELETE", "/api/v1/session", "status")}, session)
    manage = {tuple(l.split()[:2]) for l in lines if l.split()[2] in ("deploy", "admin")}
    expect(manage == {("POST", "/v2/repository/models/{model}/load"),
                      ("POST", "/v2/repository/models/{model}/unload"),
                      ("PUT", "/api/v1/settings/{setting}"),
                      ("PATCH", "/api/v1/settings/{setting}"),
                      ("POST", "/api/v1/models/{model}/versions/{version}/archive"),
                      ("POST", "/api/v1/models/{model}/versions/{version}/restore"),
                      ("PUT", "/api/v1/models/{model}/aliases/{alias}"),
                      ("DELETE", "/api/v1/models/{model}/aliases/{alias}"),
                      ("PUT", "/api/v1/models/{model}/traffic"),
                      ("PUT", "/api/v1/models/{model}"),
                      ("POST", "/api/v1/models/{model}/versions"),
                      ("POST", "/api/v1/models/{model}/rollouts"),
                      ("POST", "/api/v1/models/{model}/rollouts/{id}/pause"),
                      ("POST", "/api/v1/models/{model}/rollouts/{id}/resume"),
                      ("POST", "/api/v1/models/{model}/rollouts/{id}/promote"),
                      ("POST", "/api/v1/models/{model}/rollouts/{id}/abort"),
                      ("POST", "/api/v1/models/{model}/rollouts/{id}/rollback"),
                      ("PUT", "/api/v1/strategies/{name}"),
                      ("DELETE", "/api/v1/strategies/{name}"),
                      ("PUT", "/api/v1/alert-rules/{name}"),
                      ("DELETE", "/api/v1/alert-rules/{name}"),
                      ("PUT", "/api/v1/models/{model}/datasets/{name}"),
                      ("DELETE", "/api/v1/models/{model}/datasets/{name}"),
                      ("POST", "/api/v1/models/{model}/trainings"),
                      ("GET", "/api/v1/audit"),
                      ("GET", "/api/v1/audit/verify"),
                      # erasure of a subject's data (api/subjects.c)
                      ("DELETE", "/api/v1/subjects/{subject}"),
                      # encryption at rest
                      ("POST", "/api/v1/keys/rotate"),

                      # bearer tokens (part tokens)
                      ("POST", "/api/v1/tokens"),
                      ("GET", "/api/v1/tokens"),
                      ("DELETE", "/api/v1/tokens/{name}"),
                      # the security self-assessment
                      ("GET", "/api/v1/security/report")}, manage)


def test_docs_show_the_table():
    """docs/api.md's route table is what --routes prints."""
    with open(os.path.join(ROOT, "docs", "api.md")) as f:
        doc = f.read()
    m = re.search(r"<!-- modeld --routes -->\n```\n(.*?)```", doc, re.S)
    expect(m is not None, "no route table in docs/api.md")
    expect(m.group(1) == routes_text(), "docs/api.md's route table differs from modeld "
           "--routes:\n%s" % routes_text())


if __name__ == "__main__":
    run([test_non_loopback_refused_without_auth, test_non_loopback_with_auth,
         test_insecure_allows_state_changes,
         test_loopback_allows_state_changes, test_tfs_classify_and_regress, test_routes_flag,
         test_docs_show_the_table])
