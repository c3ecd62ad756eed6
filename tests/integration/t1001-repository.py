#!/usr/bin/python3
"""Model repository: layout, version policies, polling, the repository
extension (index, load, unload), and versions that fail to load."""
import os
import shutil
import tempfile
import time

from harness import (BENCH_DATA, BENCH_YAML, Daemon, add_bench, expect, expect_error, repo_index, run, v2_row, wait_for)

ROW = [0.1] * 30


def repo_with(versions, policy=None, name="bench"):
    tmp = tempfile.mkdtemp(prefix="modeld-repo-")
    text = open(BENCH_YAML).read()
    if policy:
        text += "version_policy:\n" + policy
    add_bench(tmp, name, versions, text)
    return tmp


def infer_version(d, model="bench", version=None):
    path = "/v2/models/%s%s/infer" % (model, "/versions/%s" % version if version else "")
    st, doc, _ = d.json("POST", path, v2_row(ROW))
    return st, doc


def test_latest_one_by_default():
    repo = repo_with([1, 2, 3])
    with Daemon(repo=repo) as d:
        idx = repo_index(d)
        expect(idx[("bench", "3")]["state"] == "READY", idx)
        expect(idx[("bench", "1")]["state"] == "UNAVAILABLE", idx)
        st, doc = infer_version(d)
        expect(st == 200 and doc["model_version"] == "3", doc)
        st, doc = infer_version(d, version="1")
        expect_error(st, doc, 503, "not ready")
        st, doc, _ = d.json("GET", "/v2/models/bench")
        expect(doc["versions"] == ["3"], doc)
    shutil.rmtree(repo)


def test_policies_latest_all_specific():
    for policy, ready in (("  latest: 2\n", {"2", "3"}), ("  all: true\n", {"1", "2", "3"}),
                          ("  specific: [1, 3]\n", {"1", "3"})):
        repo = repo_with([1, 2, 3], policy)
        with Daemon(repo=repo) as d:
            idx = repo_index(d, {"ready": True})
            got = {v for (m, v) in idx if m == "bench"}
            expect(got == ready, "%r: %r" % (policy, got))
            for v in ready:
                st, doc = infer_version(d, version=v)
                expect(st == 200 and doc["model_version"] == v, doc)
        shutil.rmtree(repo)


def test_index_ready_flag_must_be_bool():
    with Daemon() as d:
        st, doc, _ = d.json("POST", "/v2/repository/index", {"ready": "yes"})
        expect_error(st, doc, 400, "ready")
        st, doc, _ = d.json("POST", "/v2/repository/index", "{bad")
        expect_error(st, doc, 400, "invalid JSON")


def corrupt(repo, version, how):
    path = os.path.join(repo, "bench", str(version), "model.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if how == "missing":
        if os.path.exists(path):
            os.remove(path)
    elif how == "truncated":
        data = open(os.path.join(BENCH_DATA, "bench_model.json"), "rb").read()
        open(path, "wb").write(data[: len(data) // 2])
    elif how == "garbage":
        open(path, "wb").write(b"\x00\x01 not a model")
    elif how == "mismatch":
        # A valid model with 3 features: contract says 30.
        open(path, "w").write(
            '{"learner":{"attributes":{},"feature_names":[],"feature_types":[],'
            '"gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1",'
            '"num_trees":"1","size_leaf_vector":"0"},"tree_info":[0],"trees":[{"base_weights":'
            '[0,0,0],"categories":[],"categories_nodes":[],"categories_segments":[],'
            '"categories_sizes":[],"default_left":[1,0,0],"id":0,"left_children":[1,-1,-1],'
            '"loss_changes":[0,0,0],"parents":[2147483647,0,0],"right_children":[2,-1,-1],'
            '"split_conditions":[0.5,-0.1,0.1],"split_indices":[2,0,0],"split_type":[0,0,0],'
            '"sum_hessian":[1,1,1],"tree_param":{"num_deleted":"0","num_feature":"3",'
            '"num_nodes":"3","size_leaf_vector":"0"}}]},"name":"gbtree"},"learner_model_param":'
            '{"base_score":"5E-1","boost_from_average":"1","num_class":"0","num_feature":"3",'
            '"num_target":"1"},"objective":{"name":"binary:logistic","reg_loss_param":'
            '{"scale_pos_weight":"1"}}},"version":[1,7,4]}')


def test_failing_version_never_replaces_serving_one():
    for how, fragment in (("missing", "model.json"), ("truncated", "model.json"),
                          ("garbage", "model.json"), ("mismatch", "does not fit")):
        repo = repo_with([1])
        with Daemon(repo=repo, args=["--poll", "1"]) as d:
            corrupt(repo, 2, how)
            expect(wait_for(lambda: ("bench", "2") in repo_index(d)), "version 2 never seen")
            idx = repo_index(d)
            e = idx[("bench", "2")]
            expect(e["state"] == "UNAVAILABLE" and fragment in e["reason"], (how, e))
            expect(idx[("bench", "1")]["state"] == "READY", (how, idx))
            st, doc = infer_version(d)
            expect(st == 200 and doc["model_version"] == "1", (how, doc))
            st, doc, _ = d.json("GET", "/v1/models/bench/versions/2")
            expect(doc["model_version_status"][0]["state"] == "END", doc)
            expect(fragment in d.logs(), "reason not logged for %s" % how)
        shutil.rmtree(repo)


def test_changed_artifact_that_fails_keeps_old_one():
    repo = repo_with([1])
    with Daemon(repo=repo, args=["--poll", "1"]) as d:
        time.sleep(0.05)
        corrupt(repo, 1, "truncated")
        # Versions are immutable: the changed file is refused, the registered one serves.
        expect(wait_for(lambda: "versions are immutable, add a version instead"
                        in repo_index(d)[("bench", "1")]["reason"]), repo_index(d))
        expect(repo_index(d)[("bench", "1")]["state"] == "READY", repo_index(d))
        st, doc = infer_version(d)
        expect(st == 200, doc)
    shutil.rmtree(repo)


def test_poll_picks_up_new_version_and_retires_old():
    repo = repo_with([1])
    with Daemon(repo=repo, args=["--poll", "1"]) as d:
        add_bench(repo, "bench", [2])
        expect(wait_for(lambda: repo_index(d).get(("bench", "2"), {}).get("state") == "READY"),
               repo_index(d))
        expect(repo_index(d)[("bench", "1")]["state"] == "UNAVAILABLE", repo_index(d))
        st, doc = infer_version(d)
        expect(doc["model_version"] == "2", doc)
        shutil.rmtree(os.path.join(repo, "bench"))
        expect(wait_for(lambda: ("bench", "2") not in repo_index(d)), repo_index(d))
        st, doc = infer_version(d)
        expect_error(st, doc, 404, "unknown model")
    shutil.rmtree(repo)


def test_bad_model_yaml_reported():
    repo = repo_with([1])
    add_bench(repo, "broken", [1], "backend: trees\ntask: classification\nfeatures: 7\n")
    with Daemon(repo=repo) as d:
        e = repo_index(d)[("broken", "")]
        expect(e["state"] == "UNAVAILABLE" and "model.yaml" in e["reason"], e)
        st, doc, _ = d.json("POST", "/v2/models/broken/infer", v2_row(ROW))
        expect_error(st, doc, 503, "model.yaml")
        st, doc, _ = d.json("GET", "/v2/models/broken/ready")
        expect(st == 503, doc)
        st, doc = infer_version(d)
        expect(st == 200, doc)
    shutil.rmtree(repo)


def test_explicit_load_and_unload():
    repo = repo_with([1])
    with Daemon(repo=repo) as d:
        st, data, _ = d.request("POST", "/v2/repository/models/bench/unload")
        expect(st == 200, data)
        st, doc = infer_version(d)
        expect_error(st, doc, 503)
        st, doc, _ = d.json("GET", "/v2/models/bench/ready")
        expect(st == 503, doc)
        expect(repo_index(d)[("bench", "1")]["reason"] == "unloaded by an operator", repo_index(d))
        add_bench(repo, "bench", [2])
        st, data, _ = d.request("POST", "/v2/repository/models/bench/load")
        expect(st == 200, data)
        st, doc = infer_version(d)
        expect(st == 200 and doc["model_version"] == "2", doc)
        st, doc, _ = d.json("POST", "/v2/repository/models/nosuch/load")
        expect_error(st, doc, 404, "nosuch")
        st, doc, _ = d.json("POST", "/v2/repository/models/nosuch/unload")
        expect_error(st, doc, 404, "nosuch")
        add_bench(repo, "late", [1])
        st, data, _ = d.request("POST", "/v2/repository/models/late/load", "{}")
        expect(st == 200, data)
        st, doc = infer_version(d, model="late")
        expect(st == 200, doc)
        st, doc, _ = d.json("POST", "/v2/repository/models/late/load",
                            {"parameters": {"config": "{}"}})
        expect_error(st, doc, 501)
    shutil.rmtree(repo)


def test_explicit_load_of_broken_model_is_400():
    repo = repo_with([1])
    add_bench(repo, "half", [])
    os.makedirs(os.path.join(repo, "half", "1"))
    with Daemon(repo=repo) as d:
        st, doc, _ = d.json("POST", "/v2/repository/models/half/load")
        expect_error(st, doc, 400, "version 1")
    shutil.rmtree(repo)


if __name__ == "__main__":
    run([test_latest_one_by_default, test_policies_latest_all_specific,
         test_index_ready_flag_must_be_bool, test_failing_version_never_replaces_serving_one,
         test_changed_artifact_that_fails_keeps_old_one,
         test_poll_picks_up_new_version_and_retires_old, test_bad_model_yaml_reported,
         test_explicit_load_and_unload, test_explicit_load_of_broken_model_is_400])
