#!/usr/bin/env python3
"""External trainers: commands named in the daemon's configuration file
(`trainers:`), which a model.yaml names by name only. A trainer gets its
run directory's paths as placeholders in its arguments and writes the
artifact; modeld evaluates it and registers it with the trainer's name and
exit status in the lineage. A trainer that fails, runs out of time, goes
over its memory limit or writes nothing is stored as such and changes
nothing that serves; a second run of a model is refused while one runs. A
model.yaml naming an unknown trainer does not load (repository) or is
refused (PUT /api/v1/models/{m}, an upload's model.yaml part), as is one
holding a command; a bad `trainers:` section stops start-up."""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Daemon, MODELD, expect, expect_error, free_port, repo_index, run,  # noqa: E402
                     wait_for)
import trainlib as tl  # noqa: E402

STATE = {}


def section(trainer, **kw):
    text = "training:\n  trainer: %s\n  min_rows: 100\n  holdout: 0.25\n" % trainer
    for k, v in kw.items():
        text += "  %s: %s\n" % (k, v)
    return text


def config(tmp, champion):
    """The configuration file: one trainer of each kind."""
    path = os.path.join(tmp, "modeld.yaml")
    with open(path, "w") as f:
        f.write("""trainers:
  copy:
    command: [/bin/cp, %s, "{artifact}"]
  broken:
    command: [/bin/sh, -c, "echo the data is bad: $1; exit 3", sh, "{train}"]
  slow:
    command: [/bin/sleep, "30"]
    timeout: 1s
  sleepy:
    command: [/bin/sleep, "4"]
  hungry:
    command: [/usr/bin/python3, -c, "import time; x = bytearray(400 << 20); time.sleep(20)"]
    memory_mb: 64
    timeout: 60s
  idle:
    command: [/bin/true]
""" % champion)
    return path


def daemon():
    if "d" not in STATE:
        tmp = tempfile.mkdtemp(prefix="modeld-t6422-")
        STATE["tmp"] = tmp
        extra = {"fcopy": section("copy"), "fbroken": section("broken"),
                 "fslow": section("slow"), "fhungry": section("hungry"),
                 "fidle": section("idle"), "fsleepy": section("sleepy"),
                 "funknown": section("nosuch")}
        repo = tl.fraud_repo(tmp, training=None, extra=extra)
        champion = os.path.join(repo, "fraud", "2", "model.json")
        STATE["d"] = Daemon(repo=repo, args=["--config", config(tmp, champion)])
        for i, m in enumerate(("fcopy", "fbroken", "fslow", "fhungry", "fidle", "fsleepy")):
            tl.labelled_traffic(STATE["d"], m, 200, 6422 + i)
    return STATE["d"]


def versions(d, model):
    st, doc, _ = d.json("GET", "/api/v1/models/%s/versions" % model)
    expect(st == 200, doc)
    return [v["version"] for v in doc["versions"]], doc


def test_trainer_artifact_registered():
    d = daemon()
    rid = tl.retrain(d, "fcopy")
    r = tl.wait_run(d, "fcopy", rid)
    expect(r["state"] == "succeeded", r)
    expect(r["result"]["trainer"] == {"name": "copy", "outcome": "exited with status 0"}, r)
    nums, doc = versions(d, "fcopy")
    v = [x for x in doc["versions"] if x["version"] == r["version"]][0]
    lin = v["metadata"]["lineage"]
    expect(lin["trainer"] == {"name": "copy", "outcome": "exited with status 0"}, lin)
    ev = lin["evaluation"]
    # The copy of the champion's artifact scores as the champion does.
    expect(abs(ev["candidate"]["roc_auc"] - ev["champion"]["roc_auc"]) < 1e-9, ev)
    expect(ev["verdict"] == "comparable", ev)
    expect(v["sha256"] == [x for x in doc["versions"] if x["version"] == "2"][0]["sha256"], v)


def expect_run(d, model, state, fragment):
    nums_before, _ = versions(d, model)
    rid = tl.retrain(d, model)
    r = tl.wait_run(d, model, rid)
    expect(r["state"] == state, r)
    expect(fragment in r["result"]["reason"], (fragment, r["result"]))
    expect(r["version"] is None, r)
    nums, doc = versions(d, model)
    expect(nums == nums_before, doc)
    st, evs, _ = d.json("GET", "/api/v1/events?model=%s&kind=training_finished" % model)
    expect(st == 200 and evs["events"][0]["details"]["reason"] == r["result"]["reason"], evs)
    # It still serves as before.
    rows = tl.fraud_rows(1, tl.rng_for(1))
    tl.predict(d, model, rows, "%s-after-%d" % (model, rid))
    return r


def test_failing_trainer():
    d = daemon()
    r = expect_run(d, "fbroken", "failed", "the trainer exited with status 3: the data is bad: ")
    expect("train.jsonl" in r["result"]["reason"], r)


def test_timed_out_trainer():
    expect_run(daemon(), "fslow", "timed_out", "the trainer did not finish within 1 s")


def test_memory_limit():
    expect_run(daemon(), "fhungry", "killed", "the trainer used more than 64 MiB of memory")


def test_trainer_without_artifact():
    expect_run(daemon(), "fidle", "failed",
               "the trainer 'idle' exited with status 0 but wrote no model.json")


def test_one_run_at_a_time():
    d = daemon()
    rid = tl.retrain(d, "fsleepy")
    st, doc, _ = d.json("POST", "/api/v1/models/fsleepy/trainings")
    expect_error(st, doc, 409, "model 'fsleepy' has training %d queued or running" % rid)
    r = tl.wait_run(d, "fsleepy", rid)
    expect(r["state"] == "failed", r)  # /bin/sleep writes no artifact


def test_unknown_trainer_refused():
    d = daemon()
    idx = repo_index(d)
    reasons = " ".join(e.get("reason", "") for (m, _), e in idx.items() if m == "funknown")
    expect("training.trainer: 'nosuch' is not a trainer of the daemon's configuration file"
           in reasons, reasons)
    with open(os.path.join(d.repo, "fraud", "model.yaml")) as f:
        base = f.read().replace("name: fraud\n", "")
    for text, fragment in [
            (base + section("nosuch"), "training.trainer: 'nosuch' is not a trainer"),
            (base + "training:\n  command: [/bin/sh, -c, 'rm -rf /']\n",
             "training.command: a model.yaml never holds a command")]:
        st, doc, _ = d.json("PUT", "/api/v1/models/apimodel", text)
        expect_error(st, doc, 400, fragment)
        boundary = "----t6422"
        body = ("--%s\r\nContent-Disposition: form-data; name=\"model.yaml\"\r\n\r\n%s\r\n"
                "--%s\r\nContent-Disposition: form-data; name=\"artifact\"; filename=\"m.json\""
                "\r\n\r\n{}\r\n--%s--\r\n" % (boundary, text, boundary, boundary)).encode()
        st, doc, _ = d.json("POST", "/api/v1/models/fraud/versions", body,
                            {"Content-Type": "multipart/form-data; boundary=%s" % boundary})
        expect_error(st, doc, 400, fragment)


def test_bad_trainers_section_stops_start():
    tmp = tempfile.mkdtemp(prefix="modeld-t6422-")
    try:
        for text, fragment in [
                ("trainers:\n  t:\n    command: [python3, x.py]\n",
                 "trainers.t.command[0]: 'python3' is not an absolute path"),
                ("trainers:\n  t:\n    command: []\n", "trainers.t.command: 0 items"),
                ("trainers:\n  t:\n    command: [/bin/true]\n    timeout: soon\n",
                 "trainers.t.timeout: 'soon' is not a duration"),
                ("trainers:\n  t:\n    shell: yes\n", "trainers.t: unknown key 'shell'")]:
            path = os.path.join(tmp, "c.yaml")
            with open(path, "w") as f:
                f.write(text)
            p = subprocess.run([MODELD, "--repo", tmp, "--listen", "127.0.0.1:%d" % free_port(),
                                "--config", path], capture_output=True, text=True, timeout=20)
            expect(p.returncode == 2 and fragment in p.stderr, (p.returncode, p.stderr, fragment))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def teardown():
    if "d" in STATE:
        STATE["d"].__exit__(None, None, None)
        shutil.rmtree(STATE["tmp"], ignore_errors=True)


if __name__ == "__main__":
    try:
        run([test_trainer_artifact_registered, test_failing_trainer, test_timed_out_trainer,
             test_memory_limit, test_trainer_without_artifact, test_one_run_at_a_time,
             test_unknown_trainer_refused, test_bad_trainers_section_stops_start])
    finally:
        teardown()
