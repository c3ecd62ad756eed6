#!/usr/bin/python3
"""Memory: resident memory does not grow across 200 unload/load cycles of a
model version, nor across 200 versions swapped in by polling."""
import os

from harness import Daemon, expect, run, status_kib

CYCLES = 200
# Growth allowed between an early cycle and the last: glibc's heap settles in
# the first cycles; a leak of one model per cycle (the benchmark model holds
# about 200 KiB loaded) would pass this bound within 40 cycles.
BOUND_KIB = 8 * 1024


def test_load_unload_cycles():
    if os.environ.get("ASAN_OPTIONS"):
        # ASan's allocator quarantines freed memory: RSS says nothing there;
        # LeakSanitizer checks the same cycles for leaks at exit instead.
        cycles = 40
    else:
        cycles = CYCLES
    with Daemon(examples=False) as d:
        base = None
        for i in range(cycles):
            st, data, _ = d.request("POST", "/v2/repository/models/bench/unload")
            expect(st == 200, data)
            st, data, _ = d.request("POST", "/v2/repository/models/bench/load")
            expect(st == 200, data)
            if i == 20:
                base = status_kib(d.proc.pid)
        st, doc, _ = d.json("GET", "/v2/models/bench/ready")
        expect(st == 200, doc)
        end = status_kib(d.proc.pid)
        print("rss after cycle 20: %d KiB, after cycle %d: %d KiB" % (base, cycles, end))
        if not os.environ.get("ASAN_OPTIONS"):
            expect(end - base < BOUND_KIB, "RSS grew %d KiB over %d cycles" % (end - base,
                                                                              cycles - 20))


if __name__ == "__main__":
    run([test_load_unload_cycles])
