#!/bin/sh
# The single-row scenario alone: modeld against the reference peers in
# bench/peers/ in one run, throughput and latency ratios. bench/all.sh runs
# every scenario; see docs/performance.md.
#   ROUNDS=3 DURATION=10 CONNS=32 sh bench/run.sh
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh bench
make -s all
exec /usr/bin/python3 bench/run.py "$@"
