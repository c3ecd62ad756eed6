#!/usr/bin/python3
"""SIGHUP re-reads the TLS files without dropping a connection: a keep-alive
connection opened before goes on answering with the certificate it shook
hands with, while new connections get the new certificate; files that do
not make a valid pair (a certificate with another's key, a broken file) are
refused on reload with an error in the log, and the certificate read before
stays served. Many reloads under keep-alive traffic fail no request."""
import json
import os
import shutil
import signal
import ssl
import tempfile
import threading

from harness import expect, run, v2_row, wait_for
from tlslib import CA, TlsDaemon

ROW = [0.5] * 30


def served_cert(d):
    """The DER certificate a new connection to d is served."""
    c = d.connect()
    try:
        c.connect()
        return c.sock.getpeercert(binary_form=True)
    finally:
        c.close()


def der(pem_path):
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def infer(c):
    c.request("POST", "/v2/models/bench/infer", body=json.dumps(v2_row(ROW)),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read()
    expect(r.status == 200, (r.status, body))
    expect(r.getheader("Connection", "") != "close", r.getheaders())


def install(src, dst):
    """Replaces dst by src's content as an operator's tool does: a new file moved over it."""
    tmp = dst + ".new"
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o600)
    os.replace(tmp, dst)


def hup_and_wait(d, msg, n):
    """Sends SIGHUP and waits for the n-th log line containing msg."""
    d.signal(signal.SIGHUP)
    expect(wait_for(lambda: d.logs().count(msg) >= n), "no %r #%d in:\n%s" % (msg, n, d.logs()))


def test_reload_keeps_open_connections():
    tmp = tempfile.mkdtemp(prefix="modeld-tls-")
    try:
        ca = CA(tmp, "ca")
        first = ca.issue("first")
        second = ca.issue("second")
        cert = os.path.join(tmp, "live.pem")
        key = os.path.join(tmp, "live.key")
        install(first[0], cert)
        install(first[1], key)
        with TlsDaemon(ca.pem, (cert, key), examples=False) as d:
            expect(served_cert(d) == der(first[0]), "not the first certificate")
            old = d.connect()
            infer(old)
            old_sock = old.sock
            install(second[0], cert)
            install(second[1], key)
            hup_and_wait(d, "TLS files reloaded", 1)
            # New connections: the new certificate.
            expect(served_cert(d) == der(second[0]), "a new connection has the old certificate")
            # The connection opened before: still open, same socket, same certificate.
            for _ in range(3):
                infer(old)
            expect(old.sock is old_sock, "the old connection was reopened")
            expect(old.sock.getpeercert(binary_form=True) == der(first[0]), "certificate changed")
            old.close()
            # A certificate with another's key: refused, the second still served.
            install(first[0], cert)
            hup_and_wait(d, "TLS files not reloaded", 1)
            expect("is not the private key of --tls-cert" in d.logs(), d.logs())
            expect(served_cert(d) == der(second[0]), "a refused reload changed the certificate")
            # A broken certificate file: refused too.
            with open(cert, "w") as f:
                f.write("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
            hup_and_wait(d, "TLS files not reloaded", 2)
            expect(served_cert(d) == der(second[0]), "a broken file changed the certificate")
            # Fixed again: taken.
            install(first[0], cert)
            install(first[1], key)
            hup_and_wait(d, "TLS files reloaded", 2)
            expect(served_cert(d) == der(first[0]), "the fixed files were not taken")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_reloads_under_traffic():
    """Keep-alive clients and new connections keep working across 20 reloads."""
    tmp = tempfile.mkdtemp(prefix="modeld-tls-")
    try:
        ca = CA(tmp, "ca")
        server = ca.issue("server")
        with TlsDaemon(ca.pem, server, examples=False) as d:
            stop = threading.Event()
            errors = []
            counts = []

            def client(reconnect):
                n = 0
                c = d.connect()
                try:
                    while not stop.is_set():
                        if reconnect:
                            c.close()
                            c = d.connect()
                        infer(c)
                        n += 1
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(repr(e))
                finally:
                    c.close()
                    counts.append(n)

            threads = [threading.Thread(target=client, args=(i % 2 == 1,)) for i in range(4)]
            for t in threads:
                t.start()
            for i in range(20):
                hup_and_wait(d, "TLS files reloaded", i + 1)
            stop.set()
            for t in threads:
                t.join(60)
            expect(not errors, errors[:5])
            expect(len(counts) == 4 and min(counts) > 0, counts)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_reload_keeps_open_connections, test_reloads_under_traffic])
