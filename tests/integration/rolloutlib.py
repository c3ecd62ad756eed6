"""What the progressive-rollout tests (t7040-t7059) share: repositories
built from tests/data models, clients that keep requests flowing from
several threads and count every answer, and polls of a rollout's state.

Models (each test builds its own repository in its daemon's directory):

- a trees classifier over five FP32 features (tests/data/models/binary.json,
  labels no/yes): `trees_model(repo, name, {1: BINARY, 2: BINARY})` gives
  two versions with the same predictions; `flipped(BINARY)` is the same
  trees with every leaf negated, so that its label differs from the
  original's on every row (a candidate that disagrees with the champion);
- a linear classifier (the linear engine's own JSON) over x1, x2 and an
  optional x3: `linear_model(repo, name, {1: True, 2: False})` gives a
  version with a fill for a missing x3 and one without (`impute` null),
  which fails every request that leaves x3 out with a 500 (the engine
  refuses a missing cell it has no fill for) and answers the others: a
  candidate that fails requests, the way an artifact exported without its
  imputer fails in production.
"""

import collections
import copy
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

from harness import ROOT, Daemon, expect, v2_row, wait_for

MODELS = os.path.join(ROOT, "tests", "data", "models")
BINARY = os.path.join(MODELS, "binary.json")

TREES_YAML = """\
# binary.json of tests/data/models: five FP32 features, a binary classifier.
backend: trees
task: classification
labels: [no, yes]
threshold: 0.5
features:
  - {name: amount, datatype: FP32, required: false}
  - {name: age, datatype: FP32, required: false}
  - {name: score, datatype: FP32, required: false}
  - {name: days, datatype: FP32, required: false}
  - {name: ratio, datatype: FP32, required: false}
"""

LINEAR_YAML = """\
# A logistic regression over x1, x2 and an optional x3 (linear engine).
backend: linear
task: classification
labels: [no, yes]
threshold: 0.5
features:
  - {name: x1, datatype: FP32, min: -100, max: 100}
  - {name: x2, datatype: FP32, min: -100, max: 100}
  - {name: x3, datatype: FP32, required: false, min: -100, max: 100}
"""


class RolloutDaemon(Daemon):
    """A Daemon on a repository that build(repo) fills before modeld starts
    (no model of the examples or the benchmark)."""

    def __init__(self, build, args=(), wait=True):
        self.repo_tmp = tempfile.mkdtemp(prefix="modeld-rollout-")
        repo = os.path.join(self.repo_tmp, "repo")
        os.makedirs(repo)
        build(repo)
        super().__init__(repo=repo, args=args, wait=wait)

    def restart(self, kill=True):
        """Stops modeld (SIGKILL, or SIGTERM when kill is false) and starts
        it again on the same repository, data directory and port."""
        if kill:
            self.proc.kill()
            self.proc.wait(30)
        else:
            self.stop()  # SIGTERM (again, if sent already); a clean exit expected
        if self.log.closed:
            self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()

    def __exit__(self, exc_type, exc, tb):
        try:
            super().__exit__(exc_type, exc, tb)
        finally:
            shutil.rmtree(self.repo_tmp, ignore_errors=True)


def flipped(path):
    """The XGBoost JSON model at path with every leaf value negated: its
    margin is the original's negated (base_score 0.5 is a margin of 0), so
    its probability is 1 - p and its label the other one on every row."""
    with open(path) as f:
        m = json.load(f)
    expect(m["learner"]["learner_model_param"]["base_score"] in ("5E-1", "0.5"),
           "flipped() needs base_score 0.5")
    m = copy.deepcopy(m)
    for t in m["learner"]["gradient_booster"]["model"]["trees"]:
        for i, left in enumerate(t["left_children"]):
            if left == -1:
                t["split_conditions"][i] = -t["split_conditions"][i]
                t["base_weights"][i] = -t["base_weights"][i]
    return m


def trees_model(repo, name, versions, yaml_text=TREES_YAML):
    """Model name in repo: versions maps a number to a model file's path or
    to a model as a dict (written as model.json)."""
    mdir = os.path.join(repo, name)
    os.makedirs(mdir, exist_ok=True)
    with open(os.path.join(mdir, "model.yaml"), "w") as f:
        f.write(yaml_text)
    for v, art in versions.items():
        vdir = os.path.join(mdir, str(v))
        os.makedirs(vdir, exist_ok=True)
        if isinstance(art, dict):
            with open(os.path.join(vdir, "model.json"), "w") as f:
                json.dump(art, f)
        else:
            shutil.copy(art, os.path.join(vdir, "model.json"))


def linear_artifact(fill_x3):
    return {"format": "modeld-linear", "format_version": 1, "kind": "logistic",
            "feature_names": ["x1", "x2", "x3"], "weights": [1.5, -0.75, 0.5],
            "intercept": 0.1, "impute": [0.0, 0.0, 0.25 if fill_x3 else None]}


def linear_model(repo, name, versions):
    """Model name in repo: versions maps a number to whether that version
    has a fill for a missing x3."""
    mdir = os.path.join(repo, name)
    os.makedirs(mdir, exist_ok=True)
    with open(os.path.join(mdir, "model.yaml"), "w") as f:
        f.write(LINEAR_YAML)
    for v, fill in versions.items():
        vdir = os.path.join(mdir, str(v))
        os.makedirs(vdir, exist_ok=True)
        with open(os.path.join(vdir, "model.json"), "w") as f:
            json.dump(linear_artifact(fill), f)


def binary_rows():
    """The 60 reference rows of binary.csv as V2 bodies (None = missing)."""
    bodies = []
    with open(os.path.join(MODELS, "binary.csv")) as f:
        for line in f:
            vals = line.rstrip("\n").split(",")
            bodies.append(json.dumps(v2_row([float(v) if v else None for v in vals[:5]])))
    return bodies


def linear_rows(n=40):
    """n V2 bodies for the linear model; every other one leaves x3 out."""
    bodies = []
    for i in range(n):
        x1 = (i % 7) - 3.0
        x2 = (i % 5) - 2.0
        inputs = [{"name": "x1", "datatype": "FP32", "shape": [1], "data": [x1]},
                  {"name": "x2", "datatype": "FP32", "shape": [1], "data": [x2]}]
        if i % 2 == 0:
            inputs.append({"name": "x3", "datatype": "FP32", "shape": [1], "data": [0.5]})
        bodies.append(json.dumps({"inputs": inputs}))
    return bodies


class Traffic:
    """Clients on `threads` threads, each with its own keep-alive
    connection, posting bodies (round robin) to path until stop(), a few
    hundred requests a second in all. Every answer is counted by (status,
    version, route); failures (non-200, or no answer) are kept."""

    def __init__(self, port, path, bodies, threads=4, pause_s=0.002):
        self.port = port
        self.path = path
        self.bodies = bodies
        self.pause_s = pause_s
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.failures = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, i):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        k = i
        try:
            while not self.stopping.is_set():
                body = self.bodies[k % len(self.bodies)]
                k += len(self.threads)
                try:
                    conn.request("POST", self.path, body=body,
                                 headers={"Content-Type": "application/json"})
                    r = conn.getresponse()
                    data = r.read()
                except (OSError, http.client.HTTPException) as e:
                    with self.lock:
                        self.failures.append(("no answer", repr(e)))
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    continue
                key = (r.status, r.getheader("X-Model-Version"), r.getheader("X-Model-Route"))
                with self.lock:
                    self.counts[key] += 1
                    if r.status != 200:
                        self.failures.append((r.status, data[:300]))
                if self.pause_s:
                    time.sleep(self.pause_s)
        finally:
            conn.close()

    def snapshot(self):
        with self.lock:
            return collections.Counter(self.counts)

    def total(self):
        with self.lock:
            return sum(self.counts.values())

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(60)
        expect(not any(t.is_alive() for t in self.threads), "a client thread did not stop")
        return self.snapshot()


def start(d, model, body, status=201):
    st, doc, _ = d.json("POST", "/api/v1/models/%s/rollouts" % model, body)
    expect(st == status, "start rollout of %s: %d %r" % (model, st, doc))
    return doc


def get(d, model, rid):
    st, doc, _ = d.json("GET", "/api/v1/models/%s/rollouts/%s" % (model, rid))
    expect(st == 200, "GET rollout %s of %s: %d %r" % (rid, model, st, doc))
    return doc


def command(d, model, rid, cmd, note=None, status=200):
    body = {"note": note} if note is not None else None
    st, doc, _ = d.json("POST", "/api/v1/models/%s/rollouts/%s/%s" % (model, rid, cmd), body)
    expect(st == status, "%s rollout %s of %s: %d %r" % (cmd, rid, model, st, doc))
    return doc


def wait_phase(d, model, rid, phases, timeout=30):
    """The rollout once its phase is one of phases (polled); fails after timeout."""
    last = {}

    def done():
        last["doc"] = get(d, model, rid)
        return last["doc"]["phase"] in phases

    expect(wait_for(done, timeout), "rollout %s of %s still %s after %ds: %s" % (
        rid, model, last.get("doc", {}).get("phase"), timeout,
        json.dumps(last.get("doc", {}).get("decisions", [])[-3:])))
    settled(d, model, last["doc"])
    return last["doc"]


def settled(d, model, doc, timeout=5):
    """Waits until the traffic policy gives the candidate the share rollout
    doc says: a decision is stored before the traffic moves, so the policy
    follows it a moment later."""
    want = doc["weights"]["candidate"]

    def moved():
        return weights(d, model)[0].get(doc["candidate"], 0) == want

    expect(wait_for(moved, timeout), ("policy did not follow the rollout", want,
                                      traffic(d, model)))


def traffic(d, model):
    st, doc, _ = d.json("GET", "/api/v1/models/%s/traffic" % model)
    expect(st == 200, (st, doc))
    return doc


def weights(d, model):
    """{version: weight} of the model's policy routes, and its shadows and mirror."""
    p = traffic(d, model)["policy"]
    return ({r["version"]: r["weight"] for r in p["routes"]},
            {s["version"]: s["fraction"] for s in p["shadows"]}, p["mirror"])


def events(d, model, kind=None):
    """The model's events, oldest first."""
    path = "/api/v1/events?model=%s" % model + ("&kind=%s" % kind if kind else "")
    st, doc, _ = d.json("GET", path + "&limit=500")
    expect(st == 200, (st, doc))
    return list(reversed(doc["events"]))


def champion(d, model):
    st, doc, _ = d.json("GET", "/api/v1/models/%s/versions" % model)
    expect(st == 200, (st, doc))
    return doc["champion"]


def actions(doc):
    return [x["action"] for x in doc["decisions"]]
