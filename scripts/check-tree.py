#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The tree reads nothing outside itself, and its licence lines agree.

Looks at every file of the checkout (`git ls-files`: tracked files and new
ones not ignored; outside a git checkout, every file but build/, build-asan/,
var/ and __pycache__/) and reports, as path:line: what:

- a reference to the directory "shared" one level above the checkout, where
  the benchmark model and peers used to be, or to the environment variable
  that pointed at the peers (MD_ then PEERS);
- an absolute path into a home or workspace directory (home, root, Users or
  work at the top of the file system): one machine's layout, never a clone's;
- a run of dot-dot components that climbs above the repository root: counted
  from the file's own directory, or from the root where the base is known to
  be the root (a shell script that has changed to the root, a Python
  os.path.join on ROOT, a bare relative path in Python, which tests and
  benchmarks resolve from the root; the Makefile lives at the root);
- a symbolic link whose target lies outside the repository;
- an SPDX-License-Identifier other than the one LICENSE grants (MIT), or a
  missing LICENSE.

Data (*.json, *.csv, fuzz corpora) is checked for links only: it holds
numbers and requests, and reads nothing.

    /usr/bin/python3 scripts/check-tree.py [--root DIR]

Exits 0 when clean, 1 with one line per finding, 2 on a usage error.
"""
import os
import re
import subprocess
import sys

LICENSE_ID = "MIT"
SKIP_DIRS = {"build", "build-asan", "var"}

# Each pattern is written so that it does not match its own source text.
SIBLING = re.compile(r"\.\./shared\b")
PEERS_VAR = re.compile(r"\bMD_PEER[S]\b")
ABSOLUTE = re.compile(r"(?<![\w.~/:$-])/(?:home|root|Users|work)(?=/|\b)(?![-.\w])")
# A run of ".." path components with a slash on one side at least.
DOTS = re.compile(r"(?<![\w.])\.\.(?:/\.\.)*(?![\w.])")
PY_JOIN = re.compile(r"os\.path\.join\(\s*([^,()]+?)\s*,\s*((?:[\"']\.\.[\"']\s*(?:,\s*|(?=\))))+)")
SH_CD_ROOT = re.compile(r"^\s*cd\s+\"?\$\(dirname\s+\"?\$0\"?\)(?:/\.\.)+\"?", re.M)
SPDX = re.compile(r"SPDX-License-Identifier:[ \t]*([A-Za-z0-9.+-]+)")


def tree_files(root):
    """Paths relative to root, sorted."""
    try:
        p = subprocess.run(["git", "-C", root, "rev-parse", "--show-toplevel"],
                           capture_output=True, text=True, timeout=30)
        top = p.stdout.strip() if p.returncode == 0 else ""
    except OSError:
        top = ""
    if top and os.path.realpath(top) == os.path.realpath(root):
        p = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], capture_output=True, timeout=60, check=True)
        names = {n.decode("utf-8", "replace") for n in p.stdout.split(b"\0") if n}
        return sorted(n for n in names if os.path.lexists(os.path.join(root, n)))
    out = []
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        dirs[:] = [x for x in dirs if x not in (".git", "__pycache__") and
                   not (rel == "." and x in SKIP_DIRS)]
        # A link to a directory is a file here: where it points is checked, not followed.
        for f in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            out.append(os.path.normpath(os.path.join(rel, f)))
    return sorted(out)


def kind(rel):
    """'data', 'python', 'shell', 'make' or 'text'."""
    base = os.path.basename(rel)
    if rel.startswith("tests/fuzz/corpus/") or base.endswith((".json", ".csv")):
        return "data"
    if base.endswith(".py"):
        return "python"
    if base == "Makefile" or base.endswith(".mk"):
        return "make"
    if base.endswith(".sh") or rel == ".ci/run":
        return "shell"
    return "text"


def depth(rel):
    return rel.count("/")


def climbs(rel, text, k):
    """Findings for runs of '..' in one file of kind k."""
    found = []
    own = depth(rel)
    cd_root = k == "shell" and SH_CD_ROOT.search(text) is not None
    for lineno, line in enumerate(text.splitlines(), 1):
        joined = []
        if k == "python":
            for m in PY_JOIN.finditer(line):
                n = m.group(2).count("..")
                base = 0 if "root" in m.group(1).lower() else own
                joined.append((m.start(2), m.end(2)))
                if n > base:
                    found.append((lineno, "'..' x%d from %s climbs out of the repository" %
                                  (n, "the root" if base == 0 else "the file's directory")))
        for m in DOTS.finditer(line):
            if any(a <= m.start() < b for a, b in joined):
                continue
            before = line[:m.start()]
            after = line[m.end():]
            if not before.endswith("/") and not after.startswith("/"):
                continue  # a lone '..' in prose or a test string, not a path
            n = m.group(0).count("..")
            base = own
            if k == "make":
                base = 0
            elif k == "shell" and cd_root and not re.search(r"\$\(dirname\s+\"?\$0\"?\)/$", before):
                base = 0
            elif k == "python" and re.search(r"(?:^|[(\[=,\s])[\"']$", before):
                base = 0  # a bare relative path: resolved from the working directory
            if n > base:
                found.append((lineno, "'%s' climbs out of the repository" % m.group(0)))
    return found


def check_file(root, rel):
    path = os.path.join(root, rel)
    if os.path.islink(path):
        target = os.path.realpath(path)
        inside = os.path.realpath(root)
        if os.path.commonpath([target, inside]) != inside:
            return [(0, "symbolic link to %s, outside the repository" % os.readlink(path))]
        return []
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        return [(0, "cannot read: %s" % e.strerror)]
    if b"\0" in raw[:8192]:
        return []
    text = raw.decode("utf-8", "replace")
    k = kind(rel)
    if k == "data":
        return []
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if SIBLING.search(line):
            found.append((lineno, "refers to a directory beside the checkout"))
        if PEERS_VAR.search(line):
            found.append((lineno, "refers to the retired peers variable"))
        m = ABSOLUTE.search(line)
        if m:
            found.append((lineno, "absolute path into %s" % m.group(0)))
        for sm in SPDX.finditer(line):
            if sm.group(1) != LICENSE_ID:
                found.append((lineno, "SPDX-License-Identifier %s, LICENSE grants %s" %
                              (sm.group(1), LICENSE_ID)))
    found.extend(climbs(rel, text, k))
    return sorted(found)


def main(argv):
    root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    if len(argv) == 2 and argv[0] == "--root":
        root = os.path.abspath(argv[1])
    elif argv:
        sys.stderr.write("usage: check-tree.py [--root DIR]\n")
        return 2
    if not os.path.isdir(root):
        sys.stderr.write("check-tree.py: %s: not a directory\n" % root)
        return 2
    findings = []
    lic = os.path.join(root, "LICENSE")
    try:
        with open(lic) as f:
            if not f.readline().startswith(LICENSE_ID + " License"):
                findings.append("LICENSE:1: does not start with '%s License'" % LICENSE_ID)
    except OSError:
        findings.append("LICENSE: missing")
    files = tree_files(root)
    for rel in files:
        for lineno, what in check_file(root, rel):
            findings.append("%s:%d: %s" % (rel, lineno, what) if lineno else "%s: %s" % (rel, what))
    for f in findings:
        print(f)
    if findings:
        print("%d finding(s) in %d files" % (len(findings), len(files)))
        return 1
    print("ok: %d files read nothing outside the repository; licence lines say %s" %
          (len(files), LICENSE_ID))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
