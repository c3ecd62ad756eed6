#!/usr/bin/python3
"""Every request passes the route table's permission check: on a listener
that is not loopback (0.0.0.0, reached here through 127.0.0.1), requests
without credentials may read and predict but not change the server's state
(load, unload, settings: 403 naming --insecure) unless --insecure is given;
on a loopback listener ([::1] here; 127.0.0.1 in every other test) they may
do everything. `modeld --routes` prints the table, and docs/api.md shows it
as printed."""
import os
import re
import subprocess
import tempfile

from harness import (Daemon, MODELD, ROOT, expect, expect_error, free_port, make_repo, run,
                     v2_row)

ROW = [0.5] * 30


class ListenDaemon(Daemon):
    """A modeld listening on listen_host, reached through connect_host."""

    def __init__(self, listen_host, connect_host="127.0.0.1", args=()):
        self.tmp = tempfile.mkdtemp(prefix="modeld-test-")
        self.repo = make_repo(os.path.join(self.tmp, "repo"), examples=False)
        self.data = os.path.join(self.tmp, "data")
        self.port = free_port()
        self.host = connect_host
        self.log_path = os.path.join(self.tmp, "modeld.log")
        self.args = [MODELD, "--repo", self.repo, "--listen",
                     "%s:%d" % (listen_host, self.port), "--data", self.data] + list(args)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()


def setting(d, name):
    st, doc, _ = d.json("GET", "/api/v1/settings/" + name)
    expect(st == 200, (st, doc))
    return doc["value"], doc["source"]


def unload_and_load(d):
    """Unloading and loading the model 'bench' work: the model stops and starts serving."""
    st, doc, _ = d.json("POST", "/v2/repository/models/bench/unload")
    expect(st == 200, (st, doc))
    st, doc, _ = d.json("GET", "/v2/models/bench/ready")
    expect(st == 503, (st, doc))
    st, doc, _ = d.json("POST", "/v2/repository/models/bench/load")
    expect(st == 200, (st, doc))
    st, doc, _ = d.json("POST", "/v2/models/bench/infer", v2_row(ROW))
    expect(st == 200, (st, doc))


def test_non_loopback_refuses_state_changes():
    with ListenDaemon("0.0.0.0") as d:
        expect("not a loopback address" in d.logs() and "--insecure" in d.logs(), d.logs())
        expect(setting(d, "insecure") == (False, "default"), setting(d, "insecure"))
        for method, path in [("POST", "/v2/repository/models/bench/unload"),
                             ("POST", "/v2/repository/models/bench/load"),
                             ("POST", "/v2/repository/models/nosuch/load"),
                             ("PUT", "/api/v1/settings/poll"),
                             ("PATCH", "/api/v1/settings/log_level"),
                             ("POST", "/api/v1/models/bench/versions")]:
            st, doc, _ = d.json(method, path, {})
            expect_error(st, doc, 403, "anonymous requests may not change the server's state on "
                         "a non-loopback listener (0.0.0.0:%d)" % d.port)
            expect("--insecure" in doc["error"], doc)
        # The model was not unloaded: it answers, through both protocols.
        st, doc, _ = d.json("GET", "/v2/models/bench/ready")
        expect(st == 200, (st, doc))
        st, doc, _ = d.json("POST", "/v2/models/bench/infer", v2_row(ROW))
        expect(st == 200 and len(doc["outputs"]) > 0, (st, doc))
        st, doc, _ = d.json("POST", "/v1/models/bench:predict", {"instances": [ROW]})
        expect(st == 200 and len(doc["predictions"]) == 1, (st, doc))
        # The repository index is a POST that changes nothing: allowed.
        st, doc, _ = d.json("POST", "/v2/repository/index", {})
        expect(st == 200 and {r["name"] for r in doc} == {"bench", "strict"}, (st, doc))
        st, doc, _ = d.json("GET", "/v2/models/stats")
        expect(st == 200 and len(doc["model_stats"]) == 2, (st, doc))
        # Paths and methods that match no route are answered as before.
        st, doc, h = d.json("GET", "/v2/repository/models/bench/load")
        expect(st == 405 and h.get("allow") == "POST", (st, doc, h))
        st, doc, h = d.json("DELETE", "/api/v1/settings/poll")
        expect(st == 405 and h.get("allow") == "GET", (st, doc, h))
        st, doc, _ = d.json("GET", "/v1/models/bench:predict")
        expect_error(st, doc, 400, "Malformed request")
        st, data, _ = d.request("GET", "/metrics")
        expect(st == 200, st)
        expect(b'modeld_http_requests_total{api="repository",code="403"} 3\n' in data, data)
        expect(b'modeld_http_requests_total{api="management",code="403"} 3\n' in data, data)


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
        expect(path.startswith(("/v2", "/v1/", "/metrics", "/api/v1/")), line)
        expect(perm in ("status", "read", "predict", "feedback", "review", "data", "deploy",
                        "admin"), line)
        expect(scope in ("none", "path-model", "body-items", "listing"), line)
        # A GET never changes the server's state.
        expect(method != "GET" or perm in ("status", "read", "data", "review", "admin"), line)
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
                      ("POST", "/api/v1/keys/rotate")}, manage)


def test_docs_show_the_table():
    """docs/api.md's route table is what --routes prints."""
    with open(os.path.join(ROOT, "docs", "api.md")) as f:
        doc = f.read()
    m = re.search(r"<!-- modeld --routes -->\n```\n(.*?)```", doc, re.S)
    expect(m is not None, "no route table in docs/api.md")
    expect(m.group(1) == routes_text(), "docs/api.md's route table differs from modeld "
           "--routes:\n%s" % routes_text())


if __name__ == "__main__":
    run([test_non_loopback_refuses_state_changes, test_insecure_allows_state_changes,
         test_loopback_allows_state_changes, test_tfs_classify_and_regress, test_routes_flag,
         test_docs_show_the_table])
