/* SPDX-License-Identifier: MIT */
/*
 * drift_stats.c: PSI, Jensen-Shannon, Kolmogorov-Smirnov and chi-squared on
 * binned counts, and the two special functions behind their p-values. The
 * incomplete gamma function follows the classic series and continued
 * fraction pair (Numerical Recipes, 6.2); the Kolmogorov distribution its
 * two theta-function series, each used where it converges in a few terms.
 */
#include "watch/drift_stats.h"

#include <math.h>

#define EPS      1e-16
#define TINY     1e-300
#define MAX_ITER 1000

/* exp(-x + a ln x - ln Γ(a)), the factor both expansions share. */
static double gamma_front(double a, double x)
{
    int sign;

    return exp(-x + a * log(x) - lgamma_r(a, &sign));
}

/* P(a, x) by its series, for x < a + 1. */
static double gamma_p_series(double a, double x)
{
    double ap = a;
    double term = 1.0 / a;
    double sum = term;
    int i;

    for (i = 0; i < MAX_ITER; i++) {
        ap += 1.0;
        term *= x / ap;
        sum += term;
        if (fabs(term) < fabs(sum) * EPS)
            break;
    }
    return sum * gamma_front(a, x);
}

/* Q(a, x) by its continued fraction (modified Lentz), for x >= a + 1. */
static double gamma_q_fraction(double a, double x)
{
    double b = x + 1.0 - a;
    double c = 1.0 / TINY;
    double d = 1.0 / b;
    double h = d;
    int i;

    for (i = 1; i <= MAX_ITER; i++) {
        double an = -i * (i - a);
        double del;

        b += 2.0;
        d = an * d + b;
        if (fabs(d) < TINY)
            d = TINY;
        c = b + an / c;
        if (fabs(c) < TINY)
            c = TINY;
        d = 1.0 / d;
        del = d * c;
        h *= del;
        if (fabs(del - 1.0) < EPS)
            break;
    }
    return gamma_front(a, x) * h;
}

double md_stat_gamma_q(double a, double x)
{
    if (!(a > 0) || !(x >= 0) || isinf(a))
        return NAN;
    if (x == 0)
        return 1.0;
    if (isinf(x))
        return 0.0;
    if (x < a + 1.0)
        return 1.0 - gamma_p_series(a, x);
    return gamma_q_fraction(a, x);
}

double md_stat_kolmogorov_q(double lambda)
{
    double sum = 0;
    int j;

    if (!(lambda > 0))
        return isnan(lambda) ? NAN : 1.0;
    if (lambda < 1.0) {
        /* P(K <= l) = sqrt(2 pi) / l * sum exp(-(2j-1)^2 pi^2 / (8 l^2)) */
        double f = -M_PI * M_PI / (8.0 * lambda * lambda);

        for (j = 1; j < 100; j++) {
            double t = exp((2.0 * j - 1) * (2.0 * j - 1) * f);

            sum += t;
            if (t < sum * EPS)
                break;
        }
        return 1.0 - sqrt(2.0 * M_PI) / lambda * sum;
    }
    for (j = 1; j < 100; j++) {
        double t = exp(-2.0 * j * j * lambda * lambda);

        sum += (j % 2 == 1) ? t : -t;
        if (t < fabs(sum) * EPS)
            break;
    }
    return 2.0 * sum;
}

static void totals(const uint64_t *ref, const uint64_t *live, size_t k, double *r, double *l)
{
    size_t i;

    *r = 0;
    *l = 0;
    for (i = 0; i < k; i++) {
        *r += (double)ref[i];
        *l += (double)live[i];
    }
}

double md_drift_psi(const uint64_t *ref, const uint64_t *live, size_t k)
{
    double r, l, sum = 0;
    size_t i;

    totals(ref, live, k, &r, &l);
    if (r == 0 || l == 0)
        return NAN;
    r += MD_DRIFT_PSI_PSEUDO * (double)k;
    l += MD_DRIFT_PSI_PSEUDO * (double)k;
    for (i = 0; i < k; i++) {
        double pr = ((double)ref[i] + MD_DRIFT_PSI_PSEUDO) / r;
        double pl = ((double)live[i] + MD_DRIFT_PSI_PSEUDO) / l;

        sum += (pl - pr) * log(pl / pr);
    }
    return sum;
}

double md_drift_js(const uint64_t *ref, const uint64_t *live, size_t k)
{
    double r, l, sum = 0;
    size_t i;

    totals(ref, live, k, &r, &l);
    if (r == 0 || l == 0)
        return NAN;
    for (i = 0; i < k; i++) {
        double pr = (double)ref[i] / r;
        double pl = (double)live[i] / l;
        double m = (pr + pl) / 2;

        if (pr > 0)
            sum += pr * log2(pr / m);
        if (pl > 0)
            sum += pl * log2(pl / m);
    }
    /* Rounding can leave a tiny negative sum for equal distributions. */
    return sum > 0 ? sqrt(sum / 2) : 0.0;
}

void md_drift_ks(const uint64_t *ref, const uint64_t *live, size_t k, double *d, double *p)
{
    double r, l, cr = 0, cl = 0, best = 0;
    size_t i;

    totals(ref, live, k, &r, &l);
    if (r == 0 || l == 0) {
        *d = NAN;
        *p = NAN;
        return;
    }
    for (i = 0; i < k; i++) {
        double gap;

        cr += (double)ref[i];
        cl += (double)live[i];
        gap = fabs(cr / r - cl / l);
        if (gap > best)
            best = gap;
    }
    *d = best;
    *p = md_stat_kolmogorov_q(sqrt(r * l / (r + l)) * best);
}

void md_drift_chi2(const uint64_t *ref, const uint64_t *live, size_t k, double *stat, double *df,
                   double *p)
{
    double r, l, n, sum = 0;
    size_t i, kept = 0;

    totals(ref, live, k, &r, &l);
    *stat = 0;
    *df = 0;
    *p = NAN;
    if (r == 0 || l == 0)
        return;
    n = r + l;
    for (i = 0; i < k; i++) {
        double col = (double)ref[i] + (double)live[i];
        double er, el;

        if (col == 0)
            continue;
        kept++;
        er = r * col / n;
        el = l * col / n;
        sum += ((double)ref[i] - er) * ((double)ref[i] - er) / er;
        sum += ((double)live[i] - el) * ((double)live[i] - el) / el;
    }
    *stat = sum;
    if (kept < 2)
        return;
    *df = (double)(kept - 1);
    *p = md_stat_gamma_q(*df / 2, sum / 2);
}
