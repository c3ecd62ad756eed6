"""Helpers of the closed-loop tests (t6500-t6519): a synthetic stream of
labelled card transactions with a fixed seed, whose relation between
features and label changes at a fixed row while one feature's mean shifts by
one standard deviation; the champion model of the stream before the change
(a logistic model for the linear engine: the generator's own weights, so it
is the best model there is before the shift) with its reference profile;
a sender that predicts row by row over HTTP at a fixed rate and sends each
row's label as feedback right after; ROC AUC over the last rows answered.
Python 3 standard library only; every draw comes from a seeded
random.Random, so row i of a stream is the same in every run."""

import bisect
import http.client
import json
import math
import os
import random
import subprocess
import threading
import time

from harness import MODELCTL, expect

# Eight numeric features, standardised by the bank's feature pipeline.
FEATURES = ["amount", "velocity", "merchant_risk", "account_age", "distance",
            "device_risk", "ip_risk", "hour_risk"]
LABELS = ["legit", "fraud"]
# Before the shift: fraud follows the amount, the card's velocity, the
# merchant's risk, young accounts and distance (about 11% of rows).
PRE_WEIGHTS = [1.82, 1.43, 1.30, -1.04, 0.78, 0.0, 0.0, 0.0]
PRE_BIAS = -4.2
# After it: a new fraud pattern follows the device, the IP address and the
# hour; the old signals nearly vanish. device_risk's mean moves by one
# standard deviation. Both relations separate fraud about as well (the best
# ROC AUC is 0.937 before and 0.941 after); the old model scores the new
# rows at about 0.58.
POST_WEIGHTS = [0.42, 0.0, 0.28, -0.28, 0.28, 2.11, 1.68, 1.40]
POST_BIAS = -6.4
SHIFTED = "device_risk"
SHIFT_SD = 1.0


def stream(n, shift_at, seed):
    """n rows as (features dict, label 0/1); rows from shift_at on follow the
    changed relation and carry the shifted mean."""
    rnd = random.Random(seed)
    rows = []
    k = FEATURES.index(SHIFTED)
    for i in range(n):
        x = [rnd.gauss(0, 1) for _ in FEATURES]
        post = i >= shift_at
        if post:
            x[k] += SHIFT_SD
        w, b = (POST_WEIGHTS, POST_BIAS) if post else (PRE_WEIGHTS, PRE_BIAS)
        z = b + sum(a * v for a, v in zip(w, x))
        y = 1 if rnd.random() < 1 / (1 + math.exp(-z)) else 0
        rows.append(({f: round(v, 6) for f, v in zip(FEATURES, x)}, y))
    return rows


def champion_score(r):
    z = PRE_BIAS + sum(a * r[f] for a, f in zip(PRE_WEIGHTS, FEATURES))
    return 1 / (1 + math.exp(-z))


def model_yaml(extra=""):
    lines = ["description: card transactions scored for fraud (the closed-loop test's stream)",
             "backend: linear", "task: classification", "labels: [legit, fraud]",
             "threshold: 0.5", "features:"]
    for f in FEATURES:
        lines.append("  - {name: %s, datatype: FP64}" % f)
    lines += ["outputs:", "  - {name: probability, kind: probability, datatype: FP32}",
              "  - {name: label, kind: label, datatype: BYTES}",
              "drift:", "  window_s: 60"]
    return "\n".join(lines) + "\n" + extra


def artifact():
    return {"format": "modeld-linear", "format_version": 1, "kind": "logistic",
            "feature_names": FEATURES, "weights": PRE_WEIGHTS, "intercept": PRE_BIAS}


def add_model(repo, name, tmp, extra_yaml=""):
    """REPO/name: model.yaml (with extra_yaml appended), version 1 (the
    champion) and its profile.json, computed by modelctl profile from 10,000
    rows drawn like the stream before the shift."""
    mdir = os.path.join(repo, name)
    os.makedirs(os.path.join(mdir, "1"), exist_ok=True)
    with open(os.path.join(mdir, "model.yaml"), "w") as f:
        f.write(model_yaml(extra_yaml))
    with open(os.path.join(mdir, "1", "model.json"), "w") as f:
        json.dump(artifact(), f)
    train = os.path.join(tmp, "train-%s.csv" % name)
    with open(train, "w") as f:
        f.write(",".join(FEATURES) + ",score,label\n")
        for r, y in stream(10000, 10 ** 9, seed=1):
            f.write(",".join(repr(r[k]) for k in FEATURES) +
                    ",%r,%s\n" % (champion_score(r), LABELS[y]))
    yaml_path = os.path.join(tmp, "profile-%s.yaml" % name)
    with open(yaml_path, "w") as f:
        f.write(model_yaml())
    p = subprocess.run([MODELCTL, "profile", train, "--model-yaml", yaml_path, "--scores", "score"],
                       capture_output=True, text=True, timeout=120)
    expect(p.returncode == 0, "modelctl profile: %s" % p.stderr)
    with open(os.path.join(mdir, "1", "profile.json"), "w") as f:
        f.write(p.stdout)


def roc_auc(scores, labels):
    """ROC AUC by ranks, ties given their mean rank; None without both classes."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(labels)
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return None
    r = sum(rk for rk, y in zip(ranks, labels) if y)
    return (r - pos * (pos + 1) / 2) / (pos * neg)


class Answers:
    """What the daemon answered, row by row: the probability of fraud, the
    version, the send time (ms) and any failure."""

    def __init__(self, n):
        self.prob = [None] * n
        self.version = [None] * n
        self.sent_ms = [None] * n
        self.failures = []
        self.sent = 0  # rows answered so far (read by the monitor)

    def auc_at(self, end, labels, width=2000):
        """ROC AUC over rows [end - width, end) of the answers."""
        lo = max(0, end - width)
        return roc_auc(self.prob[lo:end], labels[lo:end])

    def row_at(self, ms):
        """The number of rows sent by time ms (since 1970)."""
        times = [t for t in self.sent_ms[:self.sent]]
        return bisect.bisect_right(times, ms)


def _post(conn, path, body, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    conn.request("POST", path, body=json.dumps(body), headers=h)
    r = conn.getresponse()
    data = r.read()
    return r.status, data, r.getheader("X-Model-Version")


def send(port, model, rows, answers, start, stop, rate=None, batch=1, feedback_every=25,
         prefix="r", deadline=None, should_stop=None):
    """Predicts rows[start:stop] over one keep-alive connection, batch rows
    per request (request id prefix + first row), at most rate rows a second
    (None: as fast as answered), and after every feedback_every rows sends
    their labels in one feedback request. A failed request (not 200, or
    no answer) is recorded in answers.failures; should_stop() is asked
    after each feedback round."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    t0 = time.time()
    pending = []
    i = start
    try:
        while i < stop:
            if deadline is not None and time.time() > deadline:
                raise AssertionError("time limit reached at row %d of %d" % (i, stop))
            if rate:
                due = t0 + (i - start) / rate
                now = time.time()
                if due > now:
                    time.sleep(due - now)
            chunk = rows[i:min(stop, i + batch)]
            rid = "%s%d" % (prefix, i)
            body = {"inputs": [{"name": f, "datatype": "FP64", "shape": [len(chunk)],
                                "data": [r[0][f] for r in chunk]} for f in FEATURES]}
            sent_ms = int(time.time() * 1000)
            try:
                st, data, version = _post(conn, "/v2/models/%s/infer" % model, body,
                                          {"X-Request-Id": rid})
            except (OSError, http.client.HTTPException) as e:
                answers.failures.append((i, repr(e)))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                st = None
            if st == 200:
                doc = json.loads(data)
                out = {o["name"]: o["data"] for o in doc["outputs"]}
                for k in range(len(chunk)):
                    answers.prob[i + k] = float(out["probability"][k])
                    answers.version[i + k] = int(version)
                    answers.sent_ms[i + k] = sent_ms
                pending += [{"request_id": rid, "row": k, "label": LABELS[chunk[k][1]]}
                            for k in range(len(chunk))]
            elif st is not None:
                answers.failures.append((i, "%d %s" % (st, data[:200])))
            for k in range(len(chunk)):
                if answers.sent_ms[i + k] is None:
                    answers.sent_ms[i + k] = sent_ms
            i += len(chunk)
            answers.sent = i
            if len(pending) >= feedback_every or i >= stop:
                if pending:
                    st, data, _ = _post(conn, "/api/v1/feedback", {"model": model,
                                                                   "items": pending})
                    if st != 200 or json.loads(data).get("failed"):
                        answers.failures.append((i, "feedback: %d %s" % (st, data[:200])))
                    pending = []
                if should_stop is not None and should_stop(i):
                    return i
    finally:
        conn.close()
    return i


def get(d, path):
    """GET path as JSON; None when the answer is not 200."""
    try:
        st, doc, _ = d.json("GET", path, timeout=10)
    except (OSError, http.client.HTTPException, AssertionError):
        return None
    return doc if st == 200 else None


class Monitor(threading.Thread):
    """Polls what the daemon shows every period seconds while the stream
    runs, and notes the row count at which each thing was first seen: the
    drift verdict, the model's quality, and (by the caller's probe
    functions) anything else."""

    def __init__(self, d, answers, probes, period=0.25):
        super().__init__(daemon=True)
        self.d, self.answers, self.probes, self.period = d, answers, probes, period
        self.seen = {}  # name -> (row, time ms, value)
        self.stop_flag = threading.Event()

    def note(self, name, value):
        if name not in self.seen:
            self.seen[name] = (self.answers.sent, int(time.time() * 1000), value)

    def run(self):
        while not self.stop_flag.is_set():
            for probe in self.probes:
                try:
                    probe(self)
                except Exception as e:  # noqa: BLE001 - a probe's failure is noted, not fatal
                    self.note("probe error %s" % probe.__name__, repr(e))
            self.stop_flag.wait(self.period)

    def stop(self):
        self.stop_flag.set()
        self.join(10)
