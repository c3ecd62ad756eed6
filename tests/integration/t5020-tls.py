#!/usr/bin/python3
"""TLS on the listener: with --tls-cert and --tls-key, modeld answers
inference and management over HTTPS with a certificate a client verifies
against its CA (keep-alive included), and does not speak plain HTTP on that
port; modelctl verifies the server with --cacert (and refuses a server its
CAs did not sign); start-up refuses a key that is not the certificate's, a
key file others may read, a file that is not PEM, and one of the pair
without the other, each with a message naming the flag."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import warnings

from harness import MODELD, Daemon, expect, make_repo, run, v2_row, wait_for
from tlslib import CA, TlsDaemon, context

MODELCTL = os.path.join(os.path.dirname(os.path.abspath(MODELD)), "modelctl")
ROW = [0.5] * 30


def setup():
    tmp = tempfile.mkdtemp(prefix="modeld-tls-")
    ca = CA(tmp, "ca")
    other = CA(tmp, "other")
    return tmp, ca, other, ca.issue("server")


def modelctl(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELD_")}
    return subprocess.run([MODELCTL] + list(args), capture_output=True, text=True, timeout=60,
                          env=env)


def test_https_serves_and_plain_is_off():
    tmp, ca, other, server = setup()
    try:
        with TlsDaemon(ca.pem, server, examples=False) as d:
            expect('"scheme":"https"' in d.logs(), d.logs())
            # Keep-alive: several requests on one verified connection.
            c = d.connect()
            for _ in range(3):
                c.request("POST", "/v2/models/bench/infer", body=json.dumps(v2_row(ROW)), headers={"Content-Type": "application/json"})
                r = c.getresponse()
                body = r.read()
                expect(r.status == 200 and b"outputs" in body, (r.status, body))
            expect(c.sock.version() in ("TLSv1.2", "TLSv1.3"), c.sock.version())
            # A body of many TLS records (about 1.5 MB), then a small request, on the same
            # connection: nothing left unread in GnuTLS's buffers stalls the next request.
            big = json.dumps(v2_row([0.5] * 30 * 10000)).replace("[1, 300000]", "[10000, 30]")
            for body in (big, json.dumps(v2_row(ROW))):
                c.request("POST", "/v2/models/bench/infer", body=body,
                          headers={"Content-Type": "application/json"})
                r = c.getresponse()
                data = r.read()
                expect(r.status == 200 and b"outputs" in data, (r.status, data[:200]))
            c.close()
            st, _, _ = d.request("GET", "/api/v1/settings/listen")
            expect(st == 200, st)
            # Plain HTTP on the TLS port gets no HTTP answer.
            s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
            s.sendall(b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            try:
                while True:
                    b = s.recv(4096)
                    if not b:
                        break
                    got += b
            except (ConnectionResetError, socket.timeout):
                pass
            s.close()
            expect(not got.startswith(b"HTTP/"), got[:100])
            # TLS 1.0 and 1.1 are refused, even to a client that would take them.
            old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            old.load_verify_locations(ca.pem)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                old.minimum_version = ssl.TLSVersion.TLSv1
                old.maximum_version = ssl.TLSVersion.TLSv1_1
            old.set_ciphers("DEFAULT:@SECLEVEL=0")
            try:
                with old.wrap_socket(socket.create_connection(("127.0.0.1", d.port), timeout=10),
                                     server_hostname="localhost") as s:
                    expect(False, "a %s handshake was accepted" % s.version())
            except (ssl.SSLError, ConnectionError):
                pass
            # A client trusting another CA refuses the server.
            try:
                d.request("GET", "/v2/health/ready", ctx=context(other.pem))
                expect(False, "a server signed by another CA was accepted")
            except ssl.SSLCertVerificationError:
                pass
            # modelctl verifies the server: --cacert, the system's CAs, the wrong CA.
            url = "https://127.0.0.1:%d" % d.port
            p = modelctl("--url", url, "--cacert", ca.pem, "health")
            expect(p.returncode == 0 and "ready" in p.stdout, (p.returncode, p.stdout, p.stderr))
            p = modelctl("--url", url, "health")
            expect(p.returncode == 1 and "certificate" in p.stderr, (p.returncode, p.stderr))
            p = modelctl("--url", url, "--cacert", other.pem, "health")
            expect(p.returncode == 1 and "certificate" in p.stderr, (p.returncode, p.stderr))
            # The name checked is the URL's: localhost is in the certificate too.
            p = modelctl("--url", "https://localhost:%d" % d.port, "--cacert", ca.pem, "health")
            expect(p.returncode == 0, (p.returncode, p.stderr))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def start_fails(args, fragment):
    """modeld started with args exits non-zero at once, saying fragment."""
    tmp = tempfile.mkdtemp(prefix="modeld-tls-start-")
    try:
        repo = make_repo(os.path.join(tmp, "repo"), examples=False)
        p = subprocess.run([MODELD, "--repo", repo, "--listen", "127.0.0.1:0", "--data",
                            os.path.join(tmp, "data")] + args, capture_output=True, text=True,
                           timeout=60)
        out = p.stdout + p.stderr
        expect(p.returncode != 0, "modeld started with %s:\n%s" % (args, out))
        expect(fragment in out, "no %r in:\n%s" % (fragment, out))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_bad_files_refused_at_start():
    tmp, ca, other, server = setup()
    try:
        _, other_key = ca.issue("server2")
        start_fails(["--tls-cert", server[0], "--tls-key", other_key],
                    "is not the private key of --tls-cert")
        start_fails(["--tls-cert", server[0]], "TLS needs both --tls-cert and --tls-key")
        start_fails(["--tls-key", server[1]], "TLS needs both --tls-cert and --tls-key")
        start_fails(["--tls-client-ca", ca.pem], "client certificates need TLS")
        start_fails(["--tls-cert", server[1], "--tls-key", server[1]], "--tls-cert")
        start_fails(["--tls-cert", server[0], "--tls-key", os.path.join(tmp, "none.key")],
                    "--tls-key")
        garbage = os.path.join(tmp, "garbage.key")
        with open(garbage, "w") as f:
            f.write("not a key\n")
        os.chmod(garbage, 0o600)
        start_fails(["--tls-cert", server[0], "--tls-key", garbage], "not a PEM private key")
        start_fails(["--tls-cert", server[0], "--tls-key", server[1], "--tls-client-ca",
                     server[1]], "--tls-client-ca")
        os.chmod(server[1], 0o644)
        start_fails(["--tls-cert", server[0], "--tls-key", server[1]], "chmod 600")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_expired_certificate_warned():
    """An expired server certificate is served, with a warning at start (clients refuse it)."""
    tmp, ca, other, server = setup()
    try:
        old = ca.issue("old", start="20200101000000Z", end="20200201000000Z")
        with TlsDaemon(ca.pem, old, examples=False, wait=False) as d:
            expect(wait_for(lambda: "the TLS certificate has expired" in d.logs()), d.logs())
            try:
                d.request("GET", "/v2/health/ready")
                expect(False, "an expired server certificate was accepted")
            except ssl.SSLCertVerificationError as e:
                expect("expired" in str(e), str(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_plain_daemon_unchanged():
    """Without TLS flags the listener is plain HTTP, as before."""
    with Daemon(examples=False) as d:
        st, _, _ = d.request("GET", "/v2/health/ready")
        expect(st == 200, st)
        expect('"scheme":"http"' in d.logs(), d.logs())


if __name__ == "__main__":
    expect(os.path.exists(MODELCTL), "no %s: run make" % MODELCTL)
    run([test_https_serves_and_plain_is_off, test_bad_files_refused_at_start,
         test_expired_certificate_warned, test_plain_daemon_unchanged])
