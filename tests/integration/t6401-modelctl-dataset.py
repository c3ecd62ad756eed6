#!/usr/bin/python3
"""modelctl dataset: summary (rows, sources, labels, why the set cannot be
trained on; --json as the server answers), export to a file as JSON lines
and CSV that holds exactly the labelled rows sent (compared with the
server's own export), register of a base dataset CSV, list and delete;
the server's refusals (a bad CSV naming the line and column, an unknown
model) exit 1 with the reason, usage errors exit 2."""
import csv
import json
import os
import subprocess
import tempfile

from feedbacklib import feedback_repo, fraud_rows, post, predict, rng_for, wait_rows
from harness import MODELCTL, Daemon, expect, run


def ctl(d, *args):
    p = subprocess.run([MODELCTL, "--url", "http://127.0.0.1:%d" % d.port] + list(args),
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def test_modelctl_dataset():
    tmp = tempfile.mkdtemp(prefix="modeld-t6401-")
    rng = rng_for(6401)
    with Daemon(repo=feedback_repo(tmp), data=os.path.join(tmp, "data")) as d:
        for i, row in enumerate(fraud_rows(12, rng)):
            predict(d, "fraud", [row], "mc-%02d" % i)
        wait_rows(d.data, "model = 'fraud'", 12)
        post(d, {"model": "fraud", "items": [
            {"request_id": "mc-%02d" % i, "label": "fraud" if i % 2 else "legit",
             "source": "expert" if i == 0 else "user"} for i in range(10)]})

        rc, out, err = ctl(d, "dataset", "summary", "fraud")
        expect(rc == 0, (rc, out, err))
        expect("model fraud: 10 rows, 8 to train, 2 held out" in out, out)
        expect("sources: feedback 9, expert 1, base 0" in out, out)
        expect("labels: legit 5, fraud 5" in out, out)
        expect("trainable: no: training set: 8 labelled rows with features, fewer than the 100 "
               "min_rows asks for" in out, out)
        rc, out, err = ctl(d, "dataset", "summary", "fraud", "--holdout", "0.5", "--json")
        expect(rc == 0 and json.loads(out)["summary"]["holdout_rows"] == 5, (rc, out, err))

        path = os.path.join(tmp, "set.jsonl")
        rc, out, err = ctl(d, "dataset", "export", "fraud", "--output", path)
        expect(rc == 0, (rc, out, err))
        _, body, _ = d.request("GET", "/api/v1/models/fraud/dataset/export")
        with open(path, "rb") as f:
            got = f.read()
        expect(got == body and len(got.splitlines()) == 10, got[:300])
        ids = sorted(json.loads(x)["request_id"] for x in got.splitlines())
        expect(ids == ["mc-%02d" % i for i in range(10)], ids)
        rc, out, err = ctl(d, "dataset", "export", "fraud", "--format", "csv", "--max-rows", "4")
        expect(rc == 0, (rc, out, err))
        table = list(csv.reader(out.splitlines()))
        expect(table[0][-4:] == ["label", "weight", "source", "at_ms"] and len(table) == 5, table)

        base = os.path.join(tmp, "base.csv")
        with open(base, "w") as f:
            f.write("amount,hour,account_age_days,merchant_category,is_international,label\n"
                    "10,1,2,online,true,fraud\n11,2,3,travel,false,legit\n")
        rc, out, err = ctl(d, "dataset", "register", "fraud", "original", base)
        expect(rc == 0 and "dataset 'original' of model 'fraud': 2 rows" in out, (rc, out, err))
        rc, out, err = ctl(d, "dataset", "list", "fraud")
        expect(rc == 0 and out.splitlines()[0].split()[:2] == ["NAME", "ROWS"] and
               out.splitlines()[1].split()[:2] == ["original", "2"], (rc, out, err))
        with open(base, "a") as f:
            f.write("x,1,2,online,true,fraud\n")
        rc, out, err = ctl(d, "dataset", "register", "fraud", "other", base)
        expect(rc == 1 and "line 4, column 'amount': 'x' is not a number" in err, (rc, out, err))
        rc, out, err = ctl(d, "dataset", "delete", "fraud", "original")
        expect(rc == 0 and "deleted" in out, (rc, out, err))
        rc, out, err = ctl(d, "dataset", "delete", "fraud", "original")
        expect(rc == 1 and "model 'fraud' has no dataset 'original'" in err, (rc, out, err))
        rc, out, err = ctl(d, "dataset", "summary", "nosuch")
        expect(rc == 1 and "nosuch" in err, (rc, out, err))
        rc, out, err = ctl(d, "dataset", "summary", "fraud", "--window", "soon")
        expect(rc == 1 and "window: 'soon' is not a duration" in err, (rc, out, err))

        for args, fragment in [((), "missing summary, export, register, list or delete"),
                               (("show", "fraud"), "'show' is not summary, export"),
                               (("register", "fraud", "x"), "missing FILE"),
                               (("export", "fraud", "--format", "xml"), "--format: 'xml'"),
                               (("list", "fraud", "--holdout", "0.1"), "--holdout: not an option"),
                               (("summary", "fraud", "extra"), "unexpected argument 'extra'"),
                               (("register", "fraud", "x", "/nonexistent/f.csv"), "FILE")]:
            rc, out, err = ctl(d, "dataset", *args)
            expect(rc == 2 and fragment in err, (args, rc, out, err))


if __name__ == "__main__":
    run([test_modelctl_dataset])
