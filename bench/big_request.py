#!/usr/bin/python3
"""Large Open Inference Protocol requests on the benchmark model, in JSON and
with binary tensor data, to time whole requests.

  big_request.py write ROWS PREFIX   writes PREFIX.json and PREFIX.bin (the
      same ROWS rows of bench_rows.csv, cycled; missing values null in JSON,
      NaN in binary, a missing value for the model's optional features) and
      prints the binary body's JSON length, for
      build/bench/handler_bench REPO bench PREFIX.bin ITERS JSON_LEN
  big_request.py post PORT ROWS [N]  POSTs both bodies N times (default 20)
      to a running modeld serving `bench` on 127.0.0.1:PORT, keep-alive, and
      prints the median and minimum time per request and per row.

Reads tests/data/bench/bench_rows.csv."""
import http.client
import json
import os
import statistics
import struct
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BENCH_DATA = os.path.join(ROOT, "tests", "data", "bench")


def rows_data(rows, missing=None):
    """The features of ROWS rows of bench_rows.csv, cycled, row after row in
    one flat list of floats; a missing value is `missing` (None: null in
    JSON)."""
    lines = []
    with open(os.path.join(BENCH_DATA, "bench_rows.csv")) as f:
        for line in f:
            lines.append([float(v) if v else missing for v in line.rstrip("\n").split(",")[:30]])
    data = []
    for i in range(rows):
        data.extend(lines[i % len(lines)])
    return data


def bodies(rows):
    """(JSON body, binary body, JSON length of the binary body). Missing
    values are null in JSON and NaN in binary data (a missing value for
    the model's optional features)."""
    data = rows_data(rows)
    tensor = {"name": "features", "datatype": "FP32", "shape": [rows, 30]}
    js = json.dumps({"id": "bench", "inputs": [dict(tensor, data=data)]}).encode()
    header = json.dumps({"id": "bench",
                         "inputs": [dict(tensor, parameters={"binary_data_size": 4 * len(data)})],
                         "outputs": [{"name": "probability",
                                      "parameters": {"binary_data": True}}]}).encode()
    nan = float("nan")
    binary = struct.pack("<%df" % len(data), *[nan if v is None else v for v in data])
    return js, header + binary, len(header)


def timed_post(conn, body, headers):
    """Seconds for one POST of body to the benchmark model on the keep-alive
    connection conn; exits unless the answer is 200."""
    t0 = time.perf_counter()
    conn.request("POST", "/v2/models/bench/infer", body, headers)
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        raise SystemExit("status %d: %r" % (r.status, data[:300]))
    return time.perf_counter() - t0


def post(port, body, json_len, n):
    headers = {"Content-Type": "application/json"}
    if json_len is not None:
        headers["Inference-Header-Content-Length"] = str(json_len)
    c = http.client.HTTPConnection("127.0.0.1", port)
    times = [timed_post(c, body, headers) for _ in range(n + 2)][2:]
    return statistics.median(times), min(times)


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "write":
        js, binary, json_len = bodies(int(sys.argv[2]))
        with open(sys.argv[3] + ".json", "wb") as f:
            f.write(js)
        with open(sys.argv[3] + ".bin", "wb") as f:
            f.write(binary)
        print(json_len)
    elif len(sys.argv) >= 4 and sys.argv[1] == "post":
        port, rows = int(sys.argv[2]), int(sys.argv[3])
        n = int(sys.argv[4]) if len(sys.argv) > 4 else 20
        js, binary, json_len = bodies(rows)
        for name, body, jl in (("JSON", js, None), ("binary", binary, json_len)):
            med, low = post(port, body, jl, n)
            print("%-6s %d rows, %.1f MB: median %.2f ms (%.2f us/row), min %.2f ms"
                  % (name, rows, len(body) / 1e6, med * 1e3, med * 1e6 / rows, low * 1e3))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
