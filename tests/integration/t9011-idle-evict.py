#!/usr/bin/python3
"""Idle connections cannot lock new clients out: when the connection slots
run short, the connections that have waited longest for a request (idle
ones, a slow body) are closed to make room, and a new client is served;
a connection whose answer is still being written is never touched."""
import json
import socket
import time

from harness import Daemon, expect, run

LIMIT = 20


def recv_all(s, timeout):
    s.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = s.recv(1 << 16)
        except socket.timeout:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk


def closed_by_server(s):
    """True when the server closed s (end of stream or reset) without a byte."""
    data, ended = recv_all(s, 0.5)
    return ended and data == b""


def ask(port, path="/v2/health/live"):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
        data, _ = recv_all(s, 5)
        return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    finally:
        s.close()


def test_longest_waiting_connections_make_room():
    with Daemon(examples=False, args=["--max-connections", str(LIMIT)]) as d:
        # The oldest connection: a large answer it does not read, so the
        # server is still writing it (its receive buffer is tiny).
        rows = 100000
        body = json.dumps({"inputs": [{"name": "features", "datatype": "FP32",
                                       "shape": [rows, 30], "data": [0] * (rows * 30)}]}).encode()
        stream = socket.socket()
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stream.connect(("127.0.0.1", d.port))
        stream.sendall(b"POST /v2/models/bench/infer HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                       % len(body) + body)
        stream.settimeout(10)
        first = stream.recv(64)  # the answer has begun: the request ran
        expect(first.startswith(b"HTTP/1.1 200"), first)
        # Next oldest: a slow body (a third of it sent), then idle connections.
        slow = socket.create_connection(("127.0.0.1", d.port))
        slow.sendall(b"POST /v2/models/bench/infer HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 300\r\n\r\n" + b"{" * 100)
        idle = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(LIMIT + 5)]
        t_open = time.time()

        # A new client is served once the idle ones have waited a second.
        deadline = time.time() + 10
        statuses = []
        while time.time() < deadline:
            st = ask(d.port)
            statuses.append(st)
            if st == 200:
                break
            time.sleep(0.1)
        waited = time.time() - t_open
        print("new client served after %.2f s: %r" % (waited, statuses))
        expect(statuses[-1] == 200, "new client never served: %r" % statuses)
        expect(waited < 3, "new client served only after %.2f s" % waited)
        expect(all(st in (200, 503) for st in statuses), statuses)

        # The slow body and the oldest idle connections were closed.
        expect(closed_by_server(slow), "the slow body's connection was kept")
        expect(closed_by_server(idle[0]), "the oldest idle connection was kept")
        # More new clients keep being served.
        for _ in range(2 * LIMIT):
            st = ask(d.port)
            expect(st == 200, "a later new client got %d" % st)

        # The answer being written was left alone: it arrives whole.
        data, ended = recv_all(stream, 30)
        data = first + data
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int([ln.split(b":")[1] for ln in head.split(b"\r\n")
                      if ln.lower().startswith(b"content-length:")][0])
        expect(len(rest) == length, "streamed answer cut at %d of %d bytes" % (len(rest), length))
        doc = json.loads(rest)
        expect(doc["outputs"][0]["shape"] == [rows, 1], doc["outputs"][0]["shape"])
        for s in [stream, slow] + idle:
            s.close()


if __name__ == "__main__":
    run([test_longest_waiting_connections_make_room])
