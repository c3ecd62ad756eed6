#!/usr/bin/python3
"""Safe model intake (docs/security.md#safe-model-intake): nothing in the
daemon fetches a URL (libcurl is used by the alert webhooks alone); every
fuzz target is listed in docs/security.md with what it parses, and every
one listed exists with a seed corpus; hostile artifacts in the repository
(JSON nested 100,000 deep as a trees and as a linear model, a model.yaml
nested 1,000 deep, a pickle, an artifact bigger than the linear engine's
limit as a sparse file) each fail to load with the reason, while the
daemon stays up and the good version serves."""
import os
import re
import shutil
import tempfile

from harness import ROOT, Daemon, add_bench, expect, repo_index, run, v2_row

BENCH_YAML = open(os.path.join(ROOT, "tests", "data", "bench", "model.yaml")).read()
LINEAR_YAML = open(os.path.join(ROOT, "examples", "repo", "churn", "model.yaml")).read() \
    if os.path.exists(os.path.join(ROOT, "examples", "repo", "churn", "model.yaml")) else None


def test_no_url_fetching():
    users = []
    for top in ("src", "cli"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if not f.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, f)
                with open(path, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
                if re.search(r"\bcurl_easy_|\bcurl_multi_|\bconnect\s*\(", text):
                    users.append(os.path.relpath(path, ROOT))
    daemon = [u for u in users if u.startswith("src/")]
    expect(daemon == ["src/watch/notify.c"],
           "only the alert webhooks may make outgoing connections in the daemon; also: %r" %
           daemon)


def test_fuzz_targets_documented():
    with open(os.path.join(ROOT, "docs", "security.md")) as f:
        text = f.read()
    m = re.search(r"<!-- fuzz targets -->\n(.*?)<!-- end fuzz targets -->", text, re.S)
    expect(m is not None, "no fuzz target table in docs/security.md")
    listed = re.findall(r"^\| `([a-z0-9_]+)` \|", m.group(1), re.M)
    fuzz = os.path.join(ROOT, "tests", "fuzz")
    present = sorted(f[len("fuzz_"):-2] for f in os.listdir(fuzz)
                     if f.startswith("fuzz_") and f.endswith(".c"))
    expect(sorted(listed) == present, "docs/security.md lists %s, tests/fuzz has %s" %
           (sorted(set(listed) ^ set(present)), present))
    for name in present:
        corpus = os.path.join(fuzz, "corpus", name)
        expect(os.path.isdir(corpus) and os.listdir(corpus), "no seed corpus for %s" % name)


# What each hostile model's reason must say.
WHY = {
    "deepjson": r"model\.json: .*nesting deeper than 100 levels",
    "pickled": r"pickle",
    "deepyaml": r"model\.yaml: nesting deeper than 32 levels",
    "deepflow": r"model\.yaml: nesting deeper than 32 levels",
    "deeplinear": r"model\.json: .*(depth|nest)",
    "biglinear": r"model\.json: .*(large|bytes|MiB|limit)",
}


def hostile_repo(tmp):
    repo = os.path.join(tmp, "repo")
    add_bench(repo, "bench", [1])
    # A trees model nested 100,000 deep.
    add_bench(repo, "deepjson", [1])
    with open(os.path.join(repo, "deepjson", "1", "model.json"), "w") as f:
        f.write("[" * 100000 + "]" * 100000)
    # A pickle, by its first bytes.
    add_bench(repo, "pickled", [1])
    with open(os.path.join(repo, "pickled", "1", "model.json"), "wb") as f:
        f.write(b"\x80\x04\x95" + b"\x00" * 64)
    # A model.yaml nested 1,000 deep (flow style), and one of 100,000 open brackets.
    for name, text in (("deepyaml", "x: " + "[" * 1000 + "]" * 1000 + "\n" + BENCH_YAML),
                       ("deepflow", "x: " + "[" * 100000 + "\n")):
        add_bench(repo, name, [1], text)
    if LINEAR_YAML is not None:
        # A linear model nested 100,000 deep, and one of 300 MiB (sparse: no disk used).
        for name in ("deeplinear", "biglinear"):
            mdir = os.path.join(repo, name)
            os.makedirs(os.path.join(mdir, "1"))
            with open(os.path.join(mdir, "model.yaml"), "w") as f:
                f.write(re.sub(r"(?m)^name: churn$", "name: " + name, LINEAR_YAML))
        with open(os.path.join(repo, "deeplinear", "1", "model.json"), "w") as f:
            f.write('{"w":' + "[" * 100000 + "]" * 100000 + "}")
        with open(os.path.join(repo, "biglinear", "1", "model.json"), "wb") as f:
            f.truncate(300 << 20)
    return repo


def test_hostile_artifacts_refused():
    tmp = tempfile.mkdtemp(prefix="modeld-t5103-")
    try:
        repo = hostile_repo(tmp)
        with Daemon(repo=repo) as d:
            idx = repo_index(d)
            expect(idx[("bench", "1")]["state"] == "READY", idx)
            bad = [m for m in os.listdir(repo) if m != "bench"]
            for m in bad:
                entries = [e for (name, _), e in idx.items() if name == m]
                # a model whose model.yaml is refused shows with no version
                expect(entries and all(e["state"] != "READY" for e in entries),
                       "%s: %r" % (m, entries))
                reasons = " ".join(e.get("reason", "") for e in entries)
                expect(re.search(WHY[m], reasons), "%s: reason %r lacks %r" % (m, reasons, WHY[m]))
            st, _, _ = d.request("POST", "/v2/models/bench/infer", v2_row([0.5] * 30))
            expect(st == 200, "bench after the hostile ones: %d" % st)
            print("  refused: %s" % ", ".join(sorted(bad)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_no_url_fetching, test_fuzz_targets_documented, test_hostile_artifacts_refused])
