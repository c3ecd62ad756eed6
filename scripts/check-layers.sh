#!/bin/sh
# A layer includes only its own headers and those of layers below it
# (shared/DESIGN.md): control > net > api > serve > learn > watch > backend >
# store > util. cli/ includes util/ only. Prints offenders; exits 1 if any.
set -u
cd "$(dirname "$0")/.."
order="control net api serve learn watch backend store util"
rank() { i=0; for l in $order; do [ "$l" = "$1" ] && { echo $i; return; }; i=$((i + 1)); done; echo 99; }
bad=0
for f in src/*/*.c src/*/*.h; do
    layer=$(echo "$f" | cut -d/ -f2)
    lr=$(rank "$layer")
    for inc in $(sed -n 's/^#include "\([a-z]*\)\/.*/\1/p' "$f"); do
        ir=$(rank "$inc")
        if [ "$ir" -lt "$lr" ]; then
            echo "$f includes $inc/ (a higher layer)"; bad=1
        fi
    done
done
for f in cli/*.c cli/*.h; do
    [ -f "$f" ] || continue
    for inc in $(sed -n 's/^#include "\([a-z]*\)\/.*/\1/p' "$f"); do
        [ "$inc" = util ] || { echo "$f includes $inc/ (cli links util/ only)"; bad=1; }
    done
done
exit $bad
