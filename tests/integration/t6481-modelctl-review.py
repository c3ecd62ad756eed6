#!/usr/bin/python3
"""modelctl review on a pseudo-terminal: it shows the oldest waiting item
(its reason, prediction and features, the explanation's top
contributions) and asks for the verdict with single keys; '2' answers the model's
second label without Enter (the item becomes done, its verdict expert
feedback), 's' skips the next one (still leased, not answered), 'q' quits
with status 0. 'review list' and 'review stats' print the items and the
queue's figures; a model without review rules and bad options are refused
naming them; with stdin not a terminal a line's first character is read."""
import os
import select
import shutil
import subprocess
import tempfile
import time

from feedbacklib import db_rows, fraud_rows, predict, rng_for
from harness import MODELCTL, Daemon, expect, run, wait_for
from importlib import import_module

review = import_module("t6480-review")


def ctl(d, *args, stdin=None):
    p = subprocess.run([MODELCTL, "--url", "http://127.0.0.1:%d" % d.port] + list(args),
                       input=stdin, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def read_until(fd, want, out, timeout=20):
    """Reads the terminal into out (bytes list) until want appears after what was read."""
    end = time.time() + timeout
    start = len(b"".join(out))
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out.append(chunk)
            if want in b"".join(out)[start:]:
                return True
    return False


def wait_items(d, n):
    expect(wait_for(lambda: len(review.items(d.data)) >= n, 15), review.items(d.data))


def test_terminal_session():
    import pty
    tmp = tempfile.mkdtemp(prefix="modeld-t6481-")
    rng = rng_for(6481)
    try:
        repo = review.review_repo(tmp)
        path = os.path.join(repo, "fraudr", "model.yaml")
        with open(path) as f:
            text = f.read().split("review:")[0]
        with open(path, "w") as f:
            f.write(text + "review:\n  rules: [{sample: 1, name: all}]\n")
        with Daemon(repo=repo, data=os.path.join(tmp, "data")) as d:
            predict(d, "fraudr", fraud_rows(3, rng), "tty-1")
            wait_items(d, 3)
            master, slave = pty.openpty()
            p = subprocess.Popen([MODELCTL, "--url", "http://127.0.0.1:%d" % d.port, "review",
                                  "fraudr", "--reviewer", "dana"],
                                 stdin=slave, stdout=slave, stderr=slave)
            os.close(slave)
            out = []
            try:
                expect(read_until(master, b"s skip, q quit]: ", out), b"".join(out))
                screen = b"".join(out).decode()
                expect("item 1 (all), version " in screen and "request tty-1 row 0" in screen and
                       "merchant_category" in screen and "1 legit, 2 fraud" in screen, screen)
                expect("why (contributions to the margin, bias " in screen, screen)
                os.write(master, b"2")
                expect(read_until(master, b"s skip, q quit]: ", out), b"".join(out))
                screen = b"".join(out).decode()
                expect("item 1: fraud" in screen and "item 2 (all)" in screen, screen)
                os.write(master, b"s")
                expect(read_until(master, b"s skip, q quit]: ", out), b"".join(out))
                expect("item 3 (all)" in b"".join(out).decode(), b"".join(out))
                os.write(master, b"q")
                expect(p.wait(timeout=20) == 0, b"".join(out))
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                os.close(master)
            got = {it["id"]: it for it in review.items(d.data)}
            expect(got[1]["state"] == "done" and got[1]["verdict"] == "fraud" and
                   got[1]["reviewer"] == "dana", got[1])
            expect(got[2]["state"] == "leased" and got[2]["verdict"] is None, got[2])
            fb = db_rows(d.data, "SELECT * FROM feedback WHERE request_id = 'tty-1'")
            expect(len(fb) == 1 and fb[0]["row"] == 0 and fb[0]["source"] == "expert", fb)

            # Not a terminal: a line's first character (items 2 and 3 are leased still).
            predict(d, "fraudr", fraud_rows(1, rng), "tty-2")
            wait_items(d, 4)
            rc, out_text, err = ctl(d, "review", "fraudr", "--max", "1", stdin="1\n")
            expect(rc == 0 and "item 4: legit" in out_text, (rc, out_text, err))

            rc, out_text, err = ctl(d, "review", "list", "fraudr")
            lines = out_text.splitlines()
            expect(rc == 0 and lines[0].split()[:3] == ["ID", "STATE", "REASON"] and
                   len(lines) == 5, (rc, out_text, err))
            expect(lines[1].split()[1] == "done" and lines[1].split()[-1] == "fraud", lines)
            rc, out_text, err = ctl(d, "review", "list", "fraudr", "--state", "leased")
            expect(rc == 0 and len(out_text.splitlines()) == 3, out_text)

            def stats():
                return ctl(d, "review", "stats", "fraudr")[1]
            expect(wait_for(lambda: "2 answered" in stats(), 10), stats())
            expect("2 leased" in stats() and "agreement " in stats(), stats())

            rc, _, err = ctl(d, "review", "fraud")
            expect(rc == 1 and "'fraud' has no review: section" in err, (rc, err))
            rc, _, err = ctl(d, "review")
            expect(rc == 2 and "missing MODEL" in err, (rc, err))
            rc, _, err = ctl(d, "review", "fraudr", "--max", "0")
            expect(rc == 2 and "--max" in err, (rc, err))
            rc, _, err = ctl(d, "review", "list", "fraudr", "--state", "gone")
            expect(rc == 1 and "state: 'gone' is not queued, leased or done" in err, (rc, err))
            rc, out_text, err = ctl(d, "review", "fraudr")
            expect(rc == 0 and "no item of 'fraudr' waits for review" in out_text,
                   (rc, out_text, err))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_terminal_session])
