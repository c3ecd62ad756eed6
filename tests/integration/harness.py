"""Shared helpers for integration tests: start a real modeld on 127.0.0.1 with
its own repository copy, data directory and free port; speak HTTP; count
checks. Python 3 standard library only.

Each test file calls `run(tests)` with a list of functions; every function
gets nothing and raises AssertionError (or any exception) to fail. The file
prints one line per test and a final "N passed, N failed" line."""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELD = os.path.join(ROOT, os.environ.get("MODELD", "build/modeld"))
MODELCTL = os.path.join(ROOT, os.environ.get("MODELCTL", "build/modelctl"))
BENCH_DATA = os.path.join(ROOT, "tests", "data", "bench")
EXAMPLES = os.path.join(ROOT, "examples", "repo")
BENCH_YAML = os.path.join(ROOT, "tests", "data", "bench", "model.yaml")
STRICT_YAML = os.path.join(ROOT, "tests", "data", "strict", "model.yaml")
QUICK = os.environ.get("QUICK") == "1"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_repo(dest, examples=True, bench=True):
    """A fresh repository: the example models and the benchmark model."""
    os.makedirs(dest, exist_ok=True)
    if examples and os.path.isdir(EXAMPLES):
        for name in os.listdir(EXAMPLES):
            shutil.copytree(os.path.join(EXAMPLES, name), os.path.join(dest, name))
    if bench:
        add_bench(dest, "bench", [1])
        add_bench(dest, "strict", [1], open(STRICT_YAML).read())
    return dest


def add_bench(repo, name, versions, yaml_text=None):
    mdir = os.path.join(repo, name)
    os.makedirs(mdir, exist_ok=True)
    text = yaml_text if yaml_text is not None else open(BENCH_YAML).read()
    with open(os.path.join(mdir, "model.yaml"), "w") as f:
        f.write(text)
    for v in versions:
        vdir = os.path.join(mdir, str(v))
        os.makedirs(vdir, exist_ok=True)
        shutil.copy(os.path.join(BENCH_DATA, "bench_model.json"), os.path.join(vdir, "model.json"))


def bench_rows(n=None):
    """Rows of bench_rows.csv: (features with None for missing, reference probability)."""
    rows = []
    with open(os.path.join(BENCH_DATA, "bench_rows.csv")) as f:
        for line in f:
            vals = line.rstrip("\n").split(",")
            rows.append(([float(v) if v else None for v in vals[:30]], float(vals[30])))
            if n is not None and len(rows) >= n:
                break
    return rows


def thread_stacks(pid):
    """Every thread's stack of process pid (gdb), to say where a process hangs."""
    try:
        p = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx", "-ex",
                            "thread apply all bt 12"], capture_output=True, text=True,
                           timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "(no stacks: %r)" % e
    lines = [l for l in p.stdout.splitlines() if l.startswith(("Thread ", "#"))]
    return "\n".join(lines)[-12000:]


class Daemon:
    """A modeld process. Use as a context manager; stop() checks a clean exit."""

    host = "127.0.0.1"  # the address request() connects to

    def __init__(self, repo=None, args=(), examples=True, bench=True, wait=True, data=None):
        """data: the --data directory (kept, for a restart on the same store);
        by default one of the daemon's own, removed with it."""
        self.tmp = tempfile.mkdtemp(prefix="modeld-test-")
        self.repo = repo or make_repo(os.path.join(self.tmp, "repo"), examples, bench)
        self.data = data or os.path.join(self.tmp, "data")
        self.port = free_port()
        self.log_path = os.path.join(self.tmp, "modeld.log")
        self.args = [MODELD, "--repo", self.repo, "--listen", "127.0.0.1:%d" % self.port,
                     "--data", self.data] + list(args)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("modeld exited %d:\n%s" % (self.proc.returncode, self.logs()))
            try:
                st, _, _ = self.request("GET", "/v2/health/ready", timeout=2)
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("modeld not ready after %ds:\n%s" % (timeout, self.logs()))

    def logs(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def request(self, method, path, body=None, headers=None, timeout=30):
        """Returns (status, body bytes, headers dict with lower-case names)."""
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, data, {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()

    def json(self, method, path, body=None, headers=None, timeout=30):
        """Returns (status, parsed JSON or None, headers)."""
        st, data, hdrs = self.request(method, path, body, headers, timeout)
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            raise AssertionError("%s %s -> %d, body is not JSON: %r" % (method, path, st, data[:200]))
        return st, doc, hdrs

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, check=True):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                stacks = thread_stacks(self.proc.pid)
                self.proc.kill()
                self.proc.wait()
                self.log.close()
                raise AssertionError("modeld did not stop on SIGTERM in 20 s; its threads:\n%s\n"
                                     "the log ends:\n%s" % (stacks, self.logs()[-3000:]))
        self.log.close()
        rc = self.proc.returncode
        if check and rc != 0:
            raise AssertionError("modeld exited %d:\n%s" % (rc, self.logs()[-4000:]))
        if check and "WARNING: ThreadSanitizer" in self.logs():
            raise AssertionError("ThreadSanitizer reported:\n%s" % self.logs()[-4000:])
        return rc

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop(check=exc_type is None)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def clients(port, n, fn, seconds=60, errors=None):
    """Runs fn(conn, i, deadline) on n threads, each with its own keep-alive
    connection; their exceptions fail the test (or land in errors)."""
    check = errors is None
    errors = [] if errors is None else errors
    deadline = time.time() + seconds

    def body(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            fn(conn, i, deadline)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            conn.close()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 30)
    if check:
        expect(not errors, errors[:5])


def wait_for(fn, timeout=15):
    """True once fn() is true, polled every 50 ms; False after timeout seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.05)
    return False


def repo_index(d, body=None):
    """The repository index of daemon d as {(model, version): entry}; a model
    with no version to show has version ""."""
    st, doc, _ = d.json("POST", "/v2/repository/index", body or {})
    expect(st == 200 and isinstance(doc, list), doc)
    return {(e["name"], e.get("version", "")): e for e in doc}


def v2_row(values, name="features"):
    """A V2 infer body with one 2-D FP32 row (None -> null = missing)."""
    return {"inputs": [{"name": name, "datatype": "FP32", "shape": [1, len(values)], "data": values}]}


def status_kib(pid, field="VmRSS"):
    """A kB field of /proc/PID/status (VmRSS, VmHWM, ...); AssertionError when
    the process has none (a process that has exited keeps no memory fields)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_error(st, doc, status, fragment=None):
    expect(st == status, "expected %d, got %d: %r" % (status, st, doc))
    expect(isinstance(doc, dict) and isinstance(doc.get("error"), str),
           "error body must be {\"error\": ...}, got %r" % (doc,))
    if fragment is not None:
        expect(fragment in doc["error"], "error %r lacks %r" % (doc["error"], fragment))


def run(tests):
    passed = failed = 0
    only = os.environ.get("ONLY")
    for t in tests:
        if only and only not in t.__name__:
            continue
        start = time.time()
        try:
            t()
            passed += 1
            print("ok   %s (%.2fs)" % (t.__name__, time.time() - start), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s\n%s" % (t.__name__, traceback.format_exc()), flush=True)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
