"""Headless Chromium driven through Selenium against a Daemon of harness.py,
for the dashboard's browser tests (t8110-t8119).

The browser is Debian's (chromium, chromium-driver, python3-selenium:
scripts/deps.sh test installs them). The driver is named explicitly
(/usr/bin/chromedriver), so Selenium never looks for one to download; the
browser runs headless with a fresh profile under the test's temp directory,
no extensions, no background networking and no sync: nothing it does leaves
the loopback. chromedriver starts in a process group of its own, and
close() ends that whole group whatever happened, so no Chromium process
outlives the test.

Every console message of level error and every HTTP answer of 400 or more,
and every request that failed (Network.loadingFailed), is collected from
Chromium's logs (goog:loggingPrefs browser and performance): `check()`
fails the test on any of them that the caller did not name as expected.
Waits are bounded and poll; none sleeps blindly."""
import base64
import ctypes
import json
import os
import shutil
import signal
import time

from harness import ROOT

try:
    from selenium import webdriver
    from selenium.common.exceptions import (NoAlertPresentException, NoSuchElementException,
                                            WebDriverException)
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    HAVE_SELENIUM = True
except ImportError:  # reported by missing()
    HAVE_SELENIUM = False

CHROMEDRIVER = "/usr/bin/chromedriver"
# The browser itself: Debian's launcher script execs this; naming it skips the
# script's own flags (extensions, GPU rasterization) in favour of ours.
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
                 if os.path.exists(p)), "/usr/bin/chromium")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-extensions", "--no-default-browser-check",
         "--disable-default-apps", "--hide-scrollbars", "--force-color-profile=srgb",
         "--lang=en-US",
         "--disable-crash-reporter", "--disable-breakpad"]
DESKTOP = (1280, 800)
PHONE = (390, 844)


def missing():
    """None when the browser, its driver and Selenium are installed, else what lacks."""
    lack = [p for p in (CHROMEDRIVER, CHROMIUM) if not os.path.exists(p)]
    if not HAVE_SELENIUM:
        lack.append("python3-selenium")
    return ", ".join(lack) or None


class BrowserError(AssertionError):
    pass


class Browser:
    """One headless Chromium. `base` is the daemon's http://127.0.0.1:PORT;
    `tmp` the test's temp directory (the profile and the driver's log go
    there, and the screenshots unless MODELD_SCREENSHOTS names a directory)."""

    def __init__(self, base, tmp, size=DESKTOP):
        self.base = base.rstrip("/")
        self.tmp = tmp
        shots = os.environ.get("MODELD_SCREENSHOTS")
        self.shots = os.path.join(ROOT, shots) if shots else os.path.join(tmp, "screenshots")
        self.profile = os.path.join(tmp, "chromium-profile")
        self.driver = None
        self.service = None
        self.requests = {}       # requestId -> (method, url) of the performance log
        self.problems = []       # what check() reports: console errors, failed requests
        self.size = None
        opts = Options()
        opts.binary_location = CHROMIUM
        for f in FLAGS + ["--user-data-dir=" + self.profile,
                          "--window-size=%d,%d" % size]:
            opts.add_argument(f)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        opts.page_load_strategy = "normal"
        become_subreaper()
        self.service = Service(CHROMEDRIVER, log_path=os.path.join(tmp, "chromedriver.log"),
                               popen_kw={"start_new_session": True})
        try:
            self.driver = webdriver.Chrome(service=self.service, options=opts)
            self.driver.set_page_load_timeout(20)
            self.driver.set_script_timeout(20)
            self.resize(*size)
            # The first tab's own page (chromium's new-tab page) is not ours:
            # what it asked for is left out of what check() reports.
            self.driver.get("about:blank")
            self.collect()
            self.problems = []
        except BaseException:
            self.close()
            raise

    # --- lifetime ---------------------------------------------------------

    def close(self):
        """Quits the browser and its driver, then kills what is left of the
        driver's process group (Chromium and its helpers included)."""
        pgid = None
        if self.service is not None and getattr(self.service, "process", None) is not None:
            try:
                pgid = os.getpgid(self.service.process.pid)
            except OSError:
                pgid = None
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception:  # noqa: BLE001 - the group is killed below
                pass
            self.driver = None
        elif self.service is not None:
            try:
                self.service.stop()
            except Exception:  # noqa: BLE001
                pass
        if pgid is not None:
            deadline = time.time() + 5
            while time.time() < deadline and group_alive(pgid):
                time.sleep(0.05)
            if group_alive(pgid):
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except OSError:
                    pass
                deadline = time.time() + 5
                while time.time() < deadline and group_alive(pgid):
                    time.sleep(0.05)
            reap_group(pgid)
        self.service = None
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- the page ---------------------------------------------------------

    def resize(self, width, height):
        """The window and the page's viewport: exactly width x height CSS
        pixels at a device scale of 1 (a phone's size is emulated as mobile)."""
        self.driver.set_window_size(width, height)
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1,
            "mobile": width < 700})
        self.size = (width, height)

    def url(self, hash_=""):
        return "%s/ui/%s" % (self.base, hash_)

    def load(self, hash_="#/"):
        """Loads the dashboard afresh at hash_ (a full page load)."""
        self.driver.get(self.url(hash_))

    def go(self, hash_):
        """Moves to hash_ inside the loaded dashboard, as a click on a link does."""
        self.js("window.location.hash = arguments[0];", hash_)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def fetch(self, method, path, body=None, headers=None):
        """A fetch() from the page's own context (its cookie rides along):
        (status, text)."""
        r = self.driver.execute_async_script("""
            const [method, path, body, headers, done] = arguments;
            const init = {method, headers, credentials: 'same-origin'};
            if (body !== null) init.body = body;
            fetch(path, init).then(async r => done([r.status, await r.text()]),
                                   e => done([0, String(e)]));
        """, method, path, None if body is None else json.dumps(body), headers or {})
        return r[0], r[1]

    def last_request(self, *fragments):
        """The URL of the newest request the page made whose URL holds every
        fragment, or None (as far as the logs read so far tell)."""
        for method, url in reversed(list(self.requests.values())):
            if all(f in url for f in fragments):
                return url
        return None

    def response(self, *fragments):
        """(url, parsed JSON body) of the newest answered request of the page
        whose URL holds every fragment, as Chromium received it; None when
        there is none (or its body is gone)."""
        self.collect()
        for rid, (method, url) in reversed(list(self.requests.items())):
            if method != "GET" or not all(f in url for f in fragments):
                continue
            try:
                body = self.driver.execute_cdp_cmd("Network.getResponseBody", {"requestId": rid})
            except WebDriverException:
                continue  # not answered yet, or evicted: an older one then
            text = body.get("body", "")
            if body.get("base64Encoded"):
                text = base64.b64decode(text).decode()
            try:
                return url, json.loads(text)
            except ValueError:
                continue
        return None

    def find(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def one(self, css, timeout=10):
        """The first element matching css, waited for."""
        found = []
        self.wait(lambda: found.extend(self.find(css)) or found, timeout, "an element %s" % css)
        return found[0]

    def wait(self, cond, timeout=10, what="the condition"):
        """cond()'s first true value, polled every 50 ms; BrowserError after
        timeout seconds. A JS confirm() that the page opens is accepted (a
        person clicking OK); each poll also notes console errors and failed
        requests."""
        deadline = time.time() + timeout
        last = None
        while True:
            self.accept_dialog()
            try:
                v = cond()
                if v:
                    return v
            except (WebDriverException, LookupError, ValueError, TypeError) as e:
                last = e
            if time.time() >= deadline:
                self.collect()
                raise BrowserError("waited %gs for %s at %s (%s)%s" % (
                    timeout, what, self.where(), last or "not true",
                    self.report_problems()))
            time.sleep(0.05)

    def accept_dialog(self):
        try:
            alert = self.driver.switch_to.alert
        except (NoAlertPresentException, WebDriverException):
            return None
        text = alert.text
        alert.accept()
        return text

    def where(self):
        try:
            return self.driver.current_url
        except WebDriverException:
            return "?"

    def wait_page(self, name, timeout=10):
        """The element [data-page=name] once its first refresh is done (data-ready="1")."""
        return self.one('[data-page="%s"][data-ready="1"]' % name, timeout)

    def press(self, *keys):
        """Keys typed with nothing in particular focused, as a person would."""
        ActionChains(self.driver).send_keys(*keys).perform()

    def click(self, css, timeout=10):
        el = self.one(css, timeout)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
        el.click()
        return el

    def sign_in(self, token, timeout=10):
        """Signs in through the form, as a person does: the dashboard is loaded
        afresh, whoever is signed in signs out (#signout), the token is typed
        and submitted; returns once #whoami shows someone. The session
        request of a page loaded signed out answers 401, which is expected."""
        self.driver.get("about:blank")
        self.load("#/")
        self.wait(lambda: self.find("#signin-token") or self.find("#signout"), timeout,
                  "the sign-in form or a signed-in page")
        if not self.find("#signin-token"):
            self.check()
            self.click("#signout")
            self.one("#signin-token", timeout)
            # The page stops and lets its requests end before the session
            # does: nothing it asked for is refused.
            self.check()
        box = self.one("#signin-token", timeout)
        box.clear()
        box.send_keys(token)
        self.click("#signin-submit")
        self.wait(lambda: self.find("#whoami") and self.find("#whoami")[0].text.strip(),
                  timeout, "#whoami after signing in")
        self.check(allow=[("GET", "/api/v1/session", 401)])

    def screenshot(self, name, at=None):
        """Saves the viewport as <dir>/dashboard-<name>.png, scrolled to the top
        or to the element `at` (a CSS selector); returns the path."""
        os.makedirs(self.shots, exist_ok=True)
        self.js("if (document.activeElement) document.activeElement.blur();"
                "const el = arguments[0] && document.querySelector(arguments[0]);"
                "if (el) el.scrollIntoView({block: 'start'}); else window.scrollTo(0, 0);", at)
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "optimizeForSpeed": False, "captureBeyondViewport": False})
        path = os.path.join(self.shots, "dashboard-%s.png" % name)
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        return path

    # --- what went wrong --------------------------------------------------

    def collect(self):
        """Reads (and so empties) Chromium's logs into self.problems."""
        if self.driver is None:
            return
        for e in self.driver.get_log("browser"):
            if e.get("level") == "SEVERE":
                self.problems.append(("console", e.get("message", "")))
        for e in self.driver.get_log("performance"):
            try:
                m = json.loads(e["message"])["message"]
            except (KeyError, ValueError):
                continue
            p = m.get("params", {})
            if m.get("method") == "Network.requestWillBeSent":
                req = p.get("request", {})
                self.requests[p.get("requestId")] = (req.get("method", "?"), req.get("url", "?"))
            elif m.get("method") == "Network.responseReceived":
                st = p.get("response", {}).get("status", 0)
                if st >= 400:
                    method, url = self.requests.get(p.get("requestId"),
                                                    ("?", p.get("response", {}).get("url", "?")))
                    self.problems.append(("http", (method, url, st)))
            elif m.get("method") == "Network.loadingFailed":
                if p.get("canceled"):
                    # The page went away (a load or a closed stream) before
                    # the answer: the browser's doing, not a failed request.
                    continue
                method, url = self.requests.get(p.get("requestId"), ("?", "?"))
                self.problems.append(("failed", (method, url, p.get("errorText", "?"))))

    def report_problems(self):
        if not self.problems:
            return ""
        return "; problems seen: " + "; ".join(describe(p) for p in self.problems[:10])

    def check(self, allow=()):
        """Fails on every console error and failed request since the last
        check, except those allow names: (method, path, status) triples,
        each matching any number of requests of that method whose URL's
        path is path (or starts with it, when it ends with '*') that got
        that status, and the console's report of each."""
        self.collect()
        problems, self.problems = self.problems, []
        bad = []
        allowed_urls = set()
        for kind, what in problems:
            if kind == "http" and any(allowed(a, what) for a in allow):
                allowed_urls.add((what[1], what[2]))
        for kind, what in problems:
            if kind == "http" and (what[1], what[2]) in allowed_urls:
                continue
            if kind == "console" and any(
                    url in what and ("status of %d " % st) in what for url, st in allowed_urls):
                continue
            bad.append((kind, what))
        if bad:
            raise BrowserError("at %s: %s" % (self.where(), "; ".join(describe(p) for p in bad)))


def allowed(rule, what):
    method, path, status = rule
    m, url, st = what
    rest = url.split("://", 1)[-1]
    upath = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    upath = upath.split("?", 1)[0]
    ok_path = upath.startswith(path[:-1]) if path.endswith("*") else upath == path
    return m == method and ok_path and st == status


def describe(problem):
    kind, what = problem
    if kind == "console":
        return "console error: %s" % what
    if kind == "http":
        return "%s %s answered %d" % what
    return "%s %s failed: %s" % what


def become_subreaper():
    """Makes this process the reaper of its orphaned descendants (Linux's
    PR_SET_CHILD_SUBREAPER), so that Chromium's helpers, orphaned when the
    browser exits, are reaped here rather than left as zombies under an init
    that may not reap them."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def reap_group(pgid):
    """Reaps the exited processes that are this process's children (as their
    reaper) of group pgid, or of Chromium's name: its crash handler starts
    a session of its own."""
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                head, tail = f.read().rsplit(")", 1)
            fields = tail.split()
        except OSError:
            continue
        name = head.split("(", 1)[-1]
        if int(fields[1]) == me and (int(fields[2]) == pgid or name.startswith("chrom")):
            try:
                os.waitpid(int(pid), os.WNOHANG)
            except ChildProcessError:
                pass


def group_alive(pgid):
    """Whether any process is left in process group pgid (zombies aside)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


__all__ = ["Browser", "BrowserError", "DESKTOP", "PHONE", "missing", "Keys", "By",
           "NoSuchElementException", "WebDriverException"]
