#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""scripts/check-tree.py, which `make test` runs over the checkout: on small
trees made here, it reports every way a file could reach outside the
repository (and a licence line LICENSE does not grant), each at its file and
line, and none of the ways the repository legitimately refers to itself.
The text that must be caught is assembled at run time, so this file passes
the check itself."""
import os
import shutil
import subprocess
import tempfile

from harness import ROOT, expect, run

CHECK = os.path.join(ROOT, "scripts", "check-tree.py")
UP = ".."
SIBLING = UP + "/" + "shared"
PEERS = "MD_" + "PEERS"
WORK = "/" + "work"
HOME = "/" + "home"

MIT = "MIT License\n\nCopyright (c) 2026 the modeld authors\n"

# (path, text, [(line, fragment of the finding)]): each finding must be reported.
BAD = [
    ("bench/all.sh", "#!/bin/sh\nset -u\nsh %s/peers/run.sh\n" % SIBLING,
     [(3, "beside the checkout")]),
    ("bench/common.py", "import os\nP = os.environ.get(\"%s\")\n" % PEERS,
     [(2, "peers variable")]),
    ("tests/unit/x.c", "/* SPDX-License-Identifier: MIT */\nchar *p = \"%s/me/model.json\";\n" % HOME,
     [(2, "absolute path into " + HOME)]),
    ("tests/data/make.py", "out = '%s/out/rows.csv'\n" % WORK, [(1, "absolute path into " + WORK)]),
    ("tests/integration/h.py",
     "import os\nROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))\n"
     "P = os.path.join(ROOT, \"%s\", \"peers\")\n" % UP,
     [(3, "x1 from the root")]),
    ("tests/integration/g.py",
     "import os\nHERE = os.path.dirname(__file__)\nX = os.path.join(HERE, %s)\n" % ", ".join(["'..'"] * 3),
     [(3, "x3 from the file's directory")]),
    ("tests/integration/bare.py", "open(\"%s/x.csv\")\n" % UP, [(1, "'..' climbs out")]),
    ("scripts/t.sh", "#!/bin/sh\ncd \"$(dirname \"$0\")/..\"\ncat %s/rows.csv\n" % UP,
     [(3, "'..' climbs out")]),
    ("scripts/u.sh", "#!/bin/sh\n. \"$(dirname \"$0\")/%s/%s/env\"\n" % (UP, UP),
     [(2, "'../..' climbs out")]),
    ("Makefile", "all:\n\tcp %s/model.json build/\n" % UP, [(2, "'..' climbs out")]),
    ("docs/a.md", "See [the peers](%s/%s/peers/README.md).\n" % (UP, UP),
     [(1, "'../..' climbs out")]),
    ("src/x.c", "/* SPDX-License-Identifier: %s */\n" % ("Apache" + "-2.0"),
     [(1, "SPDX-License-Identifier Apache-2.0, LICENSE grants MIT")]),
]

# Files that refer only to the repository itself or to the system: no finding.
GOOD = [
    ("tests/integration/harness.py",
     "import os\nROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), \"..\", \"..\"))\n"
     "BENCH = os.path.join(ROOT, \"tests\", \"data\", \"bench\")\n"),
    ("bench/peers/v2_body.py",
     "import os\nhere = os.path.dirname(__file__)\n"
     "f = os.path.join(here, \"..\", \"..\", \"tests\", \"data\", \"bench\", \"bench_rows.csv\")\n"),
    ("scripts/test.sh", "#!/bin/sh\nset -u\ncd \"$(dirname \"$0\")/..\"\nsh scripts/lint.sh\n"
     "/usr/bin/python3 tests/integration/run.py\n"),
    (".ci/run", "#!/bin/sh\ncd \"$(dirname \"$0\")/..\"\nmake test\n"),
    ("examples/README.md", "Exported to the [linear format](../docs/linear.md)...\n"
     "Versions 1..N, then ... and so on.\n"),
    ("tests/unit/test_contract.c", "/* SPDX-License-Identifier: MIT */\n"
     "static const char *a = \"artifact: ../model.json\\n\";\n"
     "static const char *b = \"artifact: ..\\n\";\n"
     "char path[] = \"/tmp/test_contract_XXXXXX\";\n"),
    ("bench/run.py", "#!/usr/bin/python3\n# SPDX-License-Identifier: MIT\n"
     "URL = 'http://127.0.0.1:8080/v2/models/root/home'\nPY = '/usr/bin/python3'\n"),
    # Data is read by the tests, and reads nothing.
    ("tests/fuzz/corpus/router/1", "GET /%s/%s/x\n" % (UP, UP)),
    ("tests/data/cases.json", "{\"path\": \"%s/peers\"}\n" % SIBLING),
]


def make_tree(files, license_text=MIT):
    root = tempfile.mkdtemp(prefix="modeld-tree-")
    for path, text in files:
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    if license_text is not None:
        with open(os.path.join(root, "LICENSE"), "w") as f:
            f.write(license_text)
    return root


def check(root):
    p = subprocess.run(["/usr/bin/python3", CHECK, "--root", root], capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def findings(out):
    return [l for l in out.splitlines() if ":" in l and not l.startswith("ok:")
            and "finding(s)" not in l]


def test_clean_tree_passes():
    root = make_tree(GOOD)
    try:
        rc, out = check(root)
        expect(rc == 0 and out.startswith("ok: "), "clean tree flagged (rc %d):\n%s" % (rc, out))
    finally:
        shutil.rmtree(root)


def test_each_escape_reported_at_its_line():
    root = make_tree([(p, t) for p, t, _ in BAD] + GOOD)
    try:
        rc, out = check(root)
        expect(rc == 1, "expected exit 1, got %d:\n%s" % (rc, out))
        lines = findings(out)
        want = 0
        for path, _, expected in BAD:
            for lineno, fragment in expected:
                want += 1
                hit = [l for l in lines if l.startswith("%s:%d: " % (path, lineno)) and fragment in l]
                expect(hit, "no finding %r at %s:%d in:\n%s" % (fragment, path, lineno, out))
        for path, _ in GOOD:
            expect(not [l for l in lines if l.startswith(path + ":")],
                   "%s flagged but refers only to the repository:\n%s" % (path, out))
        expect(len(lines) == want, "expected %d findings, got %d:\n%s" % (want, len(lines), out))
    finally:
        shutil.rmtree(root)


def test_link_out_of_the_tree_and_missing_license():
    outside = tempfile.mkdtemp(prefix="modeld-outside-")
    root = make_tree(GOOD, license_text=None)
    try:
        os.symlink(outside, os.path.join(root, "tests", "data", "peers"))
        os.symlink(UP + "/docs/linear.md", os.path.join(root, "examples", "linear.md"))
        rc, out = check(root)
        expect(rc == 1, "expected exit 1, got %d:\n%s" % (rc, out))
        expect("tests/data/peers: symbolic link to %s, outside the repository" % outside in out, out)
        expect("LICENSE: missing" in out, out)
        expect("examples/linear.md" not in out, "a link inside the tree was flagged:\n" + out)
    finally:
        shutil.rmtree(root)
        shutil.rmtree(outside)


def test_git_checkout_reads_listed_files_only():
    """In a git checkout: tracked and new files are read, ignored ones are not."""
    if shutil.which("git") is None:
        raise AssertionError("git is not installed")
    root = make_tree(GOOD + [(".gitignore", "/build/\n"),
                             ("build/gen.sh", "cat %s/x\n" % SIBLING),
                             ("notes/new.py", "P = '%s/me'\n" % HOME)])
    try:
        p = subprocess.run(["git", "init", "-q", root], capture_output=True, text=True, timeout=30)
        expect(p.returncode == 0, p.stderr)
        rc, out = check(root)
        expect(rc == 1 and "notes/new.py:1: absolute path" in out, out)
        expect("build/gen.sh" not in out, "an ignored file was read:\n" + out)
    finally:
        shutil.rmtree(root)


def test_usage():
    p = subprocess.run(["/usr/bin/python3", CHECK, "--root"], capture_output=True, text=True,
                       timeout=30)
    expect(p.returncode == 2 and "usage" in p.stderr, p.stderr)
    p = subprocess.run(["/usr/bin/python3", CHECK, "--root", "/nonexistent-modeld-tree"],
                       capture_output=True, text=True, timeout=30)
    expect(p.returncode == 2 and "not a directory" in p.stderr, p.stderr)


if __name__ == "__main__":
    run([test_clean_tree_passes, test_each_escape_reported_at_its_line,
         test_link_out_of_the_tree_and_missing_license, test_git_checkout_reads_listed_files_only,
         test_usage])
