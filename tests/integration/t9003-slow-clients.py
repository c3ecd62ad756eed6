#!/usr/bin/python3
# slow
"""Slow clients cannot starve others: with many connections dribbling their
headers or body a byte at a time, normal clients keep being served within
their latency target; header and connection limits answer with errors, not
hangs."""
import http.client
import json
import socket
import statistics
import threading
import time

from harness import Daemon, bench_rows, expect, run, v2_row

SLOW = 200           # slow connections held open
DURATION = 4.0       # seconds of dribbling
TARGET_P99_MS = 50   # normal clients' p99 while the slow ones dribble


def dribbler(port, stop, mode, opened):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return
    opened.append(1)
    body = json.dumps(v2_row([0.1] * 30)).encode()
    if mode == "headers":
        data = (b"POST /v2/models/bench/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                % len(body))
    else:
        s.sendall(b"POST /v2/models/bench/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % len(body))
        data = body
    i = 0
    deadline = time.time() + DURATION + 2
    try:
        while not stop.is_set() and i < len(data) and time.time() < deadline:
            s.send(data[i:i + 1])
            i += 1
            stop.wait(0.05)
    except OSError:
        pass
    finally:
        s.close()


def test_slow_clients_do_not_starve_normal_ones():
    with Daemon(examples=False) as d:
        stop = threading.Event()
        opened = []
        threads = [threading.Thread(target=dribbler, args=(d.port, stop,
                                                           "headers" if i % 2 else "body", opened))
                   for i in range(SLOW)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        expect(len(opened) >= SLOW * 0.9, "only %d slow connections opened" % len(opened))
        lat = []
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        body = json.dumps(v2_row([0.2] * 30))
        end = time.time() + DURATION - 1
        while time.time() < end:
            t0 = time.perf_counter()
            c.request("POST", "/v2/models/bench/infer", body)
            r = c.getresponse()
            r.read()
            lat.append((time.perf_counter() - t0) * 1000)
            expect(r.status == 200, r.status)
        c.close()
        stop.set()
        for t in threads:
            t.join(10)
        lat.sort()
        p99 = lat[int(len(lat) * 0.99)]
        print("normal requests: %d, median %.2f ms, p99 %.2f ms, with %d slow connections"
              % (len(lat), statistics.median(lat), p99, len(opened)))
        expect(len(lat) > 200, "only %d normal requests" % len(lat))
        expect(p99 < TARGET_P99_MS, "p99 %.1f ms" % p99)


def test_limits_answer_not_hang():
    with Daemon(examples=False, args=["--max-header-bytes", "2048", "--max-connections", "20",
                                      "--idle-timeout", "2"]) as d:
        st, data, _ = d.request("GET", "/v2", headers={"X-Big": "a" * 5000})
        expect(st in (431, 414), st)
        # hold the connection limit with connections opened less than a second
        # ago (older idle ones would make room: t9011): a new client is refused
        # at once with 503, Retry-After and the connection closed, never left
        # hanging
        held = [socket.create_connection(("127.0.0.1", d.port), timeout=5) for _ in range(20)]
        time.sleep(0.2)
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        t0 = time.time()
        s.sendall(b"POST /v2/models/x/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        s.close()
        head = got.split(b"\r\n\r\n", 1)[0].lower()
        expect(got.startswith(b"HTTP/1.1 503"), got)
        expect(b"retry-after: 1" in head, got)
        expect(b"connection: close" in head, got)
        expect(b"limit of 20 connections" in got, got)
        expect(time.time() - t0 < 1.5, "refusal took %.2f s" % (time.time() - t0))
        # a served connection still works meanwhile
        held[0].sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        expect(held[0].recv(100).startswith(b"HTTP/1.1 200"), "held connection not served")
        for h in held:
            h.close()
        time.sleep(0.2)
        st, _, _ = d.request("GET", "/v2/health/live")
        expect(st == 200, "after the held connections left: %s" % st)
        # idle connections are closed after --idle-timeout
        idle = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        t0 = time.time()
        expect(idle.recv(10) == b"", "idle connection not closed")
        expect(time.time() - t0 < 8, "idle connection closed late")
        idle.close()
        st, _, _ = d.request("GET", "/v2/health/ready")
        expect(st == 200, st)


def test_conn_buffer_sizes():
    """--conn-buffer-bytes sets the memory a connection reads into: a body
    read 2 KB or 128 KB at a time gets the same answer as with the default
    (12 KB), and a header that does not fit the smallest buffer is refused by
    the HTTP layer itself, where a buffer it fits lets it reach the
    --max-header-bytes check and its message."""
    rows = [r for r, _ in bench_rows()]
    data = [v for _ in range(8) for r in rows for v in r]  # 8 times the rows, nulls included
    body = json.dumps({"inputs": [{"name": "features", "datatype": "FP32",
                                   "shape": [len(data) // 30, 30], "data": data}]}).encode()
    expect(len(body) > 1 << 20, len(body))
    answers = []
    for buf in ("4096", None, "262144"):
        args = ["--max-header-bytes", "2048"] + (["--conn-buffer-bytes", buf] if buf else [])
        with Daemon(examples=False, args=args) as d:
            st, out, _ = d.request("POST", "/v2/models/bench/infer", body,
                                   {"Content-Type": "application/json"}, timeout=60)
            expect(st == 200, (buf, st, out[:300]))
            answers.append(json.loads(out)["outputs"][0]["data"])
            st, out, _ = d.request("GET", "/v2", headers={"X-Big": "a" * 6000})
            if buf == "4096":
                expect(st in (431, 414) and b"limit of 2048" not in out, (buf, st, out[:300]))
            else:
                expect(st == 431 and b"larger than the limit of 2048 bytes" in out,
                       (buf, st, out[:300]))
    expect(len(answers[0]) == len(data) // 30, len(answers[0]))
    expect(answers[0] == answers[1] == answers[2], "answers differ with the buffer size")


if __name__ == "__main__":
    run([test_slow_clients_do_not_starve_normal_ones, test_limits_answer_not_hang,
         test_conn_buffer_sizes])
