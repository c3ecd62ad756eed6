#!/bin/sh
# The whole test suite: unit tests (cmocka), integration tests (a real daemon
# over HTTP on 127.0.0.1), the layer check, clang-format (src/, cli/ and the
# C files of tests/ and bench/), cppcheck and clang-tidy over src/ and cli/
# (scripts/lint.sh; a finding is a failure), a
# short run of every fuzz target over its seed corpus, then the unit and
# integration tests again built with ASan+UBSan, then the unit tests and the
# concurrency-heavy integration tests (reload under load, batching: park and
# wake) built with ThreadSanitizer; any report fails the run. The tree check
# (scripts/check-tree.py) fails the suite if any file reads a path outside the
# repository.
# Ends with one "N passed, N failed" line; exits non-zero on any failure.
#   QUICK=1      skip tests tagged slow, and clang-tidy (about a minute)
#   SKIP_ASAN=1  skip the sanitizer passes (ASan+UBSan and TSan)
#   SKIP_TSAN=1  skip the ThreadSanitizer pass only
#   TIERS="..."  the passes to run, of "plain asan tsan" (default: all three)
#   FUZZ_SECS=N  seconds of fuzzing per target after the corpus replay (default 5)
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
# The integration tests run again under ThreadSanitizer: those where threads
# meet (scans beside requests, models coming and going under load, batch
# queues and control parking and waking requests, over V2 and TF Serving;
# policy switches under load, changes parked for the store's group commit).
TSAN_TESTS="t1002-reload-under-load.py t5021-tls-reload.py t1040-control.py t1050-snapshots-under-churn.py t6260-data-quality.py t6300-request-signals.py t6460-online-learns.py t7011-blue-green.py t7030-store-durability.py t9001-batching.py t9020-tfs-batching.py"
FUZZ_SECS=${FUZZ_SECS:-5}
TIERS=${TIERS:-plain asan tsan}
[ "${SKIP_ASAN:-0}" = 1 ] && TIERS=$(echo "$TIERS" | sed 's/asan//; s/tsan//')
[ "${SKIP_TSAN:-0}" = 1 ] && TIERS=$(echo "$TIERS" | sed 's/tsan//')
want() { case " $TIERS " in *" $1 "*) return 0 ;; esac; return 1; }
total_pass=0
total_fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

add() { total_pass=$((total_pass + $1)); total_fail=$((total_fail + $2)); }

# Unit tests: one cmocka binary per module; count its PASSED/FAILED lines.
unit() {
    build=$1
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] || continue
        if "$t" >"$log" 2>&1; then rc=0; else rc=$?; fi
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
        add "$p" "$f"
        if [ "$f" -ne 0 ]; then
            echo "FAIL $t"; tail -40 "$log"
        else
            echo "ok   $t: $p passed"
        fi
    done
}

# integration BUILD [TEST...]: every integration test, or those named.
integration() {
    b=$1
    shift
    if MODELD="$b/modeld" MODELCTL="$b/modelctl" /usr/bin/python3 tests/integration/run.py "$@" >"$log" 2>&1; then :; fi
    cat "$log" | grep -v '^[0-9]* passed, [0-9]* failed$'
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
    p=$(echo "$line" | sed 's/ passed.*//'); f=$(echo "$line" | sed 's/.*, \([0-9]*\) failed/\1/')
    [ -n "$line" ] || { p=0; f=1; }
    add "$p" "$f"
}

fuzz() {
    for t in build/fuzz/fuzz_*; do
        [ -x "$t" ] || continue
        name=${t##*/fuzz_}
        corpus=tests/fuzz/corpus/$name
        work=$(mktemp -d)
        [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
        if "$t" -max_total_time="$FUZZ_SECS" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/" \
            "$work" >"$log" 2>&1; then
            add 1 0; echo "ok   fuzz $name"
        else
            add 0 1; echo "FAIL fuzz $name"; tail -40 "$log"
        fi
        rm -rf "$work"
    done
}

# One check per tool: clean counts as one pass, any finding as one failure.
lint() {
    if sh scripts/lint.sh "$1" >"$log" 2>&1; then
        add 1 0; echo "ok   $2"
    else
        add 0 1; echo "FAIL $2"; head -80 "$log"
    fi
}

if want plain; then
    echo "== build"
    make -j"$JOBS" all test-unit >"$log" 2>&1 || { cat "$log"; echo "0 passed, 1 failed"; exit 1; }
    echo "== unit"
    unit build
    echo "== integration"
    integration build
    echo "== layers"
    if sh scripts/check-layers.sh; then add 1 0; echo "ok   layer check"; else add 0 1; echo "FAIL layer check"; fi
    echo "== tree"
    # Nothing in the checkout reads a path outside it; licence lines match LICENSE.
    if /usr/bin/python3 scripts/check-tree.py >"$log" 2>&1; then
        add 1 0; echo "ok   tree check"
    else
        add 0 1; echo "FAIL tree check"; head -80 "$log"
    fi
    echo "== lint"
    lint format clang-format
    lint cppcheck cppcheck
    if [ "${QUICK:-0}" = 1 ]; then echo "skip clang-tidy (quick)"; else lint tidy clang-tidy; fi
    echo "== fuzz"
    if make -j"$JOBS" test-fuzz >"$log" 2>&1; then fuzz; else cat "$log" | tail -30; add 0 1; fi
fi
if want asan; then
    echo "== build (ASan+UBSan)"
    if make -j"$JOBS" BUILD=build-asan SANITIZE=address,undefined all test-unit >"$log" 2>&1; then
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
        export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
        echo "== unit (ASan+UBSan)"
        unit build-asan
        echo "== integration (ASan+UBSan)"
        QUICK=${QUICK:-0} integration build-asan
    else
        tail -30 "$log"; add 0 1
    fi
    unset ASAN_OPTIONS UBSAN_OPTIONS
fi
if want tsan; then
    echo "== build (TSan)"
    if make -j"$JOBS" BUILD=build-tsan SANITIZE=thread all test-unit >"$log" 2>&1; then
        # The first report stops the process with status 66: a unit test fails,
        # and a daemon's exit fails its integration test.
        export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$PWD/tests/tsan/suppressions.txt"
        echo "== unit (TSan)"
        unit build-tsan
        echo "== integration (TSan)"
        integration build-tsan $TSAN_TESTS
    else
        tail -30 "$log"; add 0 1
    fi
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
