#!/usr/bin/python3
"""`modelctl audit` against a real daemon with --audit-key-file: list (the
default) prints the newest entries oldest first as a table and takes the
filters and paging, with --json the server's answer; export prints every
matching entry oldest first as JSON lines, paging through the log (three
pages here, the page size lowered through MODELCTL_AUDIT_PAGE); verify
says the chain is intact (exit 0), then, once a row is edited in the
database file, names the first bad entry (exit 1); bad arguments are usage
errors (exit 2) and the server's refusal of a bad filter is shown (exit 1)."""
import atexit
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile

from harness import MODELCTL, Daemon, expect, run

TMP = tempfile.mkdtemp(prefix="modeld-ctl-audit-")
atexit.register(shutil.rmtree, TMP, True)


def key_file():
    path = os.path.join(TMP, "audit.key")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"k" * 40)
        os.close(fd)
    return path


def ctl(d, *args, env=None):
    e = dict(os.environ, MODELD_URL="http://127.0.0.1:%d" % d.port)
    e.update(env or {})
    p = subprocess.run([MODELCTL] + list(args), capture_output=True, text=True, env=e,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def test_list_export_verify():
    with Daemon(args=["--audit-key-file", key_file()]) as d:
        for i in range(5):
            st, _, _ = d.request("PUT", "/api/v1/models/%s/aliases/x%d" %
                                 ("iris" if i % 2 else "fraud", i), {"version": 1})
            expect(st == 200, st)
        rc, out, err = ctl(d, "audit")
        lines = out.splitlines()
        expect(rc == 0 and lines[0].split() == ["ID", "TIME", "ACTOR", "ACTION", "TARGET",
                                                "OUTCOME"], (rc, out, err))
        expect([l.split()[0] for l in lines[1:]] == ["1", "2", "3", "4", "5"], out)
        expect("anonymous" in lines[1] and "model=fraud alias=x0" in lines[1], lines[1])
        rc, out, _ = ctl(d, "audit", "list", "--target", "iris", "--limit", "1")
        lines = out.splitlines()
        expect(rc == 0 and len(lines) == 3 and lines[1].split()[0] == "4", out)
        expect(lines[2] == "older entries: --before 4", out)
        rc, out, _ = ctl(d, "audit", "--target", "iris", "--before", "4")
        expect(rc == 0 and [l.split()[0] for l in out.splitlines()[1:]] == ["2"], out)
        rc, out, _ = ctl(d, "audit", "--actor", "nobody")
        expect(rc == 0 and out == "no audit entries\n", out)
        rc, out, _ = ctl(d, "--json", "audit", "--action", "PUT")
        doc = json.loads(out)
        expect(rc == 0 and [e["id"] for e in doc["entries"]] == [5, 4, 3, 2, 1], doc)
        # Export: oldest first, every entry, a JSON object per line, across pages.
        rc, out, err = ctl(d, "audit", "export", env={"MODELCTL_AUDIT_PAGE": "2"})
        rows = [json.loads(l) for l in out.splitlines()]
        expect(rc == 0 and [r["id"] for r in rows] == [1, 2, 3, 4, 5], (rc, out, err))
        expect(all(len(r["mac"]) == 64 for r in rows), rows)
        rc, out, _ = ctl(d, "audit", "export", "--target", "model=fraud")
        expect(rc == 0 and [json.loads(l)["id"] for l in out.splitlines()] == [1, 3, 5], out)
        rc, out, _ = ctl(d, "audit", "verify")
        expect(rc == 0 and out.startswith("audit chain intact: 5 entries (key "), out)
        db = sqlite3.connect(os.path.join(d.data, "modeld.db"))
        db.execute("UPDATE audit SET target = 'model=other' WHERE id = 2")
        db.commit()
        db.close()
        rc, out, _ = ctl(d, "audit", "verify")
        expect(rc == 1 and out.startswith("audit chain broken at entry 2: entry 2 does not "
                                          "match its MAC"), out)
        rc, out, _ = ctl(d, "--json", "audit", "verify")
        expect(rc == 1 and json.loads(out)["first_bad"] == 2, out)
        # Usage errors, and the server's refusal.
        for args in (["audit", "nonsense"], ["audit", "verify", "--actor", "a"],
                     ["audit", "export", "--limit", "3"], ["audit", "--bogus"]):
            rc, _, err = ctl(d, *args)
            expect(rc == 2 and err.startswith("modelctl: "), (args, rc, err))
        rc, _, err = ctl(d, "audit", "--since", "yesterday")
        expect(rc == 1 and "since" in err, err)
        rc, out, _ = ctl(d, "audit", "--help")
        expect(rc == 0 and "modelctl audit - list, export or check the audit log" in out, out)


if __name__ == "__main__":
    run([test_list_export_verify])
