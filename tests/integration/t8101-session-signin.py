#!/usr/bin/python3
"""Dashboard sign-in (POST /api/v1/session) against a real daemon with
--auth: a token of each role and a JSON Web Token sign in and get a cookie
modeld_session=<64 hex>; Path=/; Max-Age; HttpOnly; SameSite=Strict (no
Secure without TLS) and the session document (principal, role, permission
names, models, via "cookie", a CSRF token, expiry); GET /api/v1/session
with the cookie answers the same; the cookie then stands for the token: a
read its role allows passes, a model outside its scope and a change its
role lacks get 403. Bad sign-ins: an unknown, malformed or expired token
401 (never echoed, no cookie), a bad body 400 naming the field, another
Content-Type 400. Sign-out needs the CSRF token, clears the cookie and ends
the session. Without --auth the sign-in is 409 and the document says
anonymous with every permission."""
import os
import re
import shutil
import tempfile
import time

from harness import Daemon, expect, expect_error, run, wait_for
from jwtlib import Keys, claims, jwt_args
from sessionlib import JSON, make_token, sign_in, with_cookie

ROLES = {
    "viewer": ["status", "read"],
    "predictor": ["status", "predict", "feedback"],
    "reviewer": ["status", "read", "feedback", "review"],
    "deployer": ["status", "read", "data", "deploy"],
    "admin": ["status", "read", "predict", "feedback", "review", "data", "deploy", "admin"],
}


def test_sign_in_each_role_and_jwt():
    tmp = tempfile.mkdtemp(prefix="modeld-t8101-")
    try:
        data = os.path.join(tmp, "data")
        tokens = {r: make_token(data, r, "t-" + r) for r in ROLES}
        scoped = make_token(data, "viewer", "t-scoped", "--models", "iris")
        keys = Keys(tmp)
        keys.genkey("ec.pem", False)
        jwks = os.path.join(tmp, "jwks.json")
        keys.write_jwks(jwks, [keys.jwk("ec.pem", "ec-1", False)])
        jwt = keys.token("ec.pem", {"alg": "ES256", "kid": "ec-1"},
                         claims(["deployer"], models=["iris"]))
        with Daemon(args=jwt_args(jwks), data=data) as d:
            for role, perms in ROLES.items():
                before = int(time.time() * 1000)
                doc, cookie, sid = sign_in(d, tokens[role])
                expect(doc["auth"] is True and doc["principal"] == "t-" + role, doc)
                expect(doc["role"] == role and doc["permissions"] == perms, doc)
                expect(doc["models"] is None and doc["via"] == "cookie", doc)
                expect(re.fullmatch(r"[0-9a-f]{64}", doc["csrf"]) and doc["csrf"] != sid, doc)
                # Idle for an hour at most (--session-idle's default).
                expect(before + 3600 * 1000 <= doc["expires_ms"] <= before + 3700 * 1000, doc)
                st, again, h = d.json("GET", "/api/v1/session", headers=with_cookie(cookie))
                expect(st == 200 and h.get("cache-control") == "no-store", (st, again))
                expect({k: again[k] for k in again if k != "expires_ms"} ==
                       {k: doc[k] for k in doc if k != "expires_ms"}, (doc, again))
                # The cookie is the token: a read its role allows, or 403.
                st, body, _ = d.json("GET", "/api/v1/models/iris/traffic",
                                     headers=with_cookie(cookie))
                if "read" in perms:
                    expect(st == 200, (role, st, body))
                else:
                    expect_error(st, body, 403, "lacks the permission 'read'")
                # A change the role lacks: 403 past the CSRF check.
                st, body, _ = d.json("PUT", "/api/v1/models/iris/aliases/prod", {"version": 1},
                                     headers=with_cookie(cookie, doc["csrf"]))
                if "deploy" in perms:
                    expect(st == 200, (role, st, body))
                else:
                    expect_error(st, body, 403, "lacks the permission 'deploy'")
            # A token limited to some models: the document lists them, others are refused.
            doc, cookie, _ = sign_in(d, scoped)
            expect(doc["models"] == ["iris"], doc)
            st, body, _ = d.json("GET", "/api/v1/models/bench/traffic", headers=with_cookie(cookie))
            expect_error(st, body, 403, "model 'bench': not permitted")
            # A JSON Web Token: its subject, roles and models.
            doc, cookie, _ = sign_in(d, jwt)
            expect(doc["principal"] == "jwt:alice" and doc["role"] == "deployer", doc)
            expect(doc["models"] == ["iris"] and doc["permissions"] == ROLES["deployer"], doc)
            st, _, _ = d.json("GET", "/api/v1/models/iris/traffic", headers=with_cookie(cookie))
            expect(st == 200, st)
            st, body, _ = d.json("GET", "/api/v1/models/bench/traffic", headers=with_cookie(cookie))
            expect_error(st, body, 403, "not permitted")
            # A bearer header: the same document, via bearer, no CSRF token.
            st, doc, _ = d.json("GET", "/api/v1/session",
                                headers={"Authorization": "Bearer " + tokens["viewer"]})
            expect(st == 200 and doc["via"] == "bearer" and doc["csrf"] is None, doc)
            expect(doc["expires_ms"] is None and doc["role"] == "viewer", doc)
            # Neither: 401, which the dashboard answers with its sign-in page.
            st, doc, h = d.json("GET", "/api/v1/session")
            expect_error(st, doc, 401, "authorization: missing")
            expect(h.get("www-authenticate", "").startswith("Bearer"), h)
    finally:
        shutil.rmtree(tmp, True)


def test_bad_sign_ins():
    tmp = tempfile.mkdtemp(prefix="modeld-t8101-")
    try:
        data = os.path.join(tmp, "data")
        admin = make_token(data, "admin", "root")
        expired = make_token(data, "admin", "old", "--expires", "1s")
        with Daemon(args=["--auth"], data=data) as d:
            unknown = "mdt_" + "5" * 64
            for tok, fragment in [(unknown, "unknown"), ("mdt_12", "token: malformed"),
                                  ("not a token", "token: malformed")]:
                st, doc, h = d.json("POST", "/api/v1/session", {"token": tok}, JSON)
                expect_error(st, doc, 401, fragment)
                expect("set-cookie" not in h and tok not in doc["error"], (h, doc))
            # Expired a second after its making: polled, not slept.
            def refused():
                st, doc, _ = d.json("POST", "/api/v1/session", {"token": expired}, JSON)
                return st == 401 and "expired" in doc["error"]
            expect(wait_for(refused, 10), "an expired token signed in")
            for body, fragment in [({}, "token: missing"), ({"token": 7}, "token: not a string"),
                                   ({"token": None}, "token: not a string"),
                                   ({"token": ""}, "token: empty"),
                                   ({"token": "x" * 9000}, "token: too long"),
                                   ("not json", "body: not a JSON object"),
                                   ([admin], "body: not a JSON object")]:
                st, doc, h = d.json("POST", "/api/v1/session", body, JSON)
                expect_error(st, doc, 400, fragment)
                expect("set-cookie" not in h, h)
            for ct in [None, "text/plain", "application/x-www-form-urlencoded",
                       "application/jsonx"]:
                st, doc, _ = d.json("POST", "/api/v1/session", {"token": admin},
                                    {"Content-Type": ct} if ct else {})
                expect_error(st, doc, 400, "Content-Type: must be application/json")
            st, _, _ = d.json("POST", "/api/v1/session", {"token": admin},
                              {"Content-Type": "application/json; charset=utf-8"})
            expect(st == 201, st)
            # A bad Authorization header on the sign-in is refused as anywhere.
            st, doc, _ = d.json("POST", "/api/v1/session", {"token": admin},
                                dict(JSON, Authorization="Bearer " + unknown))
            expect_error(st, doc, 401, "unknown")
            expect(admin[4:] not in d.logs() and unknown[4:] not in d.logs(), "a secret logged")
    finally:
        shutil.rmtree(tmp, True)


def test_sign_out():
    tmp = tempfile.mkdtemp(prefix="modeld-t8101-")
    try:
        data = os.path.join(tmp, "data")
        viewer = make_token(data, "viewer", "v")
        with Daemon(args=["--auth"], data=data) as d:
            doc, cookie, _ = sign_in(d, viewer)
            # Sign-out changes state: it needs the CSRF token too.
            st, body, _ = d.json("DELETE", "/api/v1/session", headers=with_cookie(cookie))
            expect_error(st, body, 403, "X-CSRF-Token")
            st, body, h = d.json("DELETE", "/api/v1/session",
                                 headers=with_cookie(cookie, doc["csrf"]))
            expect(st == 200 and body == {"signed_out": True}, (st, body))
            expect(h.get("set-cookie") == "modeld_session=; Path=/; Max-Age=0; HttpOnly; "
                   "SameSite=Strict", h)
            st, body, _ = d.json("GET", "/api/v1/session", headers=with_cookie(cookie))
            expect_error(st, body, 401, "session: unknown or ended")
            # With a bearer header there is no session to end.
            st, body, _ = d.json("DELETE", "/api/v1/session",
                                 headers={"Authorization": "Bearer " + viewer})
            expect(st == 200 and body == {"signed_out": False}, (st, body))
    finally:
        shutil.rmtree(tmp, True)


def test_auth_off():
    with Daemon() as d:
        st, doc, h = d.json("POST", "/api/v1/session", {"token": "mdt_" + "1" * 64}, JSON)
        expect_error(st, doc, 409, "authentication is off")
        expect("set-cookie" not in h, h)
        st, doc, _ = d.json("GET", "/api/v1/session")
        expect(st == 200, (st, doc))
        expect(doc == {"auth": False, "principal": "anonymous", "role": None,
                       "permissions": ROLES["admin"], "models": None, "via": "anonymous",
                       "csrf": None, "expires_ms": None}, doc)


if __name__ == "__main__":
    run([test_sign_in_each_role_and_jwt, test_bad_sign_ins, test_sign_out, test_auth_off])
