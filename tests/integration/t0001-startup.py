#!/usr/bin/python3
"""Start-up, flags, health, logs, signals."""
import json
import os
import signal
import subprocess
import threading
import time

from harness import (Daemon, MODELD, expect, expect_error, free_port, run, v2_row)


def test_help_and_version():
    p = subprocess.run([MODELD, "--help"], capture_output=True, text=True, timeout=10)
    expect(p.returncode == 0 and "--repo DIR" in p.stdout and "--poll SECONDS" in p.stdout,
           p.stdout)
    expect("--conn-buffer-bytes N" in p.stdout and "(default: 24576)" in p.stdout, p.stdout)
    p = subprocess.run([MODELD, "--version"], capture_output=True, text=True, timeout=10)
    expect(p.returncode == 0 and p.stdout.startswith("modeld "), p.stdout)
    if os.path.exists("/dev/full"):
        for flag in ("--help", "--version"):
            with open("/dev/full", "w") as full:
                p = subprocess.run([MODELD, flag], stdout=full, stderr=subprocess.PIPE, text=True,
                                   timeout=10)
            expect(p.returncode == 1 and "cannot write output" in p.stderr,
                   "%s to a full disk: %d %s" % (flag, p.returncode, p.stderr))


def test_bad_flags_exit_2():
    for args in (["--nope"], ["--poll", "abc"], ["--poll", "-1"], ["--log-level", "loud"],
                 ["--max-body-bytes", "0"], ["--conn-buffer-bytes", "100"],
                 ["--conn-buffer-bytes", "1e6"], ["--conn-buffer-bytes", "1048577"], ["extra"]):
        p = subprocess.run([MODELD] + args, capture_output=True, text=True, timeout=10)
        expect(p.returncode == 2, "%r -> %d %s" % (args, p.returncode, p.stderr))
        expect(p.stderr.strip() != "", "no message for %r" % args)


def test_missing_repo_exits_1():
    p = subprocess.run([MODELD, "--repo", "/nonexistent-repo", "--listen",
                        "127.0.0.1:%d" % free_port(), "--data", "/tmp/md-data-x"],
                       capture_output=True, text=True, timeout=10)
    expect(p.returncode == 1, p.stderr)
    expect("nonexistent-repo" in p.stderr, p.stderr)


def test_bad_listen_exits_1():
    p = subprocess.run([MODELD, "--listen", "nohostport", "--repo", "."], capture_output=True,
                       text=True, timeout=10)
    expect(p.returncode == 1 and "HOST:PORT" in p.stderr, p.stderr)


def test_port_in_use_exits_1():
    """A second daemon on a port one already listens on stops with the reason, rather than
    sharing the port's connections with it (no SO_REUSEPORT)."""
    with Daemon() as d:
        p = subprocess.run([MODELD, "--repo", d.repo, "--listen", "127.0.0.1:%d" % d.port,
                            "--data", d.data + "-2"], capture_output=True, text=True, timeout=30)
        expect(p.returncode == 1 and "Address already in use" in p.stderr, (p.returncode,
                                                                           p.stderr[-600:]))
        st, _, _ = d.request("GET", "/v2/health/ready")
        expect(st == 200, st)


def test_health_and_server_metadata():
    with Daemon() as d:
        st, doc, hdrs = d.json("GET", "/v2/health/live")
        expect(st == 200 and doc == {"live": True}, doc)
        st, doc, _ = d.json("GET", "/v2/health/ready")
        expect(st == 200 and doc == {"ready": True}, doc)
        st, doc, hdrs = d.json("GET", "/v2")
        expect(st == 200 and doc["name"] == "modeld" and isinstance(doc["version"], str), doc)
        expect("model_repository" in doc["extensions"], doc)
        expect(hdrs["content-type"] == "application/json", hdrs)
        expect(len(hdrs.get("x-request-id", "")) == 32, hdrs)


def test_client_request_id_kept_whole():
    with Daemon() as d:
        for n in (1, 40, 64):
            rid = ("r-%d." % n + "x" * n)[:n]
            _, _, hdrs = d.request("GET", "/v2", headers={"X-Request-Id": rid})
            expect(hdrs.get("x-request-id") == rid, (rid, hdrs))
        _, _, hdrs = d.request("GET", "/v2", headers={"X-Request-Id": "y" * 65})
        expect(len(hdrs.get("x-request-id", "")) == 32, hdrs)


def test_logs_are_json_lines():
    with Daemon(args=["--log-level", "debug"]) as d:
        d.request("GET", "/v2")
        logs = d.logs()
    lines = [l for l in logs.splitlines() if l.strip()]
    expect(len(lines) >= 2, logs)
    for l in lines:
        doc = json.loads(l)
        expect({"ts", "level", "msg"} <= set(doc), l)
    expect(any(json.loads(l)["msg"] == "ready" for l in lines), logs)


def test_log_level_filters():
    with Daemon(args=["--log-level", "error"]) as d:
        d.request("GET", "/v2")
        logs = d.logs()
    expect(all(json.loads(l)["level"] == "error" for l in logs.splitlines() if l.strip()), logs)


def test_sigterm_finishes_in_flight_requests():
    with Daemon() as d:
        big = v2_row([0.5] * 30)
        big["inputs"][0]["shape"] = [20000, 30]
        big["inputs"][0]["data"] = [0.5] * (20000 * 30)
        body = json.dumps(big)
        results = []

        def client():
            try:
                st, data, _ = d.request("POST", "/v2/models/bench/infer", body, timeout=60)
                results.append(st)
            except Exception as e:  # noqa: BLE001 - recorded and asserted below
                results.append(repr(e))

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.05)
        d.signal(signal.SIGTERM)
        for t in threads:
            t.join(60)
        rc = d.proc.wait(timeout=30)
        expect(rc == 0, "exit %d; the log ends:\n%s" % (rc, d.logs()[-4000:]))
        # A request that was already being read or run must complete; one that
        # had not yet connected may be refused, never cut off halfway.
        expect(all(r == 200 or "Refused" in str(r) for r in results), results)
        expect(results.count(200) >= 1, results)
        expect("shutting down" in d.logs(), d.logs())


def test_sighup_rescans():
    with Daemon() as d:
        st, _, _ = d.json("GET", "/v2/models/bench/versions/2")
        expect(st == 404, st)
        from harness import add_bench
        add_bench(d.repo, "bench", [2])
        d.signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline:
            st, doc, _ = d.json("GET", "/v2/models/bench/versions/2/ready")
            if st == 200:
                break
            time.sleep(0.1)
        expect(st == 200, "version 2 not loaded after SIGHUP")


def test_unknown_path_and_method():
    with Daemon() as d:
        st, doc, _ = d.json("GET", "/nope")
        expect_error(st, doc, 404, "Not Found")
        st, doc, hdrs = d.json("GET", "/v2/models/bench/infer")
        expect_error(st, doc, 405, "Method Not Allowed")
        expect(hdrs.get("allow") == "POST", hdrs)
        st, doc, _ = d.json("DELETE", "/v2/health/live")
        expect_error(st, doc, 405)


if __name__ == "__main__":
    run([test_help_and_version, test_bad_flags_exit_2, test_missing_repo_exits_1,
         test_bad_listen_exits_1, test_port_in_use_exits_1, test_health_and_server_metadata,
         test_client_request_id_kept_whole, test_logs_are_json_lines,
         test_log_level_filters, test_sigterm_finishes_in_flight_requests, test_sighup_rescans,
         test_unknown_path_and_method])
