/* SPDX-License-Identifier: MIT */
/*
 * cron.c: five-field cron expressions: the parser (fields into bit sets)
 * and the search for the next minute that matches, on the proleptic
 * Gregorian calendar in UTC (days to dates by Howard Hinnant's
 * civil_from_days), so no time zone and no libc time function is involved.
 */
#include "util/cron.h"

#include <ctype.h>
#include <strings.h>

#define HORIZON_DAYS (9 * 366)      /* every expression that can match does within 9 years */
#define MAX_SECONDS  253402300799LL /* 9999-12-31T23:59:59Z */

enum { F_MINUTE, F_HOUR, F_MDAY, F_MONTH, F_WDAY, F_COUNT };

struct field {
    const char *name;
    int lo, hi;               /* the values it takes (day of week: 0..7) */
    const char *const *names; /* spelled values from lo, or NULL */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct field fields[F_COUNT] = {
    {"minute", 0, 59, NULL},          {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL},    {"month", 1, 12, month_names},
    {"day of week", 0, 7, day_names},
};

/* A value at *p: digits or a name of f; *p moves past it. */
static int value(const struct field *f, const char **p, int *out, struct md_err *err)
{
    const char *s = *p;
    long v = 0;
    size_t n = 0;

    if (isdigit((unsigned char)*s)) {
        while (n < 4 && isdigit((unsigned char)s[n]))
            v = v * 10 + (s[n++] - '0');
        if (isdigit((unsigned char)s[n]))
            return md_err_set(err, MD_EINVAL, "%s: '%.8s' is too long", f->name, s);
    } else if (f->names != NULL && isalpha((unsigned char)*s)) {
        while (isalpha((unsigned char)s[n]))
            n++;
        for (v = 0; f->names[v] != NULL; v++)
            if (n == 3 && strncasecmp(s, f->names[v], 3) == 0)
                break;
        if (f->names[v] == NULL)
            return md_err_set(err, MD_EINVAL, "%s: '%.*s' is not a name of one (%s)", f->name,
                              (int)(n < 16 ? n : 16), s,
                              f->names == month_names ? "jan..dec" : "sun..sat");
        v += f->lo;
    } else {
        return md_err_set(err, MD_EINVAL, "%s: '%.8s' is not a value", f->name, s);
    }
    if (v < f->lo || v > f->hi)
        return md_err_set(err, MD_EINVAL, "%s: %ld is not between %d and %d", f->name, v, f->lo,
                          f->hi);
    *out = (int)v;
    *p = s + n;
    return MD_OK;
}

/* One item of field f at *p into *bits. */
static int item(const struct field *f, const char **p, uint64_t *bits, struct md_err *err)
{
    int lo = f->lo;
    int hi = f->hi;
    int step = 1;
    int rc;

    if (**p == '*') {
        (*p)++;
    } else {
        rc = value(f, p, &lo, err);
        if (rc != MD_OK)
            return rc;
        hi = lo;
        if (**p == '-') {
            (*p)++;
            rc = value(f, p, &hi, err);
            if (rc != MD_OK)
                return rc;
            if (hi < lo)
                return md_err_set(err, MD_EINVAL, "%s: the range %d-%d ends before it starts",
                                  f->name, lo, hi);
        } else if (**p == '/') {
            hi = f->hi; /* "10/20": from 10 to the end by 20 */
        }
    }
    if (**p == '/') {
        const struct field steps = {f->name, 1, f->hi, NULL};

        (*p)++;
        rc = value(&steps, p, &step, err);
        if (rc != MD_OK)
            return md_err_set(err, MD_EINVAL, "%s: the step after '/' must be 1 to %d", f->name,
                              f->hi);
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ull << (f == &fields[F_WDAY] && v == 7 ? 0 : v);
    return MD_OK;
}

/* The field f spelled s[0..len) into *bits. */
static int field(const struct field *f, const char *s, size_t len, uint64_t *bits, bool *star,
                 struct md_err *err)
{
    char buf[MD_CRON_MAX + 1];
    const char *p = buf;

    memcpy(buf, s, len);
    buf[len] = '\0';
    *bits = 0;
    *star = buf[0] == '*';
    for (;;) {
        int rc = item(f, &p, bits, err);

        if (rc != MD_OK)
            return rc;
        if (*p == '\0')
            return MD_OK;
        if (*p != ',')
            return md_err_set(err, MD_EINVAL, "%s: unexpected '%c' in '%s'", f->name, *p, buf);
        p++;
    }
}

static const struct {
    const char *name;
    const char *expr;
} shorthands[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

int md_cron_parse(const char *text, struct md_cron *out, struct md_err *err)
{
    const char *start[F_COUNT];
    size_t len[F_COUNT];
    const char *p = text;
    uint64_t bits[F_COUNT];
    bool star[F_COUNT];
    size_t n = 0;

    if (strlen(text) > MD_CRON_MAX)
        return md_err_set(err, MD_EINVAL, "longer than %d bytes", MD_CRON_MAX);
    if (text[0] == '@') {
        for (size_t i = 0; i < MD_ARRAY_LEN(shorthands); i++)
            if (strcmp(text, shorthands[i].name) == 0)
                return md_cron_parse(shorthands[i].expr, out, err);
        return md_err_set(err, MD_EINVAL,
                          "'%.32s' is not one of @yearly, @annually, @monthly, @weekly, @daily, "
                          "@midnight, @hourly",
                          text);
    }
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        if (n == F_COUNT)
            return md_err_set(err, MD_EINVAL,
                              "more than five fields (minute hour day-of-month month "
                              "day-of-week)");
        start[n] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
        len[n] = (size_t)(p - start[n]);
        n++;
    }
    if (n != F_COUNT)
        return md_err_set(err, MD_EINVAL,
                          "%zu fields, not five (minute hour day-of-month month day-of-week)", n);
    for (size_t i = 0; i < F_COUNT; i++) {
        int rc = field(&fields[i], start[i], len[i], &bits[i], &star[i], err);

        if (rc != MD_OK)
            return rc;
    }
    memset(out, 0, sizeof(*out));
    out->minutes = bits[F_MINUTE];
    out->hours = (uint32_t)bits[F_HOUR];
    out->mdays = (uint32_t)bits[F_MDAY];
    out->months = (uint16_t)bits[F_MONTH];
    out->wdays = (uint8_t)bits[F_WDAY];
    out->mday_star = star[F_MDAY];
    out->wday_star = star[F_WDAY];
    if (md_cron_next(out, 0) < 0)
        return md_err_set(err, MD_EINVAL,
                          "day of month: no day it names comes in the months named");
    return MD_OK;
}

/* Year, month (1..12) and day (1..31) of days since 1970-01-01 (days >= 0). */
static void civil(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;

    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool day_matches(const struct md_cron *c, int64_t days)
{
    int64_t y;
    unsigned m, d;
    unsigned wd = (unsigned)((days + 4) % 7); /* 1970-01-01 was a Thursday */
    bool by_mday, by_wday;

    civil(days, &y, &m, &d);
    if (!(c->months >> m & 1))
        return false;
    by_mday = c->mdays >> d & 1;
    by_wday = c->wdays >> wd & 1;
    if (c->mday_star || c->wday_star)
        return by_mday && by_wday;
    return by_mday || by_wday;
}

int64_t md_cron_next(const struct md_cron *c, int64_t after_s)
{
    int64_t minute, day;
    int first;

    if (after_s < 0 || after_s > MAX_SECONDS)
        return -1;
    minute = after_s / 60 + 1;
    day = minute / 1440;
    first = (int)(minute % 1440);
    for (int i = 0; i < HORIZON_DAYS; i++, day++, first = 0) {
        if (!day_matches(c, day))
            continue;
        for (int h = first / 60; h < 24; h++) {
            if (!(c->hours >> h & 1))
                continue;
            for (int mi = h == first / 60 ? first % 60 : 0; mi < 60; mi++)
                if (c->minutes >> mi & 1)
                    return (day * 1440 + (int64_t)h * 60 + mi) * 60;
        }
    }
    return -1;
}
