#!/bin/sh
# Every benchmark scenario of docs/performance.md in one run, against the
# peers of bench/peers/, each table printed as it comes.
#   sh bench/all.sh            full run (ROUNDS=3, DURATION=10: about 6 minutes)
#   QUICK=1 sh bench/all.sh    smoke run: ROUNDS=1, DURATION=2, N=3 (under a minute)
# ROUNDS, DURATION, N, CYCLES, THREADS and each script's own knobs pass through;
# a failing scenario is reported and the others still run; the exit status
# is 1 if any failed.
set -u
cd "$(dirname "$0")/.." || exit 1
sh scripts/deps.sh bench || exit 1
make -s -j2 all build/bench/engine_bench build/bench/predlog_bench || exit 1

if [ "${QUICK:-0}" = 1 ]; then
    export ROUNDS="${ROUNDS:-1}" DURATION="${DURATION:-2}" N="${N:-3}"
fi
py=/usr/bin/python3
failed=""
printf 'knobs: ROUNDS=%s DURATION=%s N=%s (empty: script defaults)\n' \
    "${ROUNDS:-}" "${DURATION:-}" "${N:-}"

scenario() {
    name=$1
    shift
    printf '\n== %s: %s\n' "$name" "$*"
    "$@" || failed="$failed $name"
}

scenario "engines alone" build/bench/engine_bench
scenario "single row, 32 connections" env CONNS=32 $py bench/run.py
scenario "single row, 64 connections" env CONNS=64 $py bench/run.py
scenario "dynamic batching on/off" $py bench/batching.py
scenario "10,000-row request vs libxgboost" env ROWS=10000 $py bench/big.py
scenario "flood" $py bench/flood.py
scenario "start-up and memory" $py bench/startup.py 50
scenario "instructions per single-row request" $py bench/instructions.py
scenario "load and unload endpoints" $py bench/load.py
scenario "drift on and off, 10,000-row binary request" $py bench/drift.py
scenario "prediction log: writer alone" build/bench/predlog_bench
scenario "prediction log: writer alone, encryption at rest" build/bench/predlog_bench 200000 crypt
scenario "prediction log: cost to requests" $py bench/predlog.py

if [ -n "$failed" ]; then
    printf '\nfailed:%s\n' "$failed"
    exit 1
fi
printf '\nall scenarios ran\n'
