#!/usr/bin/python3
"""Tampering with the audit log in the database file itself: a daemon with
--audit-key-file records six changes and stops; then, on a copy of its data
directory each time, rows of the audit table are edited, deleted,
reordered (ids swapped, or contents swapped), appended (a copy of the last
entry under a new id, and an entry whose MAC is made with a wrong key), and
the tail is cut off (with and without the head record); each with Python's
sqlite3 on the file, as an intruder would. Offline `modeld audit verify`
and, on a daemon started on the copy, `modelctl audit verify` and GET
/api/v1/audit/verify must each report the chain broken and name the first
bad entry; the untouched copy verifies, and a wrong key is named."""
import atexit
import hashlib
import hmac
import os
import shutil
import sqlite3
import subprocess
import tempfile

from harness import MODELCTL, MODELD, Daemon, expect, make_repo, run

TMP = tempfile.mkdtemp(prefix="modeld-tamper-")
atexit.register(shutil.rmtree, TMP, True)
KEY = os.path.join(TMP, "audit.key")
REPO = make_repo(os.path.join(TMP, "repo"))
BASE = os.path.join(TMP, "base")


def setup_base():
    fd = os.open(KEY, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"an audit key of thirty-two bytes")
    os.close(fd)
    d = Daemon(repo=REPO, data=BASE, args=["--audit-key-file", KEY])
    try:
        for i in range(6):
            st, _, _ = d.request("PUT", "/api/v1/models/iris/aliases/a%d" % i, {"version": 1})
            expect(st == 200, st)
    finally:
        d.stop()
    d.log.close()


def copy(name):
    dest = os.path.join(TMP, name)
    shutil.copytree(BASE, dest)
    return dest


def tamper(data, *sql):
    db = sqlite3.connect(os.path.join(data, "modeld.db"))
    for s in sql:
        db.execute(s)
    db.commit()
    db.close()


def offline(data, key=KEY):
    p = subprocess.run([MODELD, "audit", "verify", "--data", data, "--audit-key-file", key],
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def check_broken(data, first_bad, fragment, online=True):
    rc, out = offline(data)
    want = "audit chain broken at entry %d: " % first_bad
    expect(rc == 1 and want in out and fragment in out, (rc, out, want, fragment))
    if not online:
        return
    d = Daemon(repo=REPO, data=data, args=["--audit-key-file", KEY])
    try:
        st, doc, _ = d.json("GET", "/api/v1/audit/verify")
        expect(st == 200 and doc["ok"] is False and doc["first_bad"] == first_bad, (st, doc))
        expect(fragment in doc["reason"], doc)
        env = dict(os.environ, MODELD_URL="http://127.0.0.1:%d" % d.port)
        p = subprocess.run([MODELCTL, "audit", "verify"], capture_output=True, text=True,
                           env=env, timeout=30)
        expect(p.returncode == 1 and want in p.stdout, (p.returncode, p.stdout, p.stderr))
    finally:
        d.stop()
        d.log.close()


def test_untouched_verifies():
    data = copy("untouched")
    rc, out = offline(data)
    expect(rc == 0 and "audit chain intact: 6 entries" in out, (rc, out))


def test_edit():
    data = copy("edit")
    tamper(data, "UPDATE audit SET outcome = '403 refused' WHERE id = 3")
    check_broken(data, 3, "entry 3 does not match its MAC")


def test_edit_actor_and_time():
    data = copy("edit2")
    tamper(data, "UPDATE audit SET actor = 'someone-else', at_ms = at_ms + 1 WHERE id = 5")
    check_broken(data, 5, "entry 5 does not match its MAC", online=False)


def test_delete():
    data = copy("delete")
    tamper(data, "DELETE FROM audit WHERE id = 2")
    check_broken(data, 2, "entry 2 is missing: entry 1 is followed by entry 3")


def test_reorder_ids():
    data = copy("reorder")
    tamper(data, "UPDATE audit SET id = 100 WHERE id = 2",
           "UPDATE audit SET id = 2 WHERE id = 4",
           "UPDATE audit SET id = 4 WHERE id = 100")
    check_broken(data, 2, "entry 2 does not match its MAC")


def test_reorder_contents():
    data = copy("reorder2")
    db = sqlite3.connect(os.path.join(data, "modeld.db"))
    cols = "at_ms, actor, action, target, address, outcome, details, key_id, mac"
    r3 = db.execute("SELECT %s FROM audit WHERE id = 3" % cols).fetchone()
    r4 = db.execute("SELECT %s FROM audit WHERE id = 4" % cols).fetchone()
    sets = ", ".join("%s = ?" % c.strip() for c in cols.split(","))
    db.execute("UPDATE audit SET %s WHERE id = 3" % sets, r4)
    db.execute("UPDATE audit SET %s WHERE id = 4" % sets, r3)
    db.commit()
    db.close()
    check_broken(data, 3, "entry 3 does not match its MAC", online=False)


def test_append_copy():
    data = copy("append")
    tamper(data, "INSERT INTO audit (id, at_ms, actor, action, target, address, outcome, details, "
                 "key_id, mac) SELECT 7, at_ms + 1, actor, action, target, address, outcome, "
                 "details, key_id, mac FROM audit WHERE id = 6")
    check_broken(data, 7, "entry 7 does not match its MAC")


def forge(data, key):
    """Appends entry 7 with a MAC made under key over the documented text."""
    db = sqlite3.connect(os.path.join(data, "modeld.db"))
    last_mac, key_id, at = db.execute("SELECT mac, key_id, at_ms FROM audit WHERE id = 6").fetchone()
    fields = [b"anonymous", b"PUT /api/v1/models/{model}/traffic", b"model=iris",
              b"127.0.0.1", b"200", b"{}", key_id.encode(), last_mac.encode()]
    text = b"modeld-audit/1\n7\n%d\n" % (at + 1)
    text += b"".join(b"%d:%s\n" % (len(f), f) for f in fields)
    mac = hmac.new(key, text, hashlib.sha256).hexdigest()
    db.execute("INSERT INTO audit VALUES (7, ?, 'anonymous', "
               "'PUT /api/v1/models/{model}/traffic', 'model=iris', '127.0.0.1', '200', '{}', "
               "?, ?)", (at + 1, key_id, mac))
    db.commit()
    db.close()


def test_append_forged():
    data = copy("forged")
    forge(data, b"a guessed key, not the real one")
    check_broken(data, 7, "entry 7 does not match its MAC", online=False)
    # With the real key the entry's MAC holds, but the head record (which
    # needs the key too, and names entry 6) shows the entry was slipped in.
    data = copy("forged2")
    forge(data, open(KEY, "rb").read())
    check_broken(data, 7, "entry 7 was added after the last entry the head records (6)",
                 online=False)


def test_truncate_tail():
    data = copy("truncate")
    tamper(data, "DELETE FROM audit WHERE id >= 5")
    check_broken(data, 5, "entries 5 to 6 are missing: the tail of the chain was cut off")


def test_truncate_tail_and_head():
    data = copy("truncate2")
    tamper(data, "DELETE FROM audit WHERE id >= 4", "DELETE FROM audit_head")
    check_broken(data, 4, "the head record is missing", online=False)
    tamper(data, "INSERT INTO audit_head (id, last_id, last_mac, key_id, mac) "
                 "SELECT 1, id, mac, key_id, mac FROM audit WHERE id = 3")
    check_broken(data, 4, "the head record does not match its MAC", online=False)


def test_wrong_key():
    data = copy("wrongkey")
    other = os.path.join(TMP, "other.key")
    fd = os.open(other, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"another key, also long enough")
    os.close(fd)
    rc, out = offline(data, other)
    expect(rc == 1 and "audit chain broken at entry 1: entry 1 names key" in out, (rc, out))
    rc, out = offline(os.path.join(TMP, "nowhere"))
    expect(rc == 2 and "no store in" in out, (rc, out))
    expect(not os.path.exists(os.path.join(TMP, "nowhere")), "verify made a directory")
    p = subprocess.run([MODELD, "audit", "verify", "--data", data], capture_output=True,
                       text=True, timeout=30)
    expect(p.returncode == 2 and "--audit-key-file is required" in p.stderr, p.stderr)


if __name__ == "__main__":
    setup_base()
    run([test_untouched_verifies, test_edit, test_edit_actor_and_time, test_delete,
         test_reorder_ids, test_reorder_contents, test_append_copy, test_append_forged,
         test_truncate_tail, test_truncate_tail_and_head, test_wrong_key])
