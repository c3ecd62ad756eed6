#!/usr/bin/python3
"""Repository problems are logged once per change, not on every poll: a
broken or missing model.yaml, a directory that is not a version (v1, 01, 0)
or not a model name; the reason says "model.yaml:" once; a model unloaded by
an operator answers 503 saying so and how to load it again."""
import json
import os
import shutil
import signal
import tempfile
import time

from harness import (BENCH_YAML, Daemon, add_bench, expect, expect_error, repo_index, run, v2_row, wait_for)

ROW = [0.1] * 30


def log_lines(d):
    out = []
    for line in d.logs().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            raise AssertionError("log line is not JSON: %r" % line)
    return out


def scans_pass(d, repo, n):
    """Waits until n more scans have run: each adds a model that the index
    shows only after a scan has seen it, and asks for the scan with SIGHUP
    rather than wait for the next --poll tick (a scan is a scan)."""
    for _ in range(n):
        name = "marker%d" % len([m for m in os.listdir(repo) if m.startswith("marker")])
        add_bench(repo, name, [1])
        d.signal(signal.SIGHUP)
        expect(wait_for(lambda: (name, "1") in repo_index(d)), "no scan picked up %s" % name)


def count(lines, msg, model=None, entry=None):
    return len([l for l in lines if l.get("msg") == msg and
                (model is None or l.get("model") == model) and
                (entry is None or l.get("entry") == entry)])


def test_broken_model_yaml_logged_once_per_change():
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    add_bench(repo, "bench", [1])
    add_bench(repo, "syntax", [1], "backend: trees\nfeatures: [a, b\n")
    add_bench(repo, "semantic", [1], "backend: trees\ntask: classification\nfeatures: 7\n")
    add_bench(repo, "noyaml", [1])
    os.unlink(os.path.join(repo, "noyaml", "model.yaml"))
    with Daemon(repo=repo, args=["--poll", "1"]) as d:
        scans_pass(d, repo, 3)
        lines = log_lines(d)
        for model in ("syntax", "semantic"):
            expect(count(lines, "model.yaml rejected", model) == 1,
                   (model, [l for l in lines if l.get("model") == model]))
        expect(count(lines, "model not loadable", "noyaml") == 1,
               [l for l in lines if l.get("model") == "noyaml"])
        # The parser's own "model.yaml:" is not doubled, in the index or the log.
        idx = repo_index(d)
        reason = idx[("syntax", "")]["reason"]
        expect(reason.startswith("model.yaml: syntax error at line"), reason)
        expect("model.yaml: model.yaml" not in d.logs(), d.logs())
        expect(idx[("noyaml", "")]["reason"] == "model.yaml: No such file or directory", idx)
        st, data, _ = d.request("GET", "/metrics")
        expect(b"\nmodeld_repository_scan_errors_total 3\n" in data, data[:2000])
        # A new error is logged; the same error again is not.
        with open(os.path.join(repo, "syntax", "model.yaml"), "w") as f:
            f.write("backend: trees\ntask: regression\nfeatures: [{name: a, datatype: INT7}]\n")
        expect(wait_for(lambda: "INT7" in repo_index(d)[("syntax", "")]["reason"]), repo_index(d))
        with open(os.path.join(repo, "semantic", "model.yaml"), "a") as f:
            f.write("# the same error, a changed file\n")
        scans_pass(d, repo, 2)
        lines = log_lines(d)
        expect(count(lines, "model.yaml rejected", "syntax") == 2,
               [l for l in lines if l.get("model") == "syntax"])
        expect(count(lines, "model.yaml rejected", "semantic") == 1,
               [l for l in lines if l.get("model") == "semantic"])
        # Fixed, then broken the same way: logged again (it is a change).
        shutil.copy(BENCH_YAML, os.path.join(repo, "noyaml", "model.yaml"))
        expect(wait_for(lambda: repo_index(d).get(("noyaml", "1"), {}).get("state") == "READY"),
               repo_index(d))
        os.unlink(os.path.join(repo, "noyaml", "model.yaml"))
        expect(wait_for(lambda: count(log_lines(d), "model not loadable", "noyaml") == 2),
               d.logs()[-3000:])
    shutil.rmtree(repo)


def test_ignored_directories_logged_once_with_why():
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    add_bench(repo, "bench", [1])
    for name in ("v1", "01", "0", ".hidden"):
        os.makedirs(os.path.join(repo, "bench", name))
    with open(os.path.join(repo, "bench", "README"), "w") as f:
        f.write("not a directory: passed over in silence\n")
    os.makedirs(os.path.join(repo, "bad name", "1"))
    os.makedirs(os.path.join(repo, ".git"))
    with Daemon(repo=repo, args=["--poll", "1"]) as d:
        scans_pass(d, repo, 2)
        lines = log_lines(d)
        ignored = [l for l in lines if l.get("msg") == "directory ignored"]
        expect(len(ignored) == 4, ignored)
        why = {(l.get("model"), l["entry"]): l["reason"] for l in ignored}
        expect(why[("bench", "v1")].startswith("not a version number"), why)
        expect(why[("bench", "01")] == "leading zero: the version directory would be '1'", why)
        expect(why[("bench", "0")] == "version 0: version numbers start at 1", why)
        expect(why[(None, "bad name")].startswith("not a model name"), why)
        expect(all(l["level"] == "warn" for l in ignored), ignored)
        # Removed and made again: it appears again, so it is logged again.
        os.rmdir(os.path.join(repo, "bench", "v1"))
        scans_pass(d, repo, 1)
        os.makedirs(os.path.join(repo, "bench", "v1"))
        expect(wait_for(lambda: count(log_lines(d), "directory ignored", "bench", "v1") == 2),
               d.logs()[-3000:])
        expect(repo_index(d)[("bench", "1")]["state"] == "READY", repo_index(d))
    shutil.rmtree(repo)


def test_unloaded_model_answers_503_saying_so():
    with Daemon() as d:
        st, data, _ = d.request("POST", "/v2/repository/models/bench/unload")
        expect(st == 200, data)
        for path in ("/v2/models/bench/infer", "/v2/models/bench/versions/1/infer"):
            st, doc, hdrs = d.json("POST", path, v2_row(ROW))
            expect_error(st, doc, 503, "model 'bench' was unloaded by an operator; load it again "
                         "with POST /v2/repository/models/bench/load")
            expect(hdrs.get("retry-after") == "1", hdrs)
        st, doc, _ = d.json("POST", "/v1/models/bench:predict", {"instances": [ROW]})
        expect_error(st, doc, 503, "unloaded by an operator")
        expect(repo_index(d)[("bench", "1")]["reason"] == "unloaded by an operator", repo_index(d))
        st, data, _ = d.request("POST", "/v2/repository/models/bench/load")
        expect(st == 200, data)
        st, doc, _ = d.json("POST", "/v2/models/bench/infer", v2_row(ROW))
        expect(st == 200, doc)
        # An unknown model has the one wording everywhere.
        for method, path in (("POST", "/v2/models/nosuch/infer"), ("GET", "/v2/models/nosuch"),
                             ("GET", "/v1/models/nosuch"), ("GET", "/v1/models/nosuch/metadata"),
                             ("POST", "/v2/repository/models/nosuch/load"),
                             ("POST", "/v2/repository/models/nosuch/unload")):
            st, doc, _ = d.json(method, path, v2_row(ROW) if method == "POST" else None)
            expect_error(st, doc, 404)
            expect(doc["error"] == "unknown model 'nosuch'", (path, doc))


if __name__ == "__main__":
    run([test_broken_model_yaml_logged_once_per_change, test_ignored_directories_logged_once_with_why,
         test_unloaded_model_answers_503_saying_so])
