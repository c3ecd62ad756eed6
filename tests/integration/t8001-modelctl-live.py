#!/usr/bin/python3
"""modelctl against a real modeld: status table, predict with pairs and with a
file, load and unload, health, and the exit codes of refusals."""
import json
import os
import subprocess
import tempfile

from harness import MODELCTL, Daemon, bench_rows, expect, run


def ctl(d, *args, timeout=30):
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    p = subprocess.run([MODELCTL, "--url", "http://127.0.0.1:%d" % d.port] + list(args),
                       capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def test_status_predict_load_unload_health():
    rows = bench_rows(3)
    with Daemon() as d:
        rc, out, err = ctl(d, "status")
        expect(rc == 0 and "bench" in out and "READY" in out, out + err)
        expect(out.splitlines()[0].split()[:3] == ["MODEL", "VERSION", "STATE"], out)
        rc, out, err = ctl(d, "--json", "status", "bench")
        expect(rc == 0 and json.loads(out)[0]["name"] == "bench", out)
        row, ref = rows[0]
        pairs = ["f%d=%s" % (j, "null" if v is None else repr(v)) for j, v in enumerate(row)]
        rc, out, err = ctl(d, "predict", "bench", *pairs)
        expect(rc == 0, err)
        lines = dict(l.split(": ", 1) for l in out.splitlines() if ": " in l)
        expect(abs(float(lines["probability"]) - ref) <= 1e-6, out)
        expect(len(lines["request_id"]) == 32, out)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 30],
                                   "data": row}]}, f)
        rc, out, err = ctl(d, "predict", "bench", "--file", f.name)
        os.unlink(f.name)
        expect(rc == 0 and abs(float(dict(l.split(": ", 1) for l in out.splitlines()
                                          if ": " in l)["probability"]) - ref) <= 1e-6, out)
        rc, out, err = ctl(d, "predict", "bench", "f0=abc")
        expect(rc == 2 and "f0" in err, (rc, err))
        rc, out, err = ctl(d, "predict", "bench", "nosuch=1")
        expect(rc == 2 and "nosuch" in err, (rc, err))
        rc, out, err = ctl(d, "predict", "strict", "amount=-5", "count=1", "flag=true",
                           "colour=red")
        expect(rc == 1 and "amount" in err and "min" in err, (rc, err))
        rc, out, err = ctl(d, "predict", "nosuch", "x=1")
        expect(rc == 1 and "nosuch" in err, (rc, err))
        rc, out, err = ctl(d, "unload", "bench")
        expect(rc == 0 and "unloaded bench" in out, out + err)
        rc, out, err = ctl(d, "predict", "bench", "f0=1")
        expect(rc == 1, (rc, out, err))
        rc, out, err = ctl(d, "load", "bench")
        expect(rc == 0 and "loaded bench" in out, out + err)
        rc, out, err = ctl(d, "load", "nosuch")
        expect(rc == 1 and "nosuch" in err, (rc, err))
        rc, out, err = ctl(d, "health")
        expect(rc == 0 and out.strip() == "ready", out)
    rc, out, err = ctl(d, "health")
    expect(rc == 1, (rc, out, err))


if __name__ == "__main__":
    run([test_status_predict_load_unload_health])
