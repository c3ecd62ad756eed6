#!/bin/sh
# `make fuzz-all SECS=N`: runs every fuzz target ($BUILD/fuzz/fuzz_*) for N
# seconds from its seed corpus (tests/fuzz/corpus/<name>, copied: the seeds
# are not changed), with bounded memory (-rss_limit_mb, -malloc_limit_mb)
# and a time limit per input, then prints one line per target: executions,
# executions per second, crashes (any crash, leak, out-of-memory or timeout
# libFuzzer reports) and the new inputs it found. A crash's input is kept
# in $BUILD/fuzz/crashes/<name>/ (add it to the corpus once fixed). Exits 1
# when any target crashed, 0 otherwise.
#   BUILD=build  SECS=10  RSS_MB=2048  MALLOC_MB=1024  FUZZ="a b" (only these)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${SECS:-10}
RSS_MB=${RSS_MB:-2048}
MALLOC_MB=${MALLOC_MB:-1024}
case "$SECS" in '' | *[!0-9]*) echo "fuzz-all: SECS must be a whole number of seconds" >&2; exit 2 ;; esac
log=$(mktemp)
trap 'rm -f "$log"' EXIT
crashed=0
n=0
printf '%-16s %12s %10s %8s %8s  %s\n' target executions exec/s crashes new status
for t in "$BUILD"/fuzz/fuzz_*; do
    [ -x "$t" ] || continue
    name=${t##*/fuzz_}
    if [ -n "${FUZZ:-}" ]; then
        case " $FUZZ " in *" $name "*) ;; *) continue ;; esac
    fi
    n=$((n + 1))
    work=$(mktemp -d)
    art=$(mktemp -d)
    corpus=tests/fuzz/corpus/$name
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
    seeds=$(ls "$work" | wc -l)
    if "$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb="$RSS_MB" \
        -malloc_limit_mb="$MALLOC_MB" -print_final_stats=1 -artifact_prefix="$art/" \
        "$work" >"$log" 2>&1; then
        rc=0
    else
        rc=$?
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
    [ -n "$execs" ] || execs=$(sed -n 's/.*Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
    [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -1)
    [ -n "$execs" ] || execs=0
    speed=$(sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p' "$log" | tail -1)
    [ -n "$speed" ] || speed=-
    crashes=$(ls "$art" | wc -l)
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
    new=$(($(ls "$work" | wc -l) - seeds))
    [ "$new" -ge 0 ] || new=0
    if [ "$crashes" -ne 0 ]; then
        status=CRASH
        crashed=$((crashed + 1))
        mkdir -p "$BUILD/fuzz/crashes/$name"
        cp "$art"/* "$BUILD/fuzz/crashes/$name/" 2>/dev/null
    else
        status=ok
    fi
    printf '%-16s %12s %10s %8s %8s  %s\n' "$name" "$execs" "$speed" "$crashes" "$new" "$status"
    if [ "$crashes" -ne 0 ]; then
        grep -E '^==[0-9]+==ERROR|SUMMARY|^artifact_prefix|Test unit written' "$log" | head -5 | sed 's/^/    /'
        echo "    inputs kept in $BUILD/fuzz/crashes/$name/"
    fi
    rm -rf "$work" "$art"
done
if [ "$n" -eq 0 ]; then
    echo "fuzz-all: no fuzz target in $BUILD/fuzz (make test-fuzz builds them)" >&2
    exit 2
fi
echo "$n targets, $crashed crashed"
[ "$crashed" -eq 0 ]
