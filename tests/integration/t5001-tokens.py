#!/usr/bin/python3
"""Bearer tokens end to end: `modeld token create` offline (its secret
printed once, only its SHA-256 stored, read by a running daemon after a
SIGHUP), POST/GET/DELETE /api/v1/tokens and `modelctl token
create|list|revoke` with $MODELD_TOKEN, bad bodies named, a token limited
to some models (their paths and listings), expiry, revocation, last use
written in batches, rate limits (429 with Retry-After, per token), the
health endpoints open and /metrics closed by default (both configurable),
and no secret in any log line or error."""
import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import time

from harness import (Daemon, MODELCTL, MODELD, expect, expect_error, run, v2_row, wait_for)

ROW = [0.5] * 30


def offline(data, *args):
    return subprocess.run([MODELD, "token", "create", "--data", data] + list(args),
                          capture_output=True, text=True, timeout=30)


def admin_data():
    data = os.path.join(tempfile.mkdtemp(prefix="modeld-t5001-"), "data")
    p = offline(data, "--role", "admin", "--name", "root")
    expect(p.returncode == 0, (p.returncode, p.stderr))
    return data, p.stdout.strip()


def bearer(secret):
    return {"Authorization": "Bearer " + secret}


def test_offline_create():
    data, secret = admin_data()
    expect(re.fullmatch(r"mdt_[0-9a-f]{64}", secret), secret)
    db = sqlite3.connect(os.path.join(data, "modeld.db"))
    rows = db.execute("SELECT name, hash, role, created_by FROM tokens").fetchall()
    db.close()
    expect(rows == [("root", hashlib.sha256(secret.encode()).hexdigest(), "admin", "offline")],
           rows)
    with open(os.path.join(data, "modeld.db"), "rb") as f:
        expect(secret.encode() not in f.read(), "the secret is in the store")
    # Bad flags: exit 2, the field named; a name taken: exit 1.
    for args, code, text in [(["--role", "root"], 2, "role: 'root' unknown"),
                             ([], 2, "--role: missing"),
                             (["--role", "viewer", "--name", "a b"], 2, "name:"),
                             (["--role", "viewer", "--expires", "3y"], 2, "--expires"),
                             (["--role", "viewer", "--rate", "x"], 2, "--rate"),
                             (["--role", "viewer", "--models", "a,,b"], 1, "models:"),
                             (["--role", "viewer", "--name", "root"], 1, "'root': taken"),
                             (["--role", "viewer", "--bogus"], 2, "unknown option")]:
        p = offline(data, *args)
        expect(p.returncode == code and text in p.stderr and p.stdout == "",
               (args, p.returncode, p.stderr))
    p = subprocess.run([MODELD, "token"], capture_output=True, text=True, timeout=30)
    expect(p.returncode == 2 and "create" in p.stderr, p.stderr)


def test_api_and_scopes():
    data, root = admin_data()
    with Daemon(args=["--auth"], data=data) as d:
        # A bad body: each field named.
        for body, text in [({}, "role: missing"), ({"role": "boss"}, "role: 'boss' unknown"),
                           ({"role": "viewer", "colour": 1}, "colour: unknown field"),
                           ({"role": "viewer", "rate": "fast"}, "rate: wrong type"),
                           ({"role": "viewer", "models": []}, "models: empty"),
                           ({"role": "viewer", "expires": "soon"}, "expires:"),
                           ("[1]", "body: a JSON object expected")]:
            st, doc, _ = d.json("POST", "/api/v1/tokens", body, headers=bearer(root))
            expect_error(st, doc, 400, text)
        st, doc, _ = d.json("POST", "/api/v1/tokens", {"role": "viewer", "name": "root"},
                            headers=bearer(root))
        expect_error(st, doc, 409, "'root': taken")
        st, doc, _ = d.json("POST", "/api/v1/tokens",
                            {"role": "predictor", "name": "app", "models": ["bench"]},
                            headers=bearer(root))
        expect(st == 201 and doc["name"] == "app" and doc["role"] == "predictor", (st, doc))
        app = doc["token"]
        expect(re.fullmatch(r"mdt_[0-9a-f]{64}", app), doc)
        # Its model: yes; another: 403 naming it; a listing leaves the others out.
        st, doc, _ = d.json("POST", "/v2/models/bench/infer", v2_row(ROW), headers=bearer(app))
        expect(st == 200, (st, doc))
        st, doc, _ = d.json("POST", "/v2/models/iris/infer", v2_row([1, 2, 3, 4]),
                            headers=bearer(app))
        expect_error(st, doc, 403, "model 'iris': not permitted to principal 'app'")
        st, doc, _ = d.json("GET", "/v1/models/iris", headers=bearer(app))
        expect(st == 403, (st, doc))
        st, doc, _ = d.json("POST", "/v2/repository/models/bench/unload", {},
                            headers=bearer(app))
        expect_error(st, doc, 403, "token 'app' (role predictor) lacks the permission 'deploy'")
        st, doc, _ = d.json("POST", "/api/v1/tokens", {"role": "viewer", "name": "dash",
                                                       "models": ["bench", "strict"]},
                            headers=bearer(root))
        dash = doc["token"]
        st, doc, _ = d.json("POST", "/v2/repository/index", {}, headers=bearer(dash))
        expect(st == 200 and {r["name"] for r in doc} == {"bench", "strict"}, (st, doc))
        st, doc, _ = d.json("POST", "/v2/repository/index", {}, headers=bearer(root))
        expect(st == 200 and len({r["name"] for r in doc}) > 2, (st, doc))
        # The listing: no secret, no hash; last uses written when listed.
        st, doc, _ = d.json("GET", "/api/v1/tokens", headers=bearer(root))
        expect(st == 200, (st, doc))
        by = {t["name"]: t for t in doc["tokens"]}
        expect(set(by) == {"root", "app", "dash"}, by)
        expect(by["app"]["models"] == ["bench"] and by["app"]["created_by"] == "root", by)
        expect(by["app"]["last_used_ms"] > 0 and by["app"]["state"] == "active", by)
        expect(by["root"]["models"] is None and by["root"]["created_by"] == "offline", by)
        text = repr(doc)
        expect(app not in text and root not in text and "hash" not in text, text)
        # Revoked: 401 at once; again: still revoked; unknown: 404.
        st, doc, _ = d.json("DELETE", "/api/v1/tokens/app", headers=bearer(root))
        expect(st == 200 and doc == {"name": "app", "revoked": True}, (st, doc))
        st, doc, h = d.json("POST", "/v2/models/bench/infer", v2_row(ROW), headers=bearer(app))
        expect_error(st, doc, 401, "bearer token 'app': revoked")
        expect(h["www-authenticate"].startswith("Bearer"), h)
        st, doc, _ = d.json("DELETE", "/api/v1/tokens/nosuch", headers=bearer(root))
        expect_error(st, doc, 404, "no such token")
        st, doc, _ = d.json("GET", "/api/v1/tokens", headers=bearer(root))
        expect([t["state"] for t in doc["tokens"] if t["name"] == "app"] == ["revoked"], doc)
        # A token made offline while the daemon runs: unknown until a SIGHUP.
        p = offline(d.data, "--role", "viewer", "--name", "late")
        late = p.stdout.strip()
        st, doc, _ = d.json("GET", "/v2/models/bench", headers=bearer(late))
        expect_error(st, doc, 401, "bearer token: unknown")
        d.signal(signal.SIGHUP)
        expect(wait_for(lambda: d.request("GET", "/v2/models/bench",
                                          headers=bearer(late))[0] == 200), d.logs())
        logs = d.logs()
        for secret in (root, app, dash, late):
            expect(secret[4:] not in logs, "a secret in the log")


def test_expiry_and_last_use():
    data, root = admin_data()
    p = offline(data, "--role", "viewer", "--name", "short", "--expires", "1h")
    short = p.stdout.strip()
    db = sqlite3.connect(os.path.join(data, "modeld.db"))
    db.execute("UPDATE tokens SET expires_ms = 1000 WHERE name = 'short'")
    db.commit()
    db.close()
    with Daemon(args=["--auth"], data=data) as d:
        st, doc, _ = d.json("GET", "/v2/models/bench", headers=bearer(short))
        expect_error(st, doc, 401, "bearer token 'short': expired")
        st, doc, _ = d.json("GET", "/v2/models/bench", headers=bearer(root))
        expect(st == 200, (st, doc))
    # Written at shutdown, though nothing listed it.
    db = sqlite3.connect(os.path.join(data, "modeld.db"))
    used = dict(db.execute("SELECT name, last_used_ms FROM tokens").fetchall())
    db.close()
    expect(used["root"] > time.time() * 1000 - 600000 and used["short"] == 0, used)


def test_rate_limit():
    data, root = admin_data()
    with Daemon(args=["--auth"], data=data) as d:
        st, doc, _ = d.json("POST", "/api/v1/tokens",
                            {"role": "predictor", "name": "slow", "rate": 0.01, "burst": 3},
                            headers=bearer(root))
        expect(st == 201, (st, doc))
        slow = doc["token"]
        codes = [d.request("POST", "/v2/models/bench/infer", v2_row(ROW),
                           headers=bearer(slow))[0] for _ in range(3)]
        expect(codes == [200, 200, 200], codes)
        st, doc, h = d.json("POST", "/v2/models/bench/infer", v2_row(ROW), headers=bearer(slow))
        expect_error(st, doc, 429, "token 'slow': over its rate limit of 0.01 requests per second")
        expect(90 <= int(h["retry-after"]) <= 100, h)
        # Per token: the admin's requests go on.
        st, doc, _ = d.json("POST", "/v2/models/bench/infer", v2_row(ROW), headers=bearer(root))
        expect(st == 200, (st, doc))
        st, data_, _ = d.request("GET", "/metrics", headers=bearer(root))
        expect(b'code="429"} 1\n' in data_, data_)


def test_open_endpoints():
    data, root = admin_data()
    with Daemon(args=["--auth"], data=data) as d:
        for path in ("/v2/health/live", "/v2/health/ready"):
            expect(d.request("GET", path)[0] == 200, path)
        expect(d.request("GET", "/metrics")[0] == 401, "metrics open")
        expect(d.request("GET", "/v2")[0] == 401, "metadata open")
        # A token on an open endpoint is checked all the same.
        expect(d.request("GET", "/v2/health/live", headers={"Authorization": "Bearer x"})[0]
               == 401, "bad token on health")
    with Daemon(args=["--auth", "--auth-metrics=false", "--auth-health"], data=data,
                wait=False) as d:
        expect(wait_for(lambda: d.proc.poll() is None and up(d, root)), d.logs())
        expect(d.request("GET", "/metrics")[0] == 200, "metrics closed")
        expect(d.request("GET", "/v2/health/live")[0] == 401, "health open")


def up(d, secret):
    try:
        return d.request("GET", "/v2/health/ready", headers=bearer(secret), timeout=2)[0] == 200
    except OSError:
        return False


def test_modelctl():
    data, root = admin_data()
    with Daemon(args=["--auth"], data=data) as d:
        env = dict(os.environ, MODELD_URL="http://127.0.0.1:%d" % d.port, MODELD_TOKEN=root)

        def ctl(*args, token=None):
            e = dict(env, MODELD_TOKEN=token) if token is not None else env
            return subprocess.run([MODELCTL] + list(args), capture_output=True, text=True,
                                  env=e, timeout=30)

        p = ctl("token", "create", "--role", "reviewer", "--name", "rev", "--models",
                "bench,strict", "--expires", "2d", "--rate", "50", "--burst", "5")
        expect(p.returncode == 0 and "'rev' made" in p.stderr, (p.returncode, p.stderr))
        rev = p.stdout.strip()
        expect(re.fullmatch(r"mdt_[0-9a-f]{64}", rev), p.stdout)
        p = ctl("token", "list")
        expect(p.returncode == 0, p.stderr)
        lines = p.stdout.splitlines()
        expect(lines[0].split() == ["NAME", "ROLE", "MODELS", "STATE", "EXPIRES", "LAST", "USED"],
               lines)
        expect(lines[2].split()[:4] == ["rev", "reviewer", "bench,strict", "active"], lines)
        expect(rev not in p.stdout, p.stdout)
        p = ctl("token", "list", token=rev)
        expect(p.returncode == 1 and "lacks the permission 'admin'" in p.stderr, p.stderr)
        p = ctl("status", token="")
        expect(p.returncode == 1 and "authorization: missing" in p.stderr, p.stderr)
        p = ctl("token", "revoke", "rev")
        expect(p.returncode == 0 and p.stdout == "token rev revoked\n", p.stdout)
        p = ctl("token", "revoke", "rev2")
        expect(p.returncode == 1 and "no such token" in p.stderr, p.stderr)
        p = ctl("token", "create", "--name", "x")
        expect(p.returncode == 2 and "missing --role" in p.stderr, p.stderr)
        p = ctl("token", "create", "--role", "viewer", "--rate", "fast")
        expect(p.returncode == 2 and "--rate" in p.stderr, p.stderr)
        p = ctl("token", "frob")
        expect(p.returncode == 2, p.stderr)


if __name__ == "__main__":
    run([test_offline_create, test_api_and_scopes, test_expiry_and_last_use, test_rate_limit,
         test_open_endpoints, test_modelctl])
