#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes tests/unit/cron_ref.h: for each cron expression and start time,
the next time it comes due, found by stepping minute by minute through
Python's datetime in UTC (an implementation independent of util/cron.c).
Run it again after changing a case: /usr/bin/python3 tests/data/cron/next_ref.py"""
import datetime as dt
import os

NAMES = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
         "sep": 9, "oct": 10, "nov": 11, "dec": 12,
         "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def val(s):
    return NAMES[s.lower()] if s.lower() in NAMES else int(s)


def field(text, lo, hi):
    out = set()
    for item in text.split(","):
        step = 1
        if "/" in item:
            item, st = item.split("/")
            step = int(st)
        if item == "*":
            a, b = lo, hi
        elif "-" in item:
            a, b = (val(x) for x in item.split("-"))
        else:
            a = val(item)
            b = hi if step != 1 or "/" in text else a
        out.update(range(a, b + 1, step))
    return out


def matcher(expr):
    f = expr.split()
    sets = [field(f[i], *BOUNDS[i]) for i in range(5)]
    if 7 in sets[4]:
        sets[4].add(0)
    mstar, wstar = f[2].startswith("*"), f[4].startswith("*")

    def day_ok(t):
        if t.month not in sets[3]:
            return False
        md = t.day in sets[2]
        wd = (t.weekday() + 1) % 7 in sets[4]
        return (md and wd) if (mstar or wstar) else (md or wd)

    def ok(t):
        return t.minute in sets[0] and t.hour in sets[1] and day_ok(t)
    return ok, day_ok


def next_after(expr, after):
    ok, day_ok = matcher(expr)
    t = dt.datetime.fromtimestamp(after - after % 60 + 60, dt.timezone.utc)
    # Day by day where the day cannot match, then minute by minute.
    while True:
        if not day_ok(t):
            t = (t + dt.timedelta(days=1)).replace(hour=0, minute=0)
            continue
        if ok(t):
            return int(t.timestamp())
        t += dt.timedelta(minutes=1)


CASES = [
    ("* * * * *", "2026-12-07T13:05:20"),
    ("*/15 * * * *", "2026-12-07T13:05:20"),
    ("0 * * * *", "2026-12-07T13:05:20"),
    ("0 3 * * 1", "2026-12-07T13:05:20"),
    ("0 3 * * mon", "2026-12-07T03:00:00"),
    ("30 9 * * 1-5", "2026-12-07T13:05:20"),
    ("30 9 * * mon-fri", "2026-12-11T10:00:00"),
    ("0 0 1 * *", "2026-12-07T13:05:20"),
    ("0 0 1 1 *", "2026-12-31T23:59:00"),
    ("59 23 31 12 *", "2026-12-31T23:59:00"),
    ("0 0 29 2 *", "2026-12-07T13:05:20"),
    ("0 0 29 feb *", "2096-03-01T00:00:00"),
    ("0 0 13 * 5", "2026-12-07T13:05:20"),
    ("0 0 13 * fri", "2026-12-12T10:00:00"),
    ("0 0 * * 7", "2026-12-07T13:05:20"),
    ("0 0 * * 0", "2026-12-07T13:05:20"),
    ("5,35 */6 * * *", "2026-12-07T13:05:20"),
    ("10/20 1-3 * * *", "2026-12-07T13:05:20"),
    ("0 12 */10 * *", "2026-12-07T13:05:20"),
    ("0 0 * jun-aug sat", "2026-12-07T13:05:20"),
    ("15 4 31 * *", "2027-02-01T00:00:00"),
    ("0 0 1 */3 *", "2026-12-07T13:05:20"),
    ("* * * * *", "1970-01-01T00:00:00"),
    ("0 0 * * 1", "1970-01-01T00:00:00"),
    ("0 2 * * 6,0", "2026-12-12T02:00:00"),
    ("45 23 * * sun", "2026-12-13T23:44:59"),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "..", "unit", "cron_ref.h")
    lines = ["/* SPDX-License-Identifier: MIT */",
             "/* Written by tests/data/cron/next_ref.py: each expression, a start time and the",
             " * next time it comes due, found minute by minute with Python's datetime. */",
             "static const struct {", "    const char *expr;", "    int64_t after_s;",
             "    int64_t next_s;", "} cron_ref[] = {"]
    for expr, start in CASES:
        after = int(dt.datetime.fromisoformat(start).replace(tzinfo=dt.timezone.utc).timestamp())
        lines.append('    {"%s", %d, %d},' % (expr, after, next_after(expr, after)))
    lines.append("};")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
