#!/usr/bin/python3
"""The store's durability: it runs in WAL mode with synchronous=FULL; under
strace, each 2xx answer to a change (a policy, an alias) is written after a
sync of the database or its write-ahead log that followed the reading of the
request; a daemon killed with SIGKILL in the middle of a stream of changes
from several clients has every acknowledged change after a restart; and a
corrupt store stops start-up with a clear message and is left as it was.

The strace part needs strace (scripts/deps.sh test installs it) and the
right to trace a child; it says it is skipped when either is missing."""
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from harness import MODELD, Daemon, clients, expect, free_port, run
import trafficlib as T


def test_store_settings():
    repo = T.make_repo({"m": ([1], "")})
    with Daemon(repo=repo) as d:
        st, doc, _ = d.json("GET", "/api/v1/store")
        expect(st == 200, (st, doc))
        expect(doc["backend"] == "sqlite" and doc["journal_mode"] == "wal", doc)
        expect(doc["synchronous"] == "full", doc)
        expect(doc["location"].endswith("modeld.db") and doc["failed_commits"] == 0, doc)
        commits = doc["commits"]
        T.set_alias(d, "m", "x", "1")
        _, doc, _ = d.json("GET", "/api/v1/store")
        expect(doc["commits"] > commits, (commits, doc))
    shutil.rmtree(repo)


# ---- a sync before each 2xx, seen by strace ---------------------------------

SYSCALLS = "read,recvfrom,recvmsg,readv,write,sendto,sendmsg,writev,fdatasync,fsync"
CALL = re.compile(r"^(\d+)\s+(?:<\.\.\. (\w+) resumed>(.*)|(\w+)\((.*))$")
SOCKET = re.compile(r"^(\d+)<(socket:\[\d+\])>")
SYNCED = re.compile(r"^\d+<[^>]*/modeld\.db(-wal)?>")


def strace_ok():
    if shutil.which("strace") is None:
        return False
    p = subprocess.run(["strace", "-f", "-o", os.devnull, "true"], capture_output=True)
    return p.returncode == 0


def calls(log_lines):
    """(index, "entry" or "exit", syscall, its arguments and result so far) of
    the strace -f log, in the order the calls started and ended."""
    pending = {}  # pid -> (syscall, arguments) of a call not yet finished
    for i, line in enumerate(log_lines):
        m = CALL.match(line)
        if not m:
            continue
        pid = m.group(1)
        if m.group(4):
            name, args = m.group(4), m.group(5)
            if args.endswith("<unfinished ...>"):
                pending[pid] = (name, args[:-len("<unfinished ...>")])
                yield i, "entry", name, args
                continue
            yield i, "entry", name, args
            yield i, "exit", name, args
        else:
            name, first = pending.pop(pid, (m.group(2), ""))
            yield i, "exit", name, first + m.group(3)


def sync_before_replies(log_lines):
    """[(request, index of the reply, index of a sync or None)] for each PUT
    answered 2xx: a sync of the database or its WAL that ended after the last
    read of the request and before the reply's write began."""
    reading = {}  # socket -> [the PUT's request line, index of its last read]
    syncs = []
    answered = []
    for i, when, name, args in calls(log_lines):
        if name in ("fdatasync", "fsync"):
            if when == "exit" and SYNCED.match(args) and args.rstrip().endswith("= 0"):
                syncs.append(i)
            continue
        s = SOCKET.match(args)
        if not s:
            continue
        sock = s.group(2)
        if name in ("read", "recvfrom", "recvmsg", "readv") and when == "exit":
            if '"PUT /api/v1/' in args:
                reading[sock] = [args[args.index('"PUT'):][:60], i]
            elif sock in reading:
                reading[sock][1] = i
        elif name in ("write", "sendto", "sendmsg", "writev") and when == "entry":
            if sock not in reading or '"HTTP/1.1 ' not in args:
                continue
            request, last_read = reading.pop(sock)
            if re.search(r'"HTTP/1\.1 2\d\d ', args) is None:
                continue
            between = [k for k in syncs if last_read < k < i]
            answered.append((request, i, between[0] if between else None))
    return answered


def traced_children(pid):
    """The pids of the processes strace (pid) started."""
    out = []
    for tid in os.listdir("/proc/%d/task" % pid) if os.path.isdir("/proc/%d" % pid) else []:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def untraceable_leaks():
    """The environment for a traced modeld: LeakSanitizer (in an ASan build)
    cannot run under ptrace and would fail the exit; the rest of ASan runs."""
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    return env


def wait_ready(port, proc, log_path, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        expect(proc.poll() is None, "modeld under strace exited: %s" % open(log_path).read())
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/v2/health/ready")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("modeld under strace not ready after %ds" % timeout)


def policy(w):
    return {"routes": [{"name": "a", "version": "1", "weight": w},
                       {"name": "b", "version": "2", "weight": 100 - w}]}


def test_sync_precedes_each_2xx():
    if not strace_ok():
        print("skip test_sync_precedes_each_2xx: strace missing or not allowed to trace")
        return
    repo = T.make_repo({"m": ([1, 2], ""), "n": ([1, 2], "")})
    tmp = tempfile.mkdtemp(prefix="modeld-strace-")
    trace = os.path.join(tmp, "strace.log")
    port = free_port()
    log = open(os.path.join(tmp, "modeld.log"), "wb")
    proc = subprocess.Popen(["strace", "-f", "-y", "-s", "64", "-o", trace, "-e",
                             "trace=" + SYSCALLS, MODELD, "--repo", repo, "--listen",
                             "127.0.0.1:%d" % port, "--data", os.path.join(tmp, "data")],
                            stdout=log, stderr=subprocess.STDOUT, env=untraceable_leaks())

    try:
        wait_ready(port, proc, log.name)
        acked = []
        lock = threading.Lock()

        def changes(conn, i, deadline):
            model = "mn"[i % 2]
            for k in range(8):
                if i < 2:
                    conn.request("PUT", "/api/v1/models/%s/traffic" % model,
                                 json.dumps(policy(10 * (k % 5) + 5)))
                else:
                    conn.request("PUT", "/api/v1/models/%s/aliases/x%d" % (model, i),
                                 json.dumps({"version": str(1 + k % 2)}))
                r = conn.getresponse()
                data = r.read()
                expect(r.status == 200, (r.status, data))
                with lock:
                    acked.append(data)

        clients(port, 4, changes)
        expect(len(acked) == 32, len(acked))
    finally:
        # strace outlives a SIGTERM of its own: stop modeld, and strace ends with it.
        for child in traced_children(proc.pid):
            os.kill(child, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for child in traced_children(proc.pid):
                os.kill(child, signal.SIGKILL)
            proc.kill()
            proc.wait()
        log.close()
    expect(proc.returncode == 0, "modeld under strace exited %d" % proc.returncode)
    with open(trace, errors="replace") as f:
        lines = f.read().splitlines()
    answered = sync_before_replies(lines)
    expect(len(answered) == 32, "found %d answered PUTs in the trace, sent 32" % len(answered))
    missing = [a for a in answered if a[2] is None]
    expect(not missing, "%d 2xx answers written with no sync of the store after the request "
           "was read, e.g. %r" % (len(missing), missing[:3]))
    print("    %d acknowledged changes, %d distinct syncs before their answers"
          % (len(answered), len({a[2] for a in answered})))
    shutil.rmtree(tmp)
    shutil.rmtree(repo)


# ---- SIGKILL in the middle of a stream of changes ------------------------------


def test_sigkill_keeps_every_acknowledged_change():
    repo = T.make_repo({"m": ([1, 2], ""), "n": ([1, 2], "")})
    data = tempfile.mkdtemp(prefix="modeld-data-")
    rng = random.Random()
    for round_ in range(3):
        d = Daemon(repo=repo, data=data)
        # Per writer: its acknowledged changes in order, and the one in flight.
        acked = {i: [] for i in range(6)}
        flying = {}
        try:
            start_revs = {m: T.traffic(d, m)["revision"] for m in "mn"}
            first_id = T.events(d, limit=1)["events"][0]["id"]
            had = {m: T.aliases(d, m) for m in "mn"}

            def changes(conn, i, deadline):
                model = "mn"[i % 2]
                k = 0
                while time.time() < deadline:
                    if i < 2:  # one policy writer per model
                        w = rng.randrange(1, 100)
                        flying[i] = ("policy", model, w)
                        path, body = "/api/v1/models/%s/traffic" % model, policy(w)
                    else:  # an alias of its own per writer
                        v = str(1 + k % 2)
                        flying[i] = ("alias", model, v)
                        path, body = "/api/v1/models/%s/aliases/w%d" % (model, i), {"version": v}
                    try:
                        conn.request("PUT", path, json.dumps(body))
                        r = conn.getresponse()
                        body = r.read()
                    except (OSError, http.client.HTTPException):
                        return  # killed: this one is in flight
                    expect(r.status == 200, (r.status, body))
                    doc = json.loads(body)
                    acked[i].append(flying.pop(i) + (doc.get("revision"),))
                    k += 1

            errors = []
            runner = threading.Thread(target=clients, args=(d.port, 6, changes, 30, errors))
            runner.start()
            time.sleep(rng.uniform(0.2, 0.8))
            d.proc.kill()
            d.proc.wait()
            runner.join()
            expect(not errors, errors[:3])
        finally:
            if d.proc.poll() is None:
                d.proc.kill()
            d.stop(check=False)
            shutil.rmtree(d.tmp, ignore_errors=True)
        n = sum(len(a) for a in acked.values())
        expect(n >= 10, "only %d changes acknowledged before the kill" % n)
        print("    round %d: %d changes acknowledged, %d in flight at the kill"
              % (round_, n, len(flying)))
        with Daemon(repo=repo, data=data) as d:
            for i, done in acked.items():
                if not done:
                    continue
                kind, model = done[-1][0], done[-1][1]
                if kind == "alias":
                    got = T.aliases(d, model).get("w%d" % i)
                    ok = {done[-1][2]} | ({flying[i][2]} if i in flying else set())
                    expect(got in ok, "alias w%d of %s is %r after the kill; acknowledged %r, "
                           "in flight %r" % (i, model, got, done[-1], flying.get(i)))
                    # Each acknowledged move has its event, in order (a first
                    # PUT naming the value the alias had already is no move).
                    evs = T.all_events(d, model=model, kind="alias_moved")
                    mine = [str(e["details"]["version"]) for e in reversed(evs)
                            if e["details"]["alias"] == "w%d" % i and e["id"] > first_id]
                    want = [a[2] for a in done]
                    if had[model].get("w%d" % i) == want[0]:
                        want = want[1:]
                    expect(mine[:len(want)] == want and len(mine) <= len(want) + 1,
                           "alias w%d: events %r, acknowledged %r" % (i, mine, want))
                else:
                    pol = T.traffic(d, model)
                    last_rev, last_w = done[-1][3], done[-1][2]
                    expect(pol["revision"] >= last_rev, (pol, done[-1]))
                    if pol["revision"] == last_rev:
                        expect(T.routes(pol)["a"][1] == last_w, (pol, done[-1]))
                    else:
                        expect(pol["revision"] == last_rev + 1 and i in flying and
                               T.routes(pol)["a"][1] == flying[i][2], (pol, done[-1], flying))
                    revs = {e["details"]["revision"] for e in
                            T.all_events(d, model=model, kind="policy_changed")}
                    lost = [a for a in done if a[3] not in revs]
                    expect(not lost, "acknowledged policies with no event: %r" % lost[:3])
                    expect(done[0][3] == start_revs[model] + 1, (done[0], start_revs))
            _, doc, _ = d.json("GET", "/api/v1/store")
            expect(doc["failed_commits"] == 0, doc)
    shutil.rmtree(repo)
    shutil.rmtree(data)


# ---- a corrupt store ------------------------------------------------------------

def start_fails(repo, data):
    port = free_port()
    p = subprocess.run([MODELD, "--repo", repo, "--listen", "127.0.0.1:%d" % port, "--data",
                        data], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_corrupt_store_stops_start_and_is_left_alone():
    repo = T.make_repo({"m": ([1, 2], "")})
    data = tempfile.mkdtemp(prefix="modeld-data-")
    with Daemon(repo=repo, data=data) as d:
        for k in range(20):
            T.set_alias(d, "m", "a%d" % k, "1")
    db = os.path.join(data, "modeld.db")
    good = open(db, "rb").read()
    expect(len(good) >= 8192, len(good))
    rng = random.Random(7)
    for how, fragment in (("garbage", "not a SQLite database"),
                          ("pages", "")):  # SQLite's words for what it found
        if how == "garbage":
            bad = bytes(rng.randrange(256) for _ in range(len(good)))
        else:  # the header kept, every page after the first overwritten
            page = int.from_bytes(good[16:18], "big") or 65536
            bad = good[:page] + bytes(rng.randrange(256) for _ in range(len(good) - page))
        with open(db, "wb") as f:
            f.write(bad)
        for name in os.listdir(data):
            if name.startswith("modeld.db-"):
                os.remove(os.path.join(data, name))
        before = digest(db)
        listing = sorted(os.listdir(data))
        rc, out = start_fails(repo, data)
        expect(rc != 0, "modeld started on a %s store:\n%s" % (how, out[-2000:]))
        expect("the store %s is corrupt: " % db in out and fragment in out and
               "it was left as it is" in out, "%s: %s" % (how, out[-2000:]))
        print("    %s: %s" % (how, [l for l in out.splitlines() if "corrupt" in l][0][:300]))
        expect(digest(db) == before, "the %s store was changed" % how)
        # SQLite's own companions of a WAL database may appear, the WAL empty.
        added = sorted(set(os.listdir(data)) - set(listing))
        wal = os.path.join(data, "modeld.db-wal")
        expect(set(added) <= {"modeld.db-wal", "modeld.db-shm"}, "%s: added %r" % (how, added))
        expect(not os.path.exists(wal) or os.path.getsize(wal) == 0, "%s: WAL written" % how)
        expect(set(listing) <= set(os.listdir(data)), "files removed")
    # The good file back: the store opens with everything in it.
    with open(db, "wb") as f:
        f.write(good)
    with Daemon(repo=repo, data=data) as d:
        expect(len(T.aliases(d, "m")) == 21, T.aliases(d, "m"))
    shutil.rmtree(repo)
    shutil.rmtree(data)


if __name__ == "__main__":
    run([test_store_settings, test_sync_precedes_each_2xx,
         test_sigkill_keeps_every_acknowledged_change,
         test_corrupt_store_stops_start_and_is_left_alone])
