#!/usr/bin/python3
"""The security self-assessment (GET /api/v1/security/report, `modelctl
security-report`) on real daemons. On defaults it says plain HTTP on
loopback (low), authentication off (medium), the audit log off and data
stored in clear (medium), and, run as root without --user, that (high).
Configured well (TLS and mutual TLS from openssl-made certificates, --auth
with tokens, --audit-key-file, --data-key-file, and as root --user nobody)
those are ok; a token expiring in 2 days (medium), a token made 100 days
ago and never used (medium, its created_ms written in the store file
before start), tokens without expiry (low) and each role's count of active
tokens are reported, and no high finding: modelctl exits 0. A key file made
0644 after start is then reported (high, with its chmod) and modelctl exits
1. The report is admin-only (403 for a viewer)."""
import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import tempfile
import time

from harness import MODELCTL, MODELD, Daemon, expect, make_repo, run
from cryptlib import key_file, new_key
from tlslib import CA, TlsDaemon, context

DAY_MS = 86400000


def ctl(*args, token=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELD_")}
    if token is not None:
        env["MODELD_TOKEN"] = token
    return subprocess.run([MODELCTL] + list(args), capture_output=True, text=True, timeout=60,
                          env=env)


def by_id(doc):
    out = {}
    for f in doc["findings"]:
        expect(set(f) >= {"id", "area", "severity", "status", "finding", "fix"}, f)
        expect(f["severity"] in ("high", "medium", "low", "info"), f)
        expect(f["status"] == ("ok" if f["severity"] == "info" else
                               "fail" if f["severity"] == "high" else "warn"), f)
        out.setdefault(f["id"], []).append(f)
    return out


def one(found, fid, severity, fix_part=None):
    expect(fid in found, (fid, sorted(found)))
    f = found[fid][0]
    expect(f["severity"] == severity, (fid, severity, f))
    if fix_part is not None:
        expect(f["fix"] is not None and fix_part in f["fix"], (fid, fix_part, f))
    return f


def test_defaults():
    root = os.geteuid() == 0
    with Daemon(examples=False, bench=False) as d:
        st, doc, _ = d.json("GET", "/api/v1/security/report")
        expect(st == 200, (st, doc))
        found = by_id(doc)
        one(found, "tls", "low", "--tls-cert")
        expect("loopback" in found["tls"][0]["finding"], found["tls"])
        one(found, "tls.client", "low", "--tls-client-ca")
        one(found, "auth", "medium", "--auth")
        one(found, "audit", "medium", "--audit-key-file")
        one(found, "encryption", "medium", "--data-key-file")
        expect("in clear" in found["encryption"][0]["finding"], found["encryption"])
        one(found, "retention.log", "info")
        expect("30 days" in found["retention.log"][0]["finding"], found["retention.log"])
        one(found, "retention.history", "info")
        one(found, "data.dir", "info")
        one(found, "user", "high" if root else "info", "--user" if root else None)
        for role in ("admin", "deployer", "reviewer", "predictor", "viewer"):
            expect("0 active tokens" in found["roles." + role][0]["finding"], found)
        expect(doc["summary"] == {"high": 1 if root else 0, "medium": 3, "low": 2,
                                  "info": len(doc["findings"]) - (6 if root else 5)}, doc)
        p = ctl("--url", "http://127.0.0.1:%d" % d.port, "security-report")
        expect(p.returncode == (1 if root else 0), (p.returncode, p.stdout, p.stderr))
        expect(p.stdout.startswith("SEVERITY") and "medium    access" in p.stdout, p.stdout)
        expect("--data-key-file FILE" in p.stdout, p.stdout)
        expect("0 high" not in p.stdout if root else "0 high, 3 medium, 2 low" in p.stdout,
               p.stdout)
        p = ctl("--url", "http://127.0.0.1:%d" % d.port, "--json", "security-report")
        expect(json.loads(p.stdout)["summary"] == doc["summary"], p.stdout)
        p = ctl("--url", "http://127.0.0.1:%d" % d.port, "security-report", "extra")
        expect(p.returncode == 2 and "unexpected argument" in p.stderr, (p.returncode, p.stderr))


def test_configured_well():
    root = os.geteuid() == 0
    tmp = tempfile.mkdtemp(prefix="modeld-t5140-")
    old = os.umask(0o022)
    try:
        os.chmod(tmp, 0o755)
        repo = make_repo(os.path.join(tmp, "repo"), examples=False, bench=False)
        ca = CA(tmp, "ca")
        server = ca.issue("server")
        client = ca.issue("client", server=False)
        keys = os.path.join(tmp, "keys")
        os.makedirs(keys)
        audit_key = os.path.join(keys, "audit.key")
        with open(audit_key, "w") as f:
            f.write("a" * 32)
        os.chmod(audit_key, 0o600)
        data_key = key_file(os.path.join(keys, "data.key"), new_key())
        data = os.path.join(tmp, "data")

        def offline(*args):
            p = subprocess.run([MODELD, "token", "create", "--data", data] + list(args),
                               capture_output=True, text=True, timeout=30)
            expect(p.returncode == 0, (p.returncode, p.stderr))
            return p.stdout.strip()
        admin = offline("--role", "admin", "--name", "root")
        offline("--role", "predictor", "--name", "old")
        viewer = offline("--role", "viewer", "--name", "dash", "--expires", "30d")
        offline("--role", "deployer", "--name", "soon", "--expires", "2d")
        offline("--role", "reviewer", "--name", "gone")
        db = sqlite3.connect(os.path.join(data, "modeld.db"))
        now = int(time.time() * 1000)
        db.execute("UPDATE tokens SET created_ms = ? WHERE name = 'old'", (now - 100 * DAY_MS,))
        db.execute("UPDATE tokens SET revoked_ms = ? WHERE name = 'gone'", (now,))
        db.commit()
        db.close()
        args = ["--auth", "--audit-key-file", audit_key, "--data-key-file", data_key]
        if root:
            nobody = pwd.getpwnam("nobody")
            for dirpath, _, files in os.walk(tmp):
                for name in [dirpath] + [os.path.join(dirpath, f) for f in files]:
                    os.chown(name, nobody.pw_uid, nobody.pw_gid)
            os.chown(client[1], 0, 0)  # modelctl's, which runs as root
            args += ["--user", "nobody"]
        with TlsDaemon(ca.pem, server, client_ca=ca.pem, client=client, repo=repo, data=data,
                       args=args, wait=False) as d:
            hdr = {"Authorization": "Bearer " + admin}
            deadline = time.time() + 30
            while time.time() < deadline:
                expect(d.proc.poll() is None, d.logs())
                try:
                    if d.request("GET", "/v2/health/ready")[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            st, doc, _ = d.json("GET", "/api/v1/security/report",
                                headers={"Authorization": "Bearer " + viewer})
            expect(st == 403, (st, doc))
            st, doc, _ = d.json("GET", "/api/v1/security/report", headers=hdr)
            expect(st == 200, (st, doc))
            found = by_id(doc)
            for fid in ("tls", "tls.client", "auth", "auth.health", "audit", "encryption",
                        "keyfile.tls-key", "keyfile.audit-key-file", "keyfile.data-key-file",
                        "data.dir", "user", "jwt"):
                one(found, fid, "info")
            one(found, "auth.metrics", "info")
            counts = {r: found["roles." + r][0]["finding"] for r in
                      ("admin", "deployer", "reviewer", "predictor", "viewer")}
            expect(counts == {"admin": "role admin: 1 active tokens",
                              "deployer": "role deployer: 1 active tokens",
                              "reviewer": "role reviewer: 0 active tokens",
                              "predictor": "role predictor: 1 active tokens",
                              "viewer": "role viewer: 1 active tokens"}, counts)
            expiring = found["tokens.expiring"]
            expect([f["token"] for f in expiring] == ["soon"], expiring)
            expect(expiring[0]["severity"] == "medium" and "expires in 2.0 days"
                   in expiring[0]["finding"], expiring)
            unused = found["tokens.unused"]
            expect([f["token"] for f in unused] == ["old"], unused)
            expect(unused[0]["severity"] == "medium" and "never used, made 100 days ago"
                   in unused[0]["finding"] and unused[0]["fix"] == "modelctl token revoke old",
                   unused)
            expect(sorted(f["token"] for f in found["tokens.no-expiry"]) == ["old", "root"],
                   found["tokens.no-expiry"])
            expect(found["tokens.no-expiry"][0]["severity"] == "low", found["tokens.no-expiry"])
            expect(doc["summary"]["high"] == 0, doc)
            url = "https://127.0.0.1:%d" % d.port
            tls = ["--url", url, "--cacert", ca.pem, "--cert", client[0], "--key", client[1]]
            p = ctl(*tls, "security-report", token=admin)
            expect(p.returncode == 0, (p.returncode, p.stdout, p.stderr))
            expect("0 high, 2 medium, 2 low" in p.stdout and "token 'soon'" in p.stdout, p.stdout)
            # A key file others may read, after start: found now, high, with its fix.
            os.chmod(audit_key, 0o644)
            st, doc, _ = d.json("GET", "/api/v1/security/report", headers=hdr)
            f = one(by_id(doc), "keyfile.audit-key-file", "high", "chmod 600 " + audit_key)
            expect(audit_key in f["finding"] and f["status"] == "fail", f)
            expect(doc["summary"]["high"] == 1, doc)
            p = ctl(*tls, "security-report", token=admin)
            expect(p.returncode == 1 and "chmod 600 " + audit_key in p.stdout,
                   (p.returncode, p.stdout, p.stderr))
            os.chmod(audit_key, 0o600)
    finally:
        os.umask(old)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_defaults, test_configured_well])
