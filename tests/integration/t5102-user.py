#!/usr/bin/python3
"""--user (docs/security.md#hardening): started as root with --user nobody,
modeld binds a port below 1024 (which only root may), then runs as nobody:
every uid and gid of the process is nobody's, no supplementary group is
left, and it serves, logs predictions and stops cleanly, with its data
directory and the files in it nobody's and private. Refusals: a user that
does not exist, a data directory that belongs to another user.
Needs root (CI runs as root): says it is skipped otherwise."""
import os
import pwd
import socket
import stat
import subprocess
import shutil
import tempfile

import harness
from harness import MODELD, Daemon, expect, make_repo, run, v2_row, wait_for


def low_port():
    """A free port below 1024 (only root may bind one)."""
    for port in range(900, 1024):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise AssertionError("no free port in 900-1023")


def status_ids(pid):
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                ids[key] = value.split()
    return ids


def shared_tmp():
    """A directory nobody may enter, holding a copy of the repository."""
    tmp = tempfile.mkdtemp(prefix="modeld-t5102-")
    os.chmod(tmp, 0o755)
    old = os.umask(0o022)
    try:
        repo = make_repo(os.path.join(tmp, "repo"))
    finally:
        os.umask(old)
    return tmp, repo


def test_runs_as_nobody_on_a_low_port():
    if os.geteuid() != 0:
        print("  skipped: needs root")
        return
    nobody = pwd.getpwnam("nobody")
    tmp, repo = shared_tmp()
    data = os.path.join(tmp, "data")
    port = low_port()
    saved = harness.free_port
    harness.free_port = lambda: port
    try:
        d = Daemon(repo=repo, data=data, args=["--user", "nobody"])
    finally:
        harness.free_port = saved
    try:
        with d:
            ids = status_ids(d.proc.pid)
            expect(ids["Uid"] == [str(nobody.pw_uid)] * 4, "uids: %r" % ids)
            expect(ids["Gid"] == [str(nobody.pw_gid)] * 4, "gids: %r" % ids)
            expect(ids.get("Groups") == [], "supplementary groups left: %r" % ids)
            expect("running as an unprivileged user" in d.logs(), d.logs()[-2000:])
            # every example loads, those through the load-check helper too
            expect(wait_for(lambda: '"versions_failed"' in d.logs()), d.logs()[-3000:])
            expect('"versions_failed":"0"' in d.logs(), d.logs()[-3000:])
            for _ in range(5):
                st, _, _ = d.request("POST", "/v2/models/bench/infer", v2_row([0.5] * 30))
                expect(st == 200, "infer: %d" % st)
            d.stop()
            st = os.stat(data)
            expect(st.st_uid == nobody.pw_uid and stat.S_IMODE(st.st_mode) == 0o700,
                   "data directory: uid %d mode %04o" % (st.st_uid, stat.S_IMODE(st.st_mode)))
            found = 0
            for top, _, files in os.walk(data):
                for p in [top] + [os.path.join(top, f) for f in files]:
                    st = os.lstat(p)
                    expect(st.st_uid == nobody.pw_uid, "%s belongs to uid %d" % (p, st.st_uid))
                    expect(stat.S_IMODE(st.st_mode) & 0o077 == 0,
                           "%s has mode %04o" % (p, stat.S_IMODE(st.st_mode)))
                    found += 1
            expect(found >= 2, "nothing written under %s" % data)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def refused(args, fragment):
    tmp, repo = shared_tmp()
    try:
        p = subprocess.run([MODELD, "--repo", repo, "--listen", "127.0.0.1:%d" % harness.free_port(),
                            "--data", os.path.join(tmp, "data")] + args,
                           capture_output=True, text=True, timeout=30)
        expect(p.returncode == 1 and fragment in p.stdout + p.stderr,
               "%r: exit %d, %s%s" % (args, p.returncode, p.stdout[-1500:], p.stderr[-1500:]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_refusals():
    refused(["--user", "no-such-user-t5102"], "no such user")
    if os.geteuid() != 0:
        print("  skipped the rest: needs root")
        return
    tmp, repo = shared_tmp()
    try:
        data = os.path.join(tmp, "data")
        os.mkdir(data, 0o700)  # root's
        p = subprocess.run([MODELD, "--repo", repo, "--listen", "127.0.0.1:%d" % harness.free_port(),
                            "--data", data, "--user", "nobody"],
                           capture_output=True, text=True, timeout=30)
        expect(p.returncode == 1 and "belongs to another user" in p.stdout + p.stderr,
               "exit %d: %s" % (p.returncode, p.stdout[-1500:]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_runs_as_nobody_on_a_low_port, test_refusals])
