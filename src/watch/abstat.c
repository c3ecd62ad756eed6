/* SPDX-License-Identifier: MIT */
/*
 * abstat.c: the statistics of A/B comparisons (abstat.h): distributions,
 * intervals, tests and sample sizes, in double precision, with no state.
 */
#include "watch/abstat.h"

#include <float.h>
#include <math.h>

#define Z_TWO_SIDED (MD_ABSTAT_Z_ALPHA + MD_ABSTAT_Z_POWER)

double md_abstat_norm_cdf(double z)
{
    return 0.5 * erfc(-z / M_SQRT2);
}

/* log Gamma(x) for x > 0, without lgamma's shared sign variable. */
static double log_gamma(double x)
{
    int sign;

    return lgamma_r(x, &sign);
}

/*
 * The continued fraction of I_x(a, b) (modified Lentz), converging fast for
 * x < (a + 1) / (a + b + 2); the caller uses the symmetry I_x(a, b) = 1 -
 * I_{1-x}(b, a) on the other side.
 */
static double beta_fraction(double x, double a, double b)
{
    const double tiny = 1e-300;
    double qab = a + b;
    double qap = a + 1.0;
    double qam = a - 1.0;
    double c = 1.0;
    double d = 1.0 - qab * x / qap;
    double h;

    if (fabs(d) < tiny)
        d = tiny;
    d = 1.0 / d;
    h = d;
    for (int m = 1; m <= 10000; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        double del;

        d = 1.0 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1.0 / d;
        del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 4 * DBL_EPSILON)
            break;
    }
    return h;
}

double md_abstat_ibeta(double x, double a, double b)
{
    double front;

    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1))
        return NAN;
    if (x == 0 || x == 1)
        return x;
    front = exp(log_gamma(a + b) - log_gamma(a) - log_gamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1.0) / (a + b + 2.0))
        return front * beta_fraction(x, a, b) / a;
    return 1.0 - front * beta_fraction(1.0 - x, b, a) / b;
}

double md_abstat_t_two_sided(double t, double df)
{
    if (isnan(t) || !(df > 0))
        return NAN;
    if (isinf(t))
        return 0.0;
    /* P(|T| >= |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2) */
    return md_abstat_ibeta(df / (df + t * t), df / 2.0, 0.5);
}

double md_abstat_t_cdf(double t, double df)
{
    double tail = md_abstat_t_two_sided(t, df) / 2.0;

    if (isnan(tail))
        return NAN;
    return t < 0 ? tail : 1.0 - tail;
}

double md_abstat_t_quantile(double p, double df)
{
    double target;
    double lo = 0.0;
    double hi = 1.0;

    if (!(p > 0) || !(p < 1) || !(df > 0))
        return NAN;
    if (p < 0.5)
        return -md_abstat_t_quantile(1.0 - p, df);
    if (p == 0.5)
        return 0.0;
    /* Solve P(|T| >= t) = 2 (1 - p): decreasing in t, and exact in the tail. */
    target = 2.0 * (1.0 - p);
    while (md_abstat_t_two_sided(hi, df) > target && hi < 1e300)
        hi *= 2.0;
    for (int i = 0; i < 2000 && hi - lo > 4 * DBL_EPSILON * hi; i++) {
        double mid = lo + (hi - lo) / 2.0;

        if (md_abstat_t_two_sided(mid, df) > target)
            lo = mid;
        else
            hi = mid;
    }
    return lo + (hi - lo) / 2.0;
}

struct md_abstat_ci md_abstat_wilson(uint64_t k, uint64_t n)
{
    struct md_abstat_ci ci = {NAN, NAN};
    double z = MD_ABSTAT_Z_ALPHA;
    double nn = (double)n;
    double p;
    double denom;
    double center;
    double half;

    if (n == 0 || k > n)
        return ci;
    p = (double)k / nn;
    denom = 1.0 + z * z / nn;
    center = (p + z * z / (2.0 * nn)) / denom;
    half = z / denom * sqrt(p * (1.0 - p) / nn + z * z / (4.0 * nn * nn));
    ci.lo = center - half > 0 ? center - half : 0.0;
    ci.hi = center + half < 1 ? center + half : 1.0;
    return ci;
}

struct md_abstat_ci md_abstat_mean_ci(double mean, double sd, uint64_t n)
{
    struct md_abstat_ci ci = {NAN, NAN};
    double half;

    if (n < 2 || !isfinite(mean) || !isfinite(sd))
        return ci;
    half =
        md_abstat_t_quantile(1.0 - MD_ABSTAT_ALPHA / 2.0, (double)(n - 1)) * sd / sqrt((double)n);
    ci.lo = mean - half;
    ci.hi = mean + half;
    return ci;
}

struct md_abstat_test md_abstat_z_test(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2)
{
    struct md_abstat_test t = {NAN, NAN, NAN};
    double p;
    double se;

    if (n1 == 0 || n2 == 0 || k1 > n1 || k2 > n2)
        return t;
    p = (double)(k1 + k2) / (double)(n1 + n2);
    se = sqrt(p * (1.0 - p) * (1.0 / (double)n1 + 1.0 / (double)n2));
    if (!(se > 0))
        return t;
    t.statistic = ((double)k1 / (double)n1 - (double)k2 / (double)n2) / se;
    t.p_value = erfc(fabs(t.statistic) / M_SQRT2);
    return t;
}

struct md_abstat_test md_abstat_welch(double mean1, double var1, uint64_t n1, double mean2,
                                      double var2, uint64_t n2)
{
    struct md_abstat_test t = {NAN, NAN, NAN};
    double s1;
    double s2;
    double se2;

    if (n1 < 2 || n2 < 2 || !isfinite(mean1) || !isfinite(mean2) || !(var1 >= 0) || !(var2 >= 0))
        return t;
    s1 = var1 / (double)n1;
    s2 = var2 / (double)n2;
    se2 = s1 + s2;
    if (!(se2 > 0) || !isfinite(se2))
        return t;
    t.statistic = (mean1 - mean2) / sqrt(se2);
    t.df = se2 * se2 / (s1 * s1 / (double)(n1 - 1) + s2 * s2 / (double)(n2 - 1));
    t.p_value = md_abstat_t_two_sided(t.statistic, t.df);
    return t;
}

double md_abstat_n_proportion(double p, double min_effect)
{
    double q;

    if (!(min_effect > 0) || !isfinite(min_effect) || !(p >= 0) || !(p <= 1))
        return NAN;
    q = p + min_effect <= 1.0 ? p + min_effect : p - min_effect;
    if (q < 0)
        return NAN;
    return ceil(Z_TWO_SIDED * Z_TWO_SIDED * (p * (1.0 - p) + q * (1.0 - q)) /
                (min_effect * min_effect));
}

double md_abstat_n_mean(double var1, double var2, double min_effect)
{
    if (!(min_effect > 0) || !isfinite(min_effect) || !(var1 >= 0) || !(var2 >= 0) ||
        !isfinite(var1 + var2))
        return NAN;
    return ceil(Z_TWO_SIDED * Z_TWO_SIDED * (var1 + var2) / (min_effect * min_effect));
}
