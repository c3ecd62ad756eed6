#!/usr/bin/python3
"""Personal data in the prediction log: a feature marked `pii: drop` is not
in the logged features, one marked `pii: hash` is logged as the HMAC-SHA256
of its text under the key of --pii-key-file (equal to Python's hmac of the
same key and text, strings and numbers alike), `pii: keep` is logged as
sent; a model that hashes without a key fails to load, naming the feature
and the flag, and so does `modeld --check`; the key never shows in the
store, the logs or the settings. `logging: {features: F}` samples the
features (0 keeps none, rows still land with their outputs); malformed
`pii:` and `logging:` values fail the model naming the key."""
import hashlib
import hmac
import os
import shutil
import subprocess
import tempfile

from harness import MODELD, Daemon, expect, repo_index, run
from predloglib import ROW, ROW2, keyed_repo, listing, settled, v2_body

KEY = b"a-test-key-of-32-bytes-0123456789"


def marked(text):
    text = text.replace("  - name: merchant_category\n",
                        "  - name: merchant_category\n    pii: hash\n")
    text = text.replace("  - name: hour ", "  - name: hour\n    pii: hash\n    #")
    text = text.replace("  - name: amount ", "  - name: amount\n    pii: drop\n    #")
    return text.replace("  - name: card_tier\n", "  - name: card_tier\n    pii: keep\n")


def mac(text):
    return hmac.new(KEY, text.encode(), hashlib.sha256).hexdigest()


def test_drop_hash_keep():
    tmp = tempfile.mkdtemp(prefix="modeld-t6204-")
    try:
        key = os.path.join(tmp, "pii.key")
        with open(key, "wb") as f:
            f.write(KEY + b"\n")
        data = os.path.join(tmp, "data")
        with Daemon(repo=keyed_repo(tmp, feature_yaml=marked), data=data,
                    args=["--pii-key-file", key]) as d:
            st, doc, _ = d.json("POST", "/v2/models/fraudk/infer", v2_body([ROW, ROW2]),
                                {"X-Request-Id": "pii-1"})
            expect(st == 200, doc)
            settled(d, 2)
            st, doc = listing(d, request_id="pii-1")
            rows = doc["predictions"]
            expect(len(rows) == 2, rows)
            for r, sent in zip(rows, [ROW, ROW2]):
                f = r["features"]
                expect("amount" not in f, f)
                expect(f["merchant_category"] == mac(sent["merchant_category"]), f)
                expect(f["hour"] == mac(str(sent["hour"])), f)
                expect(f["card_tier"] == sent["card_tier"], f)
                expect(f["account_age_days"] == sent["account_age_days"], f)
            st, doc, _ = d.json("GET", "/api/v1/settings/pii_key_file")
            expect(st == 200 and KEY.decode() not in str(doc), doc)
            logs = d.logs()
        expect(KEY.decode() not in logs, "the key is in the logs")
        for name in os.listdir(data):
            p = os.path.join(data, name)
            if os.path.isfile(p):
                expect(KEY not in open(p, "rb").read(), "the key is in %s" % name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_hash_without_key_refused():
    tmp = tempfile.mkdtemp(prefix="modeld-t6204-")
    try:
        repo = keyed_repo(tmp, feature_yaml=marked)
        with Daemon(repo=repo, data=os.path.join(tmp, "data")) as d:
            idx = repo_index(d)
            e = idx.get(("fraudk", "2")) or idx.get(("fraudk", ""))
            expect(e is not None and e.get("state") != "READY", idx)
            expect("features[1].pii" in e.get("reason", "") and
                   "--pii-key-file" in e.get("reason", ""), e)
            st, doc, _ = d.json("POST", "/v2/models/fraud/infer", v2_body([ROW]))
            expect(st == 200, doc)  # the other models serve
        p = subprocess.run([MODELD, "--check", "--repo", repo], capture_output=True, text=True,
                           timeout=60)
        expect(p.returncode == 1 and "--pii-key-file" in p.stdout + p.stderr, p)
        short = os.path.join(tmp, "short.key")
        with open(short, "w") as f:
            f.write("short\n")
        p = subprocess.run([MODELD, "--check", "--repo", repo, "--pii-key-file", short],
                           capture_output=True, text=True, timeout=60)
        expect(p.returncode == 1 and "at least 16" in p.stderr, p)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_sampling_and_bad_yaml():
    tmp = tempfile.mkdtemp(prefix="modeld-t6204-")
    try:
        repo = keyed_repo(tmp, extra_yaml="logging:\n  features: 0\n")
        for name, extra in (("badpii", None), ("badlog", "logging:\n  features: 1.5\n"),
                            ("badlog2", "logging:\n  rows: 1\n"),
                            ("half", "logging:\n  features: 0.5\n")):
            shutil.copytree(os.path.join(repo, "fraud"), os.path.join(repo, name))
            path = os.path.join(repo, name, "model.yaml")
            text = open(path).read().replace("name: fraud\n", "")
            if extra is None:
                text = text.replace("  - name: card_tier\n", "  - name: card_tier\n    pii: maybe\n")
            else:
                text += extra
            open(path, "w").write(text)
        with Daemon(repo=repo, data=os.path.join(tmp, "data")) as d:
            for i in range(5):
                st, doc, _ = d.json("POST", "/v2/models/fraudk/infer", v2_body([ROW]),
                                    {"X-Request-Id": "smp-%d" % i})
                expect(st == 200, doc)
            settled(d, 5)
            st, doc = listing(d, model="fraudk")
            expect(len(doc["predictions"]) == 5, doc)
            expect(all(r["features"] is None and r["outputs"] is not None and r["label"]
                       for r in doc["predictions"]), doc)
            # A share of 0.5: about half the requests keep their features, chosen by the
            # request id (the same id, the same choice).
            for i in range(200):
                for _ in range(2):
                    st, doc, _ = d.json("POST", "/v2/models/half/infer", v2_body([ROW]),
                                        {"X-Request-Id": "half-%d" % i})
                    expect(st == 200, doc)
            settled(d, 405)
            st, doc = listing(d, model="half", limit="1000")
            rows = doc["predictions"]
            expect(len(rows) == 400, len(rows))
            kept = {}
            for r in rows:
                kept.setdefault(r["request_id"], set()).add(r["features"] is not None)
            expect(all(len(v) == 1 for v in kept.values()), kept)
            share = sum(v == {True} for v in kept.values()) / 200.0
            expect(0.35 <= share <= 0.65, share)
            idx = repo_index(d)
            reasons = {m: e.get("reason", "") for (m, v), e in idx.items()
                       if m.startswith("bad")}
            expect("pii: 'maybe' is not one of drop, hash, keep" in reasons["badpii"], reasons)
            expect("logging.features: 1.5 is not a share from 0 to 1" in reasons["badlog"],
                   reasons)
            expect("logging.rows: unknown key" in reasons["badlog2"], reasons)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_drop_hash_keep, test_hash_without_key_refused, test_sampling_and_bad_yaml])
