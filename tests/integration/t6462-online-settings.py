#!/usr/bin/python3
"""Bad `online:` settings in a model.yaml that arrives through the API
(PUT /api/v1/models/{m}) are refused with a 400 naming the key and the
reason, and nothing is created; a good one is taken."""
from harness import Daemon, expect, run

HEAD = """backend: %s
task: %s
%sfeatures:
  - {name: x0, datatype: FP32}
  - {name: x1, datatype: FP32}
"""

BINARY = HEAD % ("linear", "classification", "labels: [no, yes]\n")
REGRESSION = HEAD % ("linear", "regression", "")
TREES = HEAD % ("trees", "classification", "labels: [no, yes]\n")

CASES = [
    (TREES + "online: {}\n",
     "model.yaml: online: learning online needs backend linear (this model's is 'trees')"),
    (REGRESSION + "online: {algo: ftrl}\n",
     "model.yaml: online.algo: ftrl is for logistic models: this model is not a binary "
     "classifier (use sgd)"),
    (BINARY + "online: {algo: adam}\n", "online.algo"),
    (BINARY + "online: {learning_rate: 0}\n", "model.yaml: online.learning_rate: 0 is not above 0"),
    (BINARY + "online: {window: 5}\n",
     "model.yaml: online.window: 5 is not between 10 and 100000"),
    (BINARY + "online: {fallback_margin: 1.5}\n",
     "model.yaml: online.fallback_margin: 1.5 is above 1"),
    (BINARY + "online: {algo: ftrl, beta: 0}\n", "model.yaml: online.beta: 0 with l2 0"),
    (BINARY + "online: {rate: 1}\n", "rate"),
]


def test_bad_settings_named():
    with Daemon(examples=False, bench=False) as d:
        for i, (yaml, want) in enumerate(CASES):
            st, doc, _ = d.json("PUT", "/api/v1/models/bad%d" % i, yaml)
            expect(st == 400 and want in doc["error"], (i, st, doc, want))
            st, _, _ = d.json("GET", "/api/v1/models/bad%d/versions" % i)
            expect(st == 404, (i, st))
        st, doc, _ = d.json("PUT", "/api/v1/models/good",
                            BINARY + "online: {algo: ftrl, alpha: 0.2, l1: 0.01}\n")
        expect(st == 200 and doc["created"] is True, doc)


if __name__ == "__main__":
    run([test_bad_settings_named])
