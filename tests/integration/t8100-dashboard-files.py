#!/usr/bin/python3
"""The dashboard's files are served from the binary: GET / sends a browser
to /ui/, /ui moves to /ui/, the page and every file of ui/ come back byte
for byte with their content type, an ETag (304 when the browser's copy is
the same) and the headers that lock the page down (a Content-Security-Policy
with no inline script and no other origin, nosniff, no framing). They need
no token, even with --auth, but a bad token presented with them is still
refused. Together they stay under 400 KB and name no other host."""
import os
import re

from harness import Daemon, ROOT, expect, run

UI = os.path.join(ROOT, "ui")
LOCKED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def check_locked(hdrs):
    csp = hdrs.get("content-security-policy", "")
    for part in ["default-src 'none'", "script-src 'self'", "style-src 'self'",
                 "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]:
        expect(part in csp, (part, csp))
    expect("unsafe-inline" not in csp and "unsafe-eval" not in csp, csp)
    for k, v in LOCKED.items():
        expect(hdrs.get(k) == v, (k, hdrs))


def test_files_served():
    with Daemon() as d:
        st, _, h = d.request("GET", "/")
        expect(st == 302 and h.get("location") == "/ui/", (st, h))
        st, _, h = d.request("GET", "/ui")
        expect(st == 301 and h.get("location") == "/ui/", (st, h))
        st, page, h = d.request("GET", "/ui/")
        expect(st == 200 and h["content-type"] == "text/html; charset=utf-8", (st, h))
        check_locked(h)
        with open(os.path.join(UI, "index.html"), "rb") as f:
            expect(page == f.read(), "the page is not ui/index.html")
        names = sorted(os.listdir(UI))
        types = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                 ".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json"}
        for name in names:
            st, data, h = d.request("GET", "/ui/" + name)
            expect(st == 200, (name, st))
            with open(os.path.join(UI, name), "rb") as f:
                expect(data == f.read(), "%s is not served as it is in ui/" % name)
            expect(h["content-type"].startswith(types[os.path.splitext(name)[1]]), (name, h))
            check_locked(h)
            expect(h.get("cache-control") == "no-cache" and h.get("etag"), h)
            st, data, h2 = d.request("GET", "/ui/" + name, headers={"If-None-Match": h["etag"]})
            expect(st == 304 and data == b"", (name, st))
        st, doc, _ = d.json("GET", "/ui/nosuch.js")
        expect(st == 404 and doc["error"] == "the dashboard has no file 'nosuch.js'", (st, doc))
        for path in ["/ui/../README.md", "/ui/a/b", "/ui//index.html", "/index.html"]:
            st, _, _ = d.request("GET", path)
            expect(st == 404, (path, st))
        st, _, h = d.request("POST", "/ui/index.html", "{}")
        expect(st == 405 and h.get("allow") == "GET", (st, h))


def test_small_and_self_contained():
    total = 0
    for name in os.listdir(UI):
        with open(os.path.join(UI, name), "rb") as f:
            data = f.read()
        total += len(data)
        text = data.decode("utf-8", "replace")
        # No file names another host: no CDN, no font service, nothing fetched.
        for url in re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}", text):
            expect(url == "http://www.w3.org", "%s names another host: %s" % (name, url))
    expect(total < 400 * 1024, "the dashboard's files are %d bytes" % total)


def test_no_token_needed():
    with Daemon(args=["--auth"]) as d:
        st, _, _ = d.request("GET", "/ui/")
        expect(st == 200, st)
        st, _, _ = d.request("GET", "/")
        expect(st == 302, st)
        st, _, h = d.request("GET", "/ui/", headers={"Authorization": "Bearer mdt_0123"})
        expect(st == 401 and h.get("www-authenticate", "").startswith("Bearer"), (st, h))
        # The data behind it is not open.
        st, _, _ = d.request("GET", "/api/v1/events")
        expect(st == 401, st)


if __name__ == "__main__":
    run([test_files_served, test_small_and_self_contained, test_no_token_needed])
