#!/usr/bin/python3
"""The audit log against a real daemon started with --audit-key-file: every
call that changes state is an entry (the principal, the method and route
pattern, the target the path names, the client's address, the status and
the error's text, the request id) whatever its outcome, and nothing else is
(inferences, reads); an entry is stored before its answer (SIGKILL right
after a 2xx loses none); control's own decisions (a rollout started and
aborted) are entries by "control:rollout", a retention step of the prediction
log one by "control:retention", what the configuration file stores one by
"config"; GET /api/v1/audit filters by
actor, action, target and time and pages both ways, and refuses bad filters
naming them; GET /api/v1/audit/verify finds the chain whole. Without a key
the daemon says plainly that the log is off and records nothing; a key file
others may read, or too short, stops the start naming the file."""
import atexit
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time

from harness import MODELD, Daemon, expect, expect_error, run, v2_row, wait_for
import rolloutlib as rl


def key_file(text="k" * 32, mode=0o600):
    d = tempfile.mkdtemp(prefix="modeld-audit-key-")
    atexit.register(shutil.rmtree, d, True)
    path = os.path.join(d, "audit.key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    os.write(fd, text.encode())
    os.close(fd)
    os.chmod(path, mode)
    return path


def entries(d, query=""):
    st, doc, _ = d.json("GET", "/api/v1/audit" + query)
    expect(st == 200, "GET /api/v1/audit%s: %d %r" % (query, st, doc))
    return doc


def verified(d):
    st, doc, _ = d.json("GET", "/api/v1/audit/verify")
    expect(st == 200 and doc["ok"] is True and doc["first_bad"] is None, (st, doc))
    return doc


def test_calls_recorded_before_their_answer():
    key = key_file()
    with Daemon(args=["--audit-key-file", key]) as d:
        expect("the audit log is on" in d.logs(), d.logs())
        # Reads and inferences are not entries.
        st, _, _ = d.request("GET", "/api/v1/models/iris/aliases")
        expect(st == 200, st)
        st, _, _ = d.request("POST", "/v2/models/bench/infer",
                             v2_row([0.1] * 8), {"Content-Type": "application/json"})
        doc = entries(d)
        expect(doc["audit"] == "on" and doc["entries"] == [], doc)
        # A change that succeeds, one refused by the handler, one refused by the route.
        st, _, h1 = d.request("PUT", "/api/v1/models/iris/aliases/prod", {"version": 1})
        expect(st == 200, st)
        st, _, h2 = d.request("PUT", "/api/v1/models/iris/aliases/prod", {"version": 99})
        expect(st == 400, st)
        st, _, h3 = d.request("DELETE", "/api/v1/strategies/nope")
        expect(st == 404, st)
        st, _, _ = d.request("POST", "/v2/repository/models/iris/unload")
        expect(st == 200, st)
        es = entries(d)["entries"]
        expect([e["id"] for e in es] == [4, 3, 2, 1], es)
        e = es[3]
        expect(e["actor"] == "anonymous" and e["address"] == "127.0.0.1", e)
        expect(e["action"] == "PUT /api/v1/models/{model}/aliases/{alias}", e)
        expect(e["target"] == "model=iris alias=prod" and e["outcome"] == "200", e)
        expect(e["details"] == {"request_id": h1["x-request-id"]}, e)
        expect(len(e["mac"]) == 64 and len(e["key_id"]) == 8, e)
        expect(es[2]["outcome"] == "400 version: model 'iris' has no version 99", es[2])
        expect(es[2]["details"]["request_id"] == h2["x-request-id"], es[2])
        expect(es[1]["action"] == "DELETE /api/v1/strategies/{name}", es[1])
        expect(es[1]["target"] == "name=nope" and es[1]["outcome"].startswith("404 "), es[1])
        expect(es[1]["details"]["request_id"] == h3["x-request-id"], es[1])
        expect(es[0]["action"] == "POST /v2/repository/models/{model}/unload", es[0])
        doc = verified(d)
        expect(doc["entries"] == 4 and doc["head"] == 4, doc)
        # Each 2xx is answered once its entry is stored: a SIGKILL right after loses none.
        for i in range(5):
            st, _, _ = d.request("PUT", "/api/v1/models/iris/aliases/a%d" % i, {"version": 1})
            expect(st == 200, st)
        d.proc.kill()
        d.proc.wait(10)
        d.proc = subprocess.Popen(d.args, stdout=d.log, stderr=subprocess.STDOUT)
        d.wait_ready()
        es = entries(d, "?action=PUT&target=iris")["entries"]
        expect([e["target"] for e in es[:5]] ==
               ["model=iris alias=a%d" % i for i in (4, 3, 2, 1, 0)], es)
        expect(verified(d)["entries"] == 9, "after the restart")


def test_concurrent_changes():
    """Changes from several connections at once (their requests park while
    the store works): every one has its entry, with its own request id, and
    the chain holds."""
    key = key_file()
    with Daemon(args=["--audit-key-file", key]) as d:
        ids = []
        errors = []

        def client(n):
            for i in range(10):
                try:
                    st, _, h = d.request("PUT", "/api/v1/models/iris/aliases/c%d-%d" % (n, i),
                                         {"version": 1})
                    if st != 200:
                        errors.append(st)
                    ids.append(h["x-request-id"])
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        expect(not errors, errors)
        es = entries(d, "?limit=1000")["entries"]
        expect(sorted(e["details"]["request_id"] for e in es) == sorted(ids), es[:3])
        expect(all(e["outcome"] == "200" for e in es), es)
        expect(verified(d)["entries"] == 40, "verify")


def test_records_bodies_keep_their_errors():
    """Feedback and review answers carry records: their entries keep the
    status, not the error's text, which may quote a record's values."""
    key = key_file()
    with Daemon(args=["--audit-key-file", key]) as d:
        st, doc, _ = d.json("POST", "/api/v1/feedback", {"items": [{"secret": "alice@example"}]})
        expect(st == 400 and "secret" in json.dumps(doc), (st, doc))
        st, _, _ = d.request("POST", "/api/v1/review/99999", {"verdict": "alice@example"})
        expect(st >= 400, st)
        es = entries(d)["entries"]
        expect([(e["action"], e["outcome"]) for e in es] ==
               [("POST /api/v1/review/{id}", str(st)), ("POST /api/v1/feedback", "400")], es)
        expect("alice" not in json.dumps(es), es)


def test_filters_and_paging():
    key = key_file()
    with Daemon(args=["--audit-key-file", key]) as d:
        t0 = int(time.time() * 1000)
        for i in range(6):
            st, _, _ = d.request("PUT", "/api/v1/models/%s/aliases/x" %
                                 ("iris" if i % 2 else "fraud"), {"version": 1})
            expect(st == 200, st)
        st, _, _ = d.request("DELETE", "/api/v1/models/iris/aliases/x")
        expect(st == 200, st)
        ids = lambda q: [e["id"] for e in entries(d, q)["entries"]]
        expect(ids("") == [7, 6, 5, 4, 3, 2, 1], ids(""))
        expect(ids("?actor=anonymous&limit=3") == [7, 6, 5], "limit")
        expect(ids("?actor=someone") == [], "actor")
        expect(ids("?action=DELETE") == [7], "action prefix")
        expect(ids("?target=model%3Dfraud") == [5, 3, 1], "target word")
        expect(ids("?target=iris") == [7, 6, 4, 2], "target value")
        expect(ids("?target=iri") == [], "target part of a word")
        expect(ids("?since=%d" % t0) == [7, 6, 5, 4, 3, 2, 1], "since")
        expect(ids("?until=%d" % t0) == [], "until")
        doc = entries(d, "?limit=3")
        expect(doc["next_before"] == 5, doc)
        doc = entries(d, "?limit=3&before=5")
        expect([e["id"] for e in doc["entries"]] == [4, 3, 2] and doc["next_before"] == 2, doc)
        doc = entries(d, "?after=0&limit=4")
        expect([e["id"] for e in doc["entries"]] == [1, 2, 3, 4] and doc["next_after"] == 4, doc)
        doc = entries(d, "?after=4&limit=4")
        expect([e["id"] for e in doc["entries"]] == [5, 6, 7] and "next_after" not in doc, doc)
        for q, fragment in [("?limit=0", "limit"), ("?limit=1001", "limit"),
                            ("?before=x", "before"), ("?after=-1", "after"),
                            ("?since=yesterday", "since"), ("?until=2026-13-01", "until"),
                            ("?before=3&after=1", "before and after"),
                            ("?actor=" + "a" * 200, "actor")]:
            st, doc, _ = d.json("GET", "/api/v1/audit" + q)
            expect_error(st, doc, 400, fragment)
        expect(verified(d)["entries"] == 7, "verify")


def test_control_decisions_recorded():
    key = key_file()
    build = lambda repo: rl.trees_model(repo, "ops", {1: rl.BINARY, 2: rl.BINARY})
    with rl.RolloutDaemon(build, args=["--audit-key-file", key]) as d:
        doc = rl.start(d, "ops", {"candidate": "1", "strategy": {
            "kind": "canary", "steps": [50, 100], "interval_s": 60, "min_requests": 1000}})
        rid = doc["id"]
        rl.command(d, "ops", rid, "abort", note="wrong candidate")

        def decided():
            acts = [e["action"] for e in entries(d, "?actor=control:rollout")["entries"]]
            return "rollout.aborted" in acts and "rollout.started" in acts

        expect(wait_for(decided, 15), entries(d))
        es = entries(d, "?actor=control:rollout")["entries"]
        for e in es:
            expect(e["target"] == "model=ops rollout=%s version=1" % rid, e)
            expect(e["address"] is None and e["outcome"], e)
        calls = entries(d, "?actor=anonymous")["entries"]
        expect([e["action"] for e in calls] ==
               ["POST /api/v1/models/{model}/rollouts/{id}/abort",
                "POST /api/v1/models/{model}/rollouts"], calls)
        expect(calls[1]["outcome"] == "201", calls)
        verified(d)


def test_retention_recorded():
    """Prediction records past --log-horizon-days, written into the store
    between two runs, are removed by the control loop: an entry by
    control:retention says how many."""
    key = key_file()
    tmp = tempfile.mkdtemp(prefix="modeld-audit-ret-")
    atexit.register(shutil.rmtree, tmp, True)
    data = os.path.join(tmp, "data")
    with Daemon(data=data, args=["--audit-key-file", key]):
        pass  # the store, made
    db = sqlite3.connect(os.path.join(data, "modeld.db"), timeout=10)
    at = int(time.time() * 1000) - 3 * 86400 * 1000
    with db:
        for i in range(20):
            db.execute("INSERT INTO predictions (request_id, row, at_ms, model, version, route, "
                       "shadow, status, latency_us, keys, features, label, score, outputs) "
                       "VALUES (?, 0, ?, 'iris', 1, 'stable', 0, 200, 10, '{}', '[]', NULL, "
                       "NULL, '{}')", ("old-%d" % i, at))
    db.close()
    with Daemon(data=data, args=["--audit-key-file", key, "--log-horizon-days", "2"]) as d:
        def removed():
            es = entries(d, "?actor=control:retention&action=retention.predictions")["entries"]
            return sum(e["details"]["removed"] for e in es) == 20

        expect(wait_for(removed, 20), entries(d))
        verified(d)


def test_configuration_file_recorded():
    """Strategies and alert rules the configuration file stores at start are
    entries by "config"; a second start with the same file adds none."""
    key = key_file()
    tmp = tempfile.mkdtemp(prefix="modeld-audit-cfg-")
    atexit.register(shutil.rmtree, tmp, True)
    cfg = os.path.join(tmp, "modeld.yaml")
    with open(cfg, "w") as f:
        f.write("strategies:\n  slow:\n    kind: canary\n"
                "alert_rules:\n  errs:\n    metric: error_rate\n    model: bench\n"
                "    op: \">\"\n    threshold: 0.1\n    window: 1m\n")
    data = os.path.join(tmp, "data")
    for run_no in range(2):
        with Daemon(data=data, args=["--audit-key-file", key, "--config", cfg]) as d:
            es = entries(d, "?actor=config")["entries"]
            expect(sorted((e["action"], e["target"]) for e in es) ==
                   [("alert_rule.stored", "name=errs"), ("strategy.stored", "name=slow")],
                   (run_no, es))
            verified(d)


def test_off_without_a_key():
    with Daemon() as d:
        expect("the audit log is off" in d.logs(), d.logs())
        st, _, _ = d.request("PUT", "/api/v1/models/iris/aliases/prod", {"version": 1})
        expect(st == 200, st)
        doc = entries(d)
        expect(doc == {"audit": "off", "entries": []}, doc)
        st, doc, _ = d.json("GET", "/api/v1/audit/verify")
        expect_error(st, doc, 503, "the audit log is off")


def start_fails(key, fragment):
    d = tempfile.mkdtemp(prefix="modeld-audit-")
    atexit.register(shutil.rmtree, d, True)
    p = subprocess.run([MODELD, "--repo", os.path.join(d, "repo"), "--data",
                        os.path.join(d, "data"), "--listen", "127.0.0.1:0",
                        "--audit-key-file", key], capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    expect(p.returncode != 0 and fragment in out and "cannot start the audit log" in out,
           (p.returncode, out))


def test_bad_key_files():
    start_fails(key_file(mode=0o644), "audit.key")
    start_fails(key_file(text="short"), "16 to 1024")
    start_fails("/nonexistent/audit.key", "/nonexistent/audit.key")


def test_offline_token_recorded():
    """`modeld token create --audit-key-file` records the token's making in the chain (actor
    offline), in the transaction that stores it; without the key it says it is not recorded."""
    key = key_file()
    tmp = tempfile.mkdtemp(prefix="modeld-audit-offline-")
    atexit.register(shutil.rmtree, tmp, True)
    data = os.path.join(tmp, "data")
    with Daemon(args=["--audit-key-file", key], data=data) as d:
        verified(d)
    p = subprocess.run([MODELD, "token", "create", "--role", "viewer", "--name", "night-job",
                        "--data", data, "--audit-key-file", key], capture_output=True, text=True,
                       timeout=30)
    expect(p.returncode == 0 and p.stdout.startswith("mdt_"), (p.returncode, p.stderr))
    secret = p.stdout.strip()
    p = subprocess.run([MODELD, "token", "create", "--role", "viewer", "--name", "unrecorded",
                        "--data", data], capture_output=True, text=True, timeout=30)
    expect(p.returncode == 0 and "does not record" in p.stderr, (p.returncode, p.stderr))
    p = subprocess.run([MODELD, "token", "create", "--role", "viewer", "--name", "badkey",
                        "--data", data, "--audit-key-file", key_file(mode=0o644)],
                       capture_output=True, text=True, timeout=30)
    expect(p.returncode == 1 and "--audit-key-file" in p.stderr and not p.stdout, p)
    with Daemon(args=["--audit-key-file", key], data=data) as d:
        doc = entries(d, "?actor=offline")
        made = [e for e in doc["entries"] if e["action"] == "token.create"]
        expect(len(made) == 1 and made[0]["target"] == "token=night-job role=viewer" and
               made[0]["outcome"] == "ok", doc)
        expect(secret not in json.dumps(doc), "the secret is in the audit log")
        verified(d)


if __name__ == "__main__":
    run([test_calls_recorded_before_their_answer, test_concurrent_changes,
         test_records_bodies_keep_their_errors, test_filters_and_paging,
         test_control_decisions_recorded, test_retention_recorded,
         test_configuration_file_recorded, test_off_without_a_key,
         test_bad_key_files, test_offline_token_recorded])
