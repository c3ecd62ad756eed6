#!/usr/bin/python3
"""Bad input, as data: every file in cases/bad-input/ is one request with the
status it must get and a fragment its {"error": ...} must name. After each,
the server must still be live and serving. Also: bodies over the limit."""
import glob
import json
import http.client
import os

from harness import Daemon, expect, expect_error, run, v2_row

HERE = os.path.dirname(os.path.abspath(__file__))


def check_case(d, path):
    case = json.load(open(path))
    req = case["request"]
    body = req.get("body_text")
    if body is None:
        body = json.dumps(req.get("body"))
    st, data, _ = d.request(req["method"], req["path"], body, req.get("headers"))
    doc = json.loads(data) if data else None
    if case["status"] >= 400:
        expect_error(st, doc, case["status"], case.get("error_contains"))
    else:
        expect(st == case["status"], "%d: %r" % (st, doc))
    st, _, _ = d.request("GET", "/v2/health/live")
    expect(st == 200, "server not live after %s" % path)


def test_cases():
    files = sorted(glob.glob(os.path.join(HERE, "cases", "bad-input", "*.json")))
    expect(len(files) >= 30, "cases missing")
    failures = []
    with Daemon() as d:
        for f in files:
            try:
                check_case(d, f)
            except AssertionError as e:
                failures.append("%s: %s" % (os.path.basename(f), e))
        st, doc, _ = d.json("POST", "/v2/models/bench/infer", v2_row([0.1] * 30))
        expect(st == 200, doc)
    expect(not failures, "\n".join(failures))


def test_body_over_limit():
    with Daemon(args=["--max-body-bytes", "4096"]) as d:
        big = v2_row([0.1] * 30)
        big["inputs"][0]["shape"] = [100, 30]
        big["inputs"][0]["data"] = [0.1] * 3000
        st, doc, hdrs = d.json("POST", "/v2/models/bench/infer", big)
        expect_error(st, doc, 413, "4096")
        st, doc, _ = d.json("POST", "/v2/models/bench/infer", v2_row([0.1] * 30))
        expect(st == 200, doc)
        # Chunked, so no Content-Length to refuse up front: the body buffer
        # stops at the limit, drops the rest and the answer is 413.
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        try:
            c.request("POST", "/v2/models/bench/infer", body=iter([b"[" * 3000, b"]" * 3000]),
                      encode_chunked=True)
            r = c.getresponse()
            data = r.read()
            expect_error(r.status, json.loads(data), 413, "4096")
        finally:
            c.close()
        st, doc, _ = d.json("POST", "/v2/models/bench/infer", v2_row([0.1] * 30))
        expect(st == 200, doc)


def test_garbage_bytes_and_binary():
    with Daemon() as d:
        for body in (b"\xff\xfe\x00garbage", b"\x00" * 100, b"{\"inputs\": [{\"name\": \"\xc3\x28\"}]}"):
            st, doc, _ = d.json("POST", "/v2/models/bench/infer", body)
            expect_error(st, doc, 400)
        st, _, _ = d.request("GET", "/v2/health/live")
        expect(st == 200, st)


if __name__ == "__main__":
    run([test_cases, test_body_over_limit, test_garbage_bytes_and_binary])
