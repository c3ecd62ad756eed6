#!/usr/bin/python3
"""JSON Web Tokens end to end (docs/security.md#json-web-tokens): keys made and
tokens signed by the openssl command, a JWKS file given to a modeld with
--auth. A token of each role may call exactly the routes its role's
permissions allow (one route per permission; 403 otherwise), an RS256 and
an ES256 token alike, a token naming two roles has both, one naming none has
nothing; the model claim limits the models. Wrongly signed, expired, not yet
valid, another issuer or audience, alg none, HS256 signed with the public
key, an unknown kid: each 401, saying why. A modeld token works beside them.
SIGHUP reads a replaced JWKS file (a rotated key). No token appears in the
log. modeld refuses to start with a JWKS file others may write, or a
malformed one, or JWT settings without a file, naming why (without
--auth, a JWKS file is checked but no token asked for)."""
import json
import os
import signal
import subprocess
import tempfile
import time

from harness import Daemon, MODELD, expect, expect_error, run, v2_row, wait_for
from jwtlib import ISS, Keys, b64, claims, jwt_args as args_of

ROW = [0.5] * 30
TMP = tempfile.mkdtemp(prefix="modeld-jwt-")
KEYS = Keys(TMP)
openssl, genkey, jwk, token, write_jwks = (KEYS.openssl, KEYS.genkey, KEYS.jwk, KEYS.token,
                                           KEYS.write_jwks)

# One route per permission: (method, path, body, permission).
ROUTES = [
    ("GET", "/v2/models/bench", None, "status"),
    ("GET", "/api/v1/settings", None, "read"),
    ("POST", "/v2/models/bench/infer", v2_row(ROW), "predict"),
    ("POST", "/api/v1/feedback", {"items": []}, "feedback"),
    ("GET", "/api/v1/review/next?model=bench", None, "review"),
    ("GET", "/api/v1/predictions", None, "data"),
    ("POST", "/v2/repository/models/bench/load", None, "deploy"),
    ("GET", "/api/v1/tokens", None, "admin"),
]
# Each role's permissions, as api/auth.c's table.
ROLES = {
    "viewer": {"status", "read"},
    "predictor": {"status", "predict", "feedback"},
    "reviewer": {"status", "read", "review", "feedback"},
    "deployer": {"status", "read", "data", "deploy"},
    "admin": {"status", "read", "predict", "feedback", "review", "data", "deploy", "admin"},
}


genkey("rsa.pem", True)
genkey("ec.pem", False)
genkey("ec2.pem", False)  # outside the JWKS
JWKS = os.path.join(TMP, "jwks.json")
write_jwks(JWKS, [jwk("rsa.pem", "rsa-1", True), jwk("ec.pem", "ec-1", False)])
RS = {"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}
ES = {"alg": "ES256", "kid": "ec-1"}


def jwt_args(jwks=JWKS):
    return args_of(jwks)


def call(d, method, path, body, tok):
    st, doc, _ = d.json(method, path, body, headers={"Authorization": "Bearer " + tok})
    return st, doc


def expect_allowed(d, tok, perms, what):
    for method, path, body, perm in ROUTES:
        st, doc = call(d, method, path, body, tok)
        if perm in perms:
            expect(st not in (401, 403), (what, method, path, st, doc))
        else:
            expect_error(st, doc, 403, "lacks the permission '%s'" % perm)


def test_roles_matrix():
    with Daemon(args=jwt_args()) as d:
        for role, perms in ROLES.items():
            expect_allowed(d, token("rsa.pem", RS, claims([role])), perms, "RS256 " + role)
            expect_allowed(d, token("ec.pem", ES, claims(role)), perms, "ES256 " + role)
        # Two roles: the union; a name modeld does not know adds nothing.
        expect_allowed(d, token("ec.pem", ES, claims(["viewer", "predictor", "ml-team"])),
                       ROLES["viewer"] | ROLES["predictor"], "viewer+predictor")
        tok = token("ec.pem", ES, claims(["ml-team"]))
        expect_allowed(d, tok, set(), "no role")
        st, doc = call(d, "GET", "/v2/models/bench", None, tok)
        expect_error(st, doc, 403, "principal 'jwt:alice' lacks the permission 'status'")
        # The same token again (from the cache) answers alike.
        tok = token("ec.pem", ES, claims(["predictor"]))
        for _ in range(3):
            st, doc = call(d, "POST", "/v2/models/bench/infer", v2_row(ROW), tok)
            expect(st == 200, (st, doc))
        # A modeld token beside the JSON Web Tokens.
        st, doc = call(d, "POST", "/api/v1/tokens", {"name": "p1", "role": "predictor"},
                       token("rsa.pem", RS, claims("admin")))
        expect(st in (200, 201) and doc["token"].startswith("mdt_"), (st, doc))
        expect_allowed(d, doc["token"], ROLES["predictor"], "modeld token")


def test_model_claim():
    with Daemon(args=jwt_args()) as d:
        tok = token("ec.pem", ES, claims(["predictor"], models=["strict"]))
        st, doc = call(d, "GET", "/v2/models/strict", None, tok)
        expect(st == 200, (st, doc))
        for method, path, body in [("GET", "/v2/models/bench", None),
                                   ("POST", "/v2/models/bench/infer", v2_row(ROW))]:
            st, doc = call(d, method, path, body, tok)
            expect_error(st, doc, 403, "bench")
        # No claim: every model.
        tok = token("ec.pem", ES, claims(["predictor"]))
        st, doc = call(d, "POST", "/v2/models/bench/infer", v2_row(ROW), tok)
        expect(st == 200, (st, doc))


def test_refused_tokens():
    now = int(time.time())
    hs_input = b64(json.dumps({"alg": "HS256", "kid": "rsa-1"}).encode()) + "." + \
        b64(json.dumps(claims("admin")).encode())
    pub = openssl("pkey", "-in", "rsa.pem", "-pubout")
    hs_sig = openssl("dgst", "-sha256", "-hmac", pub.decode(), "-binary", data=hs_input.encode())
    cases = [
        (token("ec2.pem", ES, claims("admin")), "jwt signature: does not verify with key 'ec-1'"),
        (token("rsa.pem", RS, claims("admin", exp_in=-120)), "jwt claim 'exp': expired"),
        (token("rsa.pem", RS, claims("admin", nbf=now + 600)), "jwt claim 'nbf': not valid"),
        (token("rsa.pem", RS, dict(claims("admin"), iss="https://evil.example.com")),
         "jwt claim 'iss'"),
        (token("rsa.pem", RS, dict(claims("admin"), aud="grafana")), "jwt claim 'aud'"),
        (token(None, {"alg": "none"}, claims("admin")), "jwt: no signature"),
        (token(None, {"alg": "none"}, claims("admin")) + "AAAA", "alg 'none' refused"),
        (hs_input + "." + b64(hs_sig), "alg 'HS256' refused"),
        (token("rsa.pem", {"alg": "RS256", "kid": "ec-1"}, claims("admin"), ec=False),
         "does not match key 'ec-1'"),
        (token("ec.pem", {"alg": "ES256", "kid": "ec-9"}, claims("admin")),
         "no key with kid 'ec-9'"),
        ("a.b.c", "jwt header: not base64url without padding"),
        ("e30.e30.AAAA", "jwt header: 'alg' missing"),
    ]
    # A good token's signature under a payload raised to admin.
    good = token("rsa.pem", RS, claims("viewer"))
    forged = token(None, RS, claims("admin"))[:-1] + "." + good.rsplit(".", 1)[1]
    cases.append((forged, "jwt signature: does not verify"))
    with Daemon(args=jwt_args()) as d:
        for tok, why in cases:
            for method, path, body, _ in ROUTES:
                st, doc = call(d, method, path, body, tok)
                expect_error(st, doc, 401, why)
        # Nothing of any token in the log.
        logs = d.logs()
        for tok, _ in cases + [(good, "")]:
            sig = tok.rsplit(".", 1)[1]
            expect(len(sig) < 20 or sig[:20] not in logs, "a token's signature in the log")
            expect(len(tok) < 40 or tok.split(".")[1][:40] not in logs,
                   "a token's payload in the log")


def test_jwt_without_jwks_or_auth():
    with Daemon(args=["--auth"]) as d:
        st, doc = call(d, "GET", "/v2/models/bench", None, token("ec.pem", ES, claims("admin")))
        expect_error(st, doc, 401, "a JSON Web Token, but this server takes none")
    # A JWKS file without --auth is read and checked, and the log says no token is asked for.
    with Daemon(args=jwt_args()[1:]) as d:
        expect("--jwt-jwks-file without --auth" in d.logs(), d.logs())
        st, doc = call(d, "GET", "/api/v1/tokens", None, "anything.at.all")
        expect(st == 200, (st, doc))


def test_sighup_reads_a_rotated_key():
    path = os.path.join(TMP, "rotating.json")
    write_jwks(path, [jwk("ec.pem", "ec-1", False)])
    genkey("ec3.pem", False)
    new = token("ec3.pem", {"alg": "ES256", "kid": "ec-3"}, claims("viewer"))
    old = token("ec.pem", ES, claims("viewer"))
    with Daemon(args=jwt_args(path)) as d:
        expect(call(d, "GET", "/api/v1/settings", None, old)[0] == 200, "old key")
        expect_error(*call(d, "GET", "/api/v1/settings", None, new), 401, "no key with kid")
        write_jwks(path, [jwk("ec3.pem", "ec-3", False)])
        d.signal(signal.SIGHUP)
        wait_for(lambda: call(d, "GET", "/api/v1/settings", None, new)[0] == 200)
        # The old key is gone, and with it the cache that knew its token.
        expect_error(*call(d, "GET", "/api/v1/settings", None, old), 401, "no key with kid 'ec-1'")
        # A broken file at the next SIGHUP keeps the keys that work, and says why.
        with open(path, "w") as f:
            f.write("{")
        d.signal(signal.SIGHUP)
        wait_for(lambda: "cannot take JSON Web Tokens" in d.logs())
        expect(call(d, "GET", "/api/v1/settings", None, new)[0] == 200, "kept")


def start_fails(args, fragment):
    data = tempfile.mkdtemp(prefix="modeld-jwt-data-", dir=TMP)
    p = subprocess.run([MODELD, "--repo", data, "--listen", "127.0.0.1:0", "--data", data] + args,
                       capture_output=True, text=True, timeout=60)
    expect(p.returncode != 0, (args, p.returncode))
    expect(fragment in p.stdout + p.stderr, (fragment, p.stdout + p.stderr))


def test_start_refusals():
    start_fails(jwt_args(os.path.join(TMP, "nowhere.json"))[1:], "nowhere.json")
    start_fails(["--auth", "--jwt-issuer", ISS], "need --jwt-jwks-file")
    writable = os.path.join(TMP, "writable.json")
    write_jwks(writable, [jwk("ec.pem", "ec-1", False)], 0o666)
    start_fails(jwt_args(writable), "other users may write it, and so mint tokens")
    bad = os.path.join(TMP, "bad.json")
    write_jwks(bad, [{"kty": "EC", "kid": "x", "crv": "P-256", "x": "AAAA", "y": "AAAA"}])
    start_fails(jwt_args(bad), "keys[0]: member 'x' holds 3 bytes, not 32")
    start_fails(["--auth", "--jwt-jwks-file", JWKS, "--jwt-issuer", ISS],
                "jwt audience: missing")
    start_fails(jwt_args(os.path.join(TMP, "nowhere.json")), "nowhere.json")


if __name__ == "__main__":
    try:
        run([test_roles_matrix, test_model_claim, test_refused_tokens, test_jwt_without_jwks_or_auth,
             test_sighup_reads_a_rotated_key, test_start_refusals])
    finally:
        subprocess.run(["rm", "-rf", TMP], check=False)
