#!/usr/bin/python3
"""Comparisons of versions and the shadow executor over HTTP: GET
/api/v1/models/{m}/comparison (an empty list for a model no copy ran for,
404 for an unknown model, 405 for another method); the shadow queue's
gauges and the route label in /metrics, which promtool accepts;
--shadow-queue and --shadow-threads shown by the settings API and checked
at start; MODELD_SHADOW_DELAY_MS, the tests' slow shadow, checked at start.
The copies themselves and their figures are tests/unit/test_shadow.c's:
nothing offers them over HTTP until a traffic policy names a shadow."""
import os
import shutil
import subprocess
import tempfile

from harness import MODELD, Daemon, expect, expect_error, free_port, make_repo, run, v2_row


def test_comparison_endpoint():
    with Daemon() as d:
        st, doc, _ = d.json("GET", "/api/v1/models/bench/comparison")
        expect(st == 200 and doc == {"model": "bench", "pairs": []}, (st, doc))
        st, doc, _ = d.json("GET", "/api/v1/models/nosuch/comparison")
        expect_error(st, doc, 404, "unknown model 'nosuch'")
        st, doc, hdrs = d.json("POST", "/api/v1/models/bench/comparison", {})
        expect(st == 405 and hdrs.get("allow") == "GET", (st, doc, hdrs))


def test_metrics_shadow_gauges_and_routes():
    with Daemon(args=["--shadow-queue", "64", "--shadow-threads", "2"]) as d:
        st, _, _ = d.json("POST", "/v2/models/bench/versions/1/infer", v2_row([0.3] * 30))
        expect(st == 200, st)
        st, data, _ = d.request("GET", "/metrics")
        text = data.decode()
        expect("\nmodeld_shadow_queue_capacity 64\n" in text, text[-3000:])
        expect("\nmodeld_shadow_queue_depth 0\n" in text, text[-3000:])
        expect('\nmodeld_inference_requests_total{model="bench",version="1",route="direct"} 1\n'
               in text, text)
        expect("# TYPE modeld_comparison_abs_diff histogram\n" in text, text[-3000:])
        p = subprocess.run([shutil.which("promtool") or "promtool", "check", "metrics"],
                           input=text, capture_output=True, text=True, timeout=30)
        expect(p.returncode == 0, "promtool: %s%s" % (p.stdout, p.stderr))
        st, doc, _ = d.json("GET", "/api/v1/settings/shadow_queue")
        expect(st == 200 and doc["value"] == 64 and doc["source"] == "flag", doc)
        st, doc, _ = d.json("GET", "/api/v1/settings/shadow_threads")
        expect(st == 200 and doc["value"] == 2, doc)


def start_fails(args, env=None):
    """modeld's exit status and output when it must not start (bounded)."""
    tmp = tempfile.mkdtemp(prefix="modeld-test-")
    try:
        repo = make_repo(os.path.join(tmp, "repo"), examples=False)
        p = subprocess.run([MODELD, "--repo", repo, "--listen", "127.0.0.1:%d" % free_port(),
                            "--data", os.path.join(tmp, "data")] + args,
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, **(env or {})))
        return p.returncode, p.stdout + p.stderr
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_bad_settings_refused():
    rc, out = start_fails(["--shadow-queue", "0"])
    expect(rc == 2 and "--shadow-queue: '0' is not a whole number from 1 to 1000000" in out,
           (rc, out))
    rc, out = start_fails(["--shadow-threads", "9"])
    expect(rc == 2 and "--shadow-threads" in out, (rc, out))
    rc, out = start_fails([], {"MODELD_SHADOW_DELAY_MS": "soon"})
    expect(rc == 1 and "MODELD_SHADOW_DELAY_MS: 'soon' is not a whole number from 0 to 60000"
           in out, (rc, out))


if __name__ == "__main__":
    run([test_comparison_endpoint, test_metrics_shadow_gauges_and_routes,
         test_bad_settings_refused])
