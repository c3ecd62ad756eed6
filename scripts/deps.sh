#!/bin/sh
# Installs the Debian packages modeld needs, only those missing.
#   scripts/deps.sh          what building and running need
#   scripts/deps.sh test     also what the test suite needs (chromium, its
#                            driver and Selenium for the dashboard's browser test)
#   scripts/deps.sh bench    also what bench/ needs: wrk (load), the FastAPI peer
#                            (FastAPI, uvicorn, xgboost, numpy); the C programs
#                            (bench/*.c, bench/peers/noop_http.c) build with gcc
#                            and libmicrohttpd from the base list
set -eu
pkgs="make gcc pkg-config libmicrohttpd-dev libjansson-dev libyaml-dev libxgboost-dev
      libcurl4-openssl-dev libsqlite3-dev libssl-dev libgnutls28-dev"
case "${1:-}" in
test) pkgs="$pkgs libcmocka-dev clang libclang-rt-14-dev prometheus python3 curl clang-format
           clang-tidy cppcheck python3-sklearn strace openssl gdb
           chromium chromium-driver python3-selenium" ;;
bench) pkgs="$pkgs wrk valgrind python3 python3-fastapi python3-uvicorn python3-xgboost
             python3-numpy" ;;
esac
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing Debian packages:$missing"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
