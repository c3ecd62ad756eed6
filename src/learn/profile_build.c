/* SPDX-License-Identifier: MIT */
/*
 * profile_build.c: a reference profile from prepared rows (see
 * profile_build.h). Quantile edges as common.py's _bins: the value at
 * floor(q n / 10) of the sorted non-missing values for q = 1..9, or the
 * largest value under the maximum where that is the maximum, equal edges
 * kept once; a value goes to the bin of the number of edges below it.
 */
#include "learn/profile_build.h"
#include "util/buf.h"
#include "util/mem.h"

#include <math.h>
#include <stdlib.h>

#define BINS     10
#define TEXT_MAX ((size_t)16 << 20)

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void put_num(struct md_buf *b, double v)
{
    if (isfinite(v))
        (void)md_buf_printf(b, "%.17g", v);
    else
        (void)md_buf_puts(b, "null");
}

/* Bins of the n values v (NaN missing; v is sorted in place): "edges",
 * "counts", "missing" appended to b. */
static void put_bins(struct md_buf *b, double *v, size_t n, bool with_missing)
{
    double edges[BINS];
    uint64_t counts[BINS] = {0};
    size_t ne = 0;
    size_t m = 0;
    size_t missing;

    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            v[m++] = v[i];
    missing = n - m;
    qsort(v, m, sizeof(*v), cmp_double);
    for (size_t q = 1; q < BINS && m > 0; q++) {
        double e = v[(q * m) / BINS];

        if (e >= v[m - 1]) {
            size_t k = m;

            while (k > 0 && v[k - 1] >= v[m - 1])
                k--;
            if (k == 0)
                continue;
            e = v[k - 1];
        }
        if (ne == 0 || e > edges[ne - 1])
            edges[ne++] = e;
    }
    for (size_t i = 0, k = 0; i < m; i++) {
        while (k < ne && v[i] > edges[k])
            k++;
        counts[k]++;
    }
    (void)md_buf_puts(b, "\"edges\":[");
    for (size_t k = 0; k < ne; k++) {
        if (k > 0)
            (void)md_buf_putc(b, ',');
        put_num(b, edges[k]);
    }
    (void)md_buf_puts(b, "],\"counts\":[");
    for (size_t k = 0; k <= ne; k++)
        (void)md_buf_printf(b, "%s%llu", k > 0 ? "," : "", (unsigned long long)counts[k]);
    (void)md_buf_putc(b, ']');
    if (with_missing)
        (void)md_buf_printf(b, ",\"missing\":%zu", missing);
}

static void put_categorical(struct md_buf *b, const float *x, size_t n_rows, size_t width,
                            const struct md_profile_column *f)
{
    uint64_t *counts = md_xcalloc(f->n_categories + 1, sizeof(*counts));
    uint64_t missing = 0;
    uint64_t other = 0;

    for (size_t r = 0; r < n_rows; r++) {
        const float *row = x + r * width + f->column;
        double idx;

        if (f->onehot) {
            size_t best = 0;

            idx = 0;
            for (size_t k = 0; k < f->n_categories; k++) {
                if (isnan(row[k])) {
                    idx = NAN;
                    break;
                }
                if (row[k] > row[best])
                    best = k;
            }
            if (!isnan(idx))
                idx = (double)best;
        } else {
            idx = row[0];
        }
        if (isnan(idx))
            missing++;
        else if (idx >= 0 && idx < (double)f->n_categories && idx == floor(idx))
            counts[(size_t)idx]++;
        else
            other++;
    }
    (void)md_buf_puts(b, "\"kind\":\"categorical\",\"counts\":{");
    for (size_t k = 0; k < f->n_categories; k++) {
        if (k > 0)
            (void)md_buf_putc(b, ',');
        (void)md_buf_json_str(b, f->categories[k], strlen(f->categories[k]));
        (void)md_buf_printf(b, ":%llu", (unsigned long long)counts[k]);
    }
    (void)md_buf_printf(b, "},\"other\":%llu,\"missing\":%llu", (unsigned long long)other,
                        (unsigned long long)missing);
    free(counts);
}

static void put_predictions(struct md_buf *b, size_t n_rows, const struct md_profile_scores *s)
{
    double *v = md_xmalloc((n_rows > 0 ? n_rows : 1) * sizeof(*v));
    uint64_t *counts = md_xcalloc(s->n_labels + 1, sizeof(*counts));

    for (size_t r = 0; r < n_rows; r++) {
        const float *o = s->scores + r * s->n_outputs;

        if (s->n_outputs == 1) {
            v[r] = o[0];
            if (s->n_labels == 2)
                counts[o[0] >= s->threshold ? 1 : 0]++;
        } else {
            size_t top = 0;

            for (size_t k = 1; k < s->n_outputs; k++)
                if (o[k] > o[top])
                    top = k;
            v[r] = o[top];
            if (top < s->n_labels)
                counts[top]++;
        }
    }
    (void)md_buf_puts(b, ",\"predictions\":{");
    if (s->n_labels > 0) {
        (void)md_buf_puts(b, "\"labels\":{");
        for (size_t k = 0; k < s->n_labels; k++) {
            if (k > 0)
                (void)md_buf_putc(b, ',');
            (void)md_buf_json_str(b, s->labels[k], strlen(s->labels[k]));
            (void)md_buf_printf(b, ":%llu", (unsigned long long)counts[k]);
        }
        (void)md_buf_puts(b, "},");
    }
    (void)md_buf_puts(b, "\"scores\":{");
    put_bins(b, v, n_rows, false);
    (void)md_buf_puts(b, "}}");
    free(counts);
    free(v);
}

char *md_profile_build(const float *x, size_t n_rows, size_t width,
                       const struct md_profile_column *f, size_t n_features,
                       const struct md_profile_scores *s, const char *quality)
{
    struct md_buf b;
    double *v = md_xmalloc((n_rows > 0 ? n_rows : 1) * sizeof(*v));
    char *out = NULL;

    md_buf_init(&b, TEXT_MAX);
    (void)md_buf_printf(&b,
                        "{\"format\":\"modeld-profile\",\"format_version\":1,\"rows\":%zu,"
                        "\"features\":{",
                        n_rows);
    for (size_t i = 0; i < n_features; i++) {
        if (i > 0)
            (void)md_buf_putc(&b, ',');
        (void)md_buf_json_str(&b, f[i].name, strlen(f[i].name));
        (void)md_buf_putc(&b, ':');
        (void)md_buf_putc(&b, '{');
        if (f[i].categories != NULL) {
            put_categorical(&b, x, n_rows, width, &f[i]);
        } else {
            for (size_t r = 0; r < n_rows; r++)
                v[r] = x[r * width + f[i].column];
            (void)md_buf_puts(&b, "\"kind\":\"numeric\",");
            put_bins(&b, v, n_rows, true);
        }
        (void)md_buf_putc(&b, '}');
    }
    (void)md_buf_putc(&b, '}');
    if (s != NULL && s->scores != NULL)
        put_predictions(&b, n_rows, s);
    if (quality != NULL)
        (void)md_buf_printf(&b, ",\"quality\":%s", quality);
    (void)md_buf_putc(&b, '}');
    if (md_buf_putc(&b, '\0') == MD_OK)
        out = md_buf_detach(&b, NULL);
    md_buf_release(&b);
    free(v);
    return out;
}
