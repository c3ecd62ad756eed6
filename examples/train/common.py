"""Helpers shared by the example training scripts: where files go, and the
request samples each script writes next to its model."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.dirname(HERE)
REPO = os.path.join(EXAMPLES, "repo")
DATA = os.path.join(EXAMPLES, "data")


def version_dir(model, version):
    path = os.path.join(REPO, model, str(version))
    os.makedirs(path, exist_ok=True)
    return path


def write_sample(model, features, rows):
    """A V2 infer body with one input per feature (columnar), for curl -d @file."""
    inputs = []
    for name, datatype in features:
        inputs.append({"name": name, "datatype": datatype, "shape": [len(rows), 1],
                       "data": [[r[name]] for r in rows]})
    os.makedirs(DATA, exist_ok=True)
    with open(os.path.join(DATA, model + "_sample.json"), "w") as f:
        json.dump({"id": model + "-sample", "inputs": inputs}, f, indent=1)
        f.write("\n")
