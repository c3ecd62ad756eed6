#!/usr/bin/python3
# slow
"""The example models' training scripts as external trainers (issue 17,
item 4): the daemon's configuration file names each of examples/train/
{fraud,churn,housing,iris}.py in its trainer mode, each example's model.yaml
names its trainer, labelled traffic arrives, and a run of each (asked for
by hand) has the script train on the exported set, modeld evaluate what it
wrote against the champion and register it with the trainer's name and
exit status in its lineage; the new version then serves. Needs Debian's
numpy, xgboost, scikit-learn and yaml for /usr/bin/python3 (says it is
skipped without)."""
import os
import random
import subprocess
import tempfile

from harness import ROOT, Daemon, expect, make_repo, run
from feedbacklib import FRAUD_TYPES, HOUSING_TYPES, fraud_rows, housing_rows, post, wait_rows
import trainlib as tl

SCRIPTS = {"fraud": "fraud.py", "churn": "churn.py", "housing": "housing.py", "iris": "iris.py"}
CHURN_TYPES = {"tenure_months": "INT32", "monthly_charges": "FP32", "contract": "BYTES",
               "support_calls": "INT32", "has_partner": "BOOL", "satisfaction_score": "FP32"}
IRIS_TYPES = {"sepal_length": "FP32", "sepal_width": "FP32", "petal_length": "FP32",
              "petal_width": "FP32"}
PARAMS = {"fraud": "{num_round: 20}", "housing": "{num_round: 20}", "iris": "{num_round: 5}",
          "churn": "{C: 0.5}"}


def churn_rows(n, rng):
    return [{"tenure_months": rng.randrange(72), "monthly_charges": round(rng.uniform(18, 150), 2),
             "contract": rng.choice(["month-to-month", "one-year", "two-year"]),
             "support_calls": rng.randrange(7), "has_partner": rng.random() < 0.5,
             "satisfaction_score": None if rng.random() < 0.4 else round(rng.uniform(1, 5), 1)}
            for _ in range(n)]


def churn_label(r):
    return "churn" if r["contract"] == "month-to-month" and r["tenure_months"] < 24 else "stay"


def iris_rows(n, rng):
    out = []
    for _ in range(n):
        petal = round(rng.uniform(1, 7), 1)
        out.append({"sepal_length": round(rng.uniform(4.3, 7.9), 1),
                    "sepal_width": round(rng.uniform(2, 4.4), 1), "petal_length": petal,
                    "petal_width": round(max(0.1, petal / 3 + rng.uniform(-0.3, 0.3)), 1)})
    return out


def iris_label(r):
    return ("setosa" if r["petal_length"] < 2.5 else
            "versicolor" if r["petal_length"] < 4.8 else "virginica")


TRAFFIC = {
    "fraud": (fraud_rows, FRAUD_TYPES, lambda r: {"label": tl.label_of(r)}),
    "churn": (churn_rows, CHURN_TYPES, lambda r: {"label": churn_label(r)}),
    "housing": (housing_rows, HOUSING_TYPES,
                lambda r: {"value": round(0.3 * r["sqft"] + 40 * r["bathrooms"], 1)}),
    "iris": (iris_rows, IRIS_TYPES, lambda r: {"label": iris_label(r)}),
}


def have_modules():
    p = subprocess.run(["/usr/bin/python3", "-c", "import numpy, xgboost, sklearn, yaml"],
                       capture_output=True, timeout=60)
    return p.returncode == 0


def labelled(d, model, n, seed):
    """n rows predicted in batches of 50, then each given its label or value."""
    gen, types, target = TRAFFIC[model]
    rng = random.Random(seed)
    items = []
    for b in range(0, n, 50):
        rows = gen(50, rng)
        rid = "%s-%d" % (model, b)
        body = {"inputs": [{"name": k, "datatype": dt, "shape": [len(rows)],
                            "data": [r[k] for r in rows]} for k, dt in types.items()]}
        st, doc, _ = d.json("POST", "/v2/models/%s/infer" % model, body, {"X-Request-Id": rid})
        expect(st == 200, (model, st, doc))
        items += [dict(request_id=rid, row=i, **target(r)) for i, r in enumerate(rows)]
    wait_rows(d.data, "model = '%s'" % model, n)
    doc = post(d, {"model": model, "items": items})
    expect(doc["failed"] == 0, doc)


def test_example_scripts_as_trainers():
    if not have_modules():
        print("    skipped: numpy, xgboost, scikit-learn or yaml is missing")
        return
    tmp = tempfile.mkdtemp(prefix="modeld-t6502-")
    repo = make_repo(os.path.join(tmp, "repo"), bench=False)
    conf = os.path.join(tmp, "modeld.yaml")
    with open(conf, "w") as f:
        f.write("trainers:\n")
        for model, script in SCRIPTS.items():
            f.write('  %s-script:\n    command: [/usr/bin/python3, %s, --trainer, --train, '
                    '"{train}", --holdout, "{holdout}", --model-yaml, "{model_yaml}", '
                    '--output, "{output}", --params, "{params}"]\n    timeout: 5m\n'
                    % (model, os.path.join(ROOT, "examples", "train", script)))
    for model in SCRIPTS:
        with open(os.path.join(repo, model, "model.yaml"), "a") as f:
            f.write("training:\n  trainer: %s-script\n  params: %s\n  min_rows: 100\n"
                    % (model, PARAMS[model]))
    with Daemon(repo=repo, args=["--config", conf]) as d:
        for k, model in enumerate(SCRIPTS):
            labelled(d, model, 300, 6502 + k)
        for model in SCRIPTS:
            rid = tl.retrain(d, model)
            r = tl.wait_run(d, model, rid, timeout=180)
            print("    %s: %s in %d ms, trainer %s, evaluation %s"
                  % (model, r["state"], r["duration_ms"], r["result"].get("trainer"),
                     r["result"].get("evaluation", {}).get("candidate")))
            expect(r["state"] == "succeeded" and r["version"], (model, r))
            expect(r["result"]["trainer"] == {"name": "%s-script" % model,
                                              "outcome": "exited with status 0"},
                   r["result"].get("trainer"))
            st, doc, _ = d.json("GET", "/api/v1/models/%s/versions" % model)
            v = [x for x in doc["versions"] if str(x["version"]) == str(r["version"])][0]
            lin = v["metadata"]["lineage"]
            expect(lin["trainer"]["name"] == "%s-script" % model and lin["rows"]["train"] > 0,
                   lin)
            # The new version loads and answers.
            gen, types, _ = TRAFFIC[model]
            rows = gen(2, random.Random(1))
            body = {"inputs": [{"name": k, "datatype": dt, "shape": [2],
                                "data": [x[k] for x in rows]} for k, dt in types.items()]}
            st, doc, _ = d.json("POST", "/v2/models/%s/versions/%s/infer" % (model, r["version"]),
                                body)
            expect(st == 200 and doc["model_version"] == str(r["version"]), (model, st, doc))


run([test_example_scripts_as_trainers])
