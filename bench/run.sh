#!/bin/sh
# Benchmarks modeld against the reference peers in ../shared/peers in one run
# and prints throughput and latency ratios. See docs/performance.md.
#   ROUNDS=3 DURATION=10 CONNS=32 sh bench/run.sh
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh bench
make -s all
exec /usr/bin/python3 bench/run.py "$@"
