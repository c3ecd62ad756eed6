#!/usr/bin/python3
"""The binaries are built hardened (docs/security.md#hardening): read from
the ELF of modeld and modelctl with readelf. Each must be a position
independent executable, have full RELRO (a GNU_RELRO segment and every
symbol bound at start: BIND_NOW), a stack that is not executable, call
__stack_chk_fail (-fstack-protector-strong) and, outside the sanitizer
builds (where _FORTIFY_SOURCE is left out on purpose), the glibc checked
functions (__*_chk) of -D_FORTIFY_SOURCE=2."""
import os
import re
import subprocess
import tempfile

from harness import MODELCTL, MODELD, expect, run


def readelf(args, path):
    p = subprocess.run(["readelf", "-W"] + args + [path], capture_output=True, text=True,
                       timeout=60)
    expect(p.returncode == 0, "readelf %s %s: %s" % (" ".join(args), path, p.stderr))
    return p.stdout


def check(path):
    name = os.path.basename(path)
    expect(os.path.exists(path), "%s: not built" % path)
    header = readelf(["-h"], path)
    expect(re.search(r"Type:\s+DYN", header), "%s: not a PIE (ELF type is not DYN):\n%s" %
           (name, header))
    dynamic = readelf(["-d"], path)
    expect(re.search(r"\(FLAGS_1\).*\bPIE\b", dynamic), "%s: no PIE flag in FLAGS_1:\n%s" %
           (name, dynamic))
    expect(re.search(r"\(FLAGS\).*\bBIND_NOW\b", dynamic) or
           re.search(r"\(FLAGS_1\).*\bNOW\b", dynamic) or re.search(r"\(BIND_NOW\)", dynamic),
           "%s: not linked with -z now (partial RELRO only):\n%s" % (name, dynamic))
    segments = readelf(["-l"], path)
    expect("GNU_RELRO" in segments, "%s: no GNU_RELRO segment (-z relro)" % name)
    stack = [line for line in segments.splitlines() if "GNU_STACK" in line]
    expect(stack and not re.search(r"\bRWE\s", stack[0] + " "),
           "%s: executable or missing GNU_STACK: %r" % (name, stack))
    syms = readelf(["--dyn-syms"], path)
    expect("__stack_chk_fail" in syms, "%s: no __stack_chk_fail (-fstack-protector-strong)" % name)
    sanitized = "__asan_init" in syms or "__tsan_init" in syms or "__ubsan_handle" in syms
    checked = sorted(set(re.findall(r"\b(__[a-z0-9_]+_chk)\b", syms)) - {"__stack_chk_fail"})
    if sanitized:
        print("  %s: a sanitizer build, built without _FORTIFY_SOURCE (not checked)" % name)
    else:
        expect(len(checked) >= 3, "%s: too few checked functions (-D_FORTIFY_SOURCE=2): %r" %
               (name, checked))
    return checked


def test_modeld_hardened():
    checked = check(MODELD)
    print("  modeld: %d fortified functions, e.g. %s" % (len(checked), ", ".join(checked[:4])))


def test_modelctl_hardened():
    checked = check(MODELCTL)
    print("  modelctl: %d fortified functions, e.g. %s" % (len(checked), ", ".join(checked[:4])))


def test_check_catches_an_unhardened_binary():
    """The checks can fail: a small program built without the flags fails them."""
    tmp = tempfile.mkdtemp(prefix="modeld-t5100-")
    try:
        src = os.path.join(tmp, "plain.c")
        exe = os.path.join(tmp, "plain")
        with open(src, "w") as f:
            f.write("#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n")
        p = subprocess.run(["cc", "-O0", "-no-pie", "-fno-stack-protector", "-Wl,-z,norelro",
                            "-o", exe, src], capture_output=True, text=True, timeout=60)
        expect(p.returncode == 0, "cc: %s" % p.stderr)
        try:
            check(exe)
        except AssertionError as e:
            expect("not a PIE" in str(e), "unexpected first failure: %s" % e)
        else:
            raise AssertionError("an unhardened binary passed the checks")
    finally:
        for f in ("plain.c", "plain"):
            try:
                os.unlink(os.path.join(tmp, f))
            except OSError:
                pass
        os.rmdir(tmp)


if __name__ == "__main__":
    run([test_modeld_hardened, test_modelctl_hardened, test_check_catches_an_unhardened_binary])
