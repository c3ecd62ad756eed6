#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The fraud story end to end, in one command:

    /usr/bin/python3 examples/fraud-loop/run.py [--external] [--port N] [--keep]

modeld serves the example fraud model (examples/repo/fraud, version 2) with
three more sections in its model.yaml (written by this script into a copy
of the repository): review rules that send every transaction it flags, the
uncertain ones and a random sample to investigators; a training section
(the original training set joined in as a base dataset, expert labels
weighted up, the new version rolled out by itself); and a schedule that
retrains "monthly", compressed here to every minute.

Then the script plays the world: card transactions arrive at about 150 a
second, and a fraud ring starts doing what the model never saw (small
international grocery payments without a location fix, from old accounts);
a simulated investigator takes items from the review queue and answers
each with the truth, which becomes expert feedback. Nothing else: no
command to modeld, no file dropped in the repository. The schedule fires,
modeld trains a new version on the verdicts, evaluates it against the
champion on the newest verdicts, registers it with its lineage, shadows it,
canaries it and promotes it. The script prints each step as it sees it
and ends with the share of the ring's frauds each version catches.

It takes about a minute and a half. --external trains with
examples/train/fraud.py as an external trainer named in the daemon's
configuration file (docs/improve.md#external-trainers) instead of the
engine's own training. Needs build/modeld (make) and Debian's python3-numpy,
python3-xgboost, python3-sklearn and python3-yaml.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "examples", "train"))
import fraud  # noqa: E402  (the example model's own generator)

MODELD = os.path.join(ROOT, os.environ.get("MODELD", "build/modeld"))
RATE = 150            # transactions a second
RING_SHARE = 0.05     # of transactions, once the ring starts
RING_FRAUD = 0.8      # of the ring's transactions that are fraud
TIME_LIMIT = 600      # seconds

LOOP_YAML = """
# --- the loop (added by examples/fraud-loop/run.py) ---
review:
  rules:
    - label: fraud              # everything the model flags goes to investigators
      name: flagged
    - band: [0.1, 0.5]          # and what it is unsure about
      name: uncertain
    - sample: 0.15              # and a random share, so that what it misses is seen too
      name: sample
  lease_s: 60
training:
  base_dataset: original        # the original training set, joined in
  base_weight: 1
  expert_weight: 5              # an investigator's verdict counts five times
  min_rows: 300
  holdout: 0.25
  metric: roc_auc
  margin: 0.01
  policy: rollout
  strategy: monthly
%s
triggers:
  schedule: {every: 60s}        # "monthly", compressed to a minute
  cooldown: 30s
"""

CONFIG = """strategies:
  monthly:
    kind: shadow_canary
    shadow_s: 5
    steps: [5, 25, 50, 100]
    interval_s: 5
    min_requests: 30
    mirror: 1
    gates:
      - {metric: error_rate, max_delta: 0.01}
      - {metric: latency_p99, max: 0.05}
      - {metric: agreement, min: 0.8, min_samples: 30}
    inconclusive: {after_s: 120, action: rollback}
%s"""

TRAINER = """trainers:
  fraud-script:
    command: [/usr/bin/python3, %s, --trainer, --train, "{train}", --holdout, "{holdout}",
              --model-yaml, "{model_yaml}", --output, "{output}", --params, "{params}"]
    timeout: 5m
""" % os.path.join(ROOT, "examples", "train", "fraud.py")

FEATURES = ["amount", "hour", "account_age_days", "distance_km", "merchant_category",
            "card_tier", "is_international", "transactions_24h"]
TYPES = {"amount": "FP32", "hour": "INT32", "account_age_days": "INT32", "distance_km": "FP32",
         "merchant_category": "BYTES", "card_tier": "BYTES", "is_international": "BOOL",
         "transactions_24h": "INT32"}

T0 = time.time()


def say(text):
    print("[%6.1fs] %s" % (time.time() - T0, text), flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def as_rows(x):
    """fraud.synthesize's prepared columns back into requests' feature dicts."""
    rows = []
    for r in x:
        d = {"amount": round(float(r[0]), 2), "hour": int(r[1]), "account_age_days": int(r[2]),
             "merchant_category": fraud.CATEGORIES[int(np.argmax(r[4:9]))],
             "card_tier": fraud.TIERS[int(r[9])], "is_international": bool(r[10])}
        if not np.isnan(r[3]):
            d["distance_km"] = round(float(r[3]), 1)
        if not np.isnan(r[11]):
            d["transactions_24h"] = int(r[11])
        rows.append(d)
    return rows


def ring(n, rng):
    """The ring's transactions: small international grocery payments from
    old accounts, at any hour, with no location fix."""
    rows = []
    for _ in range(n):
        rows.append({"amount": round(float(rng.uniform(8, 40)), 2),
                     "hour": int(rng.integers(8, 20)),
                     "account_age_days": int(rng.integers(900, 4000)),
                     "merchant_category": "grocery", "card_tier": "gold",
                     "is_international": True, "transactions_24h": int(rng.integers(1, 4))})
    return rows


class Client:
    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=None if body is None else json.dumps(body),
                                  headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                return r.status, (json.loads(data) if data else None), r
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        return None


class World:
    """The transactions and their truth, shared by the sender and the investigator."""

    def __init__(self):
        self.truth = {}       # request id -> label
        self.ring_ids = set()
        self.answers = {}     # request id -> (version, label)
        self.sent = 0
        self.failed = 0
        self.reviewed = 0
        self.agreed = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()


def sender(port, world):
    """Transactions at RATE a second: the usual mix, and from the start a ring."""
    rng = np.random.default_rng(20261207)
    c = Client(port)
    t0 = time.time()
    batch = 0
    while not world.stop.is_set():
        x, y = fraud.synthesize(500, seed=1000 + batch)
        rows = as_rows(x)
        labels = ["fraud" if v else "legit" for v in y]
        k = int(RING_SHARE * len(rows))
        rows[:k] = ring(k, rng)
        labels[:k] = ["fraud" if u < RING_FRAUD else "legit" for u in rng.random(k)]
        order = rng.permutation(len(rows))
        for i in order:
            if world.stop.is_set():
                return
            due = t0 + world.sent / RATE
            if due > time.time():
                time.sleep(due - time.time())
            rid = "txn-%d-%d" % (batch, i)
            body = {"inputs": [{"name": f, "datatype": TYPES[f], "shape": [1],
                                "data": [rows[i][f]]} for f in FEATURES if f in rows[i]]}
            st, doc, r = c.call("POST", "/v2/models/fraud/infer", body, {"X-Request-Id": rid})
            with world.lock:
                world.sent += 1
                world.truth[rid] = labels[i]
                if i < k:
                    world.ring_ids.add(rid)
                if st == 200:
                    out = {o["name"]: o["data"][0] for o in doc["outputs"]}
                    world.answers[rid] = (r.getheader("X-Model-Version"), out["label"])
                else:
                    world.failed += 1
        batch += 1


def investigator(port, world):
    """Takes the next item of the queue and answers the truth."""
    c = Client(port)
    while not world.stop.is_set():
        st, item, _ = c.call("GET", "/api/v1/review/next?model=fraud&reviewer=investigator")
        if st != 200:
            world.stop.wait(0.2)
            continue
        verdict = world.truth.get(item["request_id"])
        if verdict is None:
            continue
        st, doc, _ = c.call("POST", "/api/v1/review/%s" % item["id"],
                            {"lease": item["lease"], "verdict": verdict,
                             "comment": "investigated"})
        if st == 200:
            with world.lock:
                world.reviewed += 1
                world.agreed += verdict == item["prediction"]["label"]


def caught(world, version):
    """The share of the ring's frauds version labelled fraud."""
    with world.lock:
        ids = [i for i in world.ring_ids
               if world.truth[i] == "fraud" and world.answers.get(i, (None,))[0] == version]
        hit = sum(1 for i in ids if world.answers[i][1] == "fraud")
    return hit, len(ids)


def describe_rows(summary):
    """A training set's sources, from its summary."""
    parts = []
    src = summary.get("sources") or {}
    for key, name in (("expert", "verdicts"), ("feedback", "feedback"),
                      ("base", "from the base dataset")):
        if src.get(key):
            parts.append("%d %s" % (src[key], name))
    return ", ".join(parts) or "?"


def base_csv(n=5000):
    """The original training set (the old pattern) as a base dataset's CSV."""
    x, y = fraud.synthesize(n, seed=20261124)
    lines = [",".join(FEATURES + ["label"])]
    for d, v in zip(as_rows(x), y):
        cells = []
        for f in FEATURES:
            val = d.get(f)
            cells.append("" if val is None else ("true" if val is True else "false")
                         if isinstance(val, bool) else str(val))
        lines.append(",".join(cells + ["fraud" if v else "legit"]))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--external", action="store_true",
                    help="train with examples/train/fraud.py as an external trainer")
    ap.add_argument("--port", type=int, default=0, help="modeld's port (default: a free one)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory (kept anyway when the story fails)")
    ap.add_argument("--time-limit", type=int, default=TIME_LIMIT,
                    help="seconds to wait for the promotion (default %d)" % TIME_LIMIT)
    args = ap.parse_args()
    if not os.access(MODELD, os.X_OK):
        sys.exit("%s: not built (run make)" % MODELD)
    tmp = tempfile.mkdtemp(prefix="modeld-fraud-loop-")
    repo = os.path.join(tmp, "repo")
    shutil.copytree(os.path.join(ROOT, "examples", "repo", "fraud"), os.path.join(repo, "fraud"))
    with open(os.path.join(repo, "fraud", "model.yaml"), "a") as f:
        f.write(LOOP_YAML % ("  trainer: fraud-script" if args.external else ""))
    conf = os.path.join(tmp, "modeld.yaml")
    with open(conf, "w") as f:
        f.write(CONFIG % (TRAINER if args.external else ""))
    port = args.port or free_port()
    log = open(os.path.join(tmp, "modeld.log"), "wb")
    proc = subprocess.Popen([MODELD, "--repo", repo, "--data", os.path.join(tmp, "data"),
                             "--listen", "127.0.0.1:%d" % port, "--config", conf],
                            stdout=log, stderr=subprocess.STDOUT)
    world = World()
    threads = []
    try:
        c = Client(port)
        for _ in range(300):
            try:
                if c.call("GET", "/v2/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        say("modeld serves fraud on 127.0.0.1:%d (work directory %s)" % (port, tmp))
        c.conn.request("PUT", "/api/v1/models/fraud/datasets/original", body=base_csv(),
                       headers={"Content-Type": "text/csv"})
        r = c.conn.getresponse()
        doc = json.loads(r.read())
        if r.status not in (200, 201):
            sys.exit("registering the base dataset: %d %s" % (r.status, doc))
        say("the original training set is registered as base dataset 'original' (%s rows)"
            % doc.get("rows"))
        say("transactions start (%d a second); a fraud ring starts with them: small "
            "international grocery payments the model scores as legit" % RATE)
        threads = [threading.Thread(target=sender, args=(port, world), daemon=True),
                   threading.Thread(target=investigator, args=(port, world), daemon=True)]
        for t in threads:
            t.start()
        seen = set()
        last_report = 0
        champion = "2"
        promoted = None
        deadline = time.time() + args.time_limit
        while time.time() < deadline and promoted is None:
            time.sleep(0.5)
            if time.time() - last_report >= 15:
                last_report = time.time()
                st, q, _ = c.call("GET", "/api/v1/review?model=fraud&limit=1")
                queue = (q or {}).get("queue") or {}
                say("%d transactions sent; %s items waiting for review; investigators answered "
                    "%d verdicts (%d agreed with the model); ring frauds caught by version %s: "
                    "%d of %d" % ((world.sent, queue.get("waiting", "?"), world.reviewed,
                                   world.agreed, champion) + caught(world, champion)))
            st, doc, _ = c.call("GET", "/api/v1/models/fraud/trainings")
            for t in reversed((doc or {}).get("trainings", [])):
                if ("training", t["id"]) not in seen:
                    seen.add(("training", t["id"]))
                    say("training %d asked for by the %s trigger" % (t["id"], t["trigger"]))
                key = ("training", t["id"], t["state"])
                if key in seen or t["state"] in ("queued", "running"):
                    continue
                seen.add(key)
                res = t.get("result") or {}
                say("training %d %s in %.1f s: %s rows (%s)%s"
                    % (t["id"], t["state"], t.get("duration_ms", 0) / 1000, t.get("rows"),
                       describe_rows(res.get("dataset") or {}),
                       "; version %s registered" % t["version"] if t.get("version") else ""))
                ev = res.get("evaluation") or {}
                if ev.get("candidate"):
                    say("  evaluated on the %d newest labelled rows: ROC AUC %.3f for the new "
                        "version, %.3f for the champion (version %s): %s"
                        % (ev["holdout_rows"], ev["candidate"]["roc_auc"],
                           ev["champion"]["roc_auc"], ev.get("champion_version"),
                           ev.get("verdict")))
                if res.get("reason"):
                    say("  reason: %s" % res["reason"])
            st, doc, _ = c.call("GET", "/api/v1/models/fraud/rollouts")
            for ro in (doc or {}).get("rollouts", []):
                stage = ro["stage"] if ro["stage"] != "canary" else \
                    "canary %d%%" % ro["weights"]["candidate"]
                key = ("rollout", ro["id"], ro["phase"], stage)
                if key in seen:
                    continue
                seen.add(key)
                if ro["phase"] == "running":
                    say("rollout %d of version %s: %s" % (ro["id"], ro["candidate"], stage))
                else:
                    say("rollout %d of version %s: %s %s" % (ro["id"], ro["candidate"],
                                                             ro["phase"],
                                                             ro["state"].get("reason", "")))
                    if ro["phase"] == "promoted":
                        promoted = ro["candidate"]
        if promoted is None:
            say("no promotion within %d s; modeld's log is kept in %s/modeld.log"
                % (args.time_limit, tmp))
            args.keep = True
            return 1
        old = champion
        # Let the new champion answer a while, then compare.
        mark = world.sent
        while world.sent < mark + 10 * RATE and time.time() < deadline + 60:
            time.sleep(0.5)
        world.stop.set()
        st, doc, _ = c.call("GET", "/api/v1/models/fraud/versions")
        for v in (doc or {}).get("versions", []):
            if str(v.get("version")) == str(promoted):
                lin = (v.get("metadata") or {}).get("lineage", {})
                say("version %s's lineage: parent %s, trigger %s, training %s, rows %s%s"
                    % (promoted, lin.get("parent"), lin.get("trigger"), lin.get("training"),
                       json.dumps(lin.get("rows")),
                       ", trainer %s" % json.dumps(lin["trainer"]) if lin.get("trainer")
                       else ""))
        for v in (old, promoted):
            hit, n = caught(world, v)
            say("version %s caught %d of the ring's %d frauds it answered (%.0f%%)"
                % (v, hit, n, 100.0 * hit / n if n else 0))
        say("%d transactions, %d failed; %d verdicts. After the base dataset, modeld was sent "
            "nothing but transactions and verdicts" % (world.sent, world.failed, world.reviewed))
        return 0
    finally:
        world.stop.set()
        for t in threads:
            t.join(5)
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
