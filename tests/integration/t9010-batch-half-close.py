#!/usr/bin/python3
"""A batched request whose client half-closes its side after sending
(shutdown(SHUT_WR), as `curl --no-keepalive`-style one-shot clients and some
proxies do) gets its answer. With another connection open, a batched
request parks (its rows wait in the queue while the thread serves others),
and the end of the client's stream must not make the server drop it."""
import json
import socket
import tempfile
import threading
import time

from harness import BENCH_YAML, Daemon, add_bench, expect, run, v2_row

BATCHING = "dynamic_batching:\n  max_batch_size: 16\n  max_queue_delay_us: 2000\n"


def one_shot(port, body):
    """Sends one request, half-closes, reads the answer: (status, body), or
    (0, what came) when the connection ended or went quiet before a whole
    answer. (Whether the server then closes promptly is libmicrohttpd's
    affair: it may wait for the idle timeout.)"""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(b"POST /v2/models/b/infer HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                  + body)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                n = [int(ln.split(b":")[1]) for ln in head.split(b"\r\n")
                     if ln.lower().startswith(b"content-length:")]
                if n and len(rest) >= n[0]:
                    return int(head.split(b" ", 2)[1]), rest[:n[0]]
            try:
                chunk = s.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                return 0, data
            data += chunk
    finally:
        s.close()


def test_half_closed_batched_request_is_answered():
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    add_bench(repo, "b", [1], open(BENCH_YAML).read() + BATCHING)
    add_bench(repo, "p", [1])
    with Daemon(repo=repo) as d:
        body = json.dumps(v2_row([0.25] * 30)).encode()
        st, want, _ = d.json("POST", "/v2/models/p/infer", body)
        expect(st == 200, st)
        want = want["outputs"][0]["data"]
        # Another connection open: batched requests park.
        other = socket.create_connection(("127.0.0.1", d.port))
        for i in range(20):
            st, got = one_shot(d.port, body)
            expect(st == 200, "request %d half-closed after sending: status %d" % (i, st))
            expect(json.loads(got)["outputs"][0]["data"] == want, got[:200])
        # Many at once, so that rows share batches and the end of stream can
        # come while a request is suspended.
        results = []

        def shots():
            for _ in range(15):
                results.append(one_shot(d.port, body)[0])

        threads = [threading.Thread(target=shots) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        expect(results.count(200) == len(results) == 120,
               "answers: %d of %d, statuses %r" % (results.count(200), len(results),
                                                   sorted(set(results))))
        st, doc, _ = d.json("GET", "/v2/models/b/stats")
        expect(doc["model_stats"][0]["inference_count"] >= 140, doc["model_stats"][0])
        other.close()


def test_clients_that_reset_while_parked():
    # Clients that send a batched request and reset the connection at once
    # (SO_LINGER 0) leave nothing behind: the server keeps answering others.
    import struct
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    add_bench(repo, "b", [1], open(BENCH_YAML).read() + BATCHING)
    with Daemon(repo=repo, examples=False, bench=False) as d:
        body = json.dumps(v2_row([0.25] * 30)).encode()
        req = (b"POST /v2/models/b/infer HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
               + body)
        other = socket.create_connection(("127.0.0.1", d.port))
        errors = []

        def resets():
            try:
                for _ in range(60):
                    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    s.sendall(req)
                    s.close()
            except OSError as e:
                errors.append(repr(e))

        def answered():
            for _ in range(30):
                st, got = one_shot(d.port, body)
                if st != 200:
                    errors.append("status %d" % st)

        threads = [threading.Thread(target=resets) for _ in range(6)]
        threads += [threading.Thread(target=answered) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        expect(not errors, errors[:5])
        st, _, _ = d.request("POST", "/v2/models/b/infer", body)
        expect(st == 200, st)
        other.close()


if __name__ == "__main__":
    run([test_half_closed_batched_request_is_answered, test_clients_that_reset_while_parked])
