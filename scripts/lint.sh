#!/bin/sh
# Static checks over the daemon and client sources (formatting also over the C
# files of tests/unit, tests/fuzz and bench), as `make format-check`,
# `make lint` and scripts/test.sh run them. Prints the findings; exits 0 when
# there are none, 1 when there are, 2 when the tool is missing.
#   scripts/lint.sh format     clang-format --dry-run --Werror (.clang-format)
#   scripts/lint.sh cppcheck   cppcheck, warnings, performance and portability
#   scripts/lint.sh tidy       clang-tidy (.clang-tidy), JOBS files at a time
# clang-tidy gets one file per process: given several, clang 14's va_list
# checker reports every va_start after the first file as uninitialized.
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}

need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "$1 is not installed (sh scripts/deps.sh test installs it)"
    exit 2
}

sources() {
    ls src/*/*.c src/main.c cli/*.c
}

case "${1:-}" in
format)
    need clang-format
    # shellcheck disable=SC2046
    clang-format --dry-run --Werror $(sources) src/*/*.h cli/*.h tests/unit/*.c tests/unit/*.h \
        tests/fuzz/*.c tests/fuzz/*.h bench/*.c
    ;;
cppcheck)
    need cppcheck
    # shellcheck disable=SC2086
    cppcheck --quiet --enable=warning,performance,portability --error-exitcode=1 --inline-suppr \
        --std=c11 -D_GNU_SOURCE -DMD_VERSION='"lint"' -Isrc src cli
    ;;
tidy)
    need clang-tidy
    # Each clang-tidy's "N warnings generated." (checks not enabled) is dropped;
    # xargs exits 123 when any clang-tidy found something: reported as 1.
    # shellcheck disable=SC2016
    sources | xargs -P "$JOBS" -n 1 sh -c '
        out=$(clang-tidy --quiet "$1" -- -std=c11 -D_GNU_SOURCE "-DMD_VERSION=\"lint\"" \
              -Isrc 2>&1)
        rc=$?
        printf "%s\n" "$out" | grep -v "^[0-9]* warnings* generated\.$" | grep -v "^$"
        exit $rc' _ || exit 1
    ;;
*)
    echo "usage: scripts/lint.sh format|cppcheck|tidy" >&2
    exit 2
    ;;
esac
