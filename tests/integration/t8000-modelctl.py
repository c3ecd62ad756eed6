#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""t8000-modelctl: drive build/modelctl against a server and check what it
prints, what it sends and how it exits.

The server is FakeModeld below: a small http.server on 127.0.0.1 and a free
port that answers the endpoints modelctl uses with canned bodies and records
every request, so the tests can check the exact bytes modelctl sent.
t8001-modelctl-live.py runs modelctl against build/modeld itself.

Run from the repository root: /usr/bin/python3 tests/integration/t8000-modelctl.py
MODELCTL=build-asan/modelctl picks another binary. Ends with "N passed, N failed".
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

MODELCTL = os.environ.get("MODELCTL", "build/modelctl")
RUN_TIMEOUT_S = 30  # the most one modelctl run may take before the test fails it
CTL_TIMEOUT = "5"  # --timeout given to modelctl, so no run waits on a hung server


# ---------------------------------------------------------------------------
# The fake server
# ---------------------------------------------------------------------------


class FakeModeld:
    """Canned answers for the endpoints modelctl speaks; records each request."""

    INDEX = [
        {"name": "fraud", "version": "1", "state": "READY", "reason": ""},
        {"name": "fraud", "version": "2", "state": "READY", "reason": ""},
        {"name": "churn", "version": "3", "state": "UNAVAILABLE",
         "reason": "model.yaml: features[0].datatype: 'FLOAT' is not one of FP32, FP64"},
    ]
    FRAUD_META = {
        "name": "fraud",
        "versions": ["1", "2"],
        "platform": "modeld_trees",
        "inputs": [
            {"name": "amount", "datatype": "FP32", "shape": [-1, 1]},
            {"name": "country", "datatype": "BYTES", "shape": [-1, 1]},
            {"name": "card_present", "datatype": "BOOL", "shape": [-1, 1]},
            {"name": "n_tx", "datatype": "INT32", "shape": [-1, 1]},
            {"name": "hour", "datatype": "UINT8", "shape": [-1, 1]},
            {"name": "embedding", "datatype": "FP32", "shape": [-1, 4]},
        ],
        "outputs": [
            {"name": "probability", "datatype": "FP32", "shape": [-1, 1]},
            {"name": "label", "datatype": "BYTES", "shape": [-1, 1]},
        ],
    }
    REQUEST_ID = "req-0001"
    SLOW_S = 3  # how long the model "slow" takes to answer

    def __init__(self):
        self.requests = []  # (method, path, body bytes), in arrival order
        self.ready = True
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10

            def log_message(self, *args):
                pass

            def _serve(self, method):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n > 0 else b""
                with fake.lock:
                    fake.requests.append((method, self.path, body))
                status, headers, out = fake.answer(method, self.path, body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def take_requests(self):
        with self.lock:
            out, self.requests = self.requests, []
        return out

    @staticmethod
    def _json(status, obj, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return status, h, json.dumps(obj).encode()

    def _error(self, status, msg):
        return self._json(status, {"error": msg})

    def answer(self, method, path, body):
        """(status, headers, body) for one request."""
        parts = [unquote(p) for p in path.split("/")[1:]]
        if method == "GET" and path == "/v2/health/ready":
            if self.ready:
                return self._json(200, {"ready": True})
            return self._error(503, "server is starting")
        if method == "POST" and path == "/v2/repository/index":
            return self._json(200, self.INDEX)
        if method == "POST" and parts[:3] == ["v2", "repository", "models"] and len(parts) == 5:
            model, verb = parts[3], parts[4]
            if verb not in ("load", "unload"):
                return self._error(404, "Not Found")
            if model != "fraud":
                return self._error(404, "unknown model '%s'" % model)
            return 200, {}, b""
        if parts[:2] == ["v2", "models"] and len(parts) >= 3:
            return self._model(method, parts[2:], body)
        return self._error(404, "Not Found")

    def _model(self, method, rest, body):
        model, version = rest[0], None
        if len(rest) >= 3 and rest[1] == "versions":
            version = rest[2]
            rest = [model] + rest[3:]
        if model == "garbage":
            return 200, {"Content-Type": "application/json"}, b"this is not json"
        if model not in ("fraud", "slow", "a b"):
            return self._error(404, "unknown model '%s'" % model)
        if method == "GET" and len(rest) == 1:
            meta = dict(self.FRAUD_META, name=model)
            return self._json(200, meta)
        if method != "POST" or rest[1:] != ["infer"]:
            return self._error(404, "Not Found")
        if model == "slow":
            time.sleep(self.SLOW_S)
        try:
            req = json.loads(body)
        except ValueError as e:
            return self._error(400, "body is not JSON: %s" % e)
        for t in req.get("inputs", []):
            if t.get("name") == "amount" and t.get("data") and t["data"][0] is not None \
                    and t["data"][0] < 0:
                return self._error(400, "feature 'amount' row 0: %g below min 0" % t["data"][0])
        resp = {
            "model_name": model,
            "model_version": version or "2",
            "id": req.get("id", ""),
            "parameters": {"request_id": self.REQUEST_ID},
            "outputs": [
                {"name": "probability", "datatype": "FP32", "shape": [1, 1], "data": [0.02]},
                {"name": "label", "datatype": "BYTES", "shape": [1, 1], "data": ["legit"]},
            ],
        }
        return self._json(200, resp, {"X-Request-Id": self.REQUEST_ID})


# ---------------------------------------------------------------------------
# Running modelctl
# ---------------------------------------------------------------------------


class Result:
    def __init__(self, rc, out, err, secs):
        self.rc, self.out, self.err, self.secs = rc, out, err, secs

    def __repr__(self):
        return "rc=%d stdout=%r stderr=%r" % (self.rc, self.out, self.err)


def modelctl(*args, url=None, env=None, stdin=None, stdout_path=None):
    """Runs modelctl with --url (unless url is False) and --timeout; returns a Result.
    stdout_path: a file to write stdout to instead (Result.out is then "")."""
    argv = [MODELCTL]
    if url is not False:
        argv += ["--url", url or SERVER.url]
    argv += ["--timeout", CTL_TIMEOUT] + list(args)
    e = dict(os.environ)
    for k in ("MODELD_URL", "http_proxy", "https_proxy", "all_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        e.pop(k, None)
    e.update(env or {})
    t0 = time.monotonic()
    if stdout_path is None:
        p = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=e,
                           timeout=RUN_TIMEOUT_S)
    else:
        with open(stdout_path, "w") as out:
            p = subprocess.run(argv, input=stdin, stdout=out, stderr=subprocess.PIPE, text=True,
                               env=e, timeout=RUN_TIMEOUT_S)
    res = Result(p.returncode, p.stdout or "", p.stderr, time.monotonic() - t0)
    # Under SANITIZE= builds a report must fail the test whatever the exit status.
    expect("Sanitizer" not in res.err and "runtime error:" not in res.err,
           "%s: sanitizer report" % list(args), res)
    return res


def free_port():
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expect(cond, what, res=None):
    if not cond:
        raise AssertionError(what + ("; got %r" % res if res is not None else ""))


def expect_rc(res, rc):
    expect(res.rc == rc, "exit status %d expected" % rc, res)


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

TESTS = []
SERVER = None


def test(fn):
    TESTS.append(fn)
    return fn


COMMANDS = ["status", "predict", "load", "unload", "health"]


@test
def help_for_every_command():
    r = modelctl("--help", url=False)
    expect_rc(r, 0)
    for c in COMMANDS + ["help"]:
        expect("  %s " % c in r.out, "modelctl --help lists %s" % c, r)
    for c in COMMANDS:
        for form in ([c, "--help"], [c, "-h"], ["help", c]):
            r = modelctl(*form, url=False)
            expect_rc(r, 0)
            for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXAMPLES",
                            "EXIT STATUS"):
                expect("\n" + section + "\n" in "\n" + r.out, "%s has %s" % (form, section), r)
            expect(r.err == "", "help writes nothing on stderr", r)
    r = modelctl("--version", url=False)
    expect_rc(r, 0)
    expect(r.out.startswith("modelctl "), "--version prints the version", r)


@test
def unwritable_stdout_exits_1():
    # Output calls go unchecked one by one; main's final check must catch a full disk.
    if not os.path.exists("/dev/full"):
        return
    for args in (["--help"], ["status", "--help"], ["status"], ["--json", "status"]):
        r = modelctl(*args, stdout_path="/dev/full")
        expect_rc(r, 1)
        expect("modelctl: cannot write output: " in r.err, "%s: says why" % args, r)


@test
def bad_usage_exits_2_and_sends_nothing():
    SERVER.take_requests()
    cases = [
        [],
        ["frobnicate"],
        ["--bogus", "status"],
        ["status", "a", "b"],
        ["status", "--bogus"],
        ["predict"],
        ["predict", "fraud"],
        ["predict", "fraud", "amount"],
        ["predict", "fraud", "=5"],
        ["predict", "fraud", "amount=1", "amount=2"],
        ["predict", "fraud", "--file", "x.json", "amount=1"],
        ["predict", "fraud", "--version"],
        ["load"],
        ["unload", "a", "b"],
        ["health", "extra"],
        ["--timeout", "0", "status"],
        ["--timeout", "soon", "status"],
        ["help", "frobnicate"],
    ]
    for args in cases:
        r = modelctl(*args)
        expect_rc(r, 2)
        expect(r.err.startswith("modelctl: "), "%s: message on stderr" % args, r)
        expect(r.out == "", "%s: nothing on stdout" % args, r)
    r = modelctl("status", url="ftp://127.0.0.1:1")
    expect_rc(r, 2)
    expect("--url: 'ftp://127.0.0.1:1' is not an http:// or https:// URL" in r.err, "bad URL", r)
    expect(SERVER.take_requests() == [], "no request sent for a usage error")


@test
def status_table():
    SERVER.take_requests()
    r = modelctl("status")
    expect_rc(r, 0)
    expected = (
        "MODEL  VERSION  STATE        REASON\n"
        "fraud  1        READY\n"
        "fraud  2        READY\n"
        "churn  3        UNAVAILABLE  model.yaml: features[0].datatype: 'FLOAT' is not one of "
        "FP32, FP64\n")
    expect(r.out == expected, "status table", r)
    reqs = SERVER.take_requests()
    expect(reqs == [("POST", "/v2/repository/index", b"{}")], "one index request", reqs)


@test
def status_one_model():
    r = modelctl("status", "fraud")
    expect_rc(r, 0)
    expect(r.out.splitlines()[1:] == ["fraud  1        READY", "fraud  2        READY"],
           "only fraud's rows", r)
    r = modelctl("status", "nosuch")
    expect_rc(r, 1)
    expect(r.err == "modelctl: status 'nosuch': unknown model 'nosuch'\n",
           "unknown model in status", r)


@test
def status_json():
    for args in (["--json", "status"], ["status", "--json"]):
        r = modelctl(*args)
        expect_rc(r, 0)
        expect(json.loads(r.out) == FakeModeld.INDEX, "%s prints the index" % args, r)
    r = modelctl("status", "churn", "--json")
    expect_rc(r, 0)
    expect(json.loads(r.out) == FakeModeld.INDEX[2:], "--json with MODEL filters", r)


@test
def predict_pairs_builds_columnar_request():
    SERVER.take_requests()
    r = modelctl("predict", "fraud", "amount=12.5", "country=FR", "card_present=true", "n_tx=3")
    expect_rc(r, 0)
    expect(r.out == "probability: 0.02\nlabel: legit\nrequest_id: req-0001\n", "outputs", r)
    reqs = SERVER.take_requests()
    expect([(m, p) for m, p, _ in reqs] == [("GET", "/v2/models/fraud"),
                                             ("POST", "/v2/models/fraud/infer")],
           "metadata then infer", reqs)
    expected = (b'{"inputs":['
                b'{"name":"amount","datatype":"FP32","shape":[1,1],"data":[12.5]},'
                b'{"name":"country","datatype":"BYTES","shape":[1,1],"data":["FR"]},'
                b'{"name":"card_present","datatype":"BOOL","shape":[1,1],"data":[true]},'
                b'{"name":"n_tx","datatype":"INT32","shape":[1,1],"data":[3]}]}')
    expect(reqs[1][2] == expected, "exact infer body", reqs[1][2])


@test
def predict_values_by_datatype():
    SERVER.take_requests()
    r = modelctl("predict", "fraud", "--version", "1", "n_tx=-7", "card_present=0",
                 "amount=1e3", "country=null", "hour=23")
    expect_rc(r, 0)
    reqs = SERVER.take_requests()
    expect([p for _, p, _ in reqs] == ["/v2/models/fraud/versions/1",
                                       "/v2/models/fraud/versions/1/infer"], "version path", reqs)
    body = json.loads(reqs[1][2])
    data = {t["name"]: t["data"] for t in body["inputs"]}
    expect(data == {"amount": [1000], "country": [None], "card_present": [False], "n_tx": [-7],
                    "hour": [23]},
           "converted values", body)
    r = modelctl("predict", "fraud", "country=a \"quoted\" value, \u00e9")
    expect_rc(r, 0)
    body = json.loads(SERVER.take_requests()[1][2])
    expect(body["inputs"][0]["data"] == ["a \"quoted\" value, \u00e9"], "BYTES escaped", body)


@test
def predict_file_is_sent_as_is():
    body = ('{"id": "7",\n "inputs": [{"name": "amount", "datatype": "FP32", "shape": [2, 1],'
            ' "data": [1, 2]}]}\n')
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "req.json")
        with open(path, "w") as f:
            f.write(body)
        SERVER.take_requests()
        r = modelctl("predict", "fraud", "--file", path)
        expect_rc(r, 0)
        reqs = SERVER.take_requests()
        expect(reqs == [("POST", "/v2/models/fraud/infer", body.encode())],
               "file body sent unchanged, no metadata request", reqs)
        r = modelctl("--json", "predict", "fraud", "--file", "-", stdin=body)
        expect_rc(r, 0)
        expect(json.loads(r.out)["parameters"]["request_id"] == "req-0001", "--json output", r)
        SERVER.take_requests()
        with open(path, "w") as f:
            f.write("{not json")
        r = modelctl("predict", "fraud", "--file", path)
        expect_rc(r, 2)
        expect("is not JSON" in r.err, "bad file", r)
        r = modelctl("predict", "fraud", "--file", os.path.join(d, "missing.json"))
        expect_rc(r, 2)
        expect("cannot open" in r.err and "No such file" in r.err, "missing file", r)
        expect(SERVER.take_requests() == [], "nothing sent for a bad file")


@test
def predict_unknown_input_exits_2_before_infer():
    SERVER.take_requests()
    r = modelctl("predict", "fraud", "amount=1", "amout=2")
    expect_rc(r, 2)
    expect(r.err == "modelctl: predict 'fraud': unknown input 'amout' (the model's inputs: "
           "amount, country, card_present, n_tx, hour, embedding)\n", "names the input", r)
    reqs = SERVER.take_requests()
    expect([m for m, _, _ in reqs] == ["GET"], "no infer request", reqs)


@test
def predict_bad_values_exit_2():
    cases = [
        ("amount=abc", "input 'amount': 'abc' is not a finite number"),
        ("amount=", "input 'amount': '' is not a finite number"),
        ("amount=nan", "input 'amount': 'nan' is not a finite number"),
        ("amount=1e39", "input 'amount': '1e39' is out of range for FP32"),
        ("card_present=yes", "input 'card_present': 'yes' is not true, false, 1 or 0"),
        ("n_tx=1.5", "input 'n_tx': '1.5' is not an integer"),
        ("n_tx=99999999999", "input 'n_tx': '99999999999' is out of range for INT32"),
        ("n_tx=-2147483649", "input 'n_tx': '-2147483649' is out of range for INT32"),
        ("n_tx= 1", "input 'n_tx': ' 1' is not an integer"),
        ("hour=-1", "input 'hour': '-1' is out of range for UINT8"),
        ("hour=256", "input 'hour': '256' is out of range for UINT8"),
        ("embedding=1", "input 'embedding' has shape [-1,4], not one value per row; use --file"),
    ]
    for pair, msg in cases:
        SERVER.take_requests()
        r = modelctl("predict", "fraud", pair)
        expect_rc(r, 2)
        expect(r.err == "modelctl: predict 'fraud': %s\n" % msg, pair, r)
        expect([m for m, _, _ in SERVER.take_requests()] == ["GET"], "%s: no infer" % pair)


@test
def predict_server_error_exits_1_with_its_message():
    r = modelctl("predict", "fraud", "amount=-5")
    expect_rc(r, 1)
    expect(r.err == "modelctl: predict 'fraud': feature 'amount' row 0: -5 below min 0\n",
           "server's message", r)
    expect(r.out == "", "nothing on stdout", r)
    r = modelctl("predict", "nosuch", "amount=1")
    expect_rc(r, 1)
    expect(r.err == "modelctl: predict 'nosuch': unknown model 'nosuch'\n", "404", r)
    r = modelctl("predict", "garbage", "amount=1")
    expect_rc(r, 1)
    expect(r.err.startswith("modelctl: predict 'garbage': bad response from server: "),
           "non-JSON metadata", r)


@test
def predict_encodes_path_segments():
    SERVER.take_requests()
    r = modelctl("predict", "a b", "amount=1")
    expect_rc(r, 0)
    paths = [p for _, p, _ in SERVER.take_requests()]
    expect(paths == ["/v2/models/a%20b", "/v2/models/a%20b/infer"], "encoded model name", paths)


@test
def timeout_is_bounded():
    r = modelctl("--timeout", "0.5", "predict", "slow", "--file", "-", stdin='{"inputs":[]}')
    expect_rc(r, 1)
    expect(r.err == "modelctl: predict 'slow': no answer from %s within 0.5 s\n" % SERVER.url,
           "timeout message", r)
    expect(r.secs < FakeModeld.SLOW_S, "gave up before the server answered", r.secs)


@test
def connection_refused_exits_1():
    url = "http://127.0.0.1:%d" % free_port()
    for args in (["status"], ["predict", "fraud", "amount=1"], ["load", "fraud"]):
        r = modelctl(*args, url=url)
        expect_rc(r, 1)
        expect(r.err == "modelctl: cannot reach %s: Connection refused\n" % url, "refused", r)
    r = modelctl("health", url=url)
    expect_rc(r, 1)
    expect(r.out == "not ready\n", "health prints not ready", r)


@test
def load_and_unload():
    SERVER.take_requests()
    r = modelctl("load", "fraud")
    expect_rc(r, 0)
    expect(r.out == "loaded fraud\n", "load output", r)
    r = modelctl("unload", "fraud")
    expect_rc(r, 0)
    expect(r.out == "unloaded fraud\n", "unload output", r)
    reqs = SERVER.take_requests()
    expect(reqs == [("POST", "/v2/repository/models/fraud/load", b""),
                    ("POST", "/v2/repository/models/fraud/unload", b"")], "requests", reqs)
    r = modelctl("load", "nosuch")
    expect_rc(r, 1)
    expect(r.err == "modelctl: load 'nosuch': unknown model 'nosuch'\n",
           "load refused", r)


@test
def health():
    r = modelctl("health")
    expect_rc(r, 0)
    expect(r.out == "ready\n", "ready", r)
    r = modelctl("--json", "health")
    expect(r.rc == 0 and json.loads(r.out) == {"ready": True}, "--json health", r)
    SERVER.ready = False
    try:
        r = modelctl("health")
        expect_rc(r, 1)
        expect(r.out == "not ready\n", "not ready", r)
        expect(r.err == "modelctl: health: server is starting\n", "reason on stderr", r)
    finally:
        SERVER.ready = True


@test
def url_from_environment():
    SERVER.take_requests()
    r = modelctl("status", url=False, env={"MODELD_URL": SERVER.url + "/"})
    expect_rc(r, 0)
    expect(len(SERVER.take_requests()) == 1, "MODELD_URL used")
    dead = "http://127.0.0.1:%d" % free_port()
    r = modelctl("status", url=SERVER.url, env={"MODELD_URL": dead})
    expect_rc(r, 0)
    r = modelctl("status", url=False, env={"MODELD_URL": dead})
    expect_rc(r, 1)
    expect(dead in r.err, "MODELD_URL named in the error", r)


def main():
    global SERVER
    if not os.access(MODELCTL, os.X_OK):
        print("t8000: %s is not built" % MODELCTL)
        print("0 passed, 1 failed")
        return 1
    SERVER = FakeModeld().start()
    passed = failed = 0
    try:
        for fn in TESTS:
            try:
                fn()
                passed += 1
                print("ok - %s" % fn.__name__)
            except (AssertionError, subprocess.TimeoutExpired, ValueError, KeyError) as e:
                failed += 1
                print("FAIL - %s: %s" % (fn.__name__, e))
    finally:
        SERVER.stop()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
