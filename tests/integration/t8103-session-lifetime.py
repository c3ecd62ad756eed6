#!/usr/bin/python3
"""A dashboard session lives no longer than its token's power: revoking
the token (DELETE /api/v1/tokens/{name}) refuses the session's very next
request, 401, and ends it; a session idle past --session-idle is 401; one
older than --session-max-age is 401 however busy (its cookie's Max-Age
says so); past --sessions-max a sign-in ends the session unused longest.
Sign-in (success, and failure by "anonymous") and sign-out are audit
entries naming the principal and the status, the cookie still sent once
the entry is stored; neither the token, the session id nor the CSRF token
appears in the daemon's log, the access log or the audit log."""
import json
import os
import shutil
import stat
import tempfile
import time

from harness import Daemon, expect, expect_error, run, wait_for
from sessionlib import JSON, make_token, sign_in, with_cookie


def session_ok(d, cookie):
    st, _, _ = d.json("GET", "/api/v1/session", headers=with_cookie(cookie))
    return st == 200


def test_revocation_ends_the_session():
    tmp = tempfile.mkdtemp(prefix="modeld-t8103-")
    try:
        data = os.path.join(tmp, "data")
        admin = {"Authorization": "Bearer " + make_token(data, "admin", "root")}
        viewer = make_token(data, "viewer", "v1")
        with Daemon(args=["--auth"], data=data) as d:
            _, cookie, _ = sign_in(d, viewer)
            st, _, _ = d.json("GET", "/api/v1/models/iris/traffic", headers=with_cookie(cookie))
            expect(st == 200, st)
            st, doc, _ = d.json("DELETE", "/api/v1/tokens/v1", headers=admin)
            expect(st == 200, (st, doc))
            st, doc, _ = d.json("GET", "/api/v1/models/iris/traffic", headers=with_cookie(cookie))
            expect_error(st, doc, 401, "bearer token 'v1': revoked")
            # Ended with it: a token made again later does not bring it back.
            st, doc, _ = d.json("GET", "/api/v1/session", headers=with_cookie(cookie))
            expect_error(st, doc, 401, "session: unknown or ended")
    finally:
        shutil.rmtree(tmp, True)


def test_idle_and_max_age():
    tmp = tempfile.mkdtemp(prefix="modeld-t8103-")
    try:
        data = os.path.join(tmp, "data")
        viewer = make_token(data, "viewer", "v")
        with Daemon(args=["--auth", "--session-idle", "1s"], data=data) as d:
            _, cookie, _ = sign_in(d, viewer)
            expect(session_ok(d, cookie), "a new session refused")
            # Idleness cannot be polled for (a request is a use): the idle time passes.
            time.sleep(1.2)
            st, doc, _ = d.json("GET", "/api/v1/session", headers=with_cookie(cookie))
            expect_error(st, doc, 401, "session: expired")
            st, doc, _ = d.json("GET", "/api/v1/session", headers=with_cookie(cookie))
            expect_error(st, doc, 401, "session: unknown or ended")
        with Daemon(args=["--auth", "--session-max-age", "2s"], data=data) as d:
            _, cookie, _ = sign_in(d, viewer, max_age=2)
            started = time.time()
            # Used all along, it still ends two seconds after the sign-in.
            expect(wait_for(lambda: not session_ok(d, cookie), 10), "still alive after 10 s")
            expect(time.time() - started >= 1.5, "ended before its maximum age")
    finally:
        shutil.rmtree(tmp, True)


def test_eviction():
    tmp = tempfile.mkdtemp(prefix="modeld-t8103-")
    try:
        data = os.path.join(tmp, "data")
        viewer = make_token(data, "viewer", "v")
        with Daemon(args=["--auth", "--sessions-max", "2"], data=data) as d:
            _, a, _ = sign_in(d, viewer)
            _, b, _ = sign_in(d, viewer)
            expect(session_ok(d, a), "a")  # a used after b
            _, c, _ = sign_in(d, viewer)
            expect(not session_ok(d, b), "the session unused longest was kept")
            expect(session_ok(d, a) and session_ok(d, c), "a newer session was ended")
    finally:
        shutil.rmtree(tmp, True)


def key_file(d):
    path = os.path.join(d, "audit.key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    os.write(fd, b"k" * 32)
    os.close(fd)
    return path


def test_audit_and_no_secret_logged():
    tmp = tempfile.mkdtemp(prefix="modeld-t8103-")
    try:
        data = os.path.join(tmp, "data")
        secret = make_token(data, "admin", "root")
        admin = {"Authorization": "Bearer " + secret}
        access = os.path.join(tmp, "access.log")
        with Daemon(args=["--auth", "--audit-key-file", key_file(tmp), "--access-log", access,
                          "--log-level", "debug"], data=data) as d:
            doc, cookie, sid = sign_in(d, secret)
            st, _, _ = d.json("POST", "/api/v1/session", {"token": "mdt_" + "7" * 64}, JSON)
            expect(st == 401, st)
            st, _, _ = d.json("POST", "/api/v1/tokens", {"name": "x", "role": "viewer"},
                              headers=with_cookie(cookie, doc["csrf"]))
            expect(st == 201, st)
            st, _, _ = d.json("DELETE", "/api/v1/session",
                              headers=with_cookie(cookie, doc["csrf"]))
            expect(st == 200, st)
            st, audit, _ = d.json("GET", "/api/v1/audit", headers=admin)
            expect(st == 200, (st, audit))
            got = [(e["actor"], e["action"], e["outcome"][:3]) for e in audit["entries"]]
            expect(got == [("root", "DELETE /api/v1/session", "200"),
                           ("root", "POST /api/v1/tokens", "201"),
                           ("anonymous", "POST /api/v1/session", "401"),
                           ("root", "POST /api/v1/session", "201")], got)
            st, v, _ = d.json("GET", "/api/v1/audit/verify", headers=admin)
            expect(st == 200 and v["ok"] is True, v)
            with open(access) as f:
                texts = {"log": d.logs(), "access log": f.read(), "audit": json.dumps(audit)}
            for where, text in texts.items():
                for what, value in [("token", secret[4:]), ("session id", sid),
                                    ("csrf", doc["csrf"]), ("unknown token", "7" * 64)]:
                    expect(value not in text, "the %s in the %s" % (what, where))
    finally:
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    run([test_revocation_ends_the_session, test_idle_and_max_age, test_eviction,
         test_audit_and_no_secret_logged])
