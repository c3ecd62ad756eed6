#!/usr/bin/python3
"""Mutual TLS: with --tls-client-ca, a client must present a certificate
that CA issued, valid today and meant for clients; one without a
certificate, with one from another CA, a self-signed one, an expired one or
one not yet valid, or a server-only certificate, fails the handshake (no
request reaches the server: the access log stays empty) and the log says
why. modelctl gets in with --cert/--key, and not without. A reload takes a
new client CA: clients of the old CA are refused from then on."""
import os
import shutil
import signal
import ssl
import subprocess
import tempfile

from harness import MODELD, expect, run, wait_for
from tlslib import CA, TlsDaemon, context, self_signed

MODELCTL = os.path.join(os.path.dirname(os.path.abspath(MODELD)), "modelctl")


def refused(d, ctx):
    """Whether a request with ctx fails at the TLS layer."""
    try:
        st, _, _ = d.request("GET", "/v2/models/refused-probe", ctx=ctx, timeout=10)
    except (ssl.SSLError, ConnectionError, OSError):
        return True
    return False


def modelctl(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELD_")}
    return subprocess.run([MODELCTL] + list(args), capture_output=True, text=True, timeout=60,
                          env=env)


def test_client_certificates():
    tmp = tempfile.mkdtemp(prefix="modeld-mtls-")
    try:
        ca = CA(tmp, "ca")
        other = CA(tmp, "other")
        server = ca.issue("server")
        good = ca.issue("alice", server=False)
        expired = ca.issue("expired", server=False, start="20200101000000Z",
                           end="20200201000000Z")
        future = ca.issue("future", server=False, start="20990101000000Z",
                          end="20990201000000Z")
        foreign = other.issue("mallory", server=False)
        server_only = ca.issue("server-only", server=True)
        selfsigned = self_signed(tmp, "selfie")
        alog = os.path.join(tmp, "access.log")
        with TlsDaemon(ca.pem, server, client_ca=ca.pem, client=good, examples=False,
                       args=["--access-log", alog]) as d:
            expect('"scheme":"https+client-cert"' in d.logs(), d.logs())
            st, body, _ = d.request("GET", "/v2/health/ready")
            expect(st == 200, (st, body))
            expect(refused(d, context(ca.pem)), "no client certificate was accepted")
            for name, cert in [("another CA", foreign), ("self-signed", selfsigned),
                               ("expired", expired), ("not yet valid", future),
                               ("server-only", server_only)]:
                expect(refused(d, context(ca.pem, cert)), "a %s certificate was accepted" % name)
            expect(wait_for(lambda: d.logs().count("client certificate refused") >= 5), d.logs())
            logs = d.logs()
            expect("expired" in logs and "not yet valid" in logs and "purpose" in logs, logs)
            expect("issuer is unknown" in logs or "not trusted" in logs, logs)
            # None of them reached the server: the access log has the request after them only.
            st, _, _ = d.request("GET", "/v2/models/accepted-probe")
            expect(st == 404, st)

            def access_log():
                with open(alog) as f:
                    return f.read()
            expect(wait_for(lambda: "accepted-probe" in access_log()), access_log())
            expect("refused-probe" not in access_log(), access_log())
            url = "https://127.0.0.1:%d" % d.port
            p = modelctl("--url", url, "--cacert", ca.pem, "--cert", good[0], "--key", good[1],
                         "health")
            expect(p.returncode == 0 and "ready" in p.stdout, (p.returncode, p.stdout, p.stderr))
            p = modelctl("--url", url, "--cacert", ca.pem, "health")
            expect(p.returncode == 1, (p.returncode, p.stdout, p.stderr))
            p = modelctl("--url", url, "--cacert", ca.pem, "--cert", foreign[0], "--key",
                         foreign[1], "health")
            expect(p.returncode == 1, (p.returncode, p.stdout, p.stderr))
            p = modelctl("--url", url, "--cacert", ca.pem, "--key", good[1], "health")
            expect(p.returncode == 2 and "--key: needs --cert" in p.stderr, p.stderr)
            os.chmod(good[1], 0o644)
            p = modelctl("--url", url, "--cacert", ca.pem, "--cert", good[0], "--key", good[1],
                         "health")
            os.chmod(good[1], 0o600)
            expect(p.returncode == 2 and "chmod 600" in p.stderr, p.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_reload_changes_client_ca():
    tmp = tempfile.mkdtemp(prefix="modeld-mtls-")
    try:
        ca = CA(tmp, "ca")
        other = CA(tmp, "other")
        server = ca.issue("server")
        alice = ca.issue("alice", server=False)
        bob = other.issue("bob", server=False)
        client_ca = os.path.join(tmp, "clients.pem")
        shutil.copyfile(ca.pem, client_ca)
        with TlsDaemon(ca.pem, server, client_ca=client_ca, client=alice,
                       examples=False) as d:
            expect(not refused(d, context(ca.pem, alice)), "alice refused")
            expect(refused(d, context(ca.pem, bob)), "bob accepted")
            shutil.copyfile(other.pem, client_ca)
            d.signal(signal.SIGHUP)
            expect(wait_for(lambda: "TLS files reloaded" in d.logs()), d.logs())
            expect(not refused(d, context(ca.pem, bob)), "bob refused after the reload")
            expect(refused(d, context(ca.pem, alice)), "alice accepted after the reload")
            d.ctx = context(ca.pem, bob)  # for the harness's own requests from now on
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_client_certificates, test_reload_changes_client_ca])
