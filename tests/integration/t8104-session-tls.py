#!/usr/bin/python3
"""Dashboard sessions over TLS: the sign-in's cookie carries Secure as well
(a browser never sends it over plain HTTP), the cookie then authenticates
requests over TLS, and a change over TLS passes the Origin check with the
https origin of the Host it was sent to."""
import os
import shutil
import tempfile

from harness import expect, expect_error, run
from sessionlib import make_token, sign_in, with_cookie
from tlslib import CA, TlsDaemon


def test_secure_cookie():
    tmp = tempfile.mkdtemp(prefix="modeld-t8104-")
    try:
        ca = CA(tmp, "ca")
        server = ca.issue("server")
        data = os.path.join(tmp, "data")
        admin = make_token(data, "admin", "root")
        with TlsDaemon(ca.pem, server, args=["--auth"], data=data, examples=False) as d:
            doc, cookie, _ = sign_in(d, admin, secure=True)
            st, again, _ = d.json("GET", "/api/v1/session", headers=with_cookie(cookie))
            expect(st == 200 and again["via"] == "cookie" and again["principal"] == "root",
                   (st, again))
            here = "https://127.0.0.1:%d" % d.port
            st, body, _ = d.json("POST", "/api/v1/tokens", {"name": "v", "role": "viewer"},
                                 headers=with_cookie(cookie, doc["csrf"], here))
            expect(st == 201, (st, body))
            st, body, _ = d.json("POST", "/api/v1/tokens", {"name": "w", "role": "viewer"},
                                 headers=with_cookie(cookie, doc["csrf"],
                                                     "https://127.0.0.1:%d" % (d.port + 1)))
            expect_error(st, body, 403, "Origin")
            st, body, h = d.json("DELETE", "/api/v1/session",
                                 headers=with_cookie(cookie, doc["csrf"], here))
            expect(st == 200 and h["set-cookie"].endswith("; Secure"), (st, h))
    finally:
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    run([test_secure_cookie])
