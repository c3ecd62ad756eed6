#!/usr/bin/python3
"""Versions registered from an upload, models created from a model.yaml, and
rollout strategies from the configuration file: a real model uploaded is
registered with its own number and takes traffic only through a policy or
an alias; a contract that would refuse what the champion accepts is
refused; a model created through the API serves its uploaded version and
is all still there after a restart on the same --data."""
import json
import os
import shutil
import subprocess
import tempfile
import uuid

from harness import (BENCH_DATA, BENCH_YAML, MODELD, Daemon, bench_rows, expect, expect_error,
                     make_repo, run, v2_row)

FRAUD_ROW = {"inputs": [
    {"name": "amount", "datatype": "FP32", "shape": [1], "data": [12.5]},
    {"name": "hour", "datatype": "INT32", "shape": [1], "data": [3]},
    {"name": "account_age_days", "datatype": "INT32", "shape": [1], "data": [100]},
    {"name": "merchant_category", "datatype": "BYTES", "shape": [1], "data": ["online"]},
    {"name": "is_international", "datatype": "BOOL", "shape": [1], "data": [False]}]}


def upload(d, model, artifact, model_yaml=None, metadata=None):
    """POST /api/v1/models/{model}/versions as multipart/form-data."""
    boundary = uuid.uuid4().hex
    parts = [("artifact", open(artifact, "rb").read(), "model.json")]
    if model_yaml is not None:
        parts.append(("model.yaml", model_yaml.encode(), "model.yaml"))
    if metadata is not None:
        parts.append(("metadata", json.dumps(metadata).encode(), None))
    body = b""
    for name, data, filename in parts:
        body += b"--" + boundary.encode() + b"\r\n"
        disp = 'form-data; name="%s"' % name
        if filename:
            disp += '; filename="%s"' % filename
        body += ("Content-Disposition: %s\r\n\r\n" % disp).encode() + data + b"\r\n"
    body += b"--" + boundary.encode() + b"--\r\n"
    return d.json("POST", "/api/v1/models/%s/versions" % model, body,
                  {"Content-Type": "multipart/form-data; boundary=" + boundary})


def versions(d, model):
    st, doc, _ = d.json("GET", "/api/v1/models/%s/versions" % model)
    expect(st == 200, doc)
    return {v["version"]: v for v in doc["versions"]}


def test_upload_registers_a_version():
    with Daemon(bench=False) as d:
        art = os.path.join(d.repo, "fraud", "1", "model.json")
        st, doc, _ = upload(d, "fraud", art, metadata={"code": "git:abc", "auc": 0.91})
        expect(st == 201 and doc["version"] == "3" and doc["source"] == "upload", doc)
        v = versions(d, "fraud")["3"]
        expect(v["source"] == "upload" and v["metadata"] == {"code": "git:abc", "auc": 0.91} and
               v["traffic_percent"] == 0 and v["state"] == "UNAVAILABLE" and
               "registered" in v["reason"], v)
        # Uploaded versions are `register`: no traffic until named.
        st, doc, h = d.json("POST", "/v2/models/fraud/infer", FRAUD_ROW)
        expect(st == 200 and h["x-model-version"] == "2", (st, doc, h))
        st, doc, _ = d.json("PUT", "/api/v1/models/fraud/aliases/candidate", {"version": "3"})
        expect(st == 200 and doc["version"] == "3", doc)
        st, doc, h = d.json("POST", "/v2/models/fraud/versions/candidate/infer", FRAUD_ROW)
        expect(st == 200 and doc["model_version"] == "3" and h["x-model-route"] == "direct",
               (st, doc, h))
        # A second upload gets the next number; the same bytes are stored once.
        st, doc, _ = upload(d, "fraud", art)
        expect(st == 201 and doc["version"] == "4", doc)
        store = os.path.join(d.data, "artifacts")
        files = [f for _, _, fs in os.walk(store) for f in fs]
        expect(len(files) == 1, files)
        # A contract that refuses what the champion accepts is refused, nothing kept.
        yaml = open(os.path.join(d.repo, "fraud", "model.yaml")).read()
        narrower = yaml.replace("max: 1000000", "max: 10", 1)
        expect(narrower != yaml, "the fraud model.yaml changed: fix the test")
        st, doc, _ = upload(d, "fraud", art, model_yaml=narrower)
        expect_error(st, doc, 400, "not compatible with the champion's contract")
        expect("amount" in doc["error"], doc)
        st, doc, _ = upload(d, "nope", art)
        expect_error(st, doc, 404, "unknown model")
        expect(sorted(versions(d, "fraud")) == ["1", "2", "3", "4"], versions(d, "fraud"))
        st, doc, _ = d.json("GET", "/api/v1/events?model=fraud&kind=version_registered")
        expect(st == 200 and sum("upload" in e["message"] for e in doc["events"]) == 2, doc)


def test_candidate_out_of_time_answered_by_the_champion():
    """A canary whose own deadline always passes (timeout_us 1, batched) fails
    with 504; the champion answers those calls again with a deadline of its
    own (route retry), and the canary is counted with the failures."""
    tmp = tempfile.mkdtemp(prefix="modeld-t7070-")
    repo = make_repo(os.path.join(tmp, "repo"), examples=True, bench=False)
    yaml_path = os.path.join(repo, "fraud", "model.yaml")
    yaml = open(yaml_path).read()
    # The champion batches too, with a deadline of its own (10 ms a call).
    with open(yaml_path, "w") as f:
        f.write(yaml + "timeout_us: 10000\ndynamic_batching:\n  max_batch_size: 8\n"
                "  max_queue_delay_us: 500\n")
    with Daemon(repo=repo) as d:
        slow = yaml + "timeout_us: 1\ndynamic_batching:\n  max_batch_size: 8\n" \
                      "  max_queue_delay_us: 20000\n"
        st, doc, _ = upload(d, "fraud", os.path.join(d.repo, "fraud", "2", "model.json"),
                            model_yaml=slow)
        expect(st == 201 and doc["version"] == "3", doc)
        st, doc, _ = d.json("PUT", "/api/v1/models/fraud/traffic",
                            {"routes": [{"name": "stable", "version": "2", "weight": 50},
                                        {"name": "canary", "version": "3", "weight": 50}]})
        expect(st == 200, doc)
        routes = []
        for _ in range(40):
            st, doc, h = d.json("POST", "/v2/models/fraud/infer", FRAUD_ROW)
            expect(st == 200 and doc["model_version"] == "2", (st, doc, h))
            routes.append(h["x-model-route"])
        expect(set(routes) == {"stable", "retry"} and routes.count("retry") >= 5, routes)
        st, data, _ = d.request("GET", "/metrics")
        text = data.decode()
        expect('modeld_inference_failures_total{model="fraud",version="3",route="canary",'
               'reason="timeout"} %d' % routes.count("retry") in text,
               [l for l in text.splitlines() if 'version="3"' in l and "failures" in l])
    shutil.rmtree(tmp, ignore_errors=True)


def test_model_created_through_the_api():
    tmp = tempfile.mkdtemp(prefix="modeld-t7070-")
    try:
        repo = make_repo(os.path.join(tmp, "repo"), examples=False, bench=False)
        data = os.path.join(tmp, "data")
        art = os.path.join(BENCH_DATA, "bench_model.json")
        yaml = open(BENCH_YAML).read()
        row, _ = bench_rows(1)[0]
        with Daemon(repo=repo, args=["--data", data]) as d:
            st, doc, _ = d.json("PUT", "/api/v1/models/made", yaml)
            expect(st == 200 and doc == {"model": "made", "created": True}, doc)
            st, doc, _ = d.json("PUT", "/api/v1/models/made", "backend: trees\n")
            expect_error(st, doc, 400, "model.yaml:")
            st, doc, _ = d.json("PUT", "/api/v1/models/.hidden", yaml)
            expect_error(st, doc, 400, "model: '.hidden' is not a model name")
            st, doc, _ = upload(d, "made", art)
            expect(st == 201 and doc["version"] == "1", doc)
            st, doc, _ = d.json("PUT", "/api/v1/models/made/traffic",
                                {"routes": [{"version": "1"}]})
            expect(st == 200, doc)
            st, doc, h = d.json("POST", "/v2/models/made/infer", v2_row(row))
            expect(st == 200 and h["x-model-route"] == "stable", (st, doc, h))
            expected = doc["outputs"][0]["data"]
        # The model, its version and its policy come back from the store.
        with Daemon(repo=repo, args=["--data", data]) as d:
            st, doc, h = d.json("POST", "/v2/models/made/infer", v2_row(row))
            expect(st == 200 and h["x-model-version"] == "1" and
                   doc["outputs"][0]["data"] == expected, (st, doc, h))
            st, doc, _ = d.json("GET", "/api/v1/events?model=made&kind=model_created")
            expect(st == 200 and len(doc["events"]) == 1, doc)
            # A model of the repository directory is not replaced through the API.
            os.makedirs(os.path.join(repo, "dirmodel", "1"))
            st, doc, _ = d.json("PUT", "/api/v1/models/dirmodel", yaml)
            expect_error(st, doc, 409, "defined by the repository directory")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_strategies_from_the_config_file():
    tmp = tempfile.mkdtemp(prefix="modeld-t7070-")
    try:
        conf = os.path.join(tmp, "modeld.yaml")
        with open(conf, "w") as f:
            f.write("strategies:\n  safe:\n    kind: canary\n    steps: [10, 100]\n"
                    "    interval_s: 30\n    gates:\n      - {metric: error_rate, max: 0.02}\n")
        with Daemon(bench=False, examples=False, args=["--config", conf]) as d:
            st, doc, _ = d.json("GET", "/api/v1/strategies/safe")
            expect(st == 200 and doc["strategy"]["steps"] == [10, 100] and
                   doc["strategy"]["gates"][0]["max"] == 0.02, doc)
        with open(conf, "w") as f:
            f.write("strategies:\n  safe:\n    kind: canary\n    steps: [50, 10]\n")
        p = subprocess.run([MODELD, "--repo", tmp, "--data", os.path.join(tmp, "d2"), "--config",
                            conf, "--listen", "127.0.0.1:0"], capture_output=True, text=True,
                           timeout=30)
        expect(p.returncode != 0 and "strategies.safe.steps" in p.stdout + p.stderr and
               "modeld.yaml:3" in p.stdout + p.stderr, (p.returncode, p.stdout, p.stderr))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_upload_registers_a_version, test_candidate_out_of_time_answered_by_the_champion,
         test_model_created_through_the_api,
         test_strategies_from_the_config_file])
