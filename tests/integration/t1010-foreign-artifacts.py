#!/usr/bin/python3
"""Corrupt artifacts under backend xgboost: each variant of the benchmark model
that crashed, hung or misled libxgboost is dropped into a serving repository
as version 2; the daemon stays up, version 1 keeps answering libxgboost's
outputs, and each variant is reported with its reason. A variant that passes
the checks but needs more memory than --load-memory-mb is stopped in the helper
process. UBJSON artifacts serve the same outputs as JSON; pickles are refused
under every backend."""
import copy
import json
import os
import shutil
import signal
import struct
import tempfile
import time

from harness import (BENCH_DATA, BENCH_YAML, Daemon, EXAMPLES, add_bench, bench_rows, expect, repo_index, run, v2_row, wait_for)

MODEL = json.load(open(os.path.join(BENCH_DATA, "bench_model.json")))
UBJ = open(os.path.join(BENCH_DATA, "bench_model.ubj"), "rb").read()
ROWS = bench_rows(8)


def yaml(backend, artifact=None):
    text = open(BENCH_YAML).read().replace("backend: trees", "backend: %s" % backend)
    return text + ("artifact: %s\n" % artifact if artifact else "")


def trees(m):
    return m["learner"]["gradient_booster"]["model"]["trees"]


def variant(edit):
    m = copy.deepcopy(MODEL)
    edit(m)
    return json.dumps(m, allow_nan=True).encode()


def cycle(m):
    t = trees(m)[5]
    left = t["left_children"][0]
    t["left_children"][left], t["right_children"][left] = 0, 1


def num_trees(m):
    m["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"] = "1000000"


def ubj_child(data, value):
    """bench_model.ubj with the first left child of its first tree set to value."""
    key = b"left_children[$l#L"
    at = data.index(key) + len(key) + 8
    return data[:at] + struct.pack(">i", value) + data[at + 4:]


# name: (artifact bytes, file name, fragment the reason must hold)
VARIANTS = {
    "child_99999": (variant(lambda m: trees(m)[5]["left_children"].__setitem__(0, 99999)),
                    "model.json", "trees[5].left_children[0]: child 99999 out of range"),
    "feature_minus_1": (variant(lambda m: trees(m)[5]["split_indices"].__setitem__(0, -1)),
                        "model.json", "trees[5].split_indices[0]: feature -1 out of range"),
    "num_trees": (variant(num_trees), "model.json", "100 trees, num_trees says 1000000"),
    "tree_id_77": (variant(lambda m: trees(m)[5].__setitem__("id", 77)), "model.json",
                   ".id: 77 is out of range or repeated"),
    "feature_1000": (variant(lambda m: trees(m)[5]["split_indices"].__setitem__(0, 1000)),
                     "model.json", "trees[5].split_indices[0]: feature 1000 out of range"),
    "child_minus_5": (variant(lambda m: trees(m)[5]["left_children"].__setitem__(0, -5)),
                      "model.json", "trees[5].left_children[0]: child -5 out of range"),
    "cycle": (variant(cycle), "model.json", "trees[5]: node 1 has a child reached twice"),
    "missing_tree": (variant(lambda m: trees(m).pop(50)), "model.json",
                     "99 trees, num_trees says 100"),
    "nan_threshold": (variant(lambda m: trees(m)[5]["split_conditions"].__setitem__(0, float("nan"))),
                      "model.json", "trees[5].split_conditions[0]: NaN is not a threshold"),
    "ubj_child": (ubj_child(UBJ, 99999), "model.ubj",
                  "trees[0].left_children[0]: child 99999 out of range"),
    "pickle": (b"\x80\x04\x95" + b"\x00" * 64, "model.pkl", "pickles are never loaded"),
}


def expect_bench_outputs(d, model, version=None):
    path = "/v2/models/%s%s/infer" % (model, "/versions/%s" % version if version else "")
    for row, ref in ROWS:
        st, doc, _ = d.json("POST", path, v2_row(row))
        expect(st == 200, (model, doc))
        got = doc["outputs"][0]["data"][0]
        expect(abs(got - ref) <= 1e-6, "%s: %r, libxgboost says %r" % (model, got, ref))
        expect(version is None or doc["model_version"] == version, doc)


def put_version(repo, model, version, data, name):
    vdir = os.path.join(repo, model, str(version))
    os.makedirs(vdir, exist_ok=True)
    with open(os.path.join(vdir, name), "wb") as f:
        f.write(data)


def test_corrupt_variants_never_take_the_daemon_down():
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    for name, (_, artifact, _) in VARIANTS.items():
        add_bench(repo, name, [], yaml("xgboost", artifact))
        # Version 1 serves; the pickle's is a UBJSON model under a pickle's name, refused too.
        put_version(repo, name, 1, UBJ if artifact != "model.json" else
                    open(os.path.join(BENCH_DATA, "bench_model.json"), "rb").read(), artifact)
    add_bench(repo, "other", [1])
    with Daemon(repo=repo, examples=False, bench=False) as d:
        idx = repo_index(d)
        for name in VARIANTS:
            if name != "pickle":
                expect(idx[(name, "1")]["state"] == "READY", idx[(name, "1")])
        expect(idx[("pickle", "1")]["state"] == "UNAVAILABLE", idx[("pickle", "1")])
        for name, (data, artifact, _) in VARIANTS.items():
            put_version(repo, name, 2, data, artifact)
        d.signal(signal.SIGHUP)
        expect(wait_for(lambda: all((n, "2") in repo_index(d) for n in VARIANTS), timeout=60),
               "version 2 not seen: %r" % repo_index(d))
        expect(d.proc.poll() is None, "modeld died:\n" + d.logs()[-3000:])
        idx = repo_index(d)
        for name, (_, _, fragment) in VARIANTS.items():
            e = idx[(name, "2")]
            expect(e["state"] == "UNAVAILABLE" and fragment in e["reason"], (name, e))
            expect(fragment in d.logs(), "%s: reason not logged" % name)
            if name != "pickle":
                expect(idx[(name, "1")]["state"] == "READY", (name, idx[(name, "1")]))
                expect_bench_outputs(d, name, "1")
        expect_bench_outputs(d, "other")
        # And the libxgboost versions still answer after a second scan of the same files.
        d.signal(signal.SIGHUP)
        expect_bench_outputs(d, "cycle")
        st, doc, _ = d.json("GET", "/v2/models/cycle/ready")
        expect(st == 200, doc)
    shutil.rmtree(repo)


def wide(m):
    # Valid, but libxgboost then works on rows of 16.7 million features: over a GiB.
    m["learner"]["learner_model_param"]["num_feature"] = "16777215"


def test_helper_over_its_memory_limit_is_stopped():
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    add_bench(repo, "bench", [1], yaml("xgboost"))
    put_version(repo, "bench", 2, variant(wide), "model.json")
    start = time.time()
    with Daemon(repo=repo, examples=False, bench=False, args=["--load-memory-mb", "256"]) as d:
        e = repo_index(d)[("bench", "2")]
        expect(e["state"] == "UNAVAILABLE", e)
        expect("xgboost load check: the helper process used more than 256 MiB of memory" in
               e["reason"] and "--load-memory-mb" in e["reason"], e)
        expect_bench_outputs(d, "bench", "1")
    expect(time.time() - start < 20, "the memory limit took %.1fs" % (time.time() - start))
    shutil.rmtree(repo)


def test_ubjson_serves_what_json_serves():
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    for backend in ("trees", "xgboost"):
        add_bench(repo, "ubj_" + backend, [], yaml(backend, "model.ubj"))
        put_version(repo, "ubj_" + backend, 1, UBJ, "model.ubj")
    with Daemon(repo=repo, examples=False, bench=False) as d:
        for backend in ("trees", "xgboost"):
            expect_bench_outputs(d, "ubj_" + backend)
    shutil.rmtree(repo)


def test_pickles_refused_under_every_backend():
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    pickle = b"\x80\x05\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94."
    for backend in ("trees", "xgboost"):
        add_bench(repo, "p_" + backend, [], yaml(backend))
        put_version(repo, "p_" + backend, 1, pickle, "model.json")
    shutil.copytree(os.path.join(EXAMPLES, "churn"), os.path.join(repo, "churn"))  # linear
    for v in os.listdir(os.path.join(repo, "churn")):
        vdir = os.path.join(repo, "churn", v)
        if os.path.isdir(vdir):
            for f in os.listdir(vdir):
                open(os.path.join(vdir, f), "wb").write(pickle)
    with Daemon(repo=repo, examples=False, bench=False) as d:
        idx = repo_index(d)
        for name, how in (("p_trees", "booster.save_model('model.json')"),
                          ("p_xgboost", "booster.save_model('model.json')"),
                          ("churn", "linear artifact")):
            e = idx[(name, "1")]
            expect("is a Python pickle: pickles are never loaded (loading one runs code)" in
                   e["reason"] and how in e["reason"], e)
    shutil.rmtree(repo)


if __name__ == "__main__":
    run([test_corrupt_variants_never_take_the_daemon_down,
         test_helper_over_its_memory_limit_is_stopped, test_ubjson_serves_what_json_serves,
         test_pickles_refused_under_every_backend])
