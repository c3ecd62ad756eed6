#!/usr/bin/python3
"""A flood at several times the server's capacity for a bounded time: does
every request get an answer, and how much memory does modeld take meanwhile?

build/modeld serves the benchmark model of the peers with dynamic batching
and a short queue; its capacity is --max-connections MAX_CONNECTIONS open
connections and QUEUE requests waiting for the engine. CLIENTS connections
(default 4 x MAX_CONNECTIONS) then send requests back to back for DURATION:
one-row V2 bodies, and every BIG_EVERY-th a BIG_ROWS-row one. Each request
has REQUEST_TIMEOUT seconds to be answered. Counted per request:

  answered  200
  refused   503 (queue full: the client sends its next request at once,
            Retry-After unheeded; a 429 would count here too, though
            modeld sends none), 503 with the connection closed
            (past the connection limit: the client connects again), or the
            connection closed at the door (the client waits 10 ms and
            connects again)
  failed    any other status, a malformed answer, or no answer in time

modeld serves --max-connections connections; a connection opened past them
is answered 503 (Retry-After: 1) on its first request and closed, so no
client waits for a slot. Only past a further quarter of the limit plus 16
does libmicrohttpd stop accepting and leave connections in the kernel's backlog.

Also reported: the server's resident memory before the flood, its peak
(VmHWM) and what it holds after, and one request's latency right after.
Exits 1 if a request failed, a client hung, the server died or the
request right after the flood was not answered 200. This adds to
tests/integration/t9004-flood.py (64 clients, no limits reached): clients
beyond the connection limit and a queue that fills.

Usage: /usr/bin/python3 bench/flood.py   (after `make`)

Environment: DURATION (10), CLIENTS (4 x MAX_CONNECTIONS), MAX_CONNECTIONS
(64), QUEUE (64, the model's max_queue_size), BACKEND (trees, or xgboost),
BIG_ROWS (500), BIG_EVERY (7), REQUEST_TIMEOUT seconds (5), THREADS
(modeld's --threads, default 0 = one per core)."""
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time

from big_request import bodies
from common import Servers, bench_repo, rss_kib, status_kib

DURATION = float(os.environ.get("DURATION", "10"))
MAX_CONNECTIONS = int(os.environ.get("MAX_CONNECTIONS", "64"))
CLIENTS = int(os.environ.get("CLIENTS", str(4 * MAX_CONNECTIONS)))
QUEUE = int(os.environ.get("QUEUE", "64"))
BACKEND = os.environ.get("BACKEND", "trees")
BIG_ROWS = int(os.environ.get("BIG_ROWS", "500"))
BIG_EVERY = int(os.environ.get("BIG_EVERY", "7"))
REQUEST_TIMEOUT = float(os.environ.get("REQUEST_TIMEOUT", "5"))
THREADS = os.environ.get("THREADS", "0")
MAX_REQUESTS_PER_CLIENT = 1000000  # a bound on every loop, far above what DURATION allows


def request_bytes(body):
    return (b"POST /v2/models/bench/infer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body


async def exchange(reader, writer, req):
    """Sends one request on an open connection; returns (status, keep open)."""
    writer.write(req)
    await writer.drain()
    line = await reader.readline()
    if not line:
        raise ConnectionResetError("closed before answering")
    status = int(line.split()[1])
    length, close = None, False
    while True:
        h = await reader.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    if length is None:
        raise ValueError("answer without Content-Length")
    await reader.readexactly(length)
    return status, not close


def fail(counts, why):
    counts["failed"] += 1
    counts["why"][why] = counts["why"].get(why, 0) + 1


async def client(i, port, reqs, deadline, counts):
    reader = writer = None
    n = 0
    while time.monotonic() < deadline and n < MAX_REQUESTS_PER_CLIENT:
        n += 1
        req = reqs[1] if (i + n) % BIG_EVERY == 0 else reqs[0]
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), REQUEST_TIMEOUT)
            t0 = time.monotonic()
            status, keep = await asyncio.wait_for(exchange(reader, writer, req), REQUEST_TIMEOUT)
            counts["latency"].append(time.monotonic() - t0)
            if status == 200:
                counts["answered"] += 1
            elif status in (429, 503):
                counts["refused"] += 1
                if status == 503 and not keep:
                    counts["limit"] += 1
            else:
                fail(counts, "status %d" % status)
            if not keep:
                writer.close()
                writer = None
        except asyncio.TimeoutError:  # before OSError: TimeoutError is one since 3.11
            fail(counts, "no answer in %g s" % REQUEST_TIMEOUT)
        except (ConnectionError, asyncio.IncompleteReadError):
            # Closed at the door (over the connection limit) or refused: an answer.
            counts["refused"] += 1
            counts["door"] += 1
            await asyncio.sleep(0.01)
        except (OSError, ValueError, IndexError) as e:
            fail(counts, "%s: %s" % (type(e).__name__, e))
        else:
            continue
        if writer is not None:
            writer.close()
        writer = None
    if writer is not None:
        writer.close()


async def watch(pid, deadline, samples):
    while time.monotonic() < deadline:
        samples.append(rss_kib(pid))
        await asyncio.sleep(0.05)


async def flood(port, pid, reqs):
    counts = {"answered": 0, "refused": 0, "failed": 0, "door": 0, "limit": 0, "why": {}, "latency": []}
    samples = []
    deadline = time.monotonic() + DURATION
    t0 = time.monotonic()
    tasks = [asyncio.create_task(client(i, port, reqs, deadline, counts))
             for i in range(CLIENTS)]
    tasks.append(asyncio.create_task(watch(pid, deadline, samples)))
    # Every client stops at the deadline plus at most one request's timeout
    # (and one connect's): anything later is a hang.
    done, pending = await asyncio.wait(tasks, timeout=DURATION + 2 * REQUEST_TIMEOUT + 5)
    for t in pending:
        t.cancel()
    counts["hung"] = len(pending)
    counts["seconds"] = time.monotonic() - t0
    counts["max_sampled_rss"] = max(samples) if samples else 0
    return counts


async def single(port, req):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return (await exchange(reader, writer, req))[0]
    finally:
        writer.close()


def main():
    tmp = tempfile.mkdtemp(prefix="modeld-flood-")
    ok = False
    try:
        one = json.dumps({"id": "f", "inputs": [{"name": "features", "datatype": "FP32",
                                                 "shape": [1, 30], "data": [0.1] * 30}]})
        big = bodies(BIG_ROWS)[0]
        reqs = (request_bytes(one.encode()), request_bytes(big))
        batching = ("dynamic_batching: {max_batch_size: 64, max_queue_delay_us: 500, "
                    "max_queue_size: %d}\n" % QUEUE)
        with Servers() as srv:
            repo = bench_repo(os.path.join(tmp, "repo"), backend=BACKEND, extra_yaml=batching)
            port, proc = srv.modeld(repo, os.path.join(tmp, "data"), THREADS,
                                    ["--max-connections", str(MAX_CONNECTIONS)])
            idle = rss_kib(proc.pid)
            counts = asyncio.run(flood(port, proc.pid, reqs))
            alive = proc.poll() is None
            peak = status_kib(proc.pid, "VmHWM") if alive else 0
            after = rss_kib(proc.pid) if alive else 0
            t0 = time.monotonic()
            st = None
            if alive:
                st = asyncio.run(asyncio.wait_for(single(port, reqs[0]), REQUEST_TIMEOUT))
            after_ms = (time.monotonic() - t0) * 1e3

        total = counts["answered"] + counts["refused"] + counts["failed"]
        print("flood: %d clients for %.0f s against --max-connections %d, max_queue_size %d "
              "(%s engine, --threads %s); bodies of 1 row and, every %dth, %d rows"
              % (CLIENTS, DURATION, MAX_CONNECTIONS, QUEUE, BACKEND, THREADS, BIG_EVERY,
                 BIG_ROWS))
        print("%-28s %10s" % ("requests", "count"))
        print("%-28s %10d  (%.0f/s)" % ("answered 200", counts["answered"],
                                       counts["answered"] / counts["seconds"]))
        print("%-28s %10d" % ("refused: queue full (503)",
                              counts["refused"] - counts["door"] - counts["limit"]))
        print("%-28s %10d" % ("refused: connection limit", counts["limit"]))
        print("%-28s %10d" % ("refused: closed at the door", counts["door"]))
        print("%-28s %10d  %s" % ("failed", counts["failed"], counts["why"] or ""))
        print("%-28s %10d" % ("clients hung", counts["hung"]))
        print("%-28s %10d" % ("total", total))
        lat = sorted(counts["latency"])
        if lat:
            print("answer time (200, 429, 503): p50 %.1f ms, p99 %.1f ms, max %.0f ms"
                  % (lat[len(lat) // 2] * 1e3, lat[min(len(lat) - 1, len(lat) * 99 // 100)] * 1e3,
                     lat[-1] * 1e3))
        print("\nresident memory: %.1f MiB idle, peak %.1f MiB (VmHWM; sampled max %.1f MiB), "
              "%.1f MiB after" % (idle / 1024, peak / 1024, counts["max_sampled_rss"] / 1024,
                                  after / 1024))
        print("server %s; one request right after: %s in %.1f ms"
              % ("alive" if alive else "DIED", st, after_ms))
        ok = alive and st == 200 and counts["failed"] == 0 and counts["hung"] == 0
        print("every request answered: %s" % ("yes" if ok else "NO"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
