/* SPDX-License-Identifier: MIT */
/*
 * fmt.c: number formatting for JSON bodies.
 */
#include "util/fmt.h"

#include <math.h>

static int put_nonfinite(struct md_buf *b, double v, const char *nan_text)
{
    if (strcmp(nan_text, "NaN") == 0 && !isnan(v))
        return md_buf_puts(b, v > 0 ? "Infinity" : "-Infinity");
    return md_buf_puts(b, nan_text);
}

int md_buf_f32(struct md_buf *b, float v, const char *nan_text)
{
    char tmp[32];
    int n;

    if (!isfinite(v))
        return put_nonfinite(b, v, nan_text);
    n = snprintf(tmp, sizeof(tmp), "%.9g", (double)v);
    return md_buf_append(b, tmp, (size_t)n);
}

int md_buf_f64(struct md_buf *b, double v, const char *nan_text)
{
    char tmp[40];
    int n;

    if (!isfinite(v))
        return put_nonfinite(b, v, nan_text);
    n = snprintf(tmp, sizeof(tmp), "%.17g", v);
    return md_buf_append(b, tmp, (size_t)n);
}

int md_buf_i64(struct md_buf *b, int64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    return md_buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}
