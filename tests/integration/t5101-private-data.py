#!/usr/bin/python3
"""What modeld creates is private (docs/security.md#hardening): the data
directory is made 0700, and every directory under it 0700 and every file
(the store, its write-ahead log, the upload directory, the access log)
readable and writable by modeld's user alone, whatever the umask it was
started with; a data directory made by hand with a wider mode gets a
warning at start."""
import os
import stat
import shutil
import subprocess
import tempfile

from harness import Daemon, expect, run, v2_row


def wide(path):
    """Paths under (and including) path that group or others may use."""
    found = []
    for top, dirs, files in os.walk(path):
        for p in [top] + [os.path.join(top, f) for f in files]:
            mode = stat.S_IMODE(os.lstat(p).st_mode)
            if mode & 0o077:
                found.append("%s %04o" % (os.path.relpath(p, path), mode))
    return found


def test_data_directory_and_files_private():
    logs = tempfile.mkdtemp(prefix="modeld-t5101-")
    access = os.path.join(logs, "access.log")
    old = os.umask(0o022)  # the daemon inherits an open umask
    try:
        d = Daemon(wait=False, args=["--access-log", access])
    finally:
        os.umask(old)
    with d:
        d.wait_ready()
        for _ in range(5):
            st, _, _ = d.request("POST", "/v2/models/bench/infer", v2_row([0.5] * 30))
            expect(st == 200, "infer: %d" % st)
        d.stop()
        mode = stat.S_IMODE(os.stat(d.data).st_mode)
        expect(mode == 0o700, "data directory mode %04o, not 0700" % mode)
        names = [f for _, _, files in os.walk(d.data) for f in files]
        expect(len(names) >= 1, "no file under %s" % d.data)
        found = wide(d.data)
        expect(not found, "open to group or others: %s" % ", ".join(found))
        expect(os.path.exists(access), "no access log")
        mode = stat.S_IMODE(os.stat(access).st_mode)
        expect(mode == 0o600, "access log mode %04o, not 0600" % mode)
    shutil.rmtree(logs, ignore_errors=True)


def test_wide_data_directory_warned():
    with Daemon(wait=False) as d:
        d.stop(check=False)
        os.makedirs(d.data, exist_ok=True)
        os.chmod(d.data, 0o755)
        d.log = open(d.log_path, "ab")
        d.proc = subprocess.Popen(d.args, stdout=d.log, stderr=subprocess.STDOUT)
        d.wait_ready()
        logs = d.logs()
        expect("the data directory may be read by other users" in logs and '"0755"' in logs,
               logs[-2000:])


if __name__ == "__main__":
    run([test_data_directory_and_files_private, test_wide_data_directory_warned])
