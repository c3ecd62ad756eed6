#!/usr/bin/python3
"""Alert rules end to end: a real HTTP receiver on loopback (http.server in
this process) gets the firing and then the resolved notification, in
Alertmanager's webhook format, when a rule's condition starts and stops
holding under real requests; a receiver that answers 500 first gets the
notification after retries, counted in /metrics; traffic events reach a
receiver that takes them; bad rules get 400 naming the field and change
nothing; the configuration file's rules cannot be changed through the API;
rules, history and a firing alert survive a restart; a bad rules section
stops start-up naming the file, line and field."""
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

from harness import MODELD, Daemon, expect, expect_error, make_repo, run, v2_row, wait_for

BAD_ROW = {"inputs": [{"name": "f0", "datatype": "FP32", "shape": [1, 1], "data": ["x"]}]}


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST (path, headers,
    parsed body) and answers each with the next status of `statuses`, then 200."""

    def __init__(self, statuses=(), gate=None):
        """gate: a threading.Event each POST waits for before it is read (a
        receiver slow to answer, until the test sets it)."""
        self.posts = []
        self.statuses = list(statuses)
        self.lock = threading.Lock()
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                if gate is not None:
                    gate.wait(30)
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with rec.lock:
                    status = rec.statuses.pop(0) if rec.statuses else 200
                    rec.posts.append((self.path, dict(self.headers), json.loads(body), status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def alerts(self, status=None, path=None, rule=None):
        with self.lock:
            return [b for (p, _, b, st) in self.posts
                    if b.get("version") == "4" and st == 200 and (status is None or b["status"] == status)
                    and (path is None or p == path)
                    and (rule is None or b["groupLabels"]["alertname"] == rule)]

    def events(self):
        with self.lock:
            return [b for (_, _, b, _) in self.posts if b.get("kind") == "event"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def config(tmp, text):
    path = os.path.join(tmp, "modeld.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


RULE = {"metric": "success_rate", "model": "bench", "op": "<", "threshold": 0.5, "window": "4s",
        "for": "1s", "severity": "critical", "labels": {"team": "risk"},
        "annotations": {"summary": "bench answers bad requests"}}


def bad_requests(d, n=6):
    for _ in range(n):
        st, _, _ = d.request("POST", "/v2/models/bench/infer", BAD_ROW)
        expect(st == 400, st)


def good_requests(d, n=30):
    for _ in range(n):
        st, _, _ = d.request("POST", "/v2/models/bench/infer", v2_row([0.5] * 30))
        expect(st == 200, st)


def metric(d, name):
    st, data, _ = d.request("GET", "/metrics")
    expect(st == 200, st)
    total = 0.0
    for line in data.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def history(d, rule):
    """The states of rule's stored changes, newest first."""
    st, doc, _ = d.json("GET", "/api/v1/alerts?history=true&rule=" + rule)
    expect(st == 200, doc)
    return [h["state"] for h in doc["history"]]


def rules_in_force(d, n):
    """Waits until the evaluator holds n rules (a rule put through the API is
    read back within a second of its commit)."""
    expect(wait_for(lambda: metric(d, "modeld_alert_rules") == n, 10), "rules not read back")


def evaluated(d, more=2):
    """Waits until the rules have been evaluated `more` more times."""
    start = metric(d, "modeld_alert_evaluations_total")
    expect(wait_for(lambda: metric(d, "modeld_alert_evaluations_total") >= start + more, 10),
           "rules not evaluated")


def test_firing_then_resolved():
    rec = Receiver()
    tmp = tempfile.mkdtemp(prefix="modeld-alerts-")
    try:
        cfg = config(tmp, "receivers:\n  ops:\n    url: %s\n    headers: {X-Token: s3cret}\n"
                          "    events: true\n" % rec.url())
        with Daemon(examples=False, args=["--config", cfg]) as d:
            st, doc, _ = d.json("PUT", "/api/v1/alert-rules/bench_bad_input", RULE)
            expect(st == 200 and doc["rule"]["op"] == "<" and doc["source"] == "api", doc)
            # The rule's change is a traffic event, sent to the receiver that takes events.
            expect(wait_for(lambda: any(e["event"]["kind"] == "alert_rule_stored"
                                        for e in rec.events()), 10), rec.posts)
            ev = [e for e in rec.events() if e["event"]["kind"] == "alert_rule_stored"][0]
            expect(ev["receiver"] == "ops" and ev["event"]["model"] == "bench"
                   and "bench_bad_input" in ev["event"]["message"], ev)
            # No data: nothing fires while bench gets no request.
            rules_in_force(d, 1)
            evaluated(d)
            expect(metric(d, "modeld_alert_evaluations_no_data_total") >= 2, "data?")
            expect(rec.alerts() == [], rec.alerts())
            st, doc, _ = d.json("GET", "/api/v1/alerts")
            expect(st == 200 and doc["alerts"] == [], doc)

            bad_requests(d)
            expect(wait_for(lambda: d.json("GET", "/api/v1/alerts?state=pending")[1]["alerts"]
                            or rec.alerts("firing"), 10), "never pending")
            expect(wait_for(lambda: rec.alerts("firing"), 10), "no firing notification")
            body = rec.alerts("firing")[0]
            path, headers = [(p, h) for (p, h, b, _) in rec.posts if b is body][0]
            expect(path == "/hook" and headers.get("X-Token") == "s3cret"
                   and headers.get("Content-Type") == "application/json", headers)
            expect(body["version"] == "4" and body["receiver"] == "ops"
                   and body["groupKey"] == '{}:{alertname="bench_bad_input"}'
                   and body["groupLabels"] == {"alertname": "bench_bad_input"}
                   and body["truncatedAlerts"] == 0
                   and body["externalURL"] == "http://127.0.0.1:%d" % d.port, body)
            labels = {"alertname": "bench_bad_input", "metric": "success_rate", "model": "bench",
                      "severity": "critical", "team": "risk"}
            expect(body["commonLabels"] == labels, body["commonLabels"])
            expect(body["commonAnnotations"] == {"summary": "bench answers bad requests"}, body)
            expect(len(body["alerts"]) == 1, body)
            a = body["alerts"][0]
            expect(a["status"] == "firing" and a["labels"] == labels
                   and a["endsAt"] == "0001-01-01T00:00:00Z" and a["startsAt"].endswith("Z")
                   and len(a["fingerprint"]) == 16
                   and a["generatorURL"].endswith("/api/v1/alert-rules/bench_bad_input"), a)
            st, doc, _ = d.json("GET", "/api/v1/alerts?state=firing")
            expect(st == 200 and len(doc["alerts"]) == 1 and doc["alerts"][0]["value"] == 0
                   and doc["alerts"][0]["fingerprint"] == a["fingerprint"], doc)
            st, doc, _ = d.json("GET", "/api/v1/alerts?rule=other")
            expect(st == 200 and doc["alerts"] == [], doc)
            st, doc, _ = d.json("GET", "/api/v1/alerts?model=bench&rule=bench_bad_input")
            expect(st == 200 and len(doc["alerts"]) == 1, doc)

            # Good requests: the share of successes rises above the threshold.
            good_requests(d)
            expect(wait_for(lambda: rec.alerts("resolved"), 10), "no resolved notification")
            r = rec.alerts("resolved")[0]["alerts"][0]
            expect(r["status"] == "resolved" and r["fingerprint"] == a["fingerprint"]
                   and r["startsAt"] == a["startsAt"] and r["endsAt"] > a["startsAt"], r)
            expect(len(rec.alerts("firing")) == 1, rec.alerts("firing"))
            st, doc, _ = d.json("GET", "/api/v1/alerts")
            expect(doc["alerts"] == [], doc)
            expect(wait_for(lambda: history(d, "bench_bad_input")
                            == ["resolved", "firing", "pending"], 10), history(d, "bench_bad_input"))
            st, doc, _ = d.json("GET", "/api/v1/alerts?history=true&limit=1")
            expect(len(doc["history"]) == 1 and "next_before" in doc, doc)
            st, doc, _ = d.json("GET", "/api/v1/alerts?history=true&before=%d" % doc["next_before"])
            expect([h["state"] for h in doc["history"]] == ["firing", "pending"], doc)
            # Counted once the receiver's answer is in.
            expect(wait_for(lambda: metric(d, "modeld_notifications_sent_total") >= 2, 10),
                   "sent not counted")
            # The families of alerting pass promtool's checks, a receiver's label included.
            text = d.request("GET", "/metrics")[1].decode()
            expect('modeld_notifications_sent_total{receiver="ops"}' in text, text[-2000:])
            p = subprocess.run([shutil.which("promtool") or "promtool", "check", "metrics"],
                               input=text, capture_output=True, text=True, timeout=60)
            expect(p.returncode == 0, "promtool: %s%s" % (p.stdout, p.stderr))
            expect("alert firing" in d.logs() and "alert resolved" in d.logs(), "not logged")
    finally:
        rec.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_retries_after_500():
    rec = Receiver(statuses=[500, 503])
    tmp = tempfile.mkdtemp(prefix="modeld-alerts-")
    try:
        cfg = config(tmp, "receivers:\n  flaky:\n    url: %s\n    send_resolved: false\n"
                          "  other:\n    url: %s\n" % (rec.url("/flaky"), rec.url("/other")))
        rule = dict(RULE, **{"for": "0s", "receivers": ["flaky"]})
        with Daemon(examples=False, args=["--config", cfg]) as d:
            st, doc, _ = d.json("PUT", "/api/v1/alert-rules/flaky_rule", rule)
            expect(st == 200, doc)
            rules_in_force(d, 1)
            bad_requests(d)
            expect(wait_for(lambda: rec.alerts("firing", "/flaky"), 15), rec.posts)
            with rec.lock:
                tried = [st for (p, _, _, st) in rec.posts if p == "/flaky"]
            expect(tried == [500, 503, 200], tried)
            expect(wait_for(lambda: metric(d, "modeld_notifications_retried_total") == 2, 5),
                   "retries not counted")
            expect(wait_for(lambda: metric(d, "modeld_notifications_sent_total") == 1, 10), "sent")
            expect(metric(d, "modeld_notifications_failed_total") == 0, "failed")
            # Routed to flaky only; and flaky takes no resolved notification.
            good_requests(d)
            expect(wait_for(lambda: not d.json("GET", "/api/v1/alerts")[1]["alerts"], 10),
                   "not resolved")
            evaluated(d)
            expect(wait_for(lambda: metric(d, "modeld_notifications_queued") == 0, 10), "queued")
            expect(rec.alerts(path="/other") == [] and rec.alerts("resolved") == [], rec.posts)
    finally:
        rec.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_slow_receiver_holds_back_no_other():
    gate = threading.Event()
    slow = Receiver(gate=gate)
    fast = Receiver()
    tmp = tempfile.mkdtemp(prefix="modeld-alerts-")
    try:
        cfg = config(tmp, "receivers:\n  slow:\n    url: %s\n  fast:\n    url: %s\n"
                     % (slow.url(), fast.url()))
        with Daemon(examples=False, args=["--config", cfg]) as d:
            st, doc, _ = d.json("PUT", "/api/v1/alert-rules/both", dict(RULE, **{"for": "0s"}))
            expect(st == 200, doc)
            rules_in_force(d, 1)
            bad_requests(d)
            # slow holds its POST open; fast gets its copy meanwhile, well within
            # the 5 s a POST may take.
            expect(wait_for(lambda: fast.alerts("firing"), 3), "fast receiver held back")
            expect(slow.alerts() == [], slow.posts)
            gate.set()
            expect(wait_for(lambda: slow.alerts("firing"), 10), "slow receiver never served")
    finally:
        gate.set()
        slow.close()
        fast.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_bad_rules_change_nothing():
    tmp = tempfile.mkdtemp(prefix="modeld-alerts-")
    try:
        cfg = config(tmp, "alert_rules:\n  from_file:\n    metric: error_rate\n    model: bench\n"
                          "    op: \">\"\n    threshold: 0.1\n    window: 1m\n")
        with Daemon(examples=False, args=["--config", cfg]) as d:
            cases = [
                (dict(RULE, metric="no_such_metric"), "metric"),
                (dict(RULE, op="=>"), "op"),
                (dict(RULE, window="-5s"), "window"),
                (dict(RULE, window=-5), "window"),
                (dict(RULE, **{"for": "5 minutes"}), "for"),
                (dict(RULE, threshold="high"), "threshold"),
                (dict(RULE, severity="urgent"), "severity"),
                (dict(RULE, labels={"model": "x"}), "labels.model"),
                (dict(RULE, receivers=["nobody"]), "receivers[0]"),
                ({k: v for k, v in RULE.items() if k != "model"}, "model"),
                (dict(RULE, colour="red"), "colour"),
                ("{not json", "rule"),
            ]
            for body, field in cases:
                st, doc, _ = d.json("PUT", "/api/v1/alert-rules/r1", body)
                expect_error(st, doc, 400, field)
            st, doc, _ = d.json("PUT", "/api/v1/alert-rules/r1",
                                dict(RULE, annotations={"a%d" % i: "x" * 2000 for i in range(32)},
                                     labels={"l%d" % i: "y" * 200 for i in range(32)}))
            expect_error(st, doc, 413, "rule: larger than")
            st, doc, _ = d.json("PUT", "/api/v1/alert-rules/bad%20name", RULE)
            expect_error(st, doc, 400, "name")
            st, doc, _ = d.json("GET", "/api/v1/alert-rules")
            expect([r["name"] for r in doc["alert_rules"]] == ["from_file"], doc)
            expect(doc["alert_rules"][0]["source"] == "file", doc)
            # The file's rule belongs to the file.
            st, doc, _ = d.json("PUT", "/api/v1/alert-rules/from_file", RULE)
            expect_error(st, doc, 409, "configuration file")
            st, doc, _ = d.json("DELETE", "/api/v1/alert-rules/from_file")
            expect_error(st, doc, 409, "configuration file")
            st, doc, _ = d.json("DELETE", "/api/v1/alert-rules/nothing")
            expect_error(st, doc, 404, "nothing")
            st, doc, _ = d.json("GET", "/api/v1/alert-rules/nothing")
            expect_error(st, doc, 404, "nothing")
            for q, field in [("state=resolved", "state"),
                             ("history=maybe", "history: 'maybe' is not true or false"),
                             ("rule=" + "r" * 300, "rule: longer than"),
                             ("history=true&limit=0", "limit"), ("history=true&before=x", "before")]:
                st, doc, _ = d.json("GET", "/api/v1/alerts?" + q)
                expect_error(st, doc, 400, field)
            st, doc, _ = d.json("GET", "/api/v1/alert-rules/from_file")
            expect(st == 200 and doc["rule"]["window"] == "1m" and doc["rule"]["op"] == ">", doc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_rules_and_alerts_survive_restart():
    rec = Receiver()
    tmp = tempfile.mkdtemp(prefix="modeld-alerts-")
    data = os.path.join(tmp, "data")
    repo = make_repo(os.path.join(tmp, "repo"), examples=False)
    try:
        cfg = config(tmp, "receivers:\n  ops:\n    url: %s\n" % rec.url())
        args = ["--config", cfg]
        with Daemon(repo=repo, data=data, args=args) as d:
            st, doc, _ = d.json("PUT", "/api/v1/alert-rules/kept", dict(RULE, window="30s"))
            expect(st == 200, doc)
            st, doc, _ = d.json("PUT", "/api/v1/alert-rules/gone", RULE)
            expect(st == 200, doc)
            st, doc, _ = d.json("DELETE", "/api/v1/alert-rules/gone")
            expect(st == 200 and doc["removed"] is True, doc)
            rules_in_force(d, 1)
            bad_requests(d)
            expect(wait_for(lambda: rec.alerts("firing", rule="kept"), 10), "no firing notification")
            expect(rec.alerts("resolved", rule="kept") == [], rec.posts)
        # Restarted on the same store: the rule, its history and its firing alert.
        with Daemon(repo=repo, data=data, args=args) as d:
            st, doc, _ = d.json("GET", "/api/v1/alert-rules")
            expect([r["name"] for r in doc["alert_rules"]] == ["kept"], doc)
            expect(doc["alert_rules"][0]["rule"]["window"] == "30s", doc)
            # The firing alert carried on: the requests that fired it are gone with
            # the old process, so it is resolved (no data), and notified as the
            # same alert (same fingerprint and startsAt).
            expect(wait_for(lambda: rec.alerts("resolved", rule="kept"), 10),
                   "not resolved after restart")
            fired = rec.alerts("firing", rule="kept")[0]["alerts"][0]
            resolved = rec.alerts("resolved", rule="kept")[0]["alerts"][0]
            expect(resolved["startsAt"] == fired["startsAt"]
                   and resolved["fingerprint"] == fired["fingerprint"], (fired, resolved))
            expect(wait_for(lambda: history(d, "kept") == ["resolved", "firing", "pending"], 10),
                   history(d, "kept"))
    finally:
        rec.close()
        shutil.rmtree(tmp, ignore_errors=True)


def start_fails(text):
    tmp = tempfile.mkdtemp(prefix="modeld-alerts-")
    try:
        cfg = config(tmp, text)
        repo = make_repo(os.path.join(tmp, "repo"), examples=False)
        p = subprocess.run([MODELD, "--repo", repo, "--listen", "127.0.0.1:0", "--data",
                            os.path.join(tmp, "data"), "--config", cfg],
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout + p.stderr, cfg
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_bad_config_stops_start():
    rule = "alert_rules:\n  r:\n    metric: %s\n    model: bench\n    op: %s\n    threshold: 1\n" \
           "    window: %s\n"
    rc, out, cfg = start_fails(rule % ("error_rate", '"=>"', "1m"))
    expect(rc == 2 and "%s:3: alert_rules.r.op:" % cfg in out, (rc, out))
    rc, out, cfg = start_fails(rule % ("error_rate", '">"', "-1m"))
    expect(rc == 2 and "alert_rules.r.window: must not be negative" in out, (rc, out))
    rc, out, cfg = start_fails(rule % ("no_such", '">"', "1m"))
    expect(rc == 1 and "alert_rules.r.metric: unknown metric 'no_such'" in out, (rc, out))
    rc, out, cfg = start_fails("receivers:\n  ops:\n    url: ftp://x\n")
    expect(rc == 2 and "receivers.ops.url" in out, (rc, out))
    rc, out, cfg = start_fails((rule % ("error_rate", '">"', "1m")) + "    receivers: [ops]\n")
    expect(rc == 1 and "alert_rules.r.receivers[0]: no receiver named 'ops'" in out, (rc, out))


if __name__ == "__main__":
    run([test_firing_then_resolved, test_retries_after_500, test_slow_receiver_holds_back_no_other,
         test_bad_rules_change_nothing,
         test_rules_and_alerts_survive_restart, test_bad_config_stops_start])
