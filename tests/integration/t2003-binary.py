#!/usr/bin/python3
"""Open Inference Protocol binary tensor data extension: a JSON header
followed by raw tensor bytes (Inference-Header-Content-Length), for inputs
(2-D FP32 rows, one tensor per feature of every contract datatype, BYTES and
BOOL included, mixed with JSON inputs) and outputs (binary_data per output,
binary_data_output per request, BYTES labels and classification), raw binary
bodies, and every error of the extension as a 400 with the server alive.
Binary bodies are built with struct.pack, as tritonclient lays them out."""
import json
import math
import struct

from harness import Daemon, bench_rows, expect, expect_error, run

HDR = "Inference-Header-Content-Length"


def full_rows(n=None):
    """Benchmark rows without missing values (the tests here compare binary
    and JSON bodies of the same numbers)."""
    rows = [r for r, _ in bench_rows() if None not in r]
    return rows if n is None else rows[:n]


def post(d, body, json_len=None, model="bench", content_type=None):
    """POSTs body; returns (status, JSON header, binary tail, headers)."""
    headers = {}
    if json_len is not None:
        headers[HDR] = str(json_len)
    if content_type is not None:
        headers["Content-Type"] = content_type
    st, data, hdrs = d.request("POST", "/v2/models/%s/infer" % model, body, headers)
    n = int(hdrs[HDR.lower()]) if HDR.lower() in hdrs else len(data)
    return st, json.loads(data[:n]) if n else None, data[n:], hdrs


def binary_body(header, parts):
    """The JSON header and the byte strings of the binary inputs; (body, json length)."""
    h = json.dumps(header).encode()
    return h + b"".join(parts), len(h)


def f32(values):
    return struct.pack("<%df" % len(values), *[math.nan if v is None else v for v in values])


def as_f32(x):
    """A JSON number as the float32 it stands for."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def bytes_elems(strings):
    return b"".join(struct.pack("<I", len(s)) + s for s in strings)


def outputs_by_name(doc, tail):
    """{name: (output, its bytes)} with the binary tail split by binary_data_size."""
    out = {}
    off = 0
    for o in doc["outputs"]:
        size = o.get("parameters", {}).get("binary_data_size")
        if size is None:
            out[o["name"]] = (o, None)
            continue
        expect("data" not in o, o)
        out[o["name"]] = (o, tail[off:off + size])
        off += size
    expect(off == len(tail), "%d bytes of outputs, %d sent" % (off, len(tail)))
    return out


def split_bytes(raw):
    """BYTES elements from their binary form."""
    items = []
    off = 0
    while off < len(raw):
        (n,) = struct.unpack_from("<I", raw, off)
        items.append(raw[off + 4:off + 4 + n])
        off += 4 + n
    expect(off == len(raw), raw)
    return items


def json_reference(d, rows, flat):
    """The first output of bench for rows sent as JSON, as FP32 values."""
    st, jdoc, _ = d.json("POST", "/v2/models/bench/infer",
                         {"inputs": [{"name": "features", "datatype": "FP32",
                                      "shape": [len(rows), 30], "data": flat}]})
    expect(st == 200, jdoc)
    return [as_f32(x) for x in jdoc["outputs"][0]["data"]]


def test_metadata_lists_the_extension():
    with Daemon() as d:
        st, doc, _ = d.json("GET", "/v2")
        expect(st == 200 and "binary_tensor_data" in doc["extensions"], doc)


def test_fp32_rows_match_json():
    rows = full_rows(64)
    flat = [v for r in rows for v in r]
    with Daemon() as d:
        want = json_reference(d, rows, flat)
        # Binary in, binary out; the header and the content types tritonclient sends.
        for ct in (None, "application/octet-stream", "application/json"):
            body, n = binary_body({"inputs": [{"name": "features", "datatype": "FP32",
                                               "shape": [len(rows), 30],
                                               "parameters": {"binary_data_size": 120 * len(rows)}}],
                                   "outputs": [{"name": "probability",
                                                "parameters": {"binary_data": True}}]},
                                  [f32(flat)])
            st, doc, tail, hdrs = post(d, body, n, content_type=ct)
            expect(st == 200, doc)
            expect(hdrs["content-type"] == "application/octet-stream", hdrs)
            expect(int(hdrs[HDR.lower()]) + len(tail) == int(hdrs["content-length"]), hdrs)
            o = doc["outputs"][0]
            expect(o["shape"] == [len(rows), 1] and o["datatype"] == "FP32", o)
            expect(o["parameters"] == {"binary_data_size": 4 * len(rows)}, o)
            got = list(struct.unpack("<%df" % len(rows), tail))
            expect(got == want, (got[:4], want[:4]))
        # Binary in, JSON out: no header, plain JSON.
        body, n = binary_body({"inputs": [{"name": "features", "datatype": "FP32",
                                           "shape": [len(rows), 30],
                                           "parameters": {"binary_data_size": 120 * len(rows)}}]},
                              [f32(flat)])
        st, doc, tail, hdrs = post(d, body, n)
        expect(st == 200 and tail == b"" and HDR.lower() not in hdrs, hdrs)
        expect(hdrs["content-type"] == "application/json", hdrs)
        expect([as_f32(x) for x in doc["outputs"][0]["data"]] == want, doc)
        # JSON in, binary out via the request-level parameter (tritonclient's default).
        st, doc, tail, hdrs = post(d, json.dumps(
            {"parameters": {"binary_data_output": True},
             "inputs": [{"name": "features", "datatype": "FP32", "shape": [len(rows), 30],
                         "data": flat}]}).encode())
        expect(st == 200 and HDR.lower() in hdrs, hdrs)
        expect(list(struct.unpack("<%df" % len(rows), tail)) == want, tail[:16])
        # A header equal to the body length: a JSON body.
        body = json.dumps({"inputs": [{"name": "features", "datatype": "FP32",
                                       "shape": [len(rows), 30], "data": flat}]}).encode()
        st, doc, tail, hdrs = post(d, body, len(body))
        expect(st == 200 and [as_f32(x) for x in doc["outputs"][0]["data"]] == want, doc)
        # Header names in any case (HTTP's rule), the request id's too.
        body, n = binary_body({"inputs": [{"name": "features", "datatype": "FP32",
                                           "shape": [len(rows), 30],
                                           "parameters": {"binary_data_size": 120 * len(rows)}}]},
                              [f32(flat)])
        for name, rid in ((HDR.lower(), "r-lower"), (HDR.upper(), "r-upper")):
            st, data, hdrs = d.request("POST", "/v2/models/bench/infer", body,
                                       {name: str(n), "x-REQUEST-id": rid})
            doc = json.loads(data)
            expect(st == 200 and hdrs["x-request-id"] == rid, (name, st, doc, hdrs))
            expect([as_f32(x) for x in doc["outputs"][0]["data"]] == want, (name, doc))


def strict_inputs(binary):
    """Two rows for the strict model, one tensor per feature; binary or JSON."""
    cols = [
        ("amount", "FP32", [12.5, 999.0], lambda v: struct.pack("<2f", *v)),
        ("count", "INT32", [-5, 4], lambda v: struct.pack("<2i", *v)),
        ("flag", "BOOL", [True, False], lambda v: bytes(int(x) for x in v)),
        ("colour", "BYTES", ["green", "red"], lambda v: bytes_elems([s.encode() for s in v])),
        ("noisy", "FP64", [0.25, -1e30], lambda v: struct.pack("<2d", *v)),
        ("x7", "FP32", [1.0, 2.0], lambda v: struct.pack("<2f", *v)),
    ]
    inputs = []
    parts = []
    for name, dt, vals, pack in cols:
        t = {"name": name, "datatype": dt, "shape": [2, 1] if name == "count" else [2]}
        if binary and name != "x7":
            raw = pack(vals)
            t["parameters"] = {"binary_data_size": len(raw)}
            parts.append(raw)
        else:
            t["data"] = vals
        inputs.append(t)
    return inputs, parts


def test_columnar_binary_every_datatype():
    with Daemon() as d:
        inputs, _ = strict_inputs(False)
        st, jdoc, _ = d.json("POST", "/v2/models/strict/infer", {"inputs": inputs})
        expect(st == 200, jdoc)
        want = {o["name"]: o["data"] for o in jdoc["outputs"]}
        inputs, parts = strict_inputs(True)
        body, n = binary_body({"inputs": inputs, "outputs": [
            {"name": "probability", "parameters": {"binary_data": True}},
            {"name": "label", "parameters": {"binary_data": True}}]}, parts)
        st, doc, tail, hdrs = post(d, body, n, model="strict")
        expect(st == 200, doc)
        outs = outputs_by_name(doc, tail)
        prob = list(struct.unpack("<2f", outs["probability"][1]))
        expect(prob == [as_f32(x) for x in want["probability"]], (prob, want))
        o, raw = outs["label"]
        expect(o["datatype"] == "BYTES" and o["shape"] == [2, 1], o)
        expect([s.decode() for s in split_bytes(raw)] == want["label"], (raw, want))
        # Mixed: request-level binary, one output opted out, one classification.
        body, n = binary_body({"parameters": {"binary_data_output": True}, "inputs": inputs,
                               "outputs": [{"name": "label", "parameters": {"binary_data": False}},
                                           {"name": "probability",
                                            "parameters": {"classification": 2}}]}, parts)
        st, doc, tail, hdrs = post(d, body, n, model="strict")
        expect(st == 200, doc)
        outs = outputs_by_name(doc, tail)
        expect(outs["label"][0]["data"] == want["label"] and outs["label"][1] is None, outs)
        o, raw = outs["probability"]
        expect(o["datatype"] == "BYTES" and o["shape"] == [2, 2], o)
        classes = [s.decode() for s in split_bytes(raw)]
        expect(len(classes) == 4 and all(c.count(":") == 2 for c in classes), classes)
        expect({c.split(":", 1)[1] for c in classes[:2]} == {"0:no", "1:yes"}, classes)
        # JSON answer when nothing asks for binary, from a binary request.
        body, n = binary_body({"inputs": inputs}, parts)
        st, doc, tail, hdrs = post(d, body, n, model="strict")
        expect(st == 200 and tail == b"" and hdrs["content-type"] == "application/json", hdrs)
        # The contract still checks binary values: BOOL 1 byte, ranges, categories.
        bad = list(parts)
        bad[0] = struct.pack("<2f", 12.5, 1001.0)
        body, n = binary_body({"inputs": inputs}, bad)
        st, doc, _, _ = post(d, body, n, model="strict")
        expect_error(st, doc, 400, "feature 'amount' row 1: 1001 above max")
        bad = list(parts)
        bad[3] = bytes_elems([b"green", b"purple"])
        inputs2 = json.loads(json.dumps(inputs))
        inputs2[3]["parameters"]["binary_data_size"] = len(bad[3])
        body, n = binary_body({"inputs": inputs2}, bad)
        st, doc, _, _ = post(d, body, n, model="strict")
        expect_error(st, doc, 400, "feature 'colour' row 1: unknown category 'purple'")
        bad = list(parts)
        bad[2] = b"\x01\x07"
        body, n = binary_body({"inputs": inputs}, bad)
        st, doc, _, _ = post(d, body, n, model="strict")
        expect_error(st, doc, 400, "input 'flag' element 1: BOOL byte 7 is not 0 or 1")
        # FP16 passes the decoder but not the contract.
        inputs3 = json.loads(json.dumps(inputs))
        inputs3[5] = {"name": "x7", "datatype": "FP16", "shape": [2],
                      "parameters": {"binary_data_size": 4}}
        body, n = binary_body({"inputs": inputs3}, parts + [b"\x00\x3c\x00\x3c"])
        st, doc, _, _ = post(d, body, n, model="strict")
        expect_error(st, doc, 400, "feature 'x7': datatype FP16 does not match contract FP32")


def test_raw_binary_body():
    rows = full_rows(8)
    flat = [v for r in rows for v in r]
    with Daemon() as d:
        want = json_reference(d, rows, flat)
        st, doc, tail, hdrs = post(d, f32(flat), 0, content_type="application/octet-stream")
        expect(st == 200, doc)
        expect(hdrs["content-type"] == "application/octet-stream", hdrs)
        o = doc["outputs"][0]
        expect(o["shape"] == [len(rows), 1] and o["parameters"]["binary_data_size"] == 32, o)
        expect(list(struct.unpack("<%df" % len(rows), tail)) == want, tail)
        st, doc, _, _ = post(d, f32(flat)[:-4], 0)
        expect_error(st, doc, 400, "raw binary request: 956 bytes is not a whole, non-zero "
                                   "number of rows of 30 FP32 values (120 bytes each)")
        st, doc, _, _ = post(d, b"", 0)
        expect_error(st, doc, 400, "raw binary request: 0 bytes")
        # A model with a BYTES feature has no single input tensor to fill.
        st, doc, _, _ = post(d, f32([1.0] * 30), 0, model="strict")
        expect_error(st, doc, 400, "raw binary request: model 'strict' takes 30 inputs")


def test_errors():
    one = {"name": "features", "datatype": "FP32", "shape": [1, 30],
           "parameters": {"binary_data_size": 120}}
    row = f32([0.5] * 30)
    with Daemon() as d:
        body, n = binary_body({"inputs": [one]}, [row])
        cases = [
            # The header value.
            (body, "abc", "Inference-Header-Content-Length: 'abc' is not an integer"),
            (body, "-3", "Inference-Header-Content-Length: '-3' is negative"),
            (body, "99999999999", "Inference-Header-Content-Length: '99999999999' is out of range"),
            (body, str(len(body) + 1), "Inference-Header-Content-Length: %d is larger than the "
                                       "body of %d bytes" % (len(body) + 1, len(body))),
            # The header stops inside the JSON.
            (body, str(n - 1), "invalid JSON"),
            # Sizes.
            (body[:-8], str(n), "unexpected size for input 'features', expecting 120 additional "
                                "bytes, 112 left in the body"),
            (body + b"\x00\x01\x02", str(n), "unexpected additional input data for model 'bench': "
                                             "3 bytes after the last input"),
        ]
        for raw, hv, frag in cases:
            st, data, _ = d.request("POST", "/v2/models/bench/infer", raw, {HDR: hv})
            expect_error(st, json.loads(data), 400, frag)
        # binary_data_size without the header.
        st, doc, _ = d.json("POST", "/v2/models/bench/infer", body[:n])
        expect_error(st, doc, 400, "input 'features': binary_data_size needs a valid "
                                   "Inference-Header-Content-Length header")
        # Size against shape and datatype; BYTES framing; data and size together.
        bad = dict(one, parameters={"binary_data_size": 116})
        b2, n2 = binary_body({"inputs": [bad]}, [row[:116]])
        st, doc, _, _ = post(d, b2, n2)
        expect_error(st, doc, 400, "input byte size mismatch for input 'features': shape [1,30] "
                                   "of FP32 needs 120 bytes, binary_data_size is 116")
        b2, n2 = binary_body({"inputs": [dict(one, data=[0.5] * 30)]}, [row])
        st, doc, _, _ = post(d, b2, n2)
        expect_error(st, doc, 400, "both data and parameters.binary_data_size given")
        b2, n2 = binary_body({"inputs": [dict(one, parameters={"binary_data_size": -1})]}, [row])
        st, doc, _, _ = post(d, b2, n2)
        expect_error(st, doc, 400, "inputs[0].parameters.binary_data_size: expected a "
                                   "non-negative integer")
        col = {"name": "colour", "datatype": "BYTES", "shape": [1],
               "parameters": {"binary_data_size": 9}}
        b2, n2 = binary_body({"inputs": [col]}, [struct.pack("<I", 9) + b"green"])
        st, doc, _, _ = post(d, b2, n2, model="strict")
        expect_error(st, doc, 400, "input 'colour' element 0: length 9 runs past "
                                   "binary_data_size 9")
        # Still serving.
        st, doc, tail, _ = post(d, body, n)
        expect(st == 200 and len(doc["outputs"][0]["data"]) == 1, doc)
        st, _, _ = d.request("GET", "/v2/health/live")
        expect(st == 200, st)


def test_nan_is_a_missing_value():
    """Binary data has no null: a NaN is a missing value for a feature without
    allow_nan (the bench model's optional f0: as null would be), refused for a
    required one (the strict model's amount), a value with allow_nan."""
    with Daemon() as d:
        body, n = binary_body({"inputs": [{"name": "features", "datatype": "FP32",
                                           "shape": [1, 30],
                                           "parameters": {"binary_data_size": 120}}]},
                              [f32([None] + [0.5] * 29)])
        st, doc, _, _ = post(d, body, n)
        expect(st == 200, doc)
        st, jdoc, _ = d.json("POST", "/v2/models/bench/infer",
                             {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 30],
                                          "data": [None] + [0.5] * 29}]})
        expect(st == 200 and doc["outputs"][0]["data"] == jdoc["outputs"][0]["data"], (doc, jdoc))
        inputs, parts = strict_inputs(True)
        parts[0] = struct.pack("<2f", 12.5, math.nan)
        body, n = binary_body({"inputs": inputs}, parts)
        st, doc, _, _ = post(d, body, n, model="strict")
        expect_error(st, doc, 400, "feature 'amount' row 1: NaN for required feature")
        # The strict model's noisy feature allows NaN.
        inputs, parts = strict_inputs(True)
        parts[4] = struct.pack("<2d", math.nan, math.inf)
        body, n = binary_body({"inputs": inputs}, parts)
        st, doc, _, _ = post(d, body, n, model="strict")
        expect(st == 200, doc)


def test_large_binary_request():
    rows = full_rows(1000)
    flat = [v for r in rows for v in r] * 10  # 10,000 rows
    n_rows = len(flat) // 30
    with Daemon() as d:
        body, n = binary_body({"inputs": [{"name": "features", "datatype": "FP32",
                                           "shape": [n_rows, 30],
                                           "parameters": {"binary_data_size": 4 * len(flat)}}],
                               "parameters": {"binary_data_output": True}}, [f32(flat)])
        st, doc, tail, _ = post(d, body, n)
        expect(st == 200 and len(tail) == 4 * n_rows, doc)
        got = struct.unpack("<%df" % n_rows, tail)
        first = got[:len(rows)]
        expect(all(got[i] == first[i % len(rows)] for i in range(n_rows)), "rows differ")


if __name__ == "__main__":
    run([test_metadata_lists_the_extension, test_fp32_rows_match_json,
         test_columnar_binary_every_datatype, test_raw_binary_body, test_errors,
         test_nan_is_a_missing_value, test_large_binary_request])
