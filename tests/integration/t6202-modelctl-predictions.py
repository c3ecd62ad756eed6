#!/usr/bin/python3
"""modelctl predictions against a real daemon: the table of the first rows,
--json, and exports of every matching row to JSON lines and CSV across many
pages (the cursor visits every row once), with filters; a progress bar is
drawn only on a terminal (none on a pipe); usage errors exit 2 and a
server's refusal exits 1 with its message."""
import csv
import json
import os
import shutil
import subprocess
import tempfile

from harness import MODELCTL, Daemon, expect, run
from predloglib import ROW, ROW2, keyed_repo, settled, v2_body


def ctl(d, *args, timeout=60):
    p = subprocess.run([MODELCTL, "--url", "http://127.0.0.1:%d" % d.port] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def test_table_and_exports():
    tmp = tempfile.mkdtemp(prefix="modeld-t6202-")
    try:
        with Daemon(repo=keyed_repo(tmp), data=os.path.join(tmp, "data")) as d:
            n = 60
            for i in range(n):
                st, doc, _ = d.json("POST", "/v2/models/fraudk/infer",
                                    v2_body([ROW, ROW2], {"user_id": "u,\"%d\"" % (i % 2),
                                                          "txn": i}),
                                    {"X-Request-Id": "e-%d" % i})
                expect(st == 200, doc)
            settled(d, 2 * n)
            rc, out, err = ctl(d, "predictions", "--model", "fraudk", "--limit", "3")
            expect(rc == 0, err)
            lines = out.splitlines()
            expect(lines[0].split()[:5] == ["ID", "TIME", "MODEL", "VERSION", "ROUTE"], out)
            expect(len(lines) == 4 and "e-0:0" in lines[1] and "e-0:1" in lines[2], out)
            rc, out, err = ctl(d, "predictions", "--request-id", "e-5", "--json")
            expect(rc == 0 and len(json.loads(out)["predictions"]) == 2, (out, err))
            # JSON lines, pages of 7: every row once, in order; no bar on a pipe.
            path = os.path.join(tmp, "out.jsonl")
            rc, out, err = ctl(d, "predictions", "--model", "fraudk", "--output", path,
                               "--page", "7")
            expect(rc == 0 and err == "", err)
            rows = [json.loads(x) for x in open(path)]
            expect(len(rows) == 2 * n, len(rows))
            expect([(r["request_id"], r["row"]) for r in rows] ==
                   [("e-%d" % i, k) for i in range(n) for k in (0, 1)], rows[:4])
            expect(rows[3]["features"]["amount"] == 900 and rows[3]["keys"]["txn"] == 1, rows[3])
            # CSV with a filter and a limit; fields with commas and quotes survive.
            path = os.path.join(tmp, "out.csv")
            rc, out, err = ctl(d, "predictions", "--key", "txn=7", "--output", path,
                               "--format", "csv")
            expect(rc == 0, err)
            with open(path, newline="") as f:
                got = list(csv.DictReader(f))
            expect(len(got) == 2, got)
            expect(got[0]["request_id"] == "e-7" and got[1]["row"] == "1", got)
            expect(got[0]["key.user_id"] == 'u,"1"' and got[0]["key.txn"] == "7", got[0])
            expect(got[1]["feature.merchant_category"] == "online", got[1])
            expect(got[1]["feature.distance_km"] == "", got[1])
            expect(got[0]["output.label"] == got[0]["label"] != "", got[0])
            expect(abs(float(got[0]["score"]) - float(got[0]["output.probability"])) < 1e-6,
                   got[0])
            rc, out, err = ctl(d, "predictions", "--output", "-", "--limit", "5", "--page", "2")
            expect(rc == 0 and len(out.splitlines()) == 5, (out, err))
            # Usage errors (2) and the server's refusal (1), with its message.
            for args in (["--format", "csv"], ["--output", path, "--format", "xml"],
                         ["--key", "novalue"], ["--feedback", "maybe"], ["--limit", "0"],
                         ["--page", "5"], ["extra"]):
                rc, out, err = ctl(d, "predictions", *args)
                expect(rc == 2 and "modelctl:" in err, (args, rc, err))
            rc, out, err = ctl(d, "predictions", "--since", "yesterday")
            expect(rc == 1 and "since:" in err, (rc, err))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_progress_bar_on_a_terminal():
    import pty
    tmp = tempfile.mkdtemp(prefix="modeld-t6202-")
    try:
        with Daemon(repo=keyed_repo(tmp), data=os.path.join(tmp, "data")) as d:
            for i in range(10):
                st, doc, _ = d.json("POST", "/v2/models/fraud/infer", v2_body([ROW]))
                expect(st == 200, doc)
            settled(d, 10)
            master, slave = pty.openpty()
            path = os.path.join(tmp, "bar.jsonl")
            p = subprocess.run([MODELCTL, "--url", "http://127.0.0.1:%d" % d.port, "predictions",
                                "--output", path, "--page", "3"], stderr=slave,
                               stdout=subprocess.DEVNULL, timeout=60)
            os.close(slave)
            err = b""
            try:
                while True:
                    chunk = os.read(master, 4096)
                    if not chunk:
                        break
                    err += chunk
            except OSError:
                pass
            os.close(master)
            expect(p.returncode == 0, err)
            expect(b"100%" in err and b"10 rows" in err and b"[" in err, err)
            expect(len(open(path).readlines()) == 10, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_table_and_exports, test_progress_bar_on_a_terminal])
