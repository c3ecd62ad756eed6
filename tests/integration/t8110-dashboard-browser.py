#!/usr/bin/python3
# once
"""The dashboard used as a person uses it (issue 19, items 7 and 8):
headless Chromium (browserlib.py) against the real daemon, started with
--auth, tokens of four roles made by `modeld token create`, an audit key,
and real traffic: a thread sends fraud and housing predictions and the
fraud answers' feedback on loopback all along (bounded in time).

- sign-in with a bad token shows #signin-error; with a good one, #whoami;
- every page (#/, #/models/fraud, #/review, #/alerts, #/audit) loads with no
  console error and no failed request, at 1280x800 and at 390x844 (where
  nothing but a table's own box scrolls sideways), and is saved as a
  screenshot (docs/img/dashboard-<page>[-phone].png under `make
  screenshots`, which sets MODELD_SCREENSHOTS);
- charts draw the API's numbers: each `svg[data-chart][data-series]` read
  is compared with the API's answer (the traffic split and the drift
  histograms' reference shares asked here; the sparklines' history and
  live points and the histograms' live shares as the page was answered,
  read from the browser's log);
- promoting a rollout from the page (started through the API with stages
  that would wait an hour) promotes it, and the candidate answers after;
- changing the traffic policy in the editor moves the answers
  (X-Model-Version of predictions made afterwards);
- a reviewer answers three review items with the keyboard alone (n, a
  digit, Enter), and the store has the three verdicts;
- a viewer's pages have no [data-action] element at all (the review and
  audit pages are neither linked nor loaded for it), and a forged
  change is refused with 403 from the page's own context: the admin's
  session cookie without X-CSRF-Token, the viewer's with its CSRF token on
  a deploy route; neither changes the policy;
- the first contentful paint of the dashboard, median of three loads on
  loopback, is under 300 ms (printed).

Runs once, on the plain build (tagged `once`); skipped, saying so, where
Chromium, its driver or Selenium is not installed."""
import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from feedbacklib import FRAUD_TYPES, HOUSING_TYPES, fraud_rows, housing_rows, v2_body
from harness import MODELD, Daemon, expect, make_repo, run, wait_for
import browserlib as bl

REVIEW_YAML = """review:
  rules:
    - band: [0.2, 0.8]
      name: uncertain
    - sample: 0.2
      name: audit
  lease_s: 120
  max_queue: 1000
"""
PAGES = [("overview", "#/"), ("model", "#/models/fraud"), ("review", "#/review"),
         ("alerts", "#/alerts"), ("audit", "#/audit")]
TRAFFIC_SECONDS = 150      # the traffic thread's limit, whatever happens
FIRST_PAINT_MS = 300
S = {}                     # what the tests share: daemon, browser, tokens, traffic


# --- setup ---------------------------------------------------------------------------------------

def make_token(data, role, name):
    p = subprocess.run([MODELD, "token", "create", "--role", role, "--name", name, "--data", data],
                       capture_output=True, text=True, timeout=30)
    expect(p.returncode == 0, (p.returncode, p.stderr))
    secret = p.stdout.strip()
    expect(re.fullmatch(r"mdt_[0-9a-f]{64}", secret), secret)
    return secret


def key_file(tmp):
    path = os.path.join(tmp, "audit.key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"dashboard-browser-test-audit-key-0123456789")
    os.close(fd)
    return path


def dashboard_repo(tmp):
    """The examples (fraud with two versions, churn, housing, iris); fraud
    with review rules, so that its answers fill a review queue."""
    repo = make_repo(os.path.join(tmp, "repo"), bench=False)
    path = os.path.join(repo, "fraud", "model.yaml")
    with open(path, "a") as f:
        f.write(REVIEW_YAML)
    return repo


class Traffic(threading.Thread):
    """Predictions of fraud (and some of housing) on one keep-alive
    connection, a few of them invalid (a negative amount: a 400 that counts
    as an error), and feedback for the fraud answers in batches; stops when
    told or after TRAFFIC_SECONDS. Anything but the expected answer is kept
    in `errors`."""

    def __init__(self, port, token):
        super().__init__(daemon=True)
        self.port = port
        self.auth = {"Authorization": "Bearer " + token}
        self.halt = threading.Event()
        self.errors = []
        self.sent = 0
        self.rng = random.Random(8110)

    def call(self, conn, method, path, body, headers=None):
        h = dict(self.auth, **(headers or {}))
        h["Content-Type"] = "application/json"
        conn.request(method, path, body=json.dumps(body), headers=h)
        r = conn.getresponse()
        return r.status, r.read(), r

    def run(self):
        deadline = time.time() + TRAFFIC_SECONDS
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        pending = []
        i = 0
        try:
            while not self.halt.is_set() and time.time() < deadline:
                i += 1
                rows = fraud_rows(1, self.rng)
                bad = i % 25 == 0
                if bad:
                    rows[0]["amount"] = -5.0
                rid = "t8110-%d" % i
                st, data, _ = self.call(conn, "POST", "/v2/models/fraud/infer",
                                        v2_body(rows, FRAUD_TYPES), {"X-Request-Id": rid})
                if st != (400 if bad else 200):
                    self.errors.append(("fraud", st, data[:200]))
                elif not bad:
                    prob = json.loads(data)["outputs"][0]["data"][0]
                    fraud = (prob > 0.5) != (self.rng.random() < 0.15)
                    pending.append({"request_id": rid, "label": "fraud" if fraud else "legit"})
                if len(pending) >= 10:
                    st, data, _ = self.call(conn, "POST", "/api/v1/feedback",
                                            {"model": "fraud", "items": pending})
                    if st != 200:
                        self.errors.append(("feedback", st, data[:200]))
                    pending = []
                if i % 3 == 0:
                    st, data, _ = self.call(conn, "POST", "/v2/models/housing/infer",
                                            v2_body(housing_rows(1, self.rng), HOUSING_TYPES))
                    if st != 200:
                        self.errors.append(("housing", st, data[:200]))
                self.sent += 1
                self.halt.wait(0.03)  # pacing: about 25 requests a second
        except Exception as e:  # noqa: BLE001 - reported by the tests
            self.errors.append(("exception", repr(e)))
        finally:
            conn.close()


def api(method, path, body=None, role="admin", headers=None):
    h = {"Authorization": "Bearer " + S["tokens"][role]}
    h.update(headers or {})
    return S["d"].json(method, path, body, h)


def ok(method, path, body=None, role="admin", status=200):
    st, doc, _ = api(method, path, body, role)
    expect(st == status, "%s %s -> %d %r" % (method, path, st, doc))
    return doc


def predict_versions(n=40):
    """The X-Model-Version of n fraud predictions made now."""
    seen = {}
    rng = random.Random(n)
    for _ in range(n):
        st, doc, h = api("POST", "/v2/models/fraud/infer", v2_body(fraud_rows(1, rng), FRAUD_TYPES),
                         role="predictor")
        expect(st == 200, (st, doc))
        seen[h.get("x-model-version")] = seen.get(h.get("x-model-version"), 0) + 1
    return seen


def browser():
    return S["b"]


def signed_in_as(role):
    """The browser signed in with the token of role (through the form), once."""
    b = browser()
    if S.get("role") != role:
        b.sign_in(S["tokens"][role])
        S["role"] = role
        who = b.one("#whoami").text
        expect("(%s)" % role in who, "#whoami says %r, not role %s" % (who, role))
    return b


def series(el):
    """The numbers a chart says it draws (its data-series), as a flat list."""
    raw = el.get_attribute("data-series")
    expect(raw is not None, "a chart without data-series")
    out = []

    def walk(x):
        if isinstance(x, bool):
            return
        if isinstance(x, (int, float)) or x is None:
            out.append(x)
        elif isinstance(x, list):
            for y in x:
                walk(y)
        elif isinstance(x, dict):
            for k in sorted(x):
                walk(x[k])
    walk(json.loads(raw))
    return out


def shares(values):
    nums = [v or 0 for v in values]
    total = sum(nums)
    return [round(v / total, 4) for v in nums] if total else nums


def close_to(a, b, tol=1e-6):
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if (x is None) != (y is None):
            return False
        if x is not None and abs(x - y) > tol * max(1.0, abs(y)):
            return False
    return True


def dismiss_toasts():
    """Closes the toasts on the page, as a person would before looking; a
    toast that reports a failure fails the test."""
    b = browser()
    bad = [t.text for t in b.find("#toasts .toast.bad")]
    expect(not bad, "the page reports a failure: %r" % bad)
    for btn in b.find("#toasts .toast-close"):
        try:
            btn.click()
        except bl.WebDriverException:
            pass  # gone by itself meanwhile


def shoot(name, at=None):
    dismiss_toasts()
    browser().screenshot(name, at)


def load_page(name, hash_):
    """Goes to hash_ inside the loaded dashboard, waits for the page's first
    refresh, and fails on any console error or failed request."""
    b = browser()
    b.go(hash_)
    el = b.wait_page(name, 15)
    b.check()
    return el


# --- the tests ------------------------------------------------------------------------------------

def test_start():
    """The daemon with --auth and an audit key, its tokens, alert rules, the
    traffic, and the browser."""
    tmp = tempfile.mkdtemp(prefix="modeld-t8110-")
    S["tmp"] = tmp
    data = os.path.join(tmp, "data")
    S["tokens"] = {r: make_token(data, r, "t8110-" + r)
                   for r in ("admin", "viewer", "reviewer", "predictor")}
    S["d"] = Daemon(repo=dashboard_repo(tmp), data=data,
                    args=["--auth", "--audit-key-file", key_file(tmp)])
    S["traffic"] = Traffic(S["d"].port, S["tokens"]["predictor"])
    S["traffic"].start()
    # One alert that fires (fraud gets requests), one that waits (for an hour).
    ok("PUT", "/api/v1/alert-rules/fraud_busy",
       {"metric": "requests", "model": "fraud", "op": ">", "threshold": 0, "window": "1m",
        "for": "0s", "severity": "warning"})
    ok("PUT", "/api/v1/alert-rules/housing_slow",
       {"metric": "latency_p99_ms", "model": "housing", "op": ">=", "threshold": 0,
        "window": "1m", "for": "1h", "severity": "critical"})
    S["b"] = bl.Browser("http://127.0.0.1:%d" % S["d"].port, tmp)


def test_sign_in_refuses_a_bad_token():
    b = browser()
    b.driver.get("about:blank")
    b.driver.delete_all_cookies()
    b.load("#/")
    box = b.one("#signin-token")
    box.send_keys("mdt_" + "0" * 64)
    b.click("#signin-submit")
    err = b.wait(lambda: [e for e in b.find("#signin-error")
                          if e.is_displayed() and e.text.strip()],
                 10, "#signin-error with a message")[0]
    expect(not b.find("#whoami") or not b.find("#whoami")[0].text.strip(), "signed in anyway")
    b.screenshot("signin")
    b.check(allow=[("GET", "/api/v1/session", 401), ("POST", "/api/v1/session", 401)])
    print("    the sign-in form says: %s" % err.text.strip())


def test_sign_in_as_admin():
    b = signed_in_as("admin")
    cookies = {c["name"]: c for c in b.driver.get_cookies()}
    expect("modeld_session" in cookies, cookies)
    c = cookies["modeld_session"]
    expect(c.get("httpOnly") is True and c.get("sameSite") == "Strict", c)
    expect(not b.js("return document.cookie.includes('modeld_session')"),
           "the session cookie is readable from script")


def test_first_paint():
    """First contentful paint of a full load of the dashboard, signed in."""
    b = signed_in_as("admin")
    fcps = []
    for _ in range(3):
        b.driver.get("about:blank")
        b.load("#/")
        fcp = b.wait(lambda: b.js(
            "const e = performance.getEntriesByType('paint')"
            ".find(p => p.name === 'first-contentful-paint'); return e ? e.startTime : null;"),
            10, "the first contentful paint")
        b.wait_page("overview", 15)
        fcps.append(fcp)
    b.check()
    med = statistics.median(fcps)
    print("    first contentful paint: %s ms, median %.0f ms" %
          (", ".join("%.0f" % f for f in fcps), med))
    S["fcp"] = med
    expect(med < FIRST_PAINT_MS, "median first contentful paint %.0f ms >= %d ms" %
           (med, FIRST_PAINT_MS))


def test_overview():
    """Every model, with its split drawn from the traffic API and its
    sparklines; the link to a model's page works as a click."""
    b = signed_in_as("admin")
    b.resize(*bl.DESKTOP)
    b.go("#/")
    b.wait_page("overview", 15)
    index = {m["name"] for m in S["d"].json("POST", "/v2/repository/index", {}, {
        "Authorization": "Bearer " + S["tokens"]["admin"]})[1]}
    for m in sorted(index):
        b.one('[data-model="%s"]' % m)
        b.one('[data-model="%s"] a[href="#/models/%s"]' % (m, m))
    card = '[data-model="fraud"] '
    for metric in ("rps", "error_rate", "p99"):
        svg = b.one(card + 'svg[data-chart="sparkline"][data-metric="%s"]' % metric)
        vals = series(svg)
        expect(all(v is None or isinstance(v, (int, float)) for v in vals), vals)
    for field in ("quality", "drift", "alerts", "review"):
        b.one(card + '[data-field="%s"]' % field)
    # The split: the traffic API's shares.
    t = ok("GET", "/api/v1/models/fraud/traffic")
    want = shares([r["percent"] for r in t["routes"]])
    b.wait(lambda: close_to(shares(series(b.one(card + 'svg[data-chart="split"]'))), want, 1e-3),
           8, "fraud's split to be %r (the traffic API's)" % want)
    # The sparklines: what the history and signals APIs answered the page.
    for metric, name in (("rps", "requests_per_second"), ("error_rate", "error_rate"),
                         ("p99", "latency_p99_ms")):
        wait_sparkline_matches("fraud", metric, name)
    # The fraud alert fires: the overview says so.
    wait_for(lambda: any(a["rule"] == "fraud_busy" and a["state"] == "firing"
                         for a in ok("GET", "/api/v1/alerts")["alerts"]), 10)
    b.wait(lambda: re.search(r"[1-9]", b.one(card + '[data-field="alerts"]').text), 8,
           "the fraud card to count its firing alert")
    b.check()
    b.click('[data-model="fraud"] a[href="#/models/fraud"]')
    b.wait_page("model", 15)
    b.check()


def wait_sparkline_matches(model, metric, name):
    """A sparkline of the overview is the model's history of the last 30
    minutes then a point per refresh from the signals API (the last 90 in
    all): its first points are the newest values of the history the page was
    answered, its last the value of the newest signals answer. Both answers
    are read from the browser's log; tried until the chart and the newest
    answer are of the same refresh."""
    b = browser()
    seen = {}

    def same():
        svg = b.one('[data-model="%s"] svg[data-chart="sparkline"][data-metric="%s"]' %
                    (model, metric))
        got = series(svg)
        hist = b.response("/api/v1/models/%s/history?" % model, "metric=" + name)
        sig = b.response("/api/v1/models/%s/signals?" % model)
        if hist is None or sig is None:
            return False
        past = [p["value"] for p in hist[1]["points"]]
        now = [x.get("value") for x in sig[1]["signals"] if x["metric"] == name]
        seen.update(got=got, past=past, now=now)
        # The page keeps the last 90 points: the history's newest ones, then
        # at least one live point, the newest signals answer's value last.
        return close_to(got[-1:], now, 1e-9) and any(
            close_to(got[:len(got) - live], past[len(past) - (len(got) - live):], 1e-9)
            for live in range(1, len(got)) if len(got) - live <= len(past))
    try:
        b.wait(same, 10, "the %s sparkline of %s to draw the API's numbers" % (metric, model))
    except bl.BrowserError:
        raise AssertionError("the %s sparkline of %s draws %r; the history answered %r and the "
                             "newest signals %r" % (metric, model, seen.get("got"),
                                                    seen.get("past"), seen.get("now")))


def test_model_page():
    """Versions, the traffic policy and its preview drawn from the API."""
    b = signed_in_as("admin")
    b.resize(*bl.DESKTOP)
    load_page("model", "#/models/fraud")
    vs = ok("GET", "/api/v1/models/fraud/versions")
    for v in vs["versions"]:
        b.one('#versions [data-version="%s"]' % v["version"])
    t = ok("GET", "/api/v1/models/fraud/traffic")
    want = shares([r["weight"] for r in t["policy"]["routes"]])
    b.wait(lambda: close_to(shares(series(b.one('#traffic-preview svg[data-chart="split"]'))),
                            want, 1e-3), 8, "the preview's split to be the policy's")
    for r in t["policy"]["routes"]:
        b.one('#traffic-editor input[data-route-weight="%s"]' % r["name"])
        b.one('#traffic-editor select[data-route-version="%s"]' % r["name"])
    b.one("#rollout")
    b.one("#trainings")
    b.one("#events")
    check_quality_panels()
    b.check()


def check_quality_panels():
    """Drift: one [data-feature] per feature of the drift API, each with a
    histogram pair whose reference shares are the API's (asked here) and
    whose live shares are those of the drift answer the page got."""
    b = browser()
    drift = ok("GET", "/api/v1/models/fraud/drift?histograms=1")
    expect(drift.get("verdict") != "no_reference", drift)
    ref = {f["name"]: f["histogram"]["reference"] for f in drift["features"]}

    def drawn():
        out = {}
        for f in drift["features"]:
            svg = b.one('#drift [data-feature="%s"] svg[data-chart="histogram"]' % f["name"], 15)
            out[f["name"]] = json.loads(svg.get_attribute("data-series"))
        return out
    seen = {}

    def same():
        got = drawn()
        page = b.response("/api/v1/models/fraud/drift?", "histograms=")
        if page is None:
            return False
        live = {f["name"]: f["histogram"]["live"] for f in page[1]["features"]}
        seen.update(got=got, live=live)
        return all(close_to(got[n]["a"], ref[n], 1e-9) and close_to(got[n]["b"], live[n], 1e-9)
                   for n in ref)
    try:
        b.wait(same, 10, "the drift histograms to draw the API's shares")
    except bl.BrowserError:
        raise AssertionError("drift histograms %r; the API's reference shares %r, live %r" %
                             (seen.get("got"), ref, seen.get("live")))
    for panel in ("#quality", "#data-quality", "#ab"):
        b.one(panel, 10)
    lines = b.find('#quality svg[data-chart="line"]')
    expect(lines, "no line chart in #quality")


def test_rollout_promoted_from_the_page():
    """A rollout that waits (an hour a step, and its gates need a million
    requests before they judge, so nothing ends it before the click), then
    Promote on the page."""
    b = signed_in_as("admin")
    start = ok("POST", "/api/v1/models/fraud/rollouts",
               {"candidate": "1", "strategy": {"kind": "canary", "steps": [50, 100],
                                               "interval_s": 3600, "min_requests": 1000000}},
               status=201)
    rid = start["id"]
    expect(start["phase"] == "running" and start["champion"] == "2", start)
    load_page("model", "#/models/fraud")
    # The page is open already: its refresh shows the rollout within seconds.
    try:
        b.wait(lambda: b.one("#rollout-phase").get_attribute("data-phase") == "running", 10,
               "#rollout-phase to say running")
    except AssertionError as e:
        raise AssertionError("%s; #rollout shows %r" % (e, b.one("#rollout").text[:600]))
    # The rollout's split: the candidate's and the champion's weights.
    w = start["weights"]
    b.wait(lambda: close_to(shares(series(b.one('#rollout svg[data-chart="split"]'))),
                            shares([w["candidate"], w["champion"]]), 1e-3), 8,
           "the rollout's split to be its weights")
    shoot("rollout")
    b.click('#rollout [data-action="promote"]')
    wait_for(lambda: ok("GET", "/api/v1/models/fraud/rollouts/%d" % rid)["phase"] == "promoted", 10)
    r = ok("GET", "/api/v1/models/fraud/rollouts/%d" % rid)
    expect(r["phase"] == "promoted", r)
    expect(r["decisions"][-1]["cause"] == "command", r["decisions"][-1])
    b.wait(lambda: b.one("#rollout-phase").get_attribute("data-phase") == "promoted", 8,
           "#rollout-phase to say promoted")
    expect(not b.find('#rollout [data-action="promote"]'), "promote still offered")
    seen = predict_versions()
    expect(set(seen) == {"1"}, "after the promotion the answers came from %r" % seen)
    expect(ok("GET", "/api/v1/models/fraud/aliases")["aliases"]["champion"] == "1", "champion")
    b.check()


def test_traffic_editor_moves_requests():
    """Two routes (stable v1 100, canary v2 0) set through the API; the
    editor puts 0 on stable and 100 on canary, and v2 answers."""
    b = signed_in_as("admin")
    before = ok("PUT", "/api/v1/models/fraud/traffic",
                {"routes": [{"name": "stable", "version": "1", "weight": 100},
                            {"name": "canary", "version": "2", "weight": 0}]})
    expect(set(predict_versions(20)) == {"1"}, "v1 answers before the edit")
    b.load("#/models/fraud")
    b.wait_page("model", 15)
    b.wait(lambda: ("revision %d" % before["revision"]) in b.one("#traffic-editor").text, 8,
           "the editor to start from revision %d" % before["revision"])
    for route, weight in (("stable", "0"), ("canary", "100")):
        box = b.one('#traffic-editor input[data-route-weight="%s"]' % route)
        box.send_keys(bl.Keys.CONTROL, "a")
        box.send_keys(weight)
    # The preview follows the edit before anything is saved.
    b.wait(lambda: close_to(shares(series(b.one('#traffic-preview svg[data-chart="split"]'))),
                            [0, 1], 1e-3) or close_to(shares(series(b.one(
                                '#traffic-preview svg[data-chart="split"]'))), [1], 1e-3),
           5, "the preview to show everything on canary")
    expect(ok("GET", "/api/v1/models/fraud/traffic")["revision"] == before["revision"],
           "saved before the button was pressed")
    b.click('#traffic-editor button[data-action="traffic-save"]')
    wait_for(lambda: ok("GET", "/api/v1/models/fraud/traffic")["revision"] > before["revision"], 10)
    t = ok("GET", "/api/v1/models/fraud/traffic")
    expect(t["revision"] == before["revision"] + 1, t)
    weights = {r["name"]: (r["version"], r["weight"]) for r in t["policy"]["routes"]}
    expect(weights == {"stable": ("1", 0), "canary": ("2", 100)}, weights)
    b.wait(lambda: "revision %d" % t["revision"] in b.one("#traffic-message").text, 8,
           "#traffic-message to say it saved")
    seen = predict_versions()
    expect(set(seen) == {"2"}, "after the edit the answers came from %r" % seen)
    b.check()


def test_forged_change_without_csrf():
    """The admin's own session cookie, from the page, but no X-CSRF-Token: 403."""
    b = signed_in_as("admin")
    b.load("#/")
    b.wait_page("overview", 15)
    b.check()
    rev = ok("GET", "/api/v1/models/fraud/traffic")["revision"]
    st, text = b.fetch("PUT", "/api/v1/models/fraud/traffic",
                       {"routes": [{"name": "stable", "version": "1", "weight": 1}]},
                       {"Content-Type": "application/json"})
    expect(st == 403, (st, text))
    expect("X-CSRF-Token" in text, text)
    st, text = b.fetch("POST", "/api/v1/models/fraud/rollouts", {"candidate": "1"},
                       {"Content-Type": "application/json", "X-CSRF-Token": "0" * 64})
    expect(st == 403, (st, text))
    expect(ok("GET", "/api/v1/models/fraud/traffic")["revision"] == rev, "the policy changed")
    # The audit log has the refusal, as the audit page shows it.
    entries = ok("GET", "/api/v1/audit?action=PUT&limit=20")["entries"]
    expect(any(e["outcome"].startswith("403 X-CSRF-Token") and "model=fraud" in e["target"]
               for e in entries), entries[:3])
    b.check(allow=[("PUT", "/api/v1/models/fraud/traffic", 403),
                   ("POST", "/api/v1/models/fraud/rollouts", 403)])


def test_pages_desktop():
    """Each page at 1280x800: loads clean, and its screenshot."""
    b = signed_in_as("admin")
    b.resize(*bl.DESKTOP)
    for name, hash_ in PAGES:
        load_page(name, hash_)
        if name == "alerts":
            b.wait(lambda: "fraud_busy" in b.one("#alerts-firing").text, 8,
                   "#alerts-firing to list fraud_busy")
            b.wait(lambda: "housing_slow" in b.one("#alerts-pending").text, 8,
                   "#alerts-pending to list housing_slow")
            b.one("#alerts-history")
            b.one("#alert-rules")
        if name == "audit":
            v = ok("GET", "/api/v1/audit/verify")
            expect(v["ok"] is True, v)
            b.wait(lambda: "verified" in b.one("#audit-verify").text.lower(), 8,
                   "#audit-verify to say verified")
            b.one("#audit-log")
            b.find("#audit-filter-actor") or b.one('[id^="audit-filter-"]')
        if name != "review":  # the reviewer's own shot shows an item
            b.check()
            shoot(name)
        if name == "model":
            shoot("model-quality", at="#model-quality")
        b.check()


def test_review_with_the_keyboard():
    """A reviewer: n takes the oldest item, a digit chooses, Enter answers
    and takes the next; three items, keys only."""
    b = signed_in_as("reviewer")
    b.resize(*bl.DESKTOP)
    wait_for(lambda: ok("GET", "/api/v1/review?model=fraud&state=queued")["queue"]["waiting"]
             >= 4, 20)
    load_page("review", "#/review")
    b.js("document.activeElement && document.activeElement.blur()")
    b.press("n")
    answered = []
    for i in range(3):
        item = b.one("#review-item[data-item-id]", 10)
        item_id = int(item.get_attribute("data-item-id"))
        choices = [c.get_attribute("data-choice") for c in b.find("#review-item [data-choice]")]
        expect(choices == ["legit", "fraud"], choices)
        if i == 0:
            shoot("review")
        digit = 1 + i % 2
        b.press(str(digit))
        b.press(bl.Keys.ENTER)
        answered.append((item_id, choices[digit - 1]))
        b.wait(lambda: b.find("#review-item[data-item-id]") and
               int(b.one("#review-item[data-item-id]").get_attribute("data-item-id")) != item_id,
               10, "the next item after answering #%d" % item_id)
    done = {it["id"]: it for it in ok("GET", "/api/v1/review?model=fraud&state=done",
                                      role="reviewer")["items"]}
    for item_id, verdict in answered:
        expect(item_id in done, "item %d is not done: %r" % (item_id, sorted(done)))
        expect(done[item_id]["verdict"] == verdict, done[item_id])
    expect(len(set(i for i, _ in answered)) == 3, answered)
    b.check()


def test_viewer_has_no_buttons():
    """A viewer's pages: no [data-action] anywhere, no request refused; the
    review and audit pages are neither linked nor loaded."""
    b = signed_in_as("viewer")
    b.resize(*bl.DESKTOP)
    for name, hash_ in PAGES:
        if name in ("review", "audit"):
            # Pages that need a permission the viewer lacks: no link, and
            # the page itself only says which permission it needs.
            expect(not b.find('a[data-nav="%s"]' % name), "the viewer is shown %s" % name)
            b.go(hash_)
            b.one("[data-denied]", 10)
            b.check()
        else:
            load_page(name, hash_)
        actions = b.find("[data-action]")
        expect(not actions, "%s shows the viewer %s" % (
            name, [a.get_attribute("data-action") for a in actions]))
    # A forged change with the viewer's own CSRF token: the role refuses it.
    st, text = b.fetch("GET", "/api/v1/session")
    expect(st == 200, (st, text))
    csrf = json.loads(text)["csrf"]
    expect(csrf, text)
    rev = ok("GET", "/api/v1/models/fraud/traffic")["revision"]
    st, text = b.fetch("PUT", "/api/v1/models/fraud/traffic",
                       {"routes": [{"name": "stable", "version": "1", "weight": 1}]},
                       {"Content-Type": "application/json", "X-CSRF-Token": csrf})
    expect(st == 403, (st, text))
    expect(ok("GET", "/api/v1/models/fraud/traffic")["revision"] == rev, "the policy changed")
    b.check(allow=[("PUT", "/api/v1/models/fraud/traffic", 403)])


def test_pages_phone():
    """Each page at 390x844: loads clean, nothing but a table's box scrolls
    sideways, and its screenshot."""
    b = signed_in_as("admin")
    b.resize(*bl.PHONE)
    try:
        for name, hash_ in PAGES:
            b.load(hash_)
            b.wait_page(name, 15)
            b.check()
            wide = b.js("return document.documentElement.scrollWidth")
            expect(wide <= bl.PHONE[0], "%s is %d px wide on a %d px screen" %
                   (name, wide, bl.PHONE[0]))
            shoot(name + "-phone")
            b.check()
    finally:
        b.resize(*bl.DESKTOP)


def test_stop():
    """Traffic without a failed request; the browser and the daemon end cleanly."""
    t = S.get("traffic")
    if t is not None:
        t.halt.set()
        t.join(40)
        expect(not t.is_alive(), "the traffic thread did not stop")
        expect(not t.errors, t.errors[:5])
        print("    traffic: %d rounds" % t.sent)
    stop_all(check=True)


def stop_all(check=False):
    b = S.pop("b", None)
    if b is not None:
        b.close()
    t = S.get("traffic")
    if t is not None:
        t.halt.set()
        t.join(40)
    d = S.pop("d", None)
    try:
        if d is not None:
            d.stop(check=check)
    finally:
        if d is not None:
            if not d.log.closed:
                d.log.close()
            shutil.rmtree(d.tmp, ignore_errors=True)
        if S.get("tmp"):
            shutil.rmtree(S.pop("tmp"), ignore_errors=True)


TESTS = [test_start, test_sign_in_refuses_a_bad_token, test_sign_in_as_admin, test_first_paint,
         test_overview, test_model_page, test_rollout_promoted_from_the_page,
         test_traffic_editor_moves_requests, test_forged_change_without_csrf,
         test_review_with_the_keyboard, test_viewer_has_no_buttons, test_pages_desktop,
         test_pages_phone, test_stop]


if __name__ == "__main__":
    lack = bl.missing()
    if lack:
        print("skip t8110-dashboard-browser: not installed: %s (scripts/deps.sh test)" % lack)
        print("0 passed, 0 failed")
        sys.exit(0)
    try:
        run(TESTS)
    finally:
        stop_all()
