#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""modeld --check: the repository loaded offline by the server's own scan,
as a table MODEL VERSION STATE REASON; exit 0 when everything loads, 1 when a
model.yaml or a version does not (or there is no model, or no repository), 2
on bad flags. It opens no port and writes no data directory, and its rows
say what the server's repository index says of the same repository."""
import os
import shutil
import socket
import subprocess
import tempfile

from harness import (BENCH_YAML, MODELD, Daemon, add_bench, expect, make_repo, run)


def check(repo, *extra, cwd=None):
    p = subprocess.run([MODELD, "--check", "--repo", repo] + list(extra), capture_output=True,
                       text=True, timeout=120, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def table(out):
    """{(model, version): (state, reason)} from the table, cut at the header's columns."""
    lines = out.split("\n\n")[0].splitlines()
    head = lines[0]
    expect(head.split() == ["MODEL", "VERSION", "STATE", "REASON"], out)
    cols = [head.index(c) for c in ("VERSION", "STATE", "REASON")]
    rows = {}
    for line in lines[1:]:
        model = line[:cols[0]].strip()
        version = line[cols[0]:cols[1]].strip()
        state = line[cols[1]:cols[2]].strip()
        reason = line[cols[2]:].strip()
        expect((model, version) not in rows, "row %r twice:\n%s" % ((model, version), out))
        rows[(model, version)] = (state, reason)
    return rows


# The benchmark model records no feature names: a READY version of it shows
# this warning as its reason; the example models name theirs.
NO_NAMES = ("model.json records no feature names: the order of its 30 columns cannot be checked "
            "against model.yaml")


def ready(row):
    """Whether a table row is READY with no reason, or with the warning above."""
    return row is not None and row[0] == "READY" and row[1] in ("", NO_NAMES)


def summary(out):
    parts = out.rstrip("\n").split("\n\n")
    expect(len(parts) == 2, "no summary after the table:\n" + out)
    return parts[1]


def fresh_repo():
    tmp = tempfile.mkdtemp(prefix="modeld-check-")
    return tmp, make_repo(os.path.join(tmp, "repo"))


def test_good_repository():
    tmp, repo = fresh_repo()
    try:
        # The port is taken and the working directory empty: --check must
        # neither listen nor create its data directory.
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        rc, out, err = check(repo, "--listen", "127.0.0.1:%d" % port, cwd=tmp)
        busy.close()
        expect(rc == 0, "exit %d\n%s%s" % (rc, out, err))
        expect(err == "", "logs are off by default, got:\n" + err)
        rows = table(out)
        for key in (("churn", "1"), ("fraud", "2"), ("housing", "1"), ("iris", "1"),
                    ("bench", "1"), ("strict", "1")):
            expect(ready(rows.get(key)), "%r: %r\n%s" % (key, rows.get(key), out))
        expect(rows[("fraud", "1")] == ("UNAVAILABLE", "not selected by the version policy"), out)
        expect(len(rows) == 7, out)
        expect(summary(out) == "check passed: 6 models, 6 versions ready, 1 not selected by a "
               "version policy, 0 failed, 0 entries ignored", out)
        expect(sorted(os.listdir(tmp)) == ["repo"], "--check wrote %r" % os.listdir(tmp))
    finally:
        shutil.rmtree(tmp)


def test_broken_yaml_fails_with_reason():
    tmp, repo = fresh_repo()
    try:
        with open(os.path.join(repo, "churn", "model.yaml"), "a") as f:
            f.write("features: [\n")
        with open(os.path.join(repo, "housing", "model.yaml")) as f:
            text = f.read()
        with open(os.path.join(repo, "housing", "model.yaml"), "w") as f:
            f.write(text.replace("datatype: FP32", "datatype: FLOAT", 1))
        rc, out, err = check(repo)
        expect(rc == 1, "exit %d\n%s%s" % (rc, out, err))
        rows = table(out)
        state, reason = rows[("churn", "")]
        expect(state == "FAILED" and reason.startswith("model.yaml: syntax error at line"),
               rows[("churn", "")])
        state, reason = rows[("housing", "")]
        expect(state == "FAILED" and "'FLOAT' is not one of" in reason, rows[("housing", "")])
        expect(rows[("fraud", "2")] == ("READY", ""), out)
        expect(summary(out).startswith("check failed: 6 models, 4 versions ready") and
               ", 2 failed," in summary(out), out)
    finally:
        shutil.rmtree(tmp)


def test_corrupt_artifact_and_misfit_contract_fail():
    tmp, repo = fresh_repo()
    try:
        with open(os.path.join(repo, "bench", "1", "model.json"), "w") as f:
            f.write('{"learner": {"gradient_booster": ')
        # Contract and artifact disagree: 29 declared features, the trees use 30.
        text = open(BENCH_YAML).read()
        lines = [l for l in text.splitlines(True) if "name: f29," not in l]
        add_bench(repo, "misfit", [1], "".join(lines))
        rc, out, err = check(repo)
        expect(rc == 1, "exit %d\n%s%s" % (rc, out, err))
        rows = table(out)
        state, reason = rows[("bench", "1")]
        expect(state == "FAILED" and reason.startswith("model.json: "), rows[("bench", "1")])
        state, reason = rows[("misfit", "1")]
        expect(state == "FAILED" and "does not fit model.yaml" in reason, rows[("misfit", "1")])
        expect(ready(rows[("strict", "1")]), out)
    finally:
        shutil.rmtree(tmp)


def test_policy_and_ignored_entries():
    tmp, repo = fresh_repo()
    try:
        os.makedirs(os.path.join(repo, "fraud", "v1"))
        os.makedirs(os.path.join(repo, "fraud", "03"))
        open(os.path.join(repo, "fraud", "NOTES.md"), "w").close()
        open(os.path.join(repo, "fraud", ".hidden"), "w").close()
        open(os.path.join(repo, "README.md"), "w").close()
        os.makedirs(os.path.join(repo, "bad name"))
        rc, out, err = check(repo)
        expect(rc == 0, "ignored entries are not failures: exit %d\n%s%s" % (rc, out, err))
        rows = table(out)
        expect(rows[("fraud", "v1")] == ("IGNORED", "not a version number: version directories "
                                         "are named 1, 2, 3, ..."), out)
        expect(rows[("fraud", "03")][0] == "IGNORED", out)
        expect(rows[("fraud", "NOTES.md")] == ("IGNORED", "not model.yaml or a version directory"),
               out)
        expect(("fraud", ".hidden") not in rows, out)
        expect(rows[("README.md", "")] == ("IGNORED", "not a directory: a model is a directory"),
               out)
        expect(rows[("bad name", "")][0] == "IGNORED" and "not a model name" in
               rows[("bad name", "")][1], out)
        expect(summary(out).endswith("0 failed, 5 entries ignored"), out)

        # A version the specific policy lists but that is not on disk fails.
        add_bench(repo, "pinned", [1, 2], open(BENCH_YAML).read() +
                  "version_policy:\n  specific: [2, 4]\n")
        rc, out, err = check(repo)
        expect(rc == 1, "exit %d\n%s%s" % (rc, out, err))
        rows = table(out)
        expect(rows[("pinned", "1")] == ("UNAVAILABLE", "not selected by the version policy"), out)
        expect(ready(rows[("pinned", "2")]), out)
        expect(rows[("pinned", "4")] == ("FAILED", "listed by the version policy but no such "
                                         "directory"), out)
    finally:
        shutil.rmtree(tmp)


def test_rows_match_the_servers_index():
    """The check and a server on the same repository say the same of each version."""
    tmp, repo = fresh_repo()
    try:
        with open(os.path.join(repo, "iris", "1", "model.json"), "w") as f:
            f.write("{")
        with open(os.path.join(repo, "churn", "model.yaml"), "a") as f:
            f.write("bogus_key: 1\n")
        add_bench(repo, "three", [1, 2, 3], open(BENCH_YAML).read() +
                  "version_policy:\n  latest: 2\n")
        rc, out, err = check(repo)
        expect(rc == 1, "exit %d\n%s%s" % (rc, out, err))
        rows = table(out)
        with Daemon(repo=repo) as d:
            st, doc, _ = d.json("POST", "/v2/repository/index", {})
        expect(st == 200, doc)
        expect(len(doc) == len(rows), "server %r\ncheck:\n%s" % (doc, out))
        for e in doc:
            state, reason = rows[(e["name"], e.get("version", ""))]
            expect(reason == e["reason"].strip(), "%r: check says %r\n%s" % (e, reason, out))
            expect(state == e["state"] or (state == "FAILED" and e["state"] == "UNAVAILABLE"),
                   "%r: check says %s" % (e, state))
    finally:
        shutil.rmtree(tmp)


def test_missing_or_empty_repository():
    tmp = tempfile.mkdtemp(prefix="modeld-check-")
    try:
        missing = os.path.join(tmp, "nope")
        rc, out, err = check(missing)
        expect(rc == 1 and out == "", "exit %d\n%s%s" % (rc, out, err))
        expect(err == "modeld: --check: cannot open the model repository: repository '%s': "
               "No such file or directory\n" % missing, err)
        rc, out, err = check(tmp)
        expect(rc == 1 and "repository '%s' holds no model directory" % tmp in err,
               "exit %d\n%s%s" % (rc, out, err))
        expect(summary(out).startswith("check failed: 0 models"), out)
    finally:
        shutil.rmtree(tmp)


def test_usage_and_log_level():
    tmp, repo = fresh_repo()
    try:
        rc, out, err = check(repo, "extra")
        expect(rc == 2 and "unexpected argument 'extra'" in err, err)
        rc, out, err = check(repo, "--log-level", "loud")
        expect(rc == 2 and "--log-level" in err, err)
        p = subprocess.run([MODELD, "--help"], capture_output=True, text=True, timeout=10)
        expect("modeld --check [--repo DIR]" in p.stdout and "--check " in p.stdout, p.stdout)
        # With --log-level the scan logs as the server does.
        rc, out, err = check(repo, "--log-level", "info")
        expect(rc == 0 and '"msg":"version loaded"' in err, err)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    run([test_good_repository, test_broken_yaml_fails_with_reason,
         test_corrupt_artifact_and_misfit_contract_fail, test_policy_and_ignored_entries,
         test_rows_match_the_servers_index, test_missing_or_empty_repository,
         test_usage_and_log_level])
