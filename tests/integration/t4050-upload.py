#!/usr/bin/python3
"""The intake of an uploaded version, POST /api/v1/models/{m}/versions: the
multipart body streams to a temporary file under <data>/artifacts/tmp, and
what the intake decides is checked here: a malformed body, an unknown or
missing part, bad metadata and an upload past --max-upload-bytes are refused
with the reason, and none of them, nor a client that leaves mid-upload,
leaves a file behind. A good upload reaches registration (md_upload_accept)
with the artifact's sha256, size and file name as sent; expect_accepted()
says what registration answers."""
import hashlib
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile

from harness import (Daemon, MODELD, expect, expect_error, free_port, make_repo, run, v2_row,
                     wait_for)

PATH = "/api/v1/models/bench/versions"
BOUNDARY = "----t4050-Boundary-7MA4YWxkTrZu0gW"


def expect_accepted(st, doc):
    """Registration's answer to an upload the intake passed. These artifacts
    are made-up bytes: registration loads them with the model's engine and
    refuses them, naming the artifact (the intake's refusals never say this;
    a real model's upload is t7070's)."""
    expect_error(st, doc, 400, "artifact: does not load")


def part(name, content, filename=None, content_type=None):
    return (name, content, filename, content_type)


def multipart(parts, boundary=BOUNDARY, preamble=b"", epilogue=b""):
    """A multipart/form-data body of parts and its Content-Type."""
    out = [preamble]
    for name, content, filename, ctype in parts:
        if isinstance(content, str):
            content = content.encode()
        disp = 'Content-Disposition: form-data; name="%s"' % name
        if filename is not None:
            disp += '; filename="%s"' % filename
        head = "--%s\r\n%s\r\n" % (boundary, disp)
        if ctype is not None:
            head += "Content-Type: %s\r\n" % ctype
        out += [head.encode(), b"\r\n", content, b"\r\n"]
    out += [("--%s--\r\n" % boundary).encode(), epilogue]
    return b"".join(out), "multipart/form-data; boundary=%s" % boundary


def artifact_bytes(n, seed=1):
    """n random bytes, with near-misses of the delimiter among them."""
    rnd = random.Random(seed)
    data = bytearray(rnd.getrandbits(8) for _ in range(n))
    for miss in (b"\r\n--" + BOUNDARY[:-1].encode(), b"\r\n--", b"\r\r\n--" + BOUNDARY[:10].encode()):
        at = rnd.randrange(0, n - len(miss))
        data[at:at + len(miss)] = miss
    return bytes(data)


def upload(d, body, ctype, path=PATH, headers=None):
    h = {"Content-Type": ctype}
    h.update(headers or {})
    return d.json("POST", path, body, h)


def tmp_dir(d):
    return os.path.join(d.data, "artifacts", "tmp")


def tmp_files(d):
    return sorted(os.listdir(tmp_dir(d)))


def expect_no_file(d):
    """The upload directory is empty: at once, since the answer came after the removal."""
    expect(tmp_files(d) == [], "left behind: %r" % tmp_files(d))


def received(d):
    """The intake's "upload received" log lines, newest last."""
    lines = []
    for line in d.logs().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("msg") == "upload received":
            lines.append(rec)
    return lines


def test_good_upload_reaches_registration():
    with Daemon(examples=False) as d:
        expect(os.path.isdir(tmp_dir(d)), "no upload directory")
        art = artifact_bytes(3 << 20)
        meta = {"training_data": "s3://bucket/fraud/2024-05", "code": "git:1a2b3c",
                "params": {"max_depth": 6}, "metrics": {"auc": 0.91}}
        body, ctype = multipart([
            part("metadata", json.dumps(meta), content_type="application/json"),
            part("artifact", art, filename="model.json", content_type="application/octet-stream"),
            part("model.yaml", open(os.path.join(d.repo, "bench", "model.yaml")).read(),
                 filename="model.yaml"),
            part("profile", json.dumps({"features": {}}), filename="profile.json"),
        ], preamble=b"a preamble, ignored\r\n", epilogue=b"an epilogue, ignored\r\n")
        st, doc, _ = upload(d, body, ctype)
        expect_accepted(st, doc)
        got = received(d)
        expect(len(got) == 1, got)
        expect(got[0]["model"] == "bench" and got[0]["filename"] == "model.json", got)
        expect(got[0]["bytes"] == str(len(art)), (got[0]["bytes"], len(art)))
        expect(got[0]["sha256"] == hashlib.sha256(art).hexdigest(), got[0])
        expect_no_file(d)

        # The same as chunks of odd sizes (Transfer-Encoding: chunked), no preamble,
        # a quoted boundary, a directory in the file name (dropped), metadata absent.
        art2 = artifact_bytes(200000, seed=2)
        body, _ = multipart([part("artifact", art2, filename="C:\\models\\v2.ubj")])
        pieces = [body[i:i + 977] for i in range(0, len(body), 977)]
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        try:
            c.request("POST", PATH, body=iter(pieces), encode_chunked=True,
                      headers={"Content-Type": 'multipart/form-data; boundary="%s"' % BOUNDARY})
            r = c.getresponse()
            expect_accepted(r.status, json.loads(r.read()))
        finally:
            c.close()
        got = received(d)[-1]
        expect(got["filename"] == "v2.ubj" and got["bytes"] == str(len(art2)), got)
        expect(got["sha256"] == hashlib.sha256(art2).hexdigest(), got)
        expect_no_file(d)
        # Other routes are served as before.
        st, doc, _ = d.json("POST", "/v2/models/bench/infer", v2_row([0.5] * 30))
        expect(st == 200, (st, doc))


def test_malformed_multipart():
    art = part("artifact", b"x" * 100, filename="model.json")
    good, ctype = multipart([art])
    name = 'Content-Disposition: form-data; name="artifact"; filename="m.json"\r\n'
    cases = [
        # (body, Content-Type, status, fragment of the error)
        (good, None, 400, "header 'Content-Type': missing; send multipart/form-data"),
        (good, "application/json", 400,
         "header 'Content-Type': 'application/json' is not multipart/form-data"),
        (good, "multipart/form-data", 400, "multipart/form-data without a boundary parameter"),
        (good, "multipart/form-data; boundary=" + "a" * 71, 400, "boundary is not 1 to 70"),
        (b"no boundary here", ctype, 400, "multipart body: no boundary line '--%s'" % BOUNDARY),
        (good[:-40], ctype, 400, "multipart body: missing the final boundary"),
        (("--%s\r\n" % BOUNDARY).encode() + b"X-Long: " + b"a" * 9000 + b"\r\n\r\n", ctype,
         400, "multipart body: part 1: header block larger than the limit of 8192 bytes"),
        (("--%s\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nx\r\n--%s--"
          % (BOUNDARY, BOUNDARY)).encode(), ctype, 400,
         "multipart body: part 1: Content-Disposition: the part has no name"),
        (("--%s\r\nContent-Disposition: form-data; name=\"artifact\r\n\r\nx\r\n--%s--"
          % (BOUNDARY, BOUNDARY)).encode(), ctype, 400, "unterminated quoted string"),
        (("--%s\r\n\r\nx\r\n--%s--" % (BOUNDARY, BOUNDARY)).encode(), ctype, 400,
         "multipart body: part 1: no Content-Disposition header"),
        # The artifact's file is made, then the body breaks: it is removed.
        (("--%s\r\n%s\r\n" % (BOUNDARY, name)).encode() + b"y" * 300000 +
         ("\r\n--%sX" % BOUNDARY).encode(), ctype, 400, "the boundary is followed by 'X'"),
        (multipart([part("artifact", b"x", filename=".hidden")])[0], ctype, 400,
         "artifact: filename '.hidden' starts with '.'"),
        (multipart([part("artifact", b"x")])[0], ctype, 400, "artifact: the part has no filename"),
    ]
    with Daemon(examples=False) as d:
        for body, ct, status, fragment in cases:
            headers = {} if ct is None else {"Content-Type": ct}
            st, doc, _ = d.json("POST", PATH, body, headers)
            expect_error(st, doc, status, fragment)
            expect_no_file(d)
        st, _, _ = d.request("GET", "/v2/health/live")
        expect(st == 200, st)
        expect(received(d) == [], received(d))


def test_missing_and_unknown_parts():
    meta = part("metadata", '{"a": 1}')
    art = part("artifact", b"abc", filename="model.json")
    cases = [
        ([meta], 400, "artifact: missing"),
        ([], 400, "artifact: missing"),
        ([art, part("notes", "hello")], 400,
         "unknown part 'notes': an upload holds artifact, metadata, model.yaml and profile"),
        ([part("Artifact", b"abc", filename="m.json")], 400, "unknown part 'Artifact'"),
        ([art, art], 400, "artifact: the part is sent twice"),
        ([meta, art, meta], 400, "metadata: the part is sent twice"),
    ]
    with Daemon(examples=False) as d:
        for parts, status, fragment in cases:
            st, doc, _ = upload(d, *multipart(parts))
            expect_error(st, doc, status, fragment)
            expect_no_file(d)
        expect(received(d) == [], received(d))


def test_bad_metadata_and_profile():
    art = part("artifact", b"abc", filename="model.json")
    cases = [
        ("metadata", "{\"a\": ", 400, "metadata: invalid JSON at line 1"),
        ("metadata", "", 400, "metadata: invalid JSON"),
        ("metadata", "[1, 2]", 400, "metadata: expected a JSON object, got an array"),
        ("metadata", "\"text\"", 400, "metadata: expected a JSON object, got a string"),
        ("metadata", '{"a": 1, "a": 2}', 400, "metadata: invalid JSON"),
        ("metadata", '{"a": "%s"}' % ("x" * (1 << 20)), 413,
         "metadata: larger than the limit of 1048576 bytes"),
        ("model.yaml", "x" * ((1 << 20) + 1), 413,
         "model.yaml: larger than the limit of 1048576 bytes"),
        ("profile", "null", 400, "profile: expected a JSON object, got null"),
    ]
    with Daemon(examples=False) as d:
        for name, text, status, fragment in cases:
            st, doc, _ = upload(d, *multipart([art, part(name, text)]))
            expect_error(st, doc, status, fragment)
            expect_no_file(d)
        # Metadata at its limit passes.
        text = '{"a": "%s"}' % ("x" * ((1 << 20) - 9))
        expect(len(text) == 1 << 20, len(text))
        st, doc, _ = upload(d, *multipart([art, part("metadata", text)]))
        expect_accepted(st, doc)
        expect_no_file(d)


def test_upload_limit():
    limit = 100000
    with Daemon(examples=False, args=["--max-upload-bytes", str(limit),
                                      "--max-body-bytes", "4096"]) as d:
        # Past the limit by Content-Length: refused before the body is read.
        big, ctype = multipart([part("artifact", b"z" * limit, filename="model.json")])
        st, doc, _ = upload(d, big, ctype)
        expect_error(st, doc, 413, "upload larger than the limit of 100000 bytes "
                     "(--max-upload-bytes)")
        expect_no_file(d)
        # Chunked, so no length to refuse up front: the artifact's file is made,
        # removed once the body passes the limit, and the answer is 413.
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        try:
            c.request("POST", PATH, body=iter([big[i:i + 8192] for i in range(0, len(big), 8192)]),
                      encode_chunked=True, headers={"Content-Type": ctype})
            r = c.getresponse()
            expect_error(r.status, json.loads(r.read()), 413, "(--max-upload-bytes)")
        finally:
            c.close()
        expect_no_file(d)
        # Under the limit: passes, though far past --max-body-bytes, which
        # still holds for every other route.
        ok, ctype = multipart([part("artifact", b"z" * (limit - 1000), filename="model.json")])
        expect(4096 < len(ok) <= limit, len(ok))
        st, doc, _ = upload(d, ok, ctype)
        expect_accepted(st, doc)
        st, doc, _ = d.json("POST", "/v2/models/bench/infer", b"x" * 5000)
        expect_error(st, doc, 413, "request body larger than the limit of 4096 bytes")
        expect_no_file(d)
        st, doc, _ = d.json("POST", "/v2/models/bench/infer", v2_row([0.5] * 30))
        expect(st == 200, (st, doc))


def test_client_leaves_mid_upload():
    with Daemon(examples=False) as d:
        body, ctype = multipart([part("artifact", b"q" * (4 << 20), filename="model.json")])
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                % (PATH, ctype, len(body))).encode()
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        try:
            s.sendall(head + body[:1 << 20])
            # The artifact's file exists while the upload is under way...
            expect(wait_for(lambda: len(tmp_files(d)) == 1), "no temporary file mid-upload")
        finally:
            s.close()
        # ...and goes when the client leaves.
        expect(wait_for(lambda: tmp_files(d) == []), "left behind: %r" % tmp_files(d))
        expect(received(d) == [], received(d))
        # A connection cut short by a reset goes the same way.
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        try:
            s.sendall(head + body[:300000])
            expect(wait_for(lambda: len(tmp_files(d)) == 1), "no temporary file mid-upload")
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        finally:
            s.close()
        expect(wait_for(lambda: tmp_files(d) == []), "left behind: %r" % tmp_files(d))
        st, doc, _ = upload(d, *multipart([part("artifact", b"ok", filename="model.json")]))
        expect_accepted(st, doc)


def test_leftovers_removed_at_start():
    """Temporary files a crash left in the upload directory go at the next start;
    other files there stay."""
    tmp = tempfile.mkdtemp(prefix="modeld-test-")
    port = free_port()
    data = os.path.join(tmp, "data")
    up = os.path.join(data, "artifacts", "tmp")
    os.makedirs(up)
    for name in ("upload-abc123", "upload-zzz", "keep.txt"):
        with open(os.path.join(up, name), "w") as f:
            f.write("x")
    repo = make_repo(os.path.join(tmp, "repo"), examples=False)
    log = open(os.path.join(tmp, "log"), "wb")
    p = subprocess.Popen([MODELD, "--repo", repo, "--listen", "127.0.0.1:%d" % port, "--data",
                          data], stdout=log, stderr=subprocess.STDOUT)
    try:
        def ready():
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/v2/health/ready")
                return c.getresponse().status == 200
            except OSError:
                return False
        expect(wait_for(ready), "not ready")
        # The directory is the artifact store's own: everything a crash left
        # there goes at start, the uploads cut short and anything else.
        expect(sorted(os.listdir(up)) == [], os.listdir(up))
        with open(os.path.join(tmp, "log")) as f:
            text = f.read()
        expect("removed files a crash left in the artifact store" in text and
               '"files":"3"' in text, text)
    finally:
        p.terminate()
        p.wait(timeout=20)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    expect(p.returncode == 0, p.returncode)


def test_unknown_path_and_method():
    """Other paths and methods near the route are answered as before, without the intake."""
    with Daemon(examples=False) as d:
        st, doc, h = d.json("DELETE", PATH)
        expect(st == 405 and h.get("allow") == "POST", (st, doc, h))
        st, doc, _ = upload(d, *multipart([part("artifact", b"x", filename="m.json")]),
                            path="/api/v1/models/bench/versions/extra")
        expect_error(st, doc, 404)
        expect_no_file(d)


if __name__ == "__main__":
    run([test_good_upload_reaches_registration, test_malformed_multipart,
         test_missing_and_unknown_parts, test_bad_metadata_and_profile, test_upload_limit,
         test_client_leaves_mid_upload, test_leftovers_removed_at_start,
         test_unknown_path_and_method])
