"""Helpers of the TLS tests (t5020-t5039) and bench/tls.py: certificates made
with the openssl command (CAs, servers, clients, with validity dates of the
test's choosing through `openssl ca`), and a modeld serving TLS, reached
with Python's ssl and http.client."""
import http.client
import json
import os
import ssl
import subprocess

from harness import Daemon

CA_CONF = """[ca]
default_ca = d
[d]
dir = %(dir)s
database = %(dir)s/index.txt
new_certs_dir = %(dir)s
serial = %(dir)s/serial
default_md = sha256
policy = p
unique_subject = no
copy_extensions = none
[p]
commonName = supplied
"""


def openssl(*args):
    p = subprocess.run(("openssl",) + args, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("openssl %s failed:\n%s" % (" ".join(args), p.stderr))
    return p.stdout


class CA:
    """A certificate authority in directory d, issuing P-256 certificates."""

    def __init__(self, d, name):
        self.dir = os.path.join(d, name)
        os.makedirs(self.dir)
        self.key = os.path.join(self.dir, "ca.key")
        self.pem = os.path.join(self.dir, "ca.pem")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", self.key, "-out", self.pem, "-days", "30", "-subj", "/CN=" + name,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        with open(os.path.join(self.dir, "index.txt"), "w"):
            pass
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("1000\n")
        self.conf = os.path.join(self.dir, "ca.cnf")
        with open(self.conf, "w") as f:
            f.write(CA_CONF % {"dir": self.dir})

    def issue(self, name, server=True, start=None, end=None):
        """(certificate path, key path) of a new certificate for 127.0.0.1
        and localhost (server) or a client named name; start and end are
        YYYYMMDDHHMMSSZ dates (default: from now, 30 days). The key file is
        mode 0600, as modeld asks of key files."""
        key = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        pem = os.path.join(self.dir, name + ".pem")
        ext = os.path.join(self.dir, name + ".ext")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", csr, "-subj", "/CN=" + name)
        os.chmod(key, 0o600)
        with open(ext, "w") as f:
            if server:
                f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                        "extendedKeyUsage=serverAuth\n")
            else:
                f.write("extendedKeyUsage=clientAuth\n")
        dates = ["-days", "30"] if start is None else ["-startdate", start, "-enddate", end]
        openssl("ca", "-batch", "-config", self.conf, "-cert", self.pem, "-keyfile", self.key,
                "-in", csr, "-out", pem, "-extfile", ext, "-notext", *dates)
        return pem, key


def self_signed(d, name):
    """(certificate path, key path) of a self-signed certificate, issued by no CA."""
    key = os.path.join(d, name + ".key")
    pem = os.path.join(d, name + ".pem")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", pem, "-days", "30", "-subj", "/CN=" + name)
    os.chmod(key, 0o600)
    return pem, key


def context(ca, cert=None):
    """A client context that verifies the server against ca (a path) and,
    with cert = (certificate, key), presents that client certificate."""
    ctx = ssl.create_default_context(cafile=ca)
    if cert is not None:
        ctx.load_cert_chain(cert[0], cert[1])
    return ctx


class TlsDaemon(Daemon):
    """A modeld serving TLS with server = (certificate, key); client_ca asks
    for client certificates. Requests verify the server against ca and
    present client (certificate, key) when given."""

    def __init__(self, ca, server, client_ca=None, client=None, args=(), **kw):
        self.ctx = context(ca, client)
        tls = ["--tls-cert", server[0], "--tls-key", server[1]]
        if client_ca is not None:
            tls += ["--tls-client-ca", client_ca]
        Daemon.__init__(self, args=tls + list(args), **kw)

    def connect(self, ctx=None, timeout=30):
        return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                           context=ctx or self.ctx)

    def request(self, method, path, body=None, headers=None, timeout=30, ctx=None):
        c = self.connect(ctx, timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, data, {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
