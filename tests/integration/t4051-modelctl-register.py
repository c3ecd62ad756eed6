#!/usr/bin/python3
"""modelctl register MODEL ARTIFACT [--metadata FILE|JSON] [--model-yaml FILE]
[--profile FILE]: against modeld, the upload reaches registration with the
artifact's bytes (its sha256 in the server's log) and a refusal exits 1 with
the server's reason; against a small fake server, the exact parts it sends
and what it prints on success; usage errors exit 2 and send nothing."""
import email.parser
import email.policy
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import MODELCTL, Daemon, expect, run

NOT_YET = "artifact: does not load"


def modelctl(url, *args):
    p = subprocess.run([MODELCTL, "--url", url, "--timeout", "10"] + list(args),
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def received(d):
    out = []
    for line in d.logs().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("msg") == "upload received":
            out.append(rec)
    return out


class Files:
    """A temporary directory with an artifact, metadata, a model.yaml and a profile."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="modeld-test-")
        self.artifact = self.write("model.json", os.urandom(2 << 20) + b"\r\n--x\r\n")
        self.meta = self.write("meta.json", b'{"data": "s3://b/fraud", "auc": 0.91}')
        self.yaml = self.write("model.yaml", b"backend: trees\n")
        self.profile = self.write("profile.json", b'{"features": {}}')
        self.array = self.write("array.json", b"[1, 2]")
        return self

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)


def test_against_modeld():
    with Daemon(examples=False, args=["--max-upload-bytes", str(3 << 20)]) as d, Files() as f:
        url = "http://127.0.0.1:%d" % d.port
        art = open(f.artifact, "rb").read()
        rc, out, err = modelctl(url, "register", "bench", f.artifact, "--metadata", f.meta,
                                "--model-yaml", f.yaml, "--profile", f.profile)
        # Registration's answer: these bytes are no model (a real one: t7070).
        expect(rc == 1 and err.strip().startswith("modelctl: register 'bench': model.yaml:"),
               (rc, out, err))
        got = received(d)
        expect(len(got) == 1 and got[0]["sha256"] == hashlib.sha256(art).hexdigest() and
               got[0]["bytes"] == str(len(art)) and got[0]["filename"] == "model.json", got)
        # Inline metadata.
        rc, out, err = modelctl(url, "register", "bench", f.artifact, "--metadata",
                                ' {"auc": 0.5}')
        expect(rc == 1 and NOT_YET in err, (rc, out, err))
        expect(len(received(d)) == 2, received(d))
        # Past the server's limit: its reason, exit 1.
        big = f.write("big.json", b"x" * (3 << 20))
        rc, out, err = modelctl(url, "register", "bench", big)
        expect(rc == 1 and "upload larger than the limit of 3145728 bytes (--max-upload-bytes)"
               in err, (rc, out, err))
        expect(os.listdir(os.path.join(d.data, "artifacts", "tmp")) == [], "file left behind")
        # Usage errors: exit 2, nothing sent.
        for args, msg in [
            (["register", "bench"], "missing ARTIFACT"),
            (["register"], "missing MODEL"),
            (["register", "bench", os.path.join(f.dir, "nosuch.json")],
             "register: ARTIFACT: cannot read '%s'" % os.path.join(f.dir, "nosuch.json")),
            (["register", "bench", f.artifact, "--metadata", f.array],
             "register: --metadata: not a JSON object"),
            (["register", "bench", f.artifact, "--metadata", "{nope"], "--metadata: not JSON"),
            (["register", "bench", f.artifact, "--metadata", os.path.join(f.dir, "none")],
             "register: --metadata: "),
            (["register", "bench", f.artifact, "--profile", f.dir], "is not a regular file"),
            (["register", "bench", f.artifact, "--model-yaml"], "option '--model-yaml' needs a "
                                                                 "value"),
            (["register", "bench", f.artifact, "--bogus"], "unknown option '--bogus'"),
            (["register", "bench", f.artifact, "extra"], "unexpected argument 'extra'"),
            (["register", "bench", f.artifact, "--profile", f.profile, "--profile", f.profile],
             "--profile given twice"),
        ]:
            rc, out, err = modelctl(url, *args)
            expect(rc == 2 and msg in err, (args, rc, out, err))
        expect(len(received(d)) == 2, received(d))
        rc, out, _ = modelctl(url, "register", "--help")
        expect(rc == 0 and "modelctl register - upload a new version of a model" in out, out)


class FakeServer:
    """Answers every POST with status/body and keeps the request."""

    def __init__(self, status, body):
        outer = self
        self.requests = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                outer.requests.append((self.path, dict(self.headers), self.rfile.read(n)))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def parts_of(headers, body):
    """{name: (filename, content type, bytes)} of a multipart/form-data body."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + headers["Content-Type"].encode() + b"\r\n\r\n" + body)
    expect(msg.is_multipart(), headers)
    out = {}
    for p in msg.iter_parts():
        out[p.get_param("name", header="content-disposition")] = (
            p.get_filename(), p.get_content_type(), p.get_payload(decode=True))
    return out


def test_what_it_sends_and_prints():
    srv = FakeServer(201, {"model": "fraud", "version": "3", "sha256": "ab"})
    try:
        with Files() as f:
            rc, out, err = modelctl(srv.url, "register", "fraud/x", f.artifact, "--metadata",
                                    '{"auc": 0.91}', "--model-yaml", f.yaml, "--profile",
                                    f.profile)
            expect(rc == 0 and out == "registered fraud/x version 3\n" and err == "",
                   (rc, out, err))
            path, headers, body = srv.requests[-1]
            expect(path == "/api/v1/models/fraud%2Fx/versions", path)
            expect(headers["Content-Type"].startswith("multipart/form-data; boundary="), headers)
            parts = parts_of(headers, body)
            expect(sorted(parts) == ["artifact", "metadata", "model.yaml", "profile"], parts.keys())
            expect(parts["artifact"] == ("model.json", "application/octet-stream",
                                         open(f.artifact, "rb").read()), "artifact differs")
            expect(parts["metadata"] == (None, "application/json", b'{"auc": 0.91}'),
                   parts["metadata"])
            expect(parts["model.yaml"][0] == "model.yaml" and
                   parts["model.yaml"][2] == b"backend: trees\n", parts["model.yaml"])
            expect(parts["profile"][2] == b'{"features": {}}', parts["profile"])
            # The artifact alone; --json prints the answer as received.
            rc, out, err = modelctl(srv.url, "--json", "register", "fraud", f.artifact)
            expect(rc == 0 and json.loads(out)["version"] == "3", (rc, out, err))
            parts = parts_of(srv.requests[-1][1], srv.requests[-1][2])
            expect(sorted(parts) == ["artifact"], parts.keys())
    finally:
        srv.close()


if __name__ == "__main__":
    run([test_against_modeld, test_what_it_sends_and_prints])
