"""Helpers of the dashboard session tests (t8101-t8104): tokens made offline
in a data directory, a sign-in, and the cookie a sign-in set."""
import re
import subprocess

from harness import MODELD, expect

JSON = {"Content-Type": "application/json"}
# The cookie of a sign-in without TLS, at the default --session-max-age (12h).
COOKIE_RE = r"modeld_session=([0-9a-f]{64}); Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s"


def make_token(data, role, name, *extra):
    """A new token's secret, made by `modeld token create` in data."""
    p = subprocess.run([MODELD, "token", "create", "--role", role, "--name", name, "--data",
                        data] + list(extra), capture_output=True, text=True, timeout=30)
    expect(p.returncode == 0, (p.returncode, p.stderr))
    secret = p.stdout.strip()
    expect(re.fullmatch(r"mdt_[0-9a-f]{64}", secret), secret)
    return secret


def sign_in(d, token, status=201, max_age=43200, secure=False):
    """Signs in to d with token: (the session document, the cookie header's value
    to send back, the session id)."""
    st, doc, h = d.json("POST", "/api/v1/session", {"token": token}, JSON)
    expect(st == status, (st, doc))
    m = re.fullmatch(COOKIE_RE % (max_age, "; Secure" if secure else ""), h.get("set-cookie", ""))
    expect(m is not None, h)
    expect(h.get("cache-control") == "no-store", h)
    expect(token[8:] not in str(doc) and token[8:] not in str(h), "the token in the answer")
    return doc, "modeld_session=" + m.group(1), m.group(1)


def with_cookie(cookie, csrf=None, origin=None, **more):
    """Headers of a cookie request (X-CSRF-Token and Origin when given)."""
    h = {"Cookie": cookie}
    if csrf is not None:
        h["X-CSRF-Token"] = csrf
    if origin is not None:
        h["Origin"] = origin
    h.update(more)
    return h
