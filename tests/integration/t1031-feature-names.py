#!/usr/bin/python3
"""Feature names of an artifact against model.yaml: an artifact that records
none loads, with a warning in the log, the repository index, modelctl status
and /metrics; a width mismatch of an artifact that has them names the first
column that differs."""
import json
import os
import shutil
import subprocess
import tempfile

from harness import (Daemon, EXAMPLES, MODELCTL, add_bench, expect, repo_index, run, v2_row)

WARNING = "model.json records no feature names: the order of its 30 columns cannot be checked"


def test_no_feature_names_loads_with_a_warning():
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    add_bench(repo, "bench", [1])  # its artifact has "feature_names": []
    with Daemon(repo=repo) as d:
        e = repo_index(d)[("bench", "1")]
        expect(e["state"] == "READY" and e["reason"].startswith(WARNING), e)
        st, doc, _ = d.json("POST", "/v2/models/bench/infer", v2_row([0.1] * 30))
        expect(st == 200, doc)
        warned = [json.loads(l) for l in d.logs().splitlines()
                  if '"version loaded with a warning"' in l]
        expect(len(warned) == 1 and warned[0]["level"] == "warn" and
               warned[0]["warning"].startswith(WARNING), warned)
        p = subprocess.run([MODELCTL, "--url", "http://127.0.0.1:%d" % d.port, "status", "bench"],
                           capture_output=True, text=True, timeout=30)
        expect(p.returncode == 0, p)
        row = p.stdout.splitlines()[1].split(None, 3)
        expect(row[:3] == ["bench", "1", "READY"] and row[3].startswith(WARNING), p.stdout)
        st, data, _ = d.request("GET", "/metrics")
        expect(b'modeld_model_version_reason{model="bench",version="1",reason="warning"} 1\n'
               in data, data[-3000:])
        # The TF Serving status of a ready version stays clean.
        st, doc, _ = d.json("GET", "/v1/models/bench")
        expect(doc["model_version_status"][0]["status"]["error_message"] == "", doc)
    shutil.rmtree(repo)


def test_width_mismatch_names_first_column():
    repo = tempfile.mkdtemp(prefix="modeld-repo-")
    shutil.copytree(os.path.join(EXAMPLES, "iris"), os.path.join(repo, "iris"))
    path = os.path.join(repo, "iris", "model.yaml")
    text = open(path).read()
    cut = "  - {name: petal_length, datatype: FP32, min: 0, max: 30}\n"
    expect(cut in text, text)
    with open(path, "w") as f:
        f.write(text.replace(cut, ""))
    with Daemon(repo=repo) as d:
        e = repo_index(d)[("iris", "1")]
        expect(e["state"] == "UNAVAILABLE", e)
        expect(e["reason"] == "model.json does not fit model.yaml: engine takes 4 features per "
               "row, the contract prepares 3 columns: column 2 is 'petal_width' in model.yaml, "
               "'petal_length' in the artifact", e)
        # A model whose artifact names its features in the right order has no warning.
        with open(path, "w") as f:
            f.write(text)
        st, data, _ = d.request("POST", "/v2/repository/models/iris/load")
        expect(st == 200, data)
        e = repo_index(d)[("iris", "1")]
        expect(e["state"] == "READY" and e["reason"] == "", e)
        expect('"version loaded with a warning"' not in d.logs(), d.logs())
    shutil.rmtree(repo)


if __name__ == "__main__":
    run([test_no_feature_names_loads_with_a_warning, test_width_mismatch_names_first_column])
