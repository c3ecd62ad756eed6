/* SPDX-License-Identifier: MIT */
/*
 * test_abstat.c: the statistics of A/B comparisons (watch/abstat.c) against
 * values computed with Debian's python3-scipy (scipy.stats.norm, t,
 * ttest_ind(equal_var=False), binomtest's Wilson interval) and with the
 * formulas of docs/monitoring.md: to 1e-12 where scipy is exact, to 1e-9 for
 * its t quantiles (t.ppf is off by about 2e-11: see the df 1 case) and the
 * small tail probabilities (relative).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "watch/abstat.h"

#include <math.h>

/* |got - want| within tol of want (relatively when |want| < 1, absolutely above). */
static void near(double got, double want, double tol)
{
    double scale = fabs(want) > 1.0 ? fabs(want) : 1.0;

    if (fabs(want) < 1e-3 && want != 0)
        scale = fabs(want);
    if (!(fabs(got - want) <= tol * scale))
        fail_msg("got %.17g, want %.17g", got, want);
}

static void test_normal(void **state)
{
    /* scipy.stats.norm.cdf */
    static const double cases[][2] = {
        {-3.5, 0.00023262907903552502}, {-1.0, 0.15865525393145707}, {0.0, 0.5},
        {0.5, 0.6914624612740131},      {1.96, 0.9750021048517795},  {6.0, 0.9999999990134123},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        near(md_abstat_norm_cdf(cases[i][0]), cases[i][1], 1e-12);
}

static void test_student(void **state)
{
    /* t, df, scipy.stats.t.cdf(t, df), 2 * t.sf(|t|, df) */
    static const double cases[][4] = {
        {2.0, 3, 0.9303370157205785, 0.1393259685588431},
        {-1.5, 10.5, 0.08153437895922226, 0.16306875791844452},
        {0.3, 1, 0.5927735790777423, 0.8144528418445154},
        {4.2, 100, 0.9999709863225802, 5.80273548395867e-05},
        {1.0, 2.5, 0.7979694863608633, 0.40406102727827353},
        {-7.0, 4, 0.0010960649033464696, 0.002192129806692939},
        {12.0, 30, 0.999999999999721, 5.580185415199261e-13},
    };
    /* df, t.ppf(0.975, df), t.ppf(0.01, df) */
    static const double quantiles[][3] = {
        {1, 12.706204736432095, -31.820515953757607},
        {2.5, 3.5746548420118773, -5.353111174482593},
        {9, 2.2621571627409915, -2.8214379233005498},
        {30, 2.0422724563012373, -2.4572615424005706},
        {1000, 1.9623390808264074, -2.33008267475551},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        near(md_abstat_t_cdf(cases[i][0], cases[i][1]), cases[i][2], 1e-12);
        near(md_abstat_t_two_sided(cases[i][0], cases[i][1]), cases[i][3], 1e-9);
    }
    for (size_t i = 0; i < sizeof(quantiles) / sizeof(quantiles[0]); i++) {
        near(md_abstat_t_quantile(0.975, quantiles[i][0]), quantiles[i][1], 1e-9);
        near(md_abstat_t_quantile(0.01, quantiles[i][0]), quantiles[i][2], 1e-9);
    }
    /* Closer than scipy's t.ppf where the quantile has a closed form: df 1 is
     * Cauchy's, tan(pi (p - 1/2)). */
    near(md_abstat_t_quantile(0.975, 1), tan(M_PI * 0.475), 1e-14);
    assert_true(md_abstat_t_quantile(0.5, 7) == 0.0);
    assert_true(isnan(md_abstat_t_cdf(1.0, 0)));
    assert_true(isnan(md_abstat_t_quantile(1.0, 5)));
    assert_true(isnan(md_abstat_ibeta(1.5, 1, 1)));
    assert_true(md_abstat_t_two_sided(INFINITY, 3) == 0.0);
}

static void test_wilson(void **state)
{
    /* k, n, scipy.stats.binomtest(k, n).proportion_ci(method="wilson") */
    static const double cases[][4] = {
        {30, 100, 0.21894885294932764, 0.39584854633346667},
        {0, 10, 0.0, 0.27753279986288926},
        {10, 10, 0.7224672001371109, 1.0},
        {512, 1000, 0.48103255440609083, 0.5428756033902556},
        {1, 3, 0.06149194472039626, 0.7923403991979523},
    };
    struct md_abstat_ci ci;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ci = md_abstat_wilson((uint64_t)cases[i][0], (uint64_t)cases[i][1]);
        near(ci.lo, cases[i][2], 1e-12);
        near(ci.hi, cases[i][3], 1e-12);
    }
    ci = md_abstat_wilson(0, 0);
    assert_true(isnan(ci.lo) && isnan(ci.hi));
}

/* Mean and sample variance of x[0..n). */
static void moments(const double *x, size_t n, double *mean, double *var)
{
    double s = 0;
    double ss = 0;

    for (size_t i = 0; i < n; i++)
        s += x[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - *mean) * (x[i] - *mean);
    *var = ss / (double)(n - 1);
}

static void test_tests(void **state)
{
    static const double a[] = {0.5, 1.25, 2.0, 0.75, 3.5, 1.0, 2.25};
    static const double b[] = {1.5, 2.75, 3.0, 2.5, 4.0, 1.75, 3.25, 2.0, 5.5};
    /* k1, n1, k2, n2, z, p (the pooled z-test; p = 2 norm.sf(|z|)) */
    static const double z[][6] = {
        {30, 100, 45, 110, -1.6477716817422, 0.09939953216165574},
        {500, 1000, 520, 1000, -0.894606130121643, 0.37099767373660797},
        {5, 20, 15, 20, -3.162277660168379, 0.001565402258002548},
    };
    double ma, va, mb, vb;
    struct md_abstat_test t;
    struct md_abstat_ci ci;

    (void)state;
    moments(a, 7, &ma, &va);
    moments(b, 9, &mb, &vb);
    /* scipy.stats.ttest_ind(a, b, equal_var=False) */
    t = md_abstat_welch(ma, va, 7, mb, vb, 9);
    near(t.statistic, -2.282398382040427, 1e-12);
    near(t.p_value, 0.03878706518438127, 1e-9);
    /* scipy.stats.t.interval(0.95, 6, loc=mean(a), scale=std(a, ddof=1) / sqrt(7)) */
    ci = md_abstat_mean_ci(ma, sqrt(va), 7);
    near(ci.lo, 0.6366317115673508, 1e-9);
    near(ci.hi, 2.5776540027183636, 1e-9);
    for (size_t i = 0; i < sizeof(z) / sizeof(z[0]); i++) {
        t = md_abstat_z_test((uint64_t)z[i][0], (uint64_t)z[i][1], (uint64_t)z[i][2],
                             (uint64_t)z[i][3]);
        near(t.statistic, z[i][4], 1e-12);
        near(t.p_value, z[i][5], 1e-9);
        assert_true(isnan(t.df));
    }
    /* Nothing to test: one value, no variance, every trial the same. */
    assert_true(isnan(md_abstat_welch(1, 0.5, 1, 2, 0.5, 5).p_value));
    assert_true(isnan(md_abstat_welch(1, 0, 4, 2, 0, 5).p_value));
    assert_true(isnan(md_abstat_z_test(0, 10, 0, 12).p_value));
    assert_true(isnan(md_abstat_z_test(1, 0, 0, 12).p_value));
    assert_true(isnan(md_abstat_mean_ci(1, 1, 1).lo));
}

static void test_sample_size(void **state)
{
    (void)state;
    /* ceil((z_0.975 + z_0.8)^2 (p (1 - p) + q (1 - q)) / d^2) */
    assert_true(md_abstat_n_proportion(0.1, 0.02) == 3839);
    assert_true(md_abstat_n_proportion(0.5, 0.05) == 1562);
    assert_true(md_abstat_n_proportion(0.99, 0.05) == 209); /* q = p - d */
    assert_true(md_abstat_n_mean(1.5, 2.5, 0.25) == 503);
    assert_true(isnan(md_abstat_n_proportion(0.5, 0)));
    assert_true(isnan(md_abstat_n_mean(1, 1, NAN)));
    assert_true(isnan(md_abstat_n_mean(NAN, 1, 0.1)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal),      cmocka_unit_test(test_student),
        cmocka_unit_test(test_wilson),      cmocka_unit_test(test_tests),
        cmocka_unit_test(test_sample_size),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
