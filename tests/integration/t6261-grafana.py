#!/usr/bin/python3
"""The Grafana dashboard (deploy/grafana/modeld.json) against a live /metrics:
every metric name its PromQL queries use (functions, keywords, label names
and label values left out) is a series of the real daemon's /metrics after
traffic that exercises each area (a batching model, a shadow version, the
fraud example with a refused request, feedback on fraud and housing
predictions, versions with a reference profile, a notification receiver);
every query parses (promtool check rules, with Grafana's variables given
values); the dashboard takes its data source from a variable and keeps one
row per area of watching, in order; docs/monitoring.md's table names every
family of that /metrics."""
import json
import os
import re
import shutil
import subprocess
import tempfile

from feedbacklib import HOUSING_TYPES, housing_rows, predict, rng_for
from harness import (BENCH_YAML, ROOT, Daemon, add_bench, expect, make_repo, run, v2_row,
                     wait_for)

DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "modeld.json")
ROWS = ["Requests", "Models and server", "Shadows and comparisons", "Data quality",
        "Prediction log", "Quality", "Drift", "History", "Alerts"]
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan"}


def metric_names(expr):
    """The metric names of a PromQL expression: identifiers that are not
    functions or aggregations (followed by '('), keywords, label names (in
    by/without/on/ignoring/group_*), or inside strings, matchers and ranges."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*", e):
        if e[m.end():].lstrip().startswith("(") or m.group(0).lower() in KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def queries(dash):
    """Every PromQL expression of the dashboard: panels' targets (rows' panels
    too) and the variables' label_values(...) queries."""
    out = []

    def walk(panels):
        for p in panels:
            out.extend(t["expr"] for t in p.get("targets", []) if t.get("expr"))
            walk(p.get("panels", []))
    walk(dash["panels"])
    for v in dash["templating"]["list"]:
        m = re.match(r"label_values\((.*),\s*\w+\)$", v.get("definition", ""))
        if m:
            out.append(m.group(1))
    return out


def test_metric_names_parse():
    expect(metric_names('sum by (model, le) (rate(modeld_x_bucket{model=~"$model"}[$__rate_interval]))'
                        ' / ignoring (reason) group_left sum(modeld_y_total) > 0.5e3')
           == {"modeld_x_bucket", "modeld_y_total"}, "parser")
    expect(metric_names("histogram_quantile(0.99, sum by (le) (rate(a_bucket[5m])))") == {"a_bucket"},
           "parser")


def test_dashboard_shape():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    rows = [p["title"] for p in dash["panels"] if p["type"] == "row"]
    expect(rows == ROWS, rows)
    var = {v["name"]: v for v in dash["templating"]["list"]}
    expect(var["datasource"]["type"] == "datasource" and var["datasource"]["query"] == "prometheus",
           var)
    ids = set()

    def walk(panels):
        for p in panels:
            expect(p["id"] not in ids, "duplicate panel id %d" % p["id"])
            ids.add(p["id"])
            if p["type"] != "row":
                expect(p["datasource"]["uid"] == "${datasource}", p["title"])
                expect(all(t["datasource"]["uid"] == "${datasource}" for t in p["targets"]),
                       p["title"])
            walk(p.get("panels", []))
    walk(dash["panels"])


def test_queries_parse():
    """promtool parses every query once Grafana's variables have values."""
    with open(DASHBOARD) as f:
        dash = json.load(f)
    tmp = tempfile.mkdtemp(prefix="modeld-test-")
    try:
        path = os.path.join(tmp, "rules.yml")
        with open(path, "w") as f:
            f.write("groups:\n  - name: dashboard\n    rules:\n")
            for i, q in enumerate(queries(dash)):
                q = (q.replace("$__rate_interval", "1m").replace("$__range", "1h")
                     .replace("$model", ".*").replace("$version", ".*"))
                f.write("      - record: dashboard:q%d\n        expr: %s\n" % (i, json.dumps(q)))
        p = subprocess.run([shutil.which("promtool") or "promtool", "check", "rules", path],
                           capture_output=True, text=True, timeout=30)
        expect(p.returncode == 0, "promtool: %s%s" % (p.stdout, p.stderr))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fraud_row(amount):
    def col(name, dtype, v):
        return {"name": name, "datatype": dtype, "shape": [1], "data": [v]}
    return {"inputs": [col("amount", "FP32", amount), col("hour", "INT32", 3),
                       col("account_age_days", "INT32", 40),
                       col("merchant_category", "BYTES", "grocery"),
                       col("is_international", "BOOL", False)]}


def series_names(text):
    return {m.group(1) for m in re.finditer(r"^([A-Za-z_:][A-Za-z0-9_:]*)[{ ]", text, re.M)}


def test_every_metric_exists():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    wanted = set()
    for q in queries(dash):
        wanted |= metric_names(q)
    expect(len(wanted) >= 60, sorted(wanted))
    tmp = tempfile.mkdtemp(prefix="modeld-test-")
    try:
        repo = make_repo(os.path.join(tmp, "repo"))
        add_bench(repo, "twin", [1, 2], open(BENCH_YAML).read() + "version_policy:\n  latest: 2\n")
        add_bench(repo, "batched", [1], open(BENCH_YAML).read()
                  + "dynamic_batching: {max_batch_size: 8, max_queue_delay_us: 500}\n")
        # A receiver (nothing listens: no alert fires and it takes no events)
        # puts the notification families in /metrics.
        cfg = os.path.join(tmp, "modeld.yaml")
        with open(cfg, "w") as f:
            f.write("receivers:\n  ops:\n    url: http://127.0.0.1:9/hook\n")
        with Daemon(repo=repo, args=["--config", cfg]) as d:
            st, doc, _ = d.json("PUT", "/api/v1/models/twin/traffic",
                                {"routes": [{"version": "1"}], "shadows": [{"version": "2"}]})
            expect(st == 200, (st, doc))
            for model in ("bench", "twin", "batched"):
                for _ in range(3):
                    st, doc, _ = d.json("POST", "/v2/models/%s/infer" % model, v2_row([0.4] * 30))
                    expect(st == 200, (model, st, doc))
            # Fraud and housing (both with a reference profile, so drift) with
            # request ids, then feedback: a label for each fraud class (the
            # binary figures) and values for housing (the regression ones).
            for i, amount in enumerate((12.5, 2400.0)):
                st, doc, _ = d.json("POST", "/v2/models/fraud/infer", fraud_row(amount),
                                    {"X-Request-Id": "grafana-fraud-%d" % i})
                expect(st == 200, (st, doc))
            st, doc, _ = d.json("POST", "/v2/models/fraud/infer", fraud_row(-1.0))
            expect(st == 400, (st, doc))
            for i, row in enumerate(housing_rows(2, rng_for(6261))):
                predict(d, "housing", [row], "grafana-housing-%d" % i, HOUSING_TYPES)
            st, doc, _ = d.json("POST", "/api/v1/feedback", {"items": [
                {"model": "fraud", "request_id": "grafana-fraud-0", "label": "legit"},
                {"model": "fraud", "request_id": "grafana-fraud-1", "label": "fraud"},
                {"model": "housing", "request_id": "grafana-housing-0", "value": 250000},
                {"model": "housing", "request_id": "grafana-housing-1", "value": 410000}]})
            expect(st == 200 and doc["stored"] == 4 and doc["failed"] == 0, (st, doc))

            def present():
                st, data, _ = d.request("GET", "/metrics")
                return wanted <= series_names(data.decode())
            wait_for(present)
            st, data, _ = d.request("GET", "/metrics")
            have = series_names(data.decode())
            missing = sorted(wanted - have)
            expect(not missing, "metrics the dashboard queries that /metrics lacks: %s" % missing)
            # docs/monitoring.md's table names every family /metrics has.
            families = set(re.findall(r"^# TYPE (\S+) ", data.decode(), re.M))
            with open(os.path.join(ROOT, "docs", "monitoring.md")) as f:
                documented = set(re.findall(r"^\| `([a-z0-9_:]+)` \|", f.read(), re.M))
            undocumented = sorted(families - documented)
            expect(not undocumented, "families of /metrics missing from docs/monitoring.md's "
                   "table: %s" % undocumented)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_metric_names_parse, test_dashboard_shape, test_queries_parse,
         test_every_metric_exists])
