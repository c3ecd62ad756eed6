#!/usr/bin/python3
"""/metrics across deploys: a retired version's counters stay (and never go
back when a version reloads), within the documented bound; every version's
state, failed ones included, with a bounded reason; repository scan errors;
the standard process_* families; open connections and requests in flight.
Every scrape is checked by promtool."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

from harness import (BENCH_YAML, Daemon, add_bench, expect, run, status_kib, v2_row, wait_for)

ROW = [0.1] * 30
RETIRED_PER_MODEL = 4  # MD_METRICS_RETIRED_PER_MODEL


def scrape(d):
    st, data, _ = d.request("GET", "/metrics")
    expect(st == 200, data)
    text = data.decode()
    promtool = shutil.which("promtool")
    expect(promtool is not None, "promtool (Debian package prometheus) is required")
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=30)
    expect(p.returncode == 0, "promtool: %s%s" % (p.stdout, p.stderr))
    return text


def value(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


def total(text, family, model, version):
    """A family's series of one version summed over the routes they came by; None without any."""
    head = '%s{model="%s",version="%s",route="' % (family, model, version)
    got = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(head)]
    return sum(got) if got else None


def requests(text, model, version):
    return total(text, "modeld_inference_requests_total", model, version)


STATES = ("READY", "UNAVAILABLE", "FAILED")


def state(text, model, version):
    """The state whose series is 1, checking the others are 0; None without series."""
    ones = []
    got = [value(text, 'modeld_model_version_state{model="%s",version="%s",state="%s"}'
                 % (model, version, s))
           for s in STATES]
    if got == [None] * len(STATES):
        return None
    for s, v in zip(STATES, got):
        expect(v in (0, 1), (model, version, s, v))
        if v == 1:
            ones.append(s)
    expect(len(ones) == 1, (model, version, ones))
    return ones[0]


def reason(text, model, version):
    m = re.findall(r'^modeld_model_version_reason\{model="%s",version="%s",reason="([a-z_]*)"\} 1$'
                   % (re.escape(model), re.escape(version)), text, re.M)
    expect(len(m) <= 1, m)
    return m[0] if m else None


def infer(d, n, version=None):
    path = "/v2/models/bench%s/infer" % ("/versions/%s" % version if version else "")
    for _ in range(n):
        st, doc, _ = d.json("POST", path, v2_row(ROW))
        expect(st == 200, doc)


def loaded_lines(d, version):
    return d.logs().count('"version loaded with a warning","model":"bench","version":"%s"' % version)


def test_retired_version_keeps_its_counters():
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    add_bench(repo, "bench", [1])
    with Daemon(repo=repo, args=["--poll", "1"]) as d:
        infer(d, 3)
        text = scrape(d)
        expect(requests(text, "bench", "1") == 3, text)
        add_bench(repo, "bench", [2])
        expect(wait_for(lambda: state(scrape(d), "bench", "2") == "READY"), d.logs())
        infer(d, 2)
        text = scrape(d)
        # Version 1 is retired by the version policy: its counters stay.
        expect(requests(text, "bench", "1") == 3, text)
        expect(total(text, "modeld_inference_rows_total", "bench", "1") == 3, text)
        expect(total(text, "modeld_request_duration_seconds_count", "bench", "1") == 3, text)
        expect(requests(text, "bench", "2") == 2, text)
        expect(state(text, "bench", "1") == "UNAVAILABLE" and reason(text, "bench", "1") == "policy",
               text)
        expect(value(text, 'modeld_model_version_ready{model="bench",version="1"}') is None, text)
        # Version 2 reloaded (its model.yaml changed; an artifact never changes
        # under a registered number) counts on from where it was.
        with open(os.path.join(repo, "bench", "model.yaml"), "a") as f:
            f.write("\n# reloaded\n")
        expect(wait_for(lambda: loaded_lines(d, "2") == 2), d.logs()[-2000:])
        infer(d, 1)
        expect(requests(scrape(d), "bench", "2") == 3, scrape(d))
        # Unloaded by an operator: the counters stay, the state says why.
        st, data, _ = d.request("POST", "/v2/repository/models/bench/unload")
        expect(st == 200, data)
        text = scrape(d)
        expect(requests(text, "bench", "1") == 3 and requests(text, "bench", "2") == 3, text)
        expect(state(text, "bench", "2") == "UNAVAILABLE" and
               reason(text, "bench", "2") == "unloaded", text)
        st, data, _ = d.request("POST", "/v2/repository/models/bench/load")
        expect(st == 200, data)
        infer(d, 1)
        expect(requests(scrape(d), "bench", "2") == 4, scrape(d))
    shutil.rmtree(repo)


def test_retired_versions_are_bounded():
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    yaml = open(BENCH_YAML).read()
    add_bench(repo, "bench", [1, 2, 3, 4, 5, 6], yaml + "version_policy:\n  all: true\n")
    with Daemon(repo=repo, args=["--poll", "1"]) as d:
        for v in range(1, 7):
            infer(d, 1, str(v))
        text = scrape(d)
        expect(all(requests(text, "bench", str(v)) == 1 for v in range(1, 7)), text)
        with open(os.path.join(repo, "bench", "model.yaml"), "w") as f:
            f.write(yaml + "version_policy:\n  specific: [6]\n")
        expect(wait_for(lambda: state(scrape(d), "bench", "5") == "UNAVAILABLE"), d.logs())
        text = scrape(d)
        kept = [v for v in range(1, 6) if requests(text, "bench", str(v)) is not None]
        # Five retired at once, retired in version order: the first retired goes.
        expect(kept == [2, 3, 4, 5], (kept, text))
        expect(len(kept) == RETIRED_PER_MODEL, kept)
        expect(requests(text, "bench", "6") == 1, text)
    shutil.rmtree(repo)


def test_failed_versions_and_scan_errors():
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    add_bench(repo, "bench", [1])
    add_bench(repo, "broken", [1], "backend: trees\ntask: classification\nfeatures: 7\n")
    add_bench(repo, "badart", [1])
    with open(os.path.join(repo, "badart", "1", "model.json"), "w") as f:
        f.write("{ not an artifact")
    with Daemon(repo=repo) as d:
        text = scrape(d)
        expect(state(text, "broken", "") == "FAILED" and
               reason(text, "broken", "") == "model_config", text)
        expect(state(text, "badart", "1") == "FAILED" and
               reason(text, "badart", "1") == "load_failed", text)
        expect(state(text, "bench", "1") == "READY", text)
        expect(value(text, "modeld_repository_scan_errors_total") == 2, text)
        # An explicit load that fails again is an error met again.
        st, _, _ = d.request("POST", "/v2/repository/models/badart/load")
        expect(st == 400, st)
        expect(value(scrape(d), "modeld_repository_scan_errors_total") == 3, scrape(d))
    shutil.rmtree(repo)


def test_process_families():
    with Daemon() as d:
        text = scrape(d)
        for fam, kind in (("process_cpu_seconds_total", "counter"),
                          ("process_resident_memory_bytes", "gauge"),
                          ("process_virtual_memory_bytes", "gauge"),
                          ("process_open_fds", "gauge"), ("process_max_fds", "gauge"),
                          ("process_start_time_seconds", "gauge")):
            expect("# TYPE %s %s\n" % (fam, kind) in text, fam)
        rss = value(text, "process_resident_memory_bytes")
        kib = status_kib(d.proc.pid)
        expect(0.5 * kib * 1024 < rss < 2 * kib * 1024, (rss, kib))
        expect(value(text, "process_virtual_memory_bytes") >= rss, text)
        fds = len(os.listdir("/proc/%d/fd" % d.proc.pid))
        expect(abs(value(text, "process_open_fds") - fds) <= 2, (fds, text))
        expect(value(text, "process_max_fds") >= value(text, "process_open_fds"), text)
        expect(abs(value(text, "process_start_time_seconds") - time.time()) < 120, text)
        expect(value(text, "process_cpu_seconds_total") >= 0, text)


def test_connections_and_requests_in_flight():
    def gauges():
        text = scrape(d)
        return (value(text, "modeld_http_connections_open"),
                value(text, "modeld_http_requests_in_flight"))

    with Daemon() as d:
        # Each scrape is a connection of its own, closed after it: once the
        # server has seen the earlier ones close, a scrape sees itself alone.
        expect(wait_for(lambda: gauges() == (1, 1)), gauges())
        socks = []
        try:
            for _ in range(3):
                s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
                # A request whose body has not all come: in flight until it does.
                s.sendall(b"POST /v2/models/bench/infer HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
                socks.append(s)
            expect(wait_for(lambda: gauges() == (4, 4)), gauges())
        finally:
            for s in socks:
                s.close()
        expect(wait_for(lambda: gauges() == (1, 1)), gauges())


if __name__ == "__main__":
    run([test_retired_version_keeps_its_counters, test_retired_versions_are_bounded,
         test_failed_versions_and_scan_errors, test_process_families,
         test_connections_and_requests_in_flight])
