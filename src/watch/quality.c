/* SPDX-License-Identifier: MIT */
/*
 * quality.c: the quality arithmetic of quality.h. Sums run in the order of
 * the rows with plain doubles; a window holds at most a few hundred
 * thousand rows, so the rounding stays far below the 1e-9 the comparison
 * with scikit-learn allows.
 */
#include "watch/quality.h"

#include <math.h>
#include <stdlib.h>

void md_quality_classes(const uint64_t *cm, size_t k, struct md_quality_classes *out)
{
    uint64_t n = 0;
    uint64_t trace = 0;
    double sp = 0;
    double sr = 0;
    double sf = 0;
    size_t present = 0;

    for (size_t t = 0; t < k; t++)
        for (size_t p = 0; p < k; p++) {
            n += cm[t * k + p];
            if (t == p)
                trace += cm[t * k + p];
        }
    out->n = n;
    out->k = k;
    out->accuracy = n > 0 ? (double)trace / (double)n : NAN;
    for (size_t c = 0; c < k; c++) {
        uint64_t tp = cm[c * k + c];
        uint64_t row = 0; /* true c */
        uint64_t col = 0; /* predicted c */
        double prec;
        double rec;
        double f1;

        for (size_t j = 0; j < k; j++) {
            row += cm[c * k + j];
            col += cm[j * k + c];
        }
        prec = col > 0 ? (double)tp / (double)col : 0.0;
        rec = row > 0 ? (double)tp / (double)row : 0.0;
        f1 = row + col > 0 ? 2.0 * (double)tp / (double)(row + col) : 0.0;
        if (out->precision != NULL)
            out->precision[c] = prec;
        if (out->recall != NULL)
            out->recall[c] = rec;
        if (out->f1 != NULL)
            out->f1[c] = f1;
        if (out->support != NULL)
            out->support[c] = row;
        if (row + col > 0) {
            present++;
            sp += prec;
            sr += rec;
            sf += f1;
        }
    }
    out->macro_precision = present > 0 ? sp / (double)present : NAN;
    out->macro_recall = present > 0 ? sr / (double)present : NAN;
    out->macro_f1 = present > 0 ? sf / (double)present : NAN;
}

static double clip(double p)
{
    if (p < MD_QUALITY_EPS)
        return MD_QUALITY_EPS;
    if (p > 1.0 - MD_QUALITY_EPS)
        return 1.0 - MD_QUALITY_EPS;
    return p;
}

double md_quality_log_loss(const unsigned char *y, const double *p, size_t n)
{
    double s = 0;

    if (n == 0)
        return NAN;
    for (size_t i = 0; i < n; i++) {
        double q = clip(p[i]);

        s += y[i] ? -log(q) : -log(1.0 - q);
    }
    return s / (double)n;
}

double md_quality_brier(const unsigned char *y, const double *p, size_t n)
{
    double s = 0;

    if (n == 0)
        return NAN;
    for (size_t i = 0; i < n; i++) {
        double d = p[i] - (y[i] ? 1.0 : 0.0);

        s += d * d;
    }
    return s / (double)n;
}

/* qsort_r's comparison: indexes by their score. */
static int by_score(const void *a, const void *b, void *ctx)
{
    const double *p = ctx;
    double x = p[*(const size_t *)a];
    double z = p[*(const size_t *)b];

    return (x > z) - (x < z);
}

double md_quality_roc_auc(const unsigned char *y, const double *p, size_t n, size_t *work)
{
    double rank_sum = 0; /* of the positives, ranks from 1, ties averaged */
    uint64_t pos = 0;
    size_t i = 0;

    for (size_t j = 0; j < n; j++) {
        work[j] = j;
        pos += y[j] ? 1 : 0;
    }
    if (pos == 0 || pos == n)
        return NAN;
    qsort_r(work, n, sizeof(*work), by_score, (void *)p);
    while (i < n) {
        size_t j = i;
        uint64_t tied_pos = 0;

        while (j < n && p[work[j]] == p[work[i]]) {
            tied_pos += y[work[j]] ? 1 : 0;
            j++;
        }
        /* ranks i + 1 .. j: their mean */
        rank_sum += (double)tied_pos * ((double)(i + 1) + (double)j) / 2.0;
        i = j;
    }
    return (rank_sum - (double)pos * ((double)pos + 1.0) / 2.0) / ((double)pos * (double)(n - pos));
}

void md_quality_regression(const double *y, const double *yhat, size_t n,
                           struct md_quality_regression *out)
{
    double mean = 0;
    double abs_err = 0;
    double sq_err = 0;
    double ss_tot = 0;

    out->n = n;
    if (n == 0) {
        out->mae = out->rmse = out->r2 = NAN;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double e = y[i] - yhat[i];

        mean += y[i];
        abs_err += fabs(e);
        sq_err += e * e;
    }
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        ss_tot += (y[i] - mean) * (y[i] - mean);
    out->mae = abs_err / (double)n;
    out->rmse = sqrt(sq_err / (double)n);
    if (n < 2)
        out->r2 = NAN;
    else if (ss_tot == 0)
        out->r2 = sq_err == 0 ? 1.0 : 0.0;
    else
        out->r2 = 1.0 - sq_err / ss_tot;
}

void md_quality_regression_sums(const struct md_quality_sums *s, struct md_quality_regression *out)
{
    double n = (double)s->n;
    double ss_tot;

    out->n = s->n;
    if (s->n == 0) {
        out->mae = out->rmse = out->r2 = NAN;
        return;
    }
    out->mae = s->abs_err / n;
    out->rmse = sqrt(fmax(s->sq_err, 0.0) / n);
    ss_tot = s->y2 - s->y * s->y / n;
    if (s->n < 2)
        out->r2 = NAN;
    else if (ss_tot <= 1e-12 * fmax(fabs(s->y2), 1.0))
        out->r2 = s->sq_err <= 0 ? 1.0 : 0.0;
    else
        out->r2 = 1.0 - s->sq_err / ss_tot;
}

size_t md_quality_auc_bin(double p)
{
    double b;

    if (!(p > 0)) /* NaN too */
        return 0;
    b = floor(p * MD_QUALITY_AUC_BINS);
    return b >= MD_QUALITY_AUC_BINS ? MD_QUALITY_AUC_BINS - 1 : (size_t)b;
}

double md_quality_roc_auc_hist(const uint64_t *pos, const uint64_t *neg, size_t bins)
{
    double npos = 0;
    double nneg = 0;
    double below = 0; /* negatives in lower bins */
    double u = 0;

    for (size_t b = 0; b < bins; b++) {
        npos += (double)pos[b];
        nneg += (double)neg[b];
    }
    if (npos == 0 || nneg == 0)
        return NAN;
    for (size_t b = 0; b < bins; b++) {
        u += (double)pos[b] * (below + (double)neg[b] / 2.0);
        below += (double)neg[b];
    }
    return u / (npos * nneg);
}
