#!/usr/bin/python3
"""The control loop applies load and unload while the request waits parked:
a load that lasts holds no HTTP thread (with --threads 1, health, inference,
metrics and the index are answered meanwhile) and answers what it answered
before once it ends; commands run in order; a client that leaves before its
load ends harms nothing; on SIGTERM a waiting command is answered 503 and the
running load finishes; a SIGHUP during a load is not lost; a helper that
never ends is killed at --load-timeout.

A load that lasts: model "slow" is the benchmark model with backend xgboost,
so its load first runs a helper process (`modeld --load-check xgboost`, a
child of the daemon; docs/operations.md "Loads in a helper process"). The
test finds that helper and stops it (SIGSTOP): the load lasts until the test
continues it (SIGCONT), and then succeeds; the daemon runs with
--load-timeout 60, so the test, not the limit, decides how long."""
import os
import select
import shutil
import signal
import socket
import sys
import threading
import time

from harness import BENCH_YAML, Daemon, add_bench, expect, expect_error, run, v2_row

ROW = [0.1] * 30
PROMPT_S = 2  # what "answered promptly" means here; a blocked thread never answers
SLOW_ARGS = ["--load-timeout", "60"]  # longer than any test keeps a helper stopped
FIND_S = 20  # the longest a load may take to start its helper

# libxgboost's OpenMP threads, one per core otherwise, take over a second to
# start and join in the ThreadSanitizer build; the daemons here and their
# helpers need no more than one.
os.environ["OMP_NUM_THREADS"] = "1"


def slow_yaml():
    text = open(BENCH_YAML).read()
    expect("\nbackend: trees\n" in text, "tests/data/bench/model.yaml no longer says backend: trees")
    return text.replace("\nbackend: trees\n", "\nbackend: xgboost\n")


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

    def status(self):
        return self.result()[0]


class RawLoad:
    """A load of "slow" sent on a socket of the test's own, which can leave
    before the answer."""

    def __init__(self, d):
        self.sock = socket.create_connection(("127.0.0.1", d.port), timeout=20)
        self.sock.sendall(b"POST /v2/repository/models/slow/load HTTP/1.1\r\nHost: t\r\n"
                          b"Content-Length: 0\r\n\r\n")

    def pending(self):
        return not select.select([self.sock], [], [], 0)[0]

    def status(self):
        """The answer's status (the connection is closed after it)."""
        line = self.sock.makefile("rb").readline()
        self.sock.close()
        parts = line.split()
        expect(len(parts) >= 2 and parts[1].isdigit(), "no status line: %r" % line)
        return int(parts[1])


def stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (state first), or
    None when the process is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def find_helper(d, others):
    """The pid of a child of the daemon running `modeld --load-check`, or
    None. others: pids seen to be no child of the daemon, kept across calls
    so that each pass reads only processes new since the last."""
    for name in os.listdir("/proc"):
        if not name.isdigit() or name in others:
            continue
        fields = stat_fields(int(name))
        if fields is None:
            continue
        if int(fields[1]) != d.proc.pid:
            others.add(name)
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                if b"\0--load-check\0" in f.read():
                    return int(name)
        except OSError:
            continue
    return None


def stop(pid):
    """Stops pid (SIGSTOP); whether it is stopped, not ended first."""
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        return False
    deadline = time.time() + FIND_S
    while time.time() < deadline:
        fields = stat_fields(pid)
        if fields is None or fields[0] in ("Z", "X"):
            return False
        if fields[0] == "T":
            return True
        time.sleep(0.001)
    raise AssertionError("helper %d never stopped" % pid)


def begin_slow_load(d, start, attempts=5):
    """Starts a load of "slow" with start(), which returns the request (its
    pending() and status()); finds the load's helper and stops it, so the
    load lasts until release(d); returns the request. A helper that ended
    before it could be stopped (it runs for some 20 ms in the plain build)
    let the load end:
    the version is unloaded and the load tried again."""
    for _ in range(attempts):
        req = start()
        others = set()
        deadline = time.time() + FIND_S
        while req.pending() and time.time() < deadline:
            pid = find_helper(d, others)
            if pid is not None and stop(pid):
                d.helper = pid
                return req
        expect(not req.pending(), "no load-check helper within %ds" % FIND_S)
        st = req.status()
        expect(st == 200, "the load, not slowed, answered %d" % st)
        print("  the helper ended before it was stopped; loading again", file=sys.stderr)
        st, data, _ = d.request("POST", "/v2/repository/models/slow/unload")
        expect(st == 200, (st, data))
    raise AssertionError("the helper ended before it was stopped, %d times" % attempts)


def release(d):
    """Continues the stopped helper (SIGCONT): the load goes on and ends."""
    pid, d.helper = d.helper, None
    fields = stat_fields(pid) if pid is not None else None
    if fields is not None and int(fields[1]) == d.proc.pid:
        os.kill(pid, signal.SIGCONT)


class SlowDaemon(Daemon):
    """A Daemon (the benchmark models, not the examples, which take a while
    to load in sanitizer builds) with the model "slow" added after start; on
    the way out, a helper still stopped is continued."""

    def __init__(self, args=()):
        self.helper = None
        super().__init__(args=SLOW_ARGS + list(args), examples=False)
        add_bench(self.repo, "slow", [1], slow_yaml())

    def __exit__(self, exc_type, exc, tb):
        release(self)
        return super().__exit__(exc_type, exc, tb)


def slow_load(d):
    return begin_slow_load(d, lambda: Background(d, "POST", "/v2/repository/models/slow/load"))


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


def expect_loaded(answer):
    """A load's answer: 200 with an empty body."""
    st, doc, _ = answer
    expect(st == 200 and doc is None, "load answered %d: %r" % (st, doc))


def expect_ready(d, name="slow"):
    e = index(d).get((name, "1"), {})
    expect(e.get("state") == "READY", e)


def test_slow_load_blocks_nothing():
    with SlowDaemon(args=["--threads", "1"]) as d:
        # The only connection when it arrives: it parks all the same.
        slow = slow_load(d)
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
        release(d)
        expect_loaded(slow.result())
        expect_loaded(after.result())
        expect_ready(d)
        st, doc, _ = d.json("POST", "/v2/models/slow/infer", v2_row(ROW))
        expect(st == 200 and doc["model_version"] == "1", doc)
        st, data, _ = d.request("POST", "/v2/repository/models/slow/unload")
        expect(st == 200 and data == b"", (st, data))
        st, doc, _ = d.json("POST", "/v2/models/slow/infer", v2_row(ROW))
        expect_error(st, doc, 503)


def test_errors_unchanged():
    with Daemon(args=["--threads", "1"], examples=False) as d:
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
        raw = begin_slow_load(d, lambda: RawLoad(d))
        load_begun(d)
        raw.sock.close()
        release(d)
        # The load ran to its end all the same.
        expect(wait_for(lambda: index(d).get(("slow", "1"), {}).get("state") == "READY"),
               index(d))
        st, doc, _ = d.json("POST", "/v2/models/slow/infer", v2_row(ROW))
        expect(st == 200 and doc["model_version"] == "1", doc)


def test_sigterm_answers_waiting_commands():
    d = SlowDaemon()
    try:
        slow = slow_load(d)
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
        expect(d.proc.poll() is None, "the daemon left before the running load ended")
        release(d)
        st, doc, hdrs = waiting.result()
        expect_error(st, doc, 503, "server shutting down")
        expect(hdrs.get("retry-after") == "1", hdrs)
        st, doc, _ = late.result()
        expect_error(st, doc, 503, "server shutting down")
        expect_loaded(slow.result())
        expect(d.proc.wait(timeout=20) == 0, d.logs()[-2000:])
    finally:
        release(d)
        d.stop(check=False)
        shutil.rmtree(d.tmp, ignore_errors=True)


def test_sighup_during_a_load_is_kept():
    with SlowDaemon() as d:
        slow = slow_load(d)
        load_begun(d)
        add_bench(d.repo, "late", [1])
        d.signal(signal.SIGHUP)
        expect(wait_for(lambda: "re-scanning the repository" in d.logs()), "SIGHUP not taken")
        release(d)
        expect_loaded(slow.result())
        expect(wait_for(lambda: index(d).get(("late", "1"), {}).get("state") == "READY"),
               index(d))
        expect_ready(d)


def test_stopped_helper_killed_at_the_limit():
    with SlowDaemon(args=["--load-timeout", "1"]) as d:
        slow = slow_load(d)
        pid = d.helper
        start = time.time()
        st, doc, _ = slow.result()
        # A version that fails to load is the request's fault (400), whatever the reason.
        expect_error(st, doc, 400)
        expect(doc["error"] == "model 'slow': version 1: model.json: xgboost load check: the "
               "helper process did not finish within 1 s (--load-timeout)", doc)
        # At the 1 s limit, not the 60 s one SLOW_ARGS gives first (the last flag counts).
        expect(time.time() - start < 10, "killed %.1f s after it was stopped"
               % (time.time() - start))
        expect(stat_fields(pid) is None, "the helper outlived its limit: %r" % stat_fields(pid))
        d.helper = None
        e = index(d)[("slow", "1")]
        expect(e["state"] == "UNAVAILABLE" and "(--load-timeout)" in e["reason"], e)
        st, doc, _ = d.json("POST", "/v2/models/bench/infer", v2_row(ROW))
        expect(st == 200, doc)


if __name__ == "__main__":
    run([test_slow_load_blocks_nothing, test_errors_unchanged,
         test_client_leaves_before_the_outcome, test_sigterm_answers_waiting_commands,
         test_sighup_during_a_load_is_kept, test_stopped_helper_killed_at_the_limit])
