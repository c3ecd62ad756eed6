#!/usr/bin/python3
"""What authentication costs a single-row request, in instructions the
server executes (callgrind, as bench/instructions.py: one HTTP thread, the
benchmark model, N1 and then N2 requests on one keep-alive connection, the
difference over N2 - N1 being one request's cost). Counted on the HTTP
thread alone (callgrind's --separate-threads), where authentication runs:
the other threads' counts grow with the run's wall time (the control loop
ticks every second), which valgrind on a busy machine stretches unevenly.
Also printed: the inclusive count of md_auth_principal, the principal's
whole cost (the header's lookup, the token's hash and its table or the
cache of verified tokens, the copy into the request's memory).

Four ways, each against the first:
  off       no --auth: every request is anonymous
  opaque    --auth, a modeld token (Authorization: Bearer mdt_...)
  jwt-min   --auth, an ES256 JSON Web Token with the claims modeld reads
            and no more, verified once and then found in the cache of
            verified tokens
  jwt       the same with the claims of an identity provider's access
            token (Keycloak's, abridged): three times as long
  rate      --auth, a modeld token with a rate limit (never reached)
The tokens are made through the API in the server under test, with an
admin JSON Web Token; the keys and the JWT are made with the openssl
command. The target of docs/performance.md: each at most 1.05 of off.

Usage: /usr/bin/python3 bench/auth.py [MODELD]   (after `make`)
Environment: N1 (200), N2 (1200)."""
import base64
import glob
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from common import MODELD, bench_repo, callgrind, single_row_body

ISS = "https://idp.example.com/realms/ml"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def es256_setup(tmp):
    """A P-256 key, its JWKS file and a signer of claims."""
    key = os.path.join(tmp, "ec.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", key], check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    jwks = os.path.join(tmp, "jwks.json")
    with open(jwks, "w") as f:
        json.dump({"keys": [{"kty": "EC", "kid": "k1", "crv": "P-256", "x": b64(der[-64:-32]),
                             "y": b64(der[-32:])}]}, f)

    def sign(claims):
        s = b64(json.dumps({"alg": "ES256", "kid": "k1", "typ": "JWT"}).encode()) + "." + \
            b64(json.dumps(claims).encode())
        d = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=s.encode(),
                           check=True, capture_output=True).stdout
        raw, i = b"", 2
        for _ in range(2):
            n = d[i + 1]
            raw += d[i + 2:i + 2 + n].lstrip(b"\0").rjust(32, b"\0")
            i += 2 + n
        return s + "." + b64(raw)
    return jwks, sign


def claims(role):
    """Claims as an identity provider fills them (Keycloak's, abridged)."""
    now = int(time.time())
    return {"exp": now + 3600, "iat": now, "jti": "6f1c2a9e-8d7b-4c1e-9a3f-2b5d7e9c1a4f",
            "iss": ISS, "aud": "modeld", "sub": "4f2b8c1d-3e5a-4b6c-9d7e-1f2a3b4c5d6e",
            "typ": "Bearer", "azp": "modeld-cli", "session_state": "b7e1c9d2-5a3f",
            "scope": "openid profile email", "email_verified": True,
            "preferred_username": "alice", "roles": [role, "offline_access", "uma_authorization"]}


def count(modeld, repo, body, n, args, setup=None, headers=None):
    """(instructions of the HTTP thread, md_auth_principal's inclusive count)
    of one modeld run under callgrind that answered n single-row requests."""
    def http_thread(out):
        for f in glob.glob(out + "-*"):
            with open(f) as fh:
                text = fh.read()
            if "md_auth_principal" not in text:
                continue  # not the HTTP thread
            total = int(re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M).group(1))
            ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--auto=no",
                                  "--threshold=100", f], capture_output=True, text=True).stdout
            m = re.search(r"^\s*([\d,]+) \(.*\)\s+\S*:md_auth_principal ", ann, re.M)
            return total, int(m.group(1).replace(",", "")) if m else 0
        raise RuntimeError("no HTTP thread in callgrind's output")

    return callgrind(modeld, repo, body, n, http_thread, args, setup, headers, threads=True)


def make_token(port, admin_jwt, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/api/v1/tokens", body=json.dumps(body),
              headers={"Authorization": "Bearer " + admin_jwt,
                       "Content-Type": "application/json"})
    r = c.getresponse()
    doc = json.loads(r.read())
    c.close()
    if r.status not in (200, 201):
        raise RuntimeError("token not made: %d %r" % (r.status, doc))
    return doc["token"]


def main():
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    modeld = sys.argv[1] if len(sys.argv) > 1 else MODELD
    n1 = int(os.environ.get("N1", "200"))
    n2 = int(os.environ.get("N2", "1200"))
    tmp = tempfile.mkdtemp(prefix="modeld-auth-bench-")
    try:
        repo = bench_repo(os.path.join(tmp, "repo"))
        with open(single_row_body(os.path.join(tmp, "body1.json")), "rb") as f:
            body = f.read()
        jwks, sign = es256_setup(tmp)
        admin = sign(claims("admin"))
        predictor = sign(claims("predictor"))
        minimal = sign({"iss": ISS, "aud": "modeld", "sub": "alice",
                        "exp": int(time.time()) + 3600, "roles": "predictor"})
        auth = ["--auth", "--jwt-jwks-file", jwks, "--jwt-issuer", ISS, "--jwt-audience",
                "modeld"]
        secret = {}

        def opaque(rate):
            def setup(port):
                spec = {"name": "bench", "role": "predictor"}
                if rate:
                    spec.update(rate=1e6, burst=1000000)
                secret["t"] = make_token(port, admin, spec)
            return setup

        ways = [
            ("off", [], None, None),
            ("opaque", auth, opaque(False), lambda i: {"Authorization": "Bearer " + secret["t"]}),
            ("jwt-min", auth, None, lambda i: {"Authorization": "Bearer " + minimal}),
            ("jwt", auth, None, lambda i: {"Authorization": "Bearer " + predictor}),
            ("rate", auth, opaque(True), lambda i: {"Authorization": "Bearer " + secret["t"]}),
        ]
        print("JSON Web Tokens (ES256) of %d (jwt-min) and %d bytes (jwt)" % (len(minimal),
                                                                           len(predictor)))
        print("%-8s %14s %14s %12s %7s %10s" % ("auth", "HTTP N1", "HTTP N2", "per request",
                                                "ratio", "principal"))
        first = None
        for name, args, setup, headers in ways:
            t1, a1 = count(modeld, repo, body, n1, args, setup, headers)
            t2, a2 = count(modeld, repo, body, n2, args, setup, headers)
            per = (t2 - t1) / (n2 - n1)
            first = first or per
            print("%-8s %14d %14d %12.0f %7.3f %10.0f" % (name, t1, t2, per, per / first,
                                                        (a2 - a1) / (n2 - n1)), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
