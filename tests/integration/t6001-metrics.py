#!/usr/bin/python3
"""Prometheus /metrics: per model and version request and failure counters,
latency histograms (request and engine), models loaded, build info; the
request series carry the route the request took ("default" with no traffic
policy, "direct" when the path named the version), the engine's do not; the
text is validated by promtool."""
import re
import shutil
import subprocess

from harness import Daemon, expect, run, v2_row


def scrape(d):
    st, data, hdrs = d.request("GET", "/metrics")
    expect(st == 200 and hdrs["content-type"].startswith("text/plain; version=0.0.4"), hdrs)
    return data.decode()


def value(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError("no series %s in:\n%s" % (series, text[:3000]))


def test_metrics_count_and_validate():
    with Daemon() as d:
        before = scrape(d)
        ok_before = value(before, 'modeld_http_requests_total{api="v2",code="200"}')
        for _ in range(5):
            d.json("POST", "/v2/models/bench/infer", v2_row([0.1] * 30))
        d.json("POST", "/v2/models/bench/infer", {"inputs": [{"name": "features"}]})
        d.json("POST", "/v2/models/nosuch/infer", v2_row([0.1] * 30))
        for _ in range(2):
            d.json("POST", "/v2/models/bench/versions/1/infer", v2_row([0.1] * 30))
        text = scrape(d)
        lbl = '{model="bench",version="1",route="stable"}'
        expect(value(text, "modeld_inference_requests_total" + lbl) == 6, text)
        expect(value(text, 'modeld_inference_failures_total{model="bench",version="1",'
                     'route="stable",reason="rejected"}') == 1, text)
        expect(value(text, "modeld_inference_rows_total" + lbl) == 5, text)
        expect(value(text, "modeld_request_duration_seconds_count" + lbl) == 5, text)
        expect(value(text, 'modeld_request_duration_seconds_bucket{model="bench",version="1",'
                     'route="stable",le="+Inf"}') == 5, text)
        expect(value(text, "modeld_last_inference_timestamp_seconds" + lbl) > 0, text)
        direct = '{model="bench",version="1",route="direct"}'
        expect(value(text, "modeld_inference_requests_total" + direct) == 2, text)
        expect(value(text, "modeld_request_duration_seconds_count" + direct) == 2, text)
        # An engine call is the version's, whatever route its rows came by.
        expect(value(text, 'modeld_engine_duration_seconds_count{model="bench",version="1"}') == 7,
               text)
        expect(value(text, 'modeld_inference_executions_total{model="bench",version="1"}') == 7,
               text)
        expect(value(text, "modeld_models_loaded") >= 1, text)
        expect(re.search(r'^modeld_build_info\{version="[^"]+"\} 1$', text, re.M), text)
        expect(value(text, 'modeld_http_requests_total{api="v2",code="404"}') == 1, text)
        expect(value(text, 'modeld_http_requests_total{api="v2",code="200"}') - ok_before == 7,
               text)
        promtool = shutil.which("promtool")
        expect(promtool is not None, "promtool (Debian package prometheus) is required")
        p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        expect(p.returncode == 0, "promtool: %s%s" % (p.stdout, p.stderr))


def test_metrics_wrong_method():
    with Daemon() as d:
        st, _, _ = d.request("POST", "/metrics", "")
        expect(st == 405, st)


if __name__ == "__main__":
    run([test_metrics_count_and_validate, test_metrics_wrong_method])
