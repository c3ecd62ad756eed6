#!/usr/bin/python3
"""The role matrix of docs/security.md is what `modeld --role-matrix` prints,
names every route of `modeld --routes`, and is what the server does: with
--auth (health and metrics too), every endpoint is called with a token of
each role, and with no token, another scheme, a malformed, an unknown, an
expired and a revoked one. A role the matrix allows must get past the
check (any status but 401, 403 and 429: the names in the paths name
nothing, so nothing changes); a role it does not allow gets 403; every bad
token 401 with WWW-Authenticate. JSON Web Tokens (jwtlib.py) are held to
the same matrix: a token of each role (ES256 and RS256), and a wrongly
signed, an expired, an unsigned (alg none) one and one of another issuer
each 401. A route missing from the matrix fails. The dashboard's files
answer without a token."""
import atexit
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile

from harness import Daemon, MODELD, ROOT, expect, run, wait_for
from jwtlib import Keys, claims, jwt_args

ROLES = ["viewer", "predictor", "reviewer", "deployer", "admin"]
DOC = os.path.join(ROOT, "docs", "security.md")
# The dashboard's files hold no data: served without a token (api/ui.c), yet
# a bad token presented with them is still refused. So is the dashboard's
# sign-in, whose token is in its body (api/session.c): "METHOD path" names
# one route of a path.
PUBLIC = {"/", "/ui", "/ui/{name}", "POST /api/v1/session"}


def output(*args):
    p = subprocess.run([MODELD] + list(args), capture_output=True, text=True, timeout=30)
    expect(p.returncode == 0, (args, p.returncode, p.stderr))
    return p.stdout


def doc_matrix():
    with open(DOC) as f:
        text = f.read()
    m = re.search(r"<!-- modeld --role-matrix -->\n(.*?)<!-- end role matrix -->", text, re.S)
    expect(m is not None, "no role matrix in docs/security.md")
    return m.group(1)


def parse(matrix):
    """{(method, path): {role: allowed}} from the Markdown table."""
    rows = {}
    for line in matrix.splitlines()[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        expect(len(cells) == 3 + len(ROLES), line)
        path = cells[1].strip("`").replace("\\|", "|")
        rows[(cells[0], path)] = {r: cells[3 + i] == "yes" for i, r in enumerate(ROLES)}
    return rows


def test_doc_is_the_printed_matrix():
    expect(doc_matrix() == output("--role-matrix"),
           "docs/security.md's role matrix differs from modeld --role-matrix:\n" +
           output("--role-matrix"))


def test_matrix_names_every_route():
    rows = parse(doc_matrix())
    routes = [tuple(l.split()[:2]) for l in output("--routes").splitlines()]
    missing = [r for r in routes if r not in rows]
    expect(not missing, "routes without a row in the role matrix: %r" % missing)
    expect(len(rows) == len(routes), (len(rows), len(routes)))


def example(path):
    """A path of the pattern whose names name nothing (the optional group left out)."""
    path = re.sub(r"\[[^\]]*\]", "", path)
    for name, value in [("model", "nosuchmodel"), ("version", "7"), ("label", "nosuchlabel"),
                        ("setting", "nosuchsetting"), ("alias", "nosuchalias"), ("id", "999999"),
                        ("name", "nosuchname"), ("subject", "nosuchsubject")]:
        path = path.replace("{%s}" % name, value)
    expect("{" not in path, path)
    return path


def make_token(data, role, name, *extra):
    p = subprocess.run([MODELD, "token", "create", "--role", role, "--name", name, "--data",
                        data] + list(extra), capture_output=True, text=True, timeout=30)
    expect(p.returncode == 0, (p.returncode, p.stderr))
    secret = p.stdout.strip()
    expect(re.fullmatch(r"mdt_[0-9a-f]{64}", secret), secret)
    expect(secret not in p.stderr, p.stderr)
    return secret


def ready(d, headers):
    expect(d.proc.poll() is None, d.logs())
    try:
        return d.request("GET", "/v2/health/ready", headers=headers, timeout=2)[0] == 200
    except OSError:
        return False


def test_every_route_every_role():
    rows = parse(doc_matrix())
    tmp = tempfile.mkdtemp(prefix="modeld-t5000-")
    atexit.register(shutil.rmtree, tmp, True)
    data = os.path.join(tmp, "data")
    tokens = {r: make_token(data, r, "t-" + r) for r in ROLES}
    expired = make_token(data, "admin", "expired", "--expires", "1d")
    revoked = make_token(data, "admin", "revoked")
    # Expired a minute ago, written where the daemon will read it.
    db = sqlite3.connect(os.path.join(data, "modeld.db"))
    db.execute("UPDATE tokens SET expires_ms = CAST(strftime('%s','now') AS INTEGER) * 1000 "
               "- 60000 WHERE name = 'expired'")
    db.commit()
    db.close()
    # JSON Web Tokens: an RSA and a P-256 key in the JWKS, a P-256 key outside it.
    keys = Keys(os.path.dirname(data))
    for name, rsa in [("rsa.pem", True), ("ec.pem", False), ("ec2.pem", False)]:
        keys.genkey(name, rsa)
    jwks = os.path.join(os.path.dirname(data), "jwks.json")
    keys.write_jwks(jwks, [keys.jwk("rsa.pem", "rsa-1", True), keys.jwk("ec.pem", "ec-1", False)])
    es = {"alg": "ES256", "kid": "ec-1"}
    jwts = {r: keys.token("ec.pem", es, claims([r])) if i % 2 == 0 else
            keys.token("rsa.pem", {"alg": "RS256", "kid": "rsa-1"}, claims(r))
            for i, r in enumerate(ROLES)}
    bad_jwts = {
        "a wrongly signed JWT": keys.token("ec2.pem", es, claims("admin")),
        "an expired JWT": keys.token("ec.pem", es, claims("admin", exp_in=-3600)),
        "an unsigned JWT": keys.token(None, {"alg": "none"}, claims("admin")),
        "a JWT of another issuer": keys.token("ec.pem", es,
                                              dict(claims("admin"), iss="https://evil.example")),
    }
    bad = {
        "no token": None,
        "another scheme": "Basic " + tokens["admin"],
        "malformed": "Bearer mdt_0123",
        "unknown": "Bearer mdt_" + "0" * 64,
        "expired": "Bearer " + expired,
        "revoked": "Bearer " + revoked,
    }
    bad.update({what: "Bearer " + t for what, t in bad_jwts.items()})
    with Daemon(args=jwt_args(jwks) + ["--auth-health", "--auth-metrics"], data=data,
                wait=False) as d:
        # Health needs a token here: wait with the admin's.
        admin = {"Authorization": "Bearer " + tokens["admin"]}
        expect(wait_for(lambda: ready(d, admin), 30), d.logs())
        st, doc, _ = d.json("DELETE", "/api/v1/tokens/revoked", headers=admin)
        expect(st == 200, (st, doc))
        wrong = []
        for (method, pattern), allowed in sorted(rows.items()):
            path = example(pattern)
            body = "{}" if method in ("POST", "PUT", "PATCH") else None
            for role in ROLES:
                for kind, secret in [("token", tokens[role]), ("JWT", jwts[role])]:
                    h = {"Authorization": "Bearer " + secret}
                    st, data_, _ = d.request(method, path, body, headers=h)
                    ok = st not in (401, 403, 429) if allowed[role] else st == 403
                    if not ok:
                        wrong.append("%s %s as %s (%s): %d (matrix: %s) %s" % (
                            method, path, role, kind, st, "yes" if allowed[role] else "-",
                            data_[:120]))
            for what, value in bad.items():
                h = {"Authorization": value} if value else {}
                st, data_, hd = d.request(method, path, body, headers=h)
                if value is None and (pattern in PUBLIC or
                                      "%s %s" % (method, pattern) in PUBLIC):
                    if st in (401, 403):
                        wrong.append("%s %s with %s: %d (public)" % (method, path, what, st))
                    continue
                if st != 401 or not hd.get("www-authenticate", "").startswith("Bearer"):
                    wrong.append("%s %s with %s: %d %s" % (method, path, what, st, data_[:120]))
        expect(not wrong, "answers that differ from the role matrix:\n" + "\n".join(wrong))
        # No secret in the log, whatever was refused.
        logs = d.logs()
        for secret in list(tokens.values()) + [expired, revoked]:
            expect(secret[4:] not in logs, "a secret in the log")
        for t in list(jwts.values()) + list(bad_jwts.values()):
            expect(t.split(".")[1][:40] not in logs, "a JSON Web Token in the log")


if __name__ == "__main__":
    run([test_doc_is_the_printed_matrix, test_matrix_names_every_route,
         test_every_route_every_role])
