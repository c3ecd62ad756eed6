"""Helpers the bench/ scripts share: ports, servers that are always stopped,
the benchmark model repository, the single-row body, wrk and /proc readings.
Standard library only; every server listens on 127.0.0.1.

Paths: the repository root is this file's parent's parent; the peers are
bench/peers/ (the peer servers) and tests/data/bench/ (the benchmark model
and its reference rows)."""
import collections
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PEERS = os.path.join(ROOT, "bench", "peers")
BENCH_DATA = os.path.join(ROOT, "tests", "data", "bench")
MODELD = os.path.join(ROOT, os.environ.get("MODELD", "build/modeld"))  # as tests/integration
BENCH_YAML = os.path.join(ROOT, "tests", "data", "bench", "model.yaml")
PYTHON = "/usr/bin/python3"  # Debian's packages are installed for this one

# The dynamic_batching block of docs/batching.md's measurements.
BATCHING_YAML = "dynamic_batching: {max_batch_size: 64, max_queue_delay_us: 500}\n"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_http(url, timeout=60, proc=None):
    """Returns once url answers anything at all; raises after timeout seconds
    or as soon as proc (the server) has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited (status %d) before %s answered"
                               % (proc.returncode, url))
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("no answer from " + url)


def wait_ready(port, timeout=60, proc=None):
    """Returns once modeld on port answers /v2/health/ready with 200 (its
    first repository scan done: every model loaded or refused); raises after
    timeout seconds or as soon as proc has exited."""
    url = "http://127.0.0.1:%d/v2/health/ready" % port
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited (status %d) before it was ready" % proc.returncode)
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                return
        except OSError:  # not listening yet, or 503 while the repository loads
            pass
        time.sleep(0.05)
    raise RuntimeError("modeld not ready after %ds" % timeout)


def http_get(port, path, timeout=10):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
        return r.read().decode()


def status_kib(pid, field):
    """A kB field of /proc/PID/status (VmRSS, VmHWM, ...); 0 if absent."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def rss_kib(pid):
    return status_kib(pid, "VmRSS")


Run = collections.namedtuple("Run", "rps p50 p99 errors")


class Servers:
    """Processes started for one script; `with Servers() as s:` stops them all
    on the way out (SIGTERM, then SIGKILL after 20 s), whatever happened."""

    def __init__(self):
        self.procs = []

    def start(self, cmd, env=None):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.procs.append(p)
        return p

    def modeld(self, repo, data_dir, threads="0", args=(), ready_timeout=60):
        """Starts build/modeld on a free port, with $MODELD_ARGS (split on
        spaces) after args; returns (port, process) once /v2/health/ready
        answers 200 (so that no load starts while the models load)."""
        port = free_port()
        p = self.start([MODELD, "--repo", repo, "--listen", "127.0.0.1:%d" % port,
                        "--data", data_dir, "--threads", str(threads), "--log-level", "error"]
                       + list(args) + os.environ.get("MODELD_ARGS", "").split())
        wait_ready(port, ready_timeout, p)
        return port, p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            self.stop(p)
        return False


def bench_repo(repo, name="bench", backend="trees", extra_yaml=""):
    """Adds the benchmark model of the peers to repo as model `name`,
    version 1, under `backend` (trees or xgboost), with extra_yaml appended
    to tests/data/bench/model.yaml (optional features: a NaN in binary
    tensor data is a missing value). Returns repo."""
    with open(BENCH_YAML) as f:
        text = f.read()
    if backend != "trees":
        text = text.replace("backend: trees", "backend: %s" % backend)
    os.makedirs(os.path.join(repo, name, "1"))
    with open(os.path.join(repo, name, "model.yaml"), "w") as f:
        f.write(text + extra_yaml)
    shutil.copy(os.path.join(BENCH_DATA, "bench_model.json"), os.path.join(repo, name, "1",
                                                                     "model.json"))
    return repo


def single_row_body(path):
    """Writes the peers' 725-byte single-row V2 body to path; returns path."""
    subprocess.run([PYTHON, os.path.join(PEERS, "v2_body.py"), "1", path], check=True)
    return path


def build_noop(dest):
    """Compiles the peers' noop_http.c to dest; returns dest."""
    subprocess.run(["cc", "-O2", os.path.join(PEERS, "noop_http.c"), "-o", dest,
                    "-lmicrohttpd"], check=True)
    return dest


def wrk(url, body_file, conns, duration):
    """One `wrk -t1 -cCONNS -dDURATION --latency -s post.lua` run POSTing
    body_file to url; returns Run(rps, p50 ms, p99 ms, socket errors). An
    answer other than 2xx fails the run; socket errors (wrk's connect, read,
    write and timeout counts, summed) are returned for the caller to show."""
    env = dict(os.environ, BODY=body_file)
    out = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % duration, "--latency",
                          "-s", os.path.join(PEERS, "post.lua"), url],
                         capture_output=True, text=True, env=env, timeout=duration + 60).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m is None:
        raise RuntimeError("no wrk figures for %s:\n%s" % (url, out))
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise RuntimeError("non-2xx answers from %s:\n%s" % (url, out))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    lat = {}
    for pct, val, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        lat[pct] = float(val) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    return Run(float(m.group(1)), lat.get("50"), lat.get("99"),
               sum(int(g) for g in sock.groups()) if sock else 0)


def metric(text, name, labels=""):
    """The value of series `name{labels}` in a /metrics text, 0 if absent."""
    series = name + ("{%s}" % labels if labels else "")
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def callgrind(modeld, repo, body, n, read, args=(), setup=None, headers=None, threads=False):
    """Runs modeld under callgrind (one HTTP thread), sends it n single-row
    V2 requests of body on one keep-alive connection, stops it and returns
    read(out), out being callgrind's output file (with threads: one file per
    thread, out-<n>). setup(port), when given, runs once the server is
    ready; headers(i) gives request i's extra headers."""
    tmp = tempfile.mkdtemp(prefix="modeld-callgrind-")
    out = os.path.join(tmp, "callgrind.out")
    port = free_port()
    p = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] +
                         (["--separate-threads=yes"] if threads else []) +
                         [modeld, "--repo", repo, "--listen", "127.0.0.1:%d" % port,
                          "--data", os.path.join(tmp, "data"), "--threads", "1",
                          "--log-level", "error"] + list(args),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, 300, p)  # valgrind starts slowly
        if setup is not None:
            setup(port)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in range(n):
            h = {"Content-Type": "application/json"}
            if headers is not None:
                h.update(headers(i))
            c.request("POST", "/v2/models/bench/infer", body=body, headers=h)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError("answer %d" % r.status)
        c.close()
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=300)
        return read(out)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
