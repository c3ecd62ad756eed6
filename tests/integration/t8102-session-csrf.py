#!/usr/bin/python3
"""A dashboard session's cookie cannot be ridden by another site: a cookie
request that changes state (any method but GET and HEAD) needs the
session's X-CSRF-Token (not another session's, not a prefix) and, when it
sends an Origin, one naming the Host it was sent to; else 403 naming the
header, and nothing changes. With both right the request is the token's.
Reads need neither. An Authorization header wins over a cookie; an unknown
session id is 401 like a bad token; an open route ignores the cookie."""
import os
import shutil
import tempfile

from harness import Daemon, expect, expect_error, run
from sessionlib import make_token, sign_in, with_cookie


def tokens(d):
    st, doc, _ = d.json("GET", "/api/v1/tokens", headers={"Authorization": "Bearer " + d.admin})
    expect(st == 200, (st, doc))
    return sorted(t["name"] for t in doc["tokens"])


def test_csrf_and_origin():
    tmp = tempfile.mkdtemp(prefix="modeld-t8102-")
    try:
        data = os.path.join(tmp, "data")
        admin = make_token(data, "admin", "root")
        with Daemon(args=["--auth"], data=data) as d:
            d.admin = admin
            doc, cookie, sid = sign_in(d, admin)
            other, _, _ = sign_in(d, admin)
            csrf = doc["csrf"]
            here = "http://127.0.0.1:%d" % d.port
            new = {"name": "made", "role": "viewer"}
            refused = [
                (with_cookie(cookie), "X-CSRF-Token: missing or not this session's"),
                (with_cookie(cookie, ""), "X-CSRF-Token"),
                (with_cookie(cookie, csrf[:-1]), "X-CSRF-Token"),
                (with_cookie(cookie, csrf + "0"), "X-CSRF-Token"),
                (with_cookie(cookie, csrf.upper()), "X-CSRF-Token"),
                (with_cookie(cookie, other["csrf"]), "X-CSRF-Token"),
                (with_cookie(cookie, sid), "X-CSRF-Token"),
                (with_cookie(cookie, csrf, "http://evil.example"),
                 "Origin: 'http://evil.example' is not this server"),
                (with_cookie(cookie, csrf, "null"), "Origin: 'null'"),
                (with_cookie(cookie, csrf, here + "0"), "Origin"),
                (with_cookie(cookie, csrf, "http://127.0.0.1:%d.evil.example" % d.port), "Origin"),
                (with_cookie(cookie, csrf, "http://localhost:%d" % d.port), "Origin"),
            ]
            for h, fragment in refused:
                st, body, _ = d.json("POST", "/api/v1/tokens", new, headers=h)
                expect_error(st, body, 403, fragment)
            expect(tokens(d) == ["root"], tokens(d))
            # A DELETE and a PUT are held to the same.
            st, body, _ = d.json("DELETE", "/api/v1/tokens/root", headers=with_cookie(cookie))
            expect_error(st, body, 403, "X-CSRF-Token")
            st, body, _ = d.json("PUT", "/api/v1/settings/poll", {"value": 5},
                                 headers=with_cookie(cookie, csrf, "https://evil.example"))
            expect_error(st, body, 403, "Origin")
            # Both right: the admin's change is made; without an Origin too.
            st, body, _ = d.json("POST", "/api/v1/tokens", new,
                                 headers=with_cookie(cookie, csrf, here))
            expect(st == 201, (st, body))
            st, body, _ = d.json("POST", "/api/v1/tokens", {"name": "made2", "role": "viewer"},
                                 headers=with_cookie(cookie, csrf))
            expect(st == 201, (st, body))
            expect(tokens(d) == ["made", "made2", "root"], tokens(d))
            # A read needs neither, even from another Origin (the browser keeps the answer).
            st, _, _ = d.request("GET", "/api/v1/tokens",
                                 headers=with_cookie(cookie, None, "http://evil.example"))
            expect(st == 200, st)
            # An unknown session id: 401 with WWW-Authenticate, as a bad token.
            st, body, h = d.json("GET", "/api/v1/tokens",
                                 headers=with_cookie("modeld_session=" + "ab" * 32))
            expect_error(st, body, 401, "session: unknown")
            expect(h.get("www-authenticate", "").startswith("Bearer"), h)
            st, body, _ = d.json("GET", "/api/v1/tokens", headers=with_cookie("theme=dark"))
            expect_error(st, body, 401, "authorization: missing")
            # An Authorization header wins: a bad one is refused whatever the cookie.
            st, body, _ = d.json("GET", "/api/v1/tokens", headers=with_cookie(
                cookie, Authorization="Bearer mdt_" + "0" * 64))
            expect_error(st, body, 401, "unknown")
            # Several cookies, spaces and quotes, as browsers and proxies send them.
            st, _, _ = d.json("GET", "/api/v1/tokens",
                              headers=with_cookie('a=1;  modeld_session="%s" ;b=2' % sid))
            expect(st == 200, st)
            # The dashboard's files and open health endpoints ignore the cookie.
            st, _, _ = d.request("GET", "/v2/health/ready",
                                 headers=with_cookie("modeld_session=" + "cd" * 32))
            expect(st == 200, st)
    finally:
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    run([test_csrf_and_origin])
