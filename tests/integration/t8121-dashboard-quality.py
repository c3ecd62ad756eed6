#!/usr/bin/python3
# slow
"""The model page's quality panels (ui/modelq.js) in headless Chromium,
against the real daemon with real traffic: fraud split 70/30 between v2
(stable) and v1 (canary), 400 rows with their true labels, the later half
shifted (larger amounts, mostly international), and one refused request.
Drift shows one [data-feature] per feature whose histogram draws exactly
the reference and live shares of GET .../drift?histograms=1 (the
predictions' labels and scores too); the confusion matrix is the quality
API's, with a row per version and route; the A/B intervals are the arms'
outcomes and confidence intervals; data quality counts the refusal. The
panels hold no [data-action], make no failed request and log no console
error, and nothing overflows the page at 390x844. Under --auth a viewer
signed in on the page sees the same panels, drawn, with no request its role
is refused.

Needs chromium, chromium-driver and python3-selenium (scripts/deps.sh);
without them it says so and skips."""
import json
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, expect, run, wait_for  # noqa: E402
import feedbacklib as fl  # noqa: E402
from sessionlib import make_token  # noqa: E402

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    HAVE_SELENIUM = True
except ImportError:
    HAVE_SELENIUM = False

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
                 if os.path.exists(p)), "/usr/bin/chromium")
PANELS = ("#quality", "#drift", "#data-quality", "#ab")
STATE = {}


def ok(method, path, body=None):
    st, doc, _ = STATE["d"].json(method, path, body)
    expect(st == 200, (path, st, doc))
    return doc


def setup():
    d = STATE["d"] = Daemon(bench=False)
    ok("PUT", "/api/v1/models/fraud/traffic", {"routes": [
        {"name": "stable", "version": "2", "weight": 70},
        {"name": "canary", "version": "1", "weight": 30}]})
    rng = random.Random(8121)
    items = []
    for i in range(40):
        rows = fl.fraud_rows(10, rng)
        if i >= 20:
            for r in rows:
                r["amount"] = round(r["amount"] * 3 + 500, 2)
                r["is_international"] = rng.random() < 0.8
        doc = fl.predict(d, "fraud", rows, "q%04d" % i)
        labels = [o for o in doc["outputs"] if o["name"] == "label"][0]["data"]
        for j, lab in enumerate(labels):
            truth = lab if rng.random() < 0.8 else ("fraud" if lab == "legit" else "legit")
            items.append({"request_id": "q%04d" % i, "row": j, "label": truth})
    bad = fl.fraud_rows(1, rng)
    bad[0]["hour"] = 40
    st, _, _ = d.json("POST", "/v2/models/fraud/infer", fl.v2_body(bad, fl.FRAUD_TYPES))
    expect(st == 400, st)
    fl.wait_rows(d.data, "model = 'fraud'", 400)
    for k in range(0, len(items), 200):
        fl.post(d, {"model": "fraud", "items": items[k:k + 200]})
    expect(wait_for(lambda: ok("GET", "/api/v1/models/fraud/quality")["all"]["labelled"] == 400),
           "400 labelled rows")


def browser(size):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="modeld-chrome-", dir=STATE["d"].tmp)
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--disable-extensions", "--disable-crash-reporter",
              "--disable-breakpad", "--no-default-browser-check", "--disable-default-apps",
              "--user-data-dir=" + profile,
              "--window-size=%d,%d" % size):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def open_model(b, ab=True):
    """Opens fraud's page and waits for it, its drift cards and (ab) its A/B chart."""
    b.get("http://127.0.0.1:%d/ui/#/models/fraud" % STATE["d"].port)
    ready = "var e = document.querySelector('[data-page=\"model\"]'); return !!e && " \
            "e.dataset.ready === '1' && !!document.querySelector('#drift [data-feature]')" + \
            (" && !!document.querySelector('#ab svg[data-chart]')" if ab else "")
    expect(wait_for(lambda: b.execute_script(ready), 20), "the model page is not ready")


def problems(b):
    """Console errors and failed requests of the page (not the session's 404 where that route
    is not built)."""
    out = []
    urls = {}
    for e in b.get_log("browser"):
        if e["level"] == "SEVERE" and "/api/v1/session" not in e["message"]:
            out.append(e["message"])
    for e in b.get_log("performance"):
        m = json.loads(e["message"])["message"]
        if m["method"] == "Network.requestWillBeSent":
            urls[m["params"]["requestId"]] = m["params"]["request"]["url"]
        elif m["method"] == "Network.responseReceived":
            r = m["params"]["response"]
            if r["status"] >= 400 and not r["url"].endswith("/api/v1/session"):
                out.append("%d %s" % (r["status"], r["url"]))
        elif m["method"] == "Network.loadingFailed" and m["params"]["requestId"] in urls:
            # (a request the page did not send, such as the browser's own first navigation at
            # start, has no requestWillBeSent: not the page's failure)
            out.append("failed: %s %s" % (m["params"].get("errorText"),
                                          urls[m["params"]["requestId"]]))
    return out


def series(el):
    return json.loads(el.get_attribute("data-series"))


def have_browser():
    if not HAVE_SELENIUM or not all(os.path.exists(p) for p in (CHROMEDRIVER, CHROMIUM)):
        print("skip: chromium, chromium-driver or python3-selenium is not installed")
        return False
    return True


def test_panels_draw_the_api_figures():
    if not have_browser():
        return
    setup()
    b = browser((1280, 800))
    try:
        open_model(b)
        drift = ok("GET", "/api/v1/models/fraud/drift?histograms=1")
        expect(drift["verdict"] == "drift", drift["verdict"])
        for f in drift["features"]:
            svg = b.find_element(By.CSS_SELECTOR, '#drift [data-feature="%s"] svg[data-chart="histogram"]'
                                 % f["name"])
            s = series(svg)
            expect(s["a"] == f["histogram"]["reference"] and s["b"] == f["histogram"]["live"],
                   (f["name"], s, f["histogram"]))
            expect(len(s["bins"]) == len(f["histogram"]["live"]) and s["bins"][-1] == "missing", s)
        for k in ("labels", "scores"):
            s = series(b.find_element(By.CSS_SELECTOR, '#drift [data-prediction="%s"] svg' % k))
            expect(s["a"] == drift["predictions"][k]["histogram"]["reference"], (k, s))
        verdict = b.find_element(By.ID, "drift-verdict").text
        expect(verdict == "drift", verdict)

        q = ok("GET", "/api/v1/models/fraud/quality")
        cells = [[int(td.text.replace(",", "")) for td in tr.find_elements(By.CSS_SELECTOR, "td")[1:]]
                 for tr in b.find_elements(By.CSS_SELECTOR, "#quality-confusion tbody tr")]
        expect(cells == q["all"]["confusion"], (cells, q["all"]["confusion"]))
        groups = sorted(g.get_attribute("data-group")
                        for g in b.find_elements(By.CSS_SELECTOR, "#quality [data-group]"))
        expect(groups == ["v1/canary", "v2/stable"], groups)
        line = series(b.find_element(By.CSS_SELECTOR, '#quality svg[data-chart="line"]'))
        expect(sorted(x["name"] for x in line) == ["all", "v1 canary", "v2 stable"], line)

        ab = ok("GET", "/api/v1/models/fraud/ab?positive=fraud")["analysis"]
        drawn = series(b.find_element(By.CSS_SELECTOR, '#ab svg[data-chart="intervals"]'))
        want = [[a["outcome"], a["ci"][0], a["ci"][1]] for a in ab["arms"]]
        expect([[r["value"], r["low"], r["high"]] for r in drawn] == want, (drawn, ab["arms"]))
        expect(len(ab["arms"]) == 2, ab["arms"])

        dq = ok("GET", "/api/v1/models/fraud/data-quality")
        for v in dq["versions"]:
            text = b.find_element(By.CSS_SELECTOR, '#data-quality [data-version="%d"] '
                                  '[data-field="rejected"]' % v["version"]).text
            expect(text.split(" ")[0] == str(v["rejected"]), (text, v["rejected"]))
        expect(sum(v["rejected"] for v in dq["versions"]) == 1, dq["versions"])

        acts = b.execute_script("return document.querySelectorAll(arguments[0]).length",
                                ", ".join(p + " [data-action]" for p in PANELS))
        expect(acts == 0, acts)
        seen = problems(b)
        expect(seen == [], seen)

        b.set_window_size(390, 844)
        open_model(b)
        over = b.execute_script("return document.documentElement.scrollWidth - "
                                "document.documentElement.clientWidth")
        expect(over <= 0, "the page is %d px wider than a phone" % over)
        seen = problems(b)
        expect(seen == [], seen)
    finally:
        b.quit()


def test_stop():
    if "d" in STATE:
        d = STATE.pop("d")
        d.stop()
        shutil.rmtree(d.tmp, ignore_errors=True)


def test_viewer_sees_the_panels():
    if not have_browser():
        return
    data = tempfile.mkdtemp(prefix="modeld-auth-")
    viewer = make_token(data, "viewer", "t-viewer")
    admin = make_token(data, "admin", "t-admin")
    d = STATE["d"] = Daemon(bench=False, data=data, args=["--auth"])
    auth = {"Authorization": "Bearer " + admin}
    rows = fl.fraud_rows(20, random.Random(3))
    st, doc, _ = d.json("POST", "/v2/models/fraud/infer", fl.v2_body(rows, fl.FRAUD_TYPES), auth)
    expect(st == 200, (st, doc))
    b = browser((1280, 800))
    try:
        b.get("http://127.0.0.1:%d/ui/" % d.port)
        expect(wait_for(lambda: b.find_elements(By.ID, "signin-token"), 15), "no sign-in form")
        b.find_element(By.ID, "signin-token").send_keys(viewer)
        b.find_element(By.ID, "signin-submit").click()
        expect(wait_for(lambda: "viewer" in (b.execute_script(
            "var e = document.getElementById('whoami'); return e ? e.textContent : ''") or ""), 15),
            "not signed in")
        open_model(b, ab=False)
        cards = b.find_elements(By.CSS_SELECTOR, '#drift [data-feature] svg[data-chart="histogram"]')
        expect(len(cards) == 8, len(cards))
        expect(b.find_elements(By.CSS_SELECTOR, '#quality svg[data-chart="line"]'), "no chart")
        acts = b.execute_script("return document.querySelectorAll(arguments[0]).length",
                                ", ".join(p + " [data-action]" for p in PANELS))
        expect(acts == 0, acts)
        seen = problems(b)
        expect(seen == [], seen)
    finally:
        b.quit()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    run([test_panels_draw_the_api_figures, test_stop, test_viewer_sees_the_panels, test_stop])
