#!/usr/bin/python3
"""modelctl feedback import and modelctl quality against a real daemon: a
CSV by request id and row, one by a key column, refused lines reported
with their line numbers while the rest is stored (exit 1), usage errors
(exit 2), a progress bar on stderr only when it is a terminal; modelctl
quality prints the window's figures as the API computes them."""
import os
import pty
import shutil
import subprocess
import tempfile

from feedbacklib import db_rows, feedback_repo, fraud_rows, predict, rng_for, wait_rows
from harness import MODELCTL, Daemon, expect, run


def ctl(d, *args, stderr_tty=False):
    env = dict(os.environ, MODELD_URL="http://127.0.0.1:%d" % d.port)
    if not stderr_tty:
        p = subprocess.run([MODELCTL] + list(args), capture_output=True, text=True, env=env,
                           timeout=60)
        return p.returncode, p.stdout, p.stderr
    master, slave = pty.openpty()
    p = subprocess.Popen([MODELCTL] + list(args), stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    out = p.stdout.read().decode()
    p.wait(60)
    os.close(master)
    return p.returncode, out, err.decode(errors="replace")


def test_import_and_quality():
    tmp = tempfile.mkdtemp(prefix="modeld-t6224-")
    rng = rng_for(6227)
    try:
        with Daemon(repo=feedback_repo(tmp), data=os.path.join(tmp, "data")) as d:
            predict(d, "fraud", fraud_rows(40, rng), "imp-1")
            for i in range(5):
                predict(d, "fraudk", fraud_rows(1, rng), "impk-%d" % i,
                        params={"txn": "T-%d" % i})
            wait_rows(d.data, "request_id LIKE 'imp%'", 45)
            preds = db_rows(d.data, "SELECT row, label FROM predictions WHERE request_id = "
                            "'imp-1' ORDER BY row")
            path = os.path.join(tmp, "labels.csv")
            with open(path, "w") as f:
                f.write("request_id,row,label,source,comment\n")
                for p in preds:
                    f.write('imp-1,%d,%s,expert,"checked, by hand"\n' % (p["row"], p["label"]))
                f.write("imp-1,3,maybe,user,\n")        # line 42: not a class
                f.write("imp-1,x,fraud,user,\n")        # line 43: not a number
            rc, out, err = ctl(d, "feedback", "import", path, "--model", "fraud", "--batch", "7")
            expect(rc == 1, (rc, out, err))
            expect(out == "stored 40 of 42 rows (40 attached to their predictions, 0 pending)\n",
                   out)
            expect("labels.csv:42: label: 'maybe' is not a class of model 'fraud' (legit, fraud)"
                   in err, err)
            expect("labels.csv:43: row: 'x' is not a number" in err, err)
            expect("importing" not in err, err)
            got = db_rows(d.data, "SELECT count(*) AS n, min(comment) AS c FROM feedback WHERE "
                          "request_id = 'imp-1' AND source = 'expert'")[0]
            expect(got["n"] == 40 and got["c"] == "checked, by hand", got)
            # By a key column, with a progress bar on a terminal.
            kpath = os.path.join(tmp, "keys.csv")
            with open(kpath, "w") as f:
                f.write("key:txn,reward\n")
                for i in range(5):
                    f.write("T-%d,%d\n" % (i, i % 2))
                f.write("T-9,1\n")  # no such prediction yet: pending
            rc, out, err = ctl(d, "feedback", "import", kpath, "--model", "fraudk",
                               stderr_tty=True)
            expect(rc == 0, (rc, out, err))
            expect("stored 6 of 6 rows (5 attached to their predictions, 1 pending)" in out, out)
            expect("importing [" in err and "100% 6/6 rows" in err, repr(err))
            # Usage errors.
            for args, frag in [(["feedback"], "missing subcommand"),
                               (["feedback", "export", kpath], "unknown subcommand 'export'"),
                               (["feedback", "import"], "missing FILE.csv"),
                               (["feedback", "import", kpath, "--batch", "0"], "--batch: '0'"),
                               (["feedback", "import", kpath, "--source", "bot"], "--source"),
                               (["quality"], "missing MODEL"),
                               (["quality", "fraud", "--window", "1h", "--last", "5"],
                                "give one")]:
                rc, out, err = ctl(d, *args)
                expect(rc == 2 and frag in err, (args, rc, err))
            bad = os.path.join(tmp, "bad.csv")
            with open(bad, "w") as f:
                f.write("label,colour\nfraud,red\n")
            rc, out, err = ctl(d, "feedback", "import", bad, "--model", "fraud")
            expect(rc == 2 and "unknown column 'colour'" in err, (rc, err))
            # The figures, as the API has them.
            rc, out, err = ctl(d, "quality", "fraud")
            expect(rc == 0, (rc, out, err))
            lines = out.splitlines()
            expect(lines[0] == "model fraud (binary), the last 1000 labelled predictions", out)
            expect(lines[1].split() == ["VERSION", "ROUTE", "LABELLED", "COVERAGE", "ACCURACY",
                                        "F1", "LOG_LOSS", "ROC_AUC", "BRIER"], out)
            row = lines[2].split()
            expect(row[:5] == ["all", "-", "40", "100%", "1.0000"], out)
            expect(any(l.split()[:1] == ["CLASS"] for l in lines), out)
            rc, out, err = ctl(d, "quality", "fraud", "--window", "1h", "--json")
            expect(rc == 0 and '"labelled":40' in out, (rc, out))
            rc, out, err = ctl(d, "quality", "nosuch")
            expect(rc == 1 and "unknown model 'nosuch'" in err, (rc, err))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_import_and_quality])
