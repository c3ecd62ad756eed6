#!/usr/bin/python3
"""The control loop applies load and unload while the request waits parked:
a load that lasts holds no HTTP thread (with --threads 1, health, inference,
metrics and the index are answered meanwhile) and answers what it answered
before once it ends; commands run in order; a client that leaves before its
load ends harms nothing; on SIGTERM a waiting command is answered 503 and the
running load finishes; a SIGHUP during a load is not lost.

A load that lasts: version 1's artifact is a FIFO, so the engine's open()
waits until the test opens the FIFO's writing end; the load then fails with
"not a regular file", as a FIFO always did."""
import errno
import os
import shutil
import signal
import socket
import threading
import time

from harness import BENCH_DATA, Daemon, add_bench, expect, expect_error, run, v2_row

ROW = [0.1] * 30
PROMPT_S = 2  # what "answered promptly" means here; a blocked thread never answers


class Background:
    """One request on a thread of its own, its answer kept."""

    def __init__(self, d, method, path, body=None):
        self.answer = None
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(d, method, path, body))
        self.thread.start()

    def _run(self, d, method, path, body):
        try:
            self.answer = d.json(method, path, body, timeout=60)
        except Exception as e:  # noqa: BLE001 - reported by result()
            self.error = e

    def pending(self):
        return self.thread.is_alive()

    def result(self, timeout=20):
        self.thread.join(timeout)
        expect(not self.thread.is_alive(), "no answer within %ds" % timeout)
        if self.error is not None:
            raise self.error
        return self.answer


def add_slow(repo, name="slow"):
    """A model whose version 1 loads until release() is called."""
    add_bench(repo, name, [])
    os.makedirs(os.path.join(repo, name, "1"))
    os.mkfifo(os.path.join(repo, name, "1", "model.json"))


def release(repo, name="slow"):
    """Ends the load waiting on the FIFO: opening the writing end succeeds
    once the engine has the FIFO open for reading (ENXIO until then)."""
    path = os.path.join(repo, name, "1", "model.json")
    deadline = time.time() + 20
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
            return
        except OSError as e:
            if e.errno != errno.ENXIO or time.time() > deadline:
                raise
            time.sleep(0.005)


def unblock(repo, name="slow"):
    """After a failure: lets a load waiting on the FIFO end, if one is, so the
    daemon can stop."""
    try:
        os.close(os.open(os.path.join(repo, name, "1", "model.json"), os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


class SlowDaemon(Daemon):
    """A Daemon with the model "slow" added after start; on the way out, a
    load still waiting on its FIFO is let go."""

    def __init__(self, args=()):
        super().__init__(args=args)
        add_slow(self.repo)

    def __exit__(self, exc_type, exc, tb):
        unblock(self.repo)
        return super().__exit__(exc_type, exc, tb)


def make_real(repo, name="slow"):
    """Replaces the FIFO with the benchmark model."""
    path = os.path.join(repo, name, "1", "model.json")
    os.remove(path)
    shutil.copy(os.path.join(BENCH_DATA, "bench_model.json"), path)


def index(d):
    st, doc, _ = d.json("POST", "/v2/repository/index", {}, timeout=PROMPT_S)
    expect(st == 200, doc)
    return {(e["name"], e.get("version", "")): e for e in doc}


def wait_for(fn, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.02)
    return False


def load_begun(d, name="slow"):
    """The load of name has begun: its model shows in the index."""
    expect(wait_for(lambda: any(m == name for (m, _) in index(d))), "the load never began")


def in_flight(d):
    """Requests the server is handling now, by its own gauge."""
    st, data, _ = d.request("GET", "/metrics", timeout=PROMPT_S)
    expect(st == 200, data[:200])
    for line in data.decode().splitlines():
        if line.startswith("modeld_http_requests_in_flight "):
            return int(line.split()[1])
    raise AssertionError("no modeld_http_requests_in_flight in /metrics")


def expect_fifo_failure(answer, name="slow"):
    st, doc, _ = answer
    expect_error(st, doc, 400)
    for part in ("model '%s'" % name, "version 1", "not a regular file"):
        expect(part in doc["error"], "load error %r lacks %r" % (doc["error"], part))


def test_slow_load_blocks_nothing():
    with SlowDaemon(args=["--threads", "1"]) as d:
        # The only connection when it arrives: it parks all the same.
        slow = Background(d, "POST", "/v2/repository/models/slow/load")
        load_begun(d)
        after = Background(d, "POST", "/v2/repository/models/bench/load")
        for method, path, body in (("GET", "/v2/health/ready", None),
                                   ("GET", "/v2/health/live", None),
                                   ("POST", "/v2/models/bench/infer", v2_row(ROW)),
                                   ("GET", "/v1/models/bench", None),
                                   ("GET", "/metrics", None),
                                   ("POST", "/v2/repository/index", {})):
            start = time.time()
            st, data, _ = d.request(method, path, body, timeout=PROMPT_S)
            expect(st == 200, "%s %s -> %d during a load: %r" % (method, path, st, data[:200]))
            expect(time.time() - start < PROMPT_S, "%s %s slow during a load" % (method, path))
        expect(slow.pending(), "the load answered before it could end")
        expect(after.pending(), "a load queued behind the slow one answered first")
        release(d.repo)
        expect_fifo_failure(slow.result())
        st, doc, _ = after.result()
        expect(st == 200 and doc is None, (st, doc))
        e = index(d)[("slow", "1")]
        expect(e["state"] == "UNAVAILABLE" and "not a regular file" in e["reason"], e)
        make_real(d.repo)
        st, data, hdrs = d.request("POST", "/v2/repository/models/slow/load")
        expect(st == 200 and data == b"", (st, data))
        st, doc, _ = d.json("POST", "/v2/models/slow/infer", v2_row(ROW))
        expect(st == 200 and doc["model_version"] == "1", doc)
        st, data, _ = d.request("POST", "/v2/repository/models/slow/unload")
        expect(st == 200 and data == b"", (st, data))
        st, doc, _ = d.json("POST", "/v2/models/slow/infer", v2_row(ROW))
        expect_error(st, doc, 503)


def test_errors_unchanged():
    with Daemon(args=["--threads", "1"]) as d:
        st, doc, hdrs = d.json("POST", "/v2/repository/models/nosuch/load")
        expect_error(st, doc, 404, "'nosuch'")
        expect(hdrs.get("content-type") == "application/json", hdrs)
        st, doc, _ = d.json("POST", "/v2/repository/models/nosuch/unload")
        expect_error(st, doc, 404, "'nosuch'")
        st, doc, _ = d.json("POST", "/v2/repository/models/a%20b/load")
        expect_error(st, doc, 404, "'a b'")
        st, doc, _ = d.json("POST", "/v2/repository/models/bench/load", "{bad")
        expect_error(st, doc, 400, "invalid JSON")
        st, doc, _ = d.json("POST", "/v2/repository/models/bench/unload", "[]")
        expect(st == 400 and doc == {"error": "request body: expected a JSON object"}, (st, doc))
        st, doc, _ = d.json("POST", "/v2/repository/models/bench/load",
                            {"parameters": {"config": "{}"}})
        expect_error(st, doc, 501, "not supported")
        add_bench(d.repo, "half", [])
        os.makedirs(os.path.join(d.repo, "half", "1"))
        st, doc, _ = d.json("POST", "/v2/repository/models/half/load")
        expect_error(st, doc, 400, "model 'half': version 1: ")


def test_client_leaves_before_the_outcome():
    with SlowDaemon(args=["--threads", "1"]) as d:
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        s.sendall(b"POST /v2/repository/models/slow/load HTTP/1.1\r\nHost: t\r\n"
                  b"Content-Length: 0\r\n\r\n")
        load_begun(d)
        s.close()
        release(d.repo)
        # The load ran to its end all the same.
        expect(wait_for(lambda: "not a regular file" in
                        index(d).get(("slow", "1"), {}).get("reason", "")), index(d))
        make_real(d.repo)
        st, data, _ = d.request("POST", "/v2/repository/models/slow/load")
        expect(st == 200, data)
        st, doc, _ = d.json("POST", "/v2/models/slow/infer", v2_row(ROW))
        expect(st == 200, doc)


def test_sigterm_answers_waiting_commands():
    d = SlowDaemon()
    try:
        slow = Background(d, "POST", "/v2/repository/models/slow/load")
        load_begun(d)
        waiting = Background(d, "POST", "/v2/repository/models/bench/load")
        # Both loads received (the scrape itself is the third request).
        expect(wait_for(lambda: in_flight(d) >= 3), "the second load never arrived")
        d.signal(signal.SIGTERM)
        # Draining: the stop waits for the running load, which waits for us.
        expect(wait_for(lambda: d.request("GET", "/v2/health/ready", timeout=PROMPT_S)[0] == 503),
               "never draining")
        # Refused at once, or (taken in the moment before the stop closed the
        # queue) once the running load ends; received before the stop in
        # either case, and never applied.
        late = Background(d, "POST", "/v2/repository/models/bench/unload")
        wait_for(lambda: not late.pending(), timeout=PROMPT_S)
        release(d.repo)
        st, doc, hdrs = waiting.result()
        expect_error(st, doc, 503, "server shutting down")
        expect(hdrs.get("retry-after") == "1", hdrs)
        st, doc, _ = late.result()
        expect_error(st, doc, 503, "server shutting down")
        expect_fifo_failure(slow.result())
        expect(d.proc.wait(timeout=20) == 0, d.logs()[-2000:])
    finally:
        unblock(d.repo)
        d.stop(check=False)
        shutil.rmtree(d.tmp, ignore_errors=True)


def test_sighup_during_a_load_is_kept():
    with SlowDaemon() as d:
        slow = Background(d, "POST", "/v2/repository/models/slow/load")
        load_begun(d)
        add_bench(d.repo, "late", [1])
        d.signal(signal.SIGHUP)
        expect(wait_for(lambda: "re-scanning the repository" in d.logs()), "SIGHUP not taken")
        release(d.repo)
        expect_fifo_failure(slow.result())
        expect(wait_for(lambda: index(d).get(("late", "1"), {}).get("state") == "READY"),
               index(d))


if __name__ == "__main__":
    run([test_slow_load_blocks_nothing, test_errors_unchanged,
         test_client_leaves_before_the_outcome, test_sigterm_answers_waiting_commands,
         test_sighup_during_a_load_is_kept])
