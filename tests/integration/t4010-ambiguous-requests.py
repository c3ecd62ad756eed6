#!/usr/bin/python3
"""Requests whose framing a proxy in front could read differently from
modeld (request smuggling; RFC 9112) are refused with 400 (501 for a
transfer coding modeld does not implement), a JSON error naming the header
and the reason, and the connection closed after the answer: two
Content-Length headers (equal or not), Content-Length with
Transfer-Encoding, a Transfer-Encoding that is not a plain chunked, a NUL or
CR in a header value, whitespace before a colon, obsolete line folding, two
Host headers. Malformed Content-Length values are refused (400) by the HTTP
library itself. Plain chunked bodies and ordinary headers still work."""
import json
import socket

from harness import Daemon, expect, run, v2_row

BODY = json.dumps(v2_row([0.5] * 30)).encode()
PATH = b"/v2/models/bench/infer"


def exchange(port, raw, timeout=5):
    """Sends raw bytes; returns (status, headers dict, body bytes, closed):
    closed is True when the server ended the connection after the answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(raw)
        data = b""
        closed = False
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                closed = True
                break
            except socket.timeout:
                break
            if not chunk:
                closed = True
                break
            data += chunk
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                hdrs = {}
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    hdrs[k.strip().lower().decode()] = v.strip().decode()
                n = int(hdrs.get("content-length", "0"))
                if len(rest) >= n:
                    # The whole answer is in: does the server close next?
                    s.settimeout(0.3)
                    try:
                        closed = s.recv(1) == b""
                    except ConnectionResetError:
                        closed = True
                    except socket.timeout:
                        closed = False
                    status = int(head.split(b" ", 2)[1])
                    return status, hdrs, rest[:n], closed
        raise AssertionError("no complete answer to %r: %r" % (raw[:80], data[:200]))
    finally:
        s.close()


def post(extra_headers, body=BODY, version=b"HTTP/1.1"):
    return (b"POST " + PATH + b" " + version + b"\r\nHost: x\r\nContent-Type: application/json\r\n"
            + extra_headers + b"\r\n" + body)


def chunked(body):
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


def refused(port, raw, status, fragment):
    st, hdrs, body, closed = exchange(port, raw)
    expect(st == status, "expected %d for %r, got %d: %r" % (status, raw[:120], st, body[:200]))
    doc = json.loads(body)
    expect(fragment in doc.get("error", ""), "error %r lacks %r" % (doc, fragment))
    expect(hdrs.get("connection", "").lower() == "close", "no Connection: close: %r" % hdrs)
    expect(closed, "connection left open after %r" % raw[:80])


def test_ambiguous_framing_is_refused():
    with Daemon(examples=False) as d:
        p = d.port
        # Two Content-Length headers, different or equal.
        refused(p, post(b"Content-Length: %d\r\nContent-Length: 5\r\n" % len(BODY)), 400,
                "2 Content-Length headers")
        refused(p, post(b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(BODY), len(BODY))),
                400, "2 Content-Length headers")
        # Content-Length with chunked.
        refused(p, post(b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(BODY),
                        chunked(BODY)), 400, "both Content-Length and Transfer-Encoding")
        refused(p, post(b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", chunked(BODY)),
                400, "both Content-Length and Transfer-Encoding")
        # Transfer-Encoding other than a plain chunked.
        refused(p, post(b"Transfer-Encoding: gzip\r\n", b""), 400, "does not end in chunked")
        refused(p, post(b"Transfer-Encoding: chunked, gzip\r\n", b""), 400,
                "does not end in chunked")
        refused(p, post(b"Transfer-Encoding: gzip, chunked\r\n", chunked(BODY)), 501,
                "transfer coding 'gzip' is not supported")
        refused(p, post(b"Transfer-Encoding: chunked, chunked\r\n", chunked(BODY)), 400,
                "chunked more than once")
        refused(p, post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                        chunked(BODY)), 400, "2 Transfer-Encoding headers")
        refused(p, post(b"Transfer-Encoding: chunked \r\n", chunked(BODY)), 400,
                "send exactly 'chunked'")
        refused(p, post(b"Transfer-Encoding: chunked\r\n", chunked(BODY), b"HTTP/1.0"), 400,
                "HTTP/1.0")
        # A NUL byte in a value, in the middle or the last header, and at a value's end.
        refused(p, post(b"Content-Length: %d\x00 7\r\n" % len(BODY)), 400,
                "header 'Content-Length': value contains a NUL byte")
        refused(p, post(b"X-Note: a\x00b\r\nContent-Length: %d\r\n" % len(BODY)), 400,
                "header 'X-Note': value contains a NUL byte")
        refused(p, post(b"Content-Length: %d\r\nX-Note: ab\x00\r\nX-Other: c\r\n" % len(BODY)),
                400, "header 'X-Note': value contains a NUL byte")
        # A bare CR in a value.
        refused(p, post(b"X-Note: a\rb\r\nContent-Length: %d\r\n" % len(BODY)), 400,
                "header 'X-Note': value contains a CR byte")
        # Whitespace before the colon.
        refused(p, post(b"Content-Length : %d\r\n" % len(BODY)), 400,
                "whitespace in the name or before the colon")
        # Obsolete line folding.
        refused(p, post(b"X-Note: a\r\n folded\r\nContent-Length: %d\r\n" % len(BODY)), 400,
                "obsolete line folding")
        refused(p, post(b"Content-Length: %d\r\nX-Note: a\r\n\tfolded\r\n" % len(BODY)), 400,
                "obsolete line folding")
        # Two Host headers.
        refused(p, post(b"Host: y\r\nContent-Length: %d\r\n" % len(BODY)), 400,
                "2 Host headers")
        # The server is still fine.
        st, _, _ = d.request("GET", "/v2/health/ready")
        expect(st == 200, st)


def test_malformed_content_length_is_refused():
    # Refused by libmicrohttpd before modeld sees the request (its own short HTML body).
    with Daemon(examples=False) as d:
        for value in (b"+%d" % len(BODY), b"%d, %d" % (len(BODY), len(BODY)), b"-1", b"0x10",
                      b"1 2"):
            st, _, _, closed = exchange(d.port, post(b"Content-Length: %s\r\n" % value))
            expect(st == 400, "Content-Length %r: %d" % (value, st))
            expect(closed, "Content-Length %r: connection left open" % value)


def test_plain_requests_still_served():
    with Daemon(examples=False) as d:
        p = d.port
        # Chunked alone, any case.
        for te in (b"chunked", b"Chunked"):
            st, _, body, _ = exchange(p, post(b"Transfer-Encoding: " + te + b"\r\n",
                                              chunked(BODY)))
            expect(st == 200, (te, st, body[:200]))
        # Ordinary headers with spaces, tabs, commas and obs-text in values; a
        # bare LF ending lines; an empty value; a cookie; keep-alive reuse.
        raw = (b"POST " + PATH + b" HTTP/1.1\nHost: x\nContent-Type: application/json\n"
               b"X-Empty:\nX-Tabs:\ta, b\t\nCookie: a=1; b=2\nX-Text: caf\xc3\xa9\n"
               b"Content-Length: %d\n\n" % len(BODY)) + BODY
        st, _, body, closed = exchange(p, raw)
        expect(st == 200, (st, body[:200]))
        expect(not closed, "a good request's connection was closed")
        raw = post(b"Accept: */*\r\nUser-Agent: t/1\r\nX-Request-Id: abc-1\r\n"
                   b"Content-Length: %d\r\n" % len(BODY))
        st, hdrs, body, closed = exchange(p, raw)
        expect(st == 200 and hdrs.get("x-request-id") == "abc-1", (st, hdrs))
        expect(not closed, "a good request's connection was closed")
        st, _, body, _ = exchange(p, b"GET /v2/health/live HTTP/1.0\r\n\r\n")
        expect(st == 200, st)


if __name__ == "__main__":
    run([test_ambiguous_framing_is_refused, test_malformed_content_length_is_refused,
         test_plain_requests_still_served])
