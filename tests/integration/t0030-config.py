#!/usr/bin/python3
"""The --config file: settings read from it and used, flags overriding it,
every kind of bad file refused with exit 2 naming the file, line and key,
GET /api/v1/settings showing each value's source, PUT refused as documented,
and the example file of docs/operations.md listing every setting."""
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time

from harness import (Daemon, MODELD, ROOT, add_bench, expect, expect_error, free_port, make_repo,
                     run)


class ConfigDaemon(Daemon):
    """A modeld started with exactly the given arguments (no --listen, --repo
    or --data of its own): its port comes from the caller, since the file may
    set it."""

    def __init__(self, args, port, tmp):
        self.tmp = tempfile.mkdtemp(prefix="modeld-test-")
        self.repo = None
        self.port = port
        self.log_path = os.path.join(self.tmp, "modeld.log")
        self.args = [MODELD] + list(args)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=tmp)
        self.wait_ready()


def workdir():
    tmp = tempfile.mkdtemp(prefix="modeld-config-")
    make_repo(os.path.join(tmp, "repo"), examples=False)
    return tmp


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def http_workers(pid):
    """HTTP worker threads of a process (libmicrohttpd names them)."""
    n = 0
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, task)) as f:
                n += f.read().strip() == "MHD-worker"
        except OSError:
            pass  # a thread that ended between the listing and the read
    return n


def settings(d):
    st, doc, _ = d.json("GET", "/api/v1/settings")
    expect(st == 200, (st, doc))
    return doc, {s["name"]: s for s in doc["settings"]}


def refuses_connections(port):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def test_file_sets_settings():
    tmp = workdir()
    port = free_port()
    try:
        path = write(os.path.join(tmp, "modeld.yaml"),
                     "# modeld settings\n"
                     "repo: repo\n"
                     "listen: 127.0.0.1:%d\n"
                     "data: data\n"
                     "threads: 3\n"
                     "poll: 1\n"
                     "log_level: warn\n" % port)
        with ConfigDaemon(["--config", "modeld.yaml"], port, tmp) as d:
            doc, s = settings(d)
            expect(doc["file"] == os.path.realpath(path), doc)
            for name, value, line in (("repo", "repo", 2), ("listen", "127.0.0.1:%d" % port, 3),
                                      ("threads", 3, 5), ("poll", 1, 6), ("log_level", "warn", 7)):
                expect(s[name] == {"name": name, "value": value, "source": "file",
                                   "file": os.path.realpath(path), "line": line}, s[name])
            expect(s["max_body_bytes"] == {"name": "max_body_bytes", "value": 67108864,
                                           "source": "default"}, s["max_body_bytes"])
            expect(http_workers(d.proc.pid) == 3, "HTTP workers: %d" % http_workers(d.proc.pid))
            expect(os.path.isdir(os.path.join(tmp, "data")), "data directory not made")
            # poll: 1 from the file: a new version appears without SIGHUP.
            add_bench(os.path.join(tmp, "repo"), "bench", [2])
            deadline = time.time() + 15
            st = 0
            while time.time() < deadline:
                st, _, _ = d.json("GET", "/v2/models/bench/versions/2/ready")
                if st == 200:
                    break
                time.sleep(0.1)
            expect(st == 200, "version 2 not loaded by the file's poll")
            logs = d.logs()
        # log_level: warn from the file: no info line (listening, ready).
        expect('"level":"info"' not in logs, logs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_flag_overrides_file():
    tmp = workdir()
    file_port = free_port()
    port = free_port()
    try:
        path = write(os.path.join(tmp, "modeld.yaml"),
                     "listen: 127.0.0.1:%d\nthreads: 3\nlog_level: warn\nrepo: nowhere\n"
                     % file_port)
        # Flags before and after --config alike win over the file.
        args = ["--listen", "127.0.0.1:%d" % port, "--threads", "5", "--config", path,
                "--log-level", "info", "--repo", "repo", "--data", "data"]
        with ConfigDaemon(args, port, tmp) as d:
            _, s = settings(d)
            for name, value in (("listen", "127.0.0.1:%d" % port), ("threads", 5),
                                ("log_level", "info"), ("repo", "repo")):
                expect(s[name] == {"name": name, "value": value, "source": "flag"}, s[name])
            expect(http_workers(d.proc.pid) == 5, "HTTP workers: %d" % http_workers(d.proc.pid))
            expect(refuses_connections(file_port), "the file's port is served too")
            logs = d.logs()
        expect('"msg":"ready"' in logs, logs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def refused(args, cwd, fragments):
    p = subprocess.run([MODELD] + args, capture_output=True, text=True, timeout=10, cwd=cwd)
    expect(p.returncode == 2, "%r -> %d %s" % (args, p.returncode, p.stderr))
    expect(p.stdout == "", p.stdout)
    for f in fragments:
        expect(f in p.stderr, "%r: %r lacks %r" % (args, p.stderr, f))
    return p.stderr


def test_bad_files_exit_2():
    tmp = tempfile.mkdtemp(prefix="modeld-config-")
    try:
        cases = [
            ("poll: 2\npol: 1\n", ":2: pol: unknown key"),
            ("max-body-bytes: 1\n", ":1: max-body-bytes: unknown key (the key is max_body_bytes)"),
            ("poll: 2\nthreads: 1\npoll: 3\n", ":3: poll: duplicate key (first at line 1)"),
            ("poll: 4\nthreads: 2000\n", ":2: threads: '2000' is not a whole number from 0 "
             "to 1024"),
            ("max_body_bytes: 0\n", ":1: max_body_bytes: '0' is not a whole number from 1 to "
             "2147483648"),
            ("log_level: loud\n", ":1: log_level: 'loud' is not one of debug, info, warn, "
             "error, off"),
            ("poll: '5'\n", ":1: poll: expected a whole number from 0 to 86400, got string '5'"),
            ("poll: [1, 2]\n", ":1: poll: expected a whole number from 0 to 86400, got a "
             "sequence"),
            ("listen:\n", ":1: listen: expected a string, got null"),
            ("- poll\n", ":1: expected a mapping of settings, got a sequence"),
            ("poll: 1\nthreads: [\n", ": syntax error at line 3, column 1: "),
            ("poll: 1\n  threads: 2\n", ": syntax error at line 2, column "),
        ]
        for i, (text, fragment) in enumerate(cases):
            path = write(os.path.join(tmp, "bad%d.yaml" % i), text)
            err = refused(["--config", path, "--listen", "127.0.0.1:%d" % free_port()], tmp,
                          [path + fragment])
            expect(err.count("\n") == 1, err)  # the message alone, no usage
        # The file's value is checked even where a flag overrides it.
        path = write(os.path.join(tmp, "over.yaml"), "threads: 2000\n")
        refused(["--threads", "2", "--config", path], tmp, [path + ":1: threads: '2000'"])
        # --check reads the file too.
        refused(["--check", "--config", path], tmp, [path + ":1: threads: '2000'"])
        missing = os.path.join(tmp, "missing.yaml")
        refused(["--config", missing], tmp,
                ["modeld: --config: '%s': cannot open: No such file or directory" % missing])
        refused(["--config", tmp], tmp, ["modeld: --config: '%s': is a directory" % tmp])
        refused(["--config", path, "--config", path], tmp, ["--config: given more than once"])
        refused(["--config"], tmp, ["option '--config' requires an argument", "usage:"])
        big = write(os.path.join(tmp, "big.yaml"), "#" * (1 << 20) + "\n")
        refused(["--config", big], tmp, ["--config: '%s': larger than 1048576 bytes" % big])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_empty_file_and_check():
    tmp = workdir()
    try:
        empty = write(os.path.join(tmp, "empty.yaml"), "# nothing set here yet\n")
        p = subprocess.run([MODELD, "--check", "--config", empty, "--repo", "repo"],
                           capture_output=True, text=True, timeout=60, cwd=tmp)
        expect(p.returncode == 0 and "bench" in p.stdout, (p.returncode, p.stdout, p.stderr))
        # --check takes the repository from the file.
        conf = write(os.path.join(tmp, "check.yaml"), "repo: repo\n")
        p = subprocess.run([MODELD, "--check", "--config", conf], capture_output=True, text=True,
                           timeout=60, cwd=tmp)
        expect(p.returncode == 0 and "bench" in p.stdout, (p.returncode, p.stdout, p.stderr))
        expect(p.stderr == "", p.stderr)  # logs off: no level set
        conf = write(os.path.join(tmp, "check.yaml"), "repo: repo\nlog_level: info\n")
        p = subprocess.run([MODELD, "--check", "--config", conf], capture_output=True, text=True,
                           timeout=60, cwd=tmp)
        expect(p.returncode == 0 and '"level":"' in p.stderr, p.stderr)  # logs on
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_settings_api():
    tmp = workdir()
    try:
        path = write(os.path.join(tmp, "modeld.yaml"), "\npoll: 30\nidle_timeout: 20\n")
        with Daemon(args=["--config", path, "--threads", "2"]) as d:
            real = os.path.realpath(path)
            _, s = settings(d)
            expect(s["poll"] == {"name": "poll", "value": 30, "source": "file", "file": real,
                                 "line": 2}, s["poll"])
            expect(s["threads"] == {"name": "threads", "value": 2, "source": "flag"}, s["threads"])
            st, doc, _ = d.json("GET", "/api/v1/settings/idle_timeout")
            expect(st == 200 and doc == {"name": "idle_timeout", "value": 20, "source": "file",
                                         "file": real, "line": 3}, (st, doc))
            st, doc, _ = d.json("GET", "/api/v1/settings/idle-timeout")
            expect_error(st, doc, 404, "setting 'idle-timeout' not found")
            for method in ("PUT", "PATCH"):
                st, doc, _ = d.json(method, "/api/v1/settings/poll", {"value": 5})
                expect_error(st, doc, 409, "setting 'poll' is set by the configuration file %s "
                             "(line 2)" % real)
                st, doc, hdrs = d.json(method, "/api/v1/settings/threads", {"value": 5})
                expect_error(st, doc, 405, "setting 'threads' cannot be changed while modeld "
                             "runs")
                expect(hdrs.get("allow") == "GET", hdrs)
                st, doc, _ = d.json(method, "/api/v1/settings/max_body_bytes", {"value": 5})
                expect_error(st, doc, 405)
            st, doc, hdrs = d.json("DELETE", "/api/v1/settings/poll")
            expect_error(st, doc, 405)
            expect(hdrs.get("allow") == "GET", hdrs)
            st, doc, _ = d.json("POST", "/api/v1/settings")
            expect_error(st, doc, 405)
            # Nothing changed.
            _, s2 = settings(d)
            expect(s2 == s, (s, s2))
            st, body, _ = d.request("GET", "/metrics")
            text = body.decode()
            expect('modeld_http_requests_total{api="management",code="409"} 2' in text, text)
        # Without --config: every setting a default or a flag, no file.
        with Daemon() as d:
            doc, s = settings(d)
            expect(doc["file"] is None, doc)
            expect({v["source"] for v in s.values()} == {"default", "flag"}, s)
            expect(s["listen"]["source"] == "flag" and s["poll"]["source"] == "default", s)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


JWKS = ('{"keys":[{"kty":"EC","kid":"e1","crv":"P-256",'
        '"x":"GUBeKAiOFu7MRG7FmNG96mFKM1X_DUxEeHw3I8kkaZY",'
        '"y":"WapBhSgBtRnU9I1FgrmLm8iK2psn0k1E9sN-Uh-DL94"}]}')


def test_docs_example_lists_every_setting():
    """docs/operations.md's example file sets every setting, and modeld takes it."""
    with open(os.path.join(ROOT, "docs", "operations.md")) as f:
        text = f.read()
    m = re.search(r"<!-- example config -->\n```yaml\n(.*?)```", text, re.S)
    expect(m is not None, "no example file in docs/operations.md")
    example = m.group(1)
    keys = re.findall(r"^([a-z_]+):", example, re.M)
    tmp = workdir()
    try:
        path = write(os.path.join(tmp, "example.yaml"), example)
        # The example's repository and address are replaced by flags, its key files
        # by ones that exist, and its auth by a flag (a request of the test has no token);
        # the rest is used.
        key = write(os.path.join(tmp, "pii.key"), "0123456789abcdef0123456789abcdef\n")
        # Its JWKS file by one that exists (a P-256 public key, tests/fuzz/fuzz_jwt.c's).
        jwks = write(os.path.join(tmp, "jwks.json"), JWKS)
        audit_key = write(os.path.join(tmp, "audit.key"), "0123456789abcdef0123456789abcdef\n")
        os.chmod(audit_key, 0o600)  # a key file others may read is refused
        subject_key = write(os.path.join(tmp, "subject.key"), "fedcba9876543210fedcba98\n")
        os.chmod(subject_key, 0o600)
        data_key = write(os.path.join(tmp, "data.key"), "ab" * 32 + "\n")
        os.chmod(data_key, 0o600)
        # Its TLS files too, by empty paths: no TLS, as the harness speaks plain HTTP.
        tls_off = ["--tls-cert=", "--tls-key=", "--tls-client-ca="]
        # The example's user by the one the test runs as: nothing to drop.
        me = pwd.getpwuid(os.geteuid()).pw_name
        with Daemon(args=["--config", path, "--pii-key-file", key, "--audit-key-file", audit_key,
                          "--data-key-file", data_key, "--subject-key-file", subject_key,
                          "--user", me, "--auth=false", "--jwt-jwks-file", jwks] + tls_off) as d:
            _, s = settings(d)
        expect(sorted(keys) == sorted(s), "example keys %s, settings %s" % (keys, sorted(s)))
        expect(all(v["source"] in ("file", "flag") for v in s.values()), s)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_help_mentions_config():
    p = subprocess.run([MODELD, "--help"], capture_output=True, text=True, timeout=10)
    expect(p.returncode == 0 and "--config FILE" in p.stdout, p.stdout)
    expect("max_body_bytes: 1048576" in p.stdout, p.stdout)


if __name__ == "__main__":
    run([test_file_sets_settings, test_flag_overrides_file, test_bad_files_exit_2,
         test_empty_file_and_check, test_settings_api, test_docs_example_lists_every_setting,
         test_help_mentions_config])
