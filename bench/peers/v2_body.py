#!/usr/bin/python3
"""Write an Open Inference Protocol infer body of ROWS rows taken from
bench_rows.csv (missing values become NaN-free zeros).  Usage: v2_body.py ROWS OUT"""
import json, sys, os
rows = int(sys.argv[1])
here = os.path.dirname(os.path.abspath(__file__))
data = []
with open(os.path.join(here, "..", "..", "tests", "data", "bench", "bench_rows.csv")) as f:
    for line in f:
        vals = line.rstrip("\n").split(",")[:30]
        data.extend(float(v) if v else 0.0 for v in vals)
        if len(data) >= rows * 30:
            break
body = {"id": "bench", "inputs": [{"name": "features", "shape": [rows, 30], "datatype": "FP32", "data": data}]}
with open(sys.argv[2], "w") as f:
    json.dump(body, f)
