/* SPDX-License-Identifier: MIT */
/*
 * abstat.h: the statistics of an A/B comparison, as pure functions of
 * counts, means and variances: confidence intervals of a proportion
 * (Wilson) and of a mean (Student's t), the two-sided p-values of the
 * two-proportion z-test and of Welch's t-test, the sample size per arm a
 * minimum detectable effect needs (alpha 0.05 two-sided, power 0.8), and
 * the distributions behind them (the normal CDF through erfc, Student's t
 * CDF through the regularized incomplete beta function, and its quantile).
 * docs/monitoring.md ("A/B statistics") gives every formula.
 *
 * No state, no allocation: callable from any thread. A function that
 * cannot answer (too few samples, a zero variance) gives NaN, never an
 * error: "not measured" is a value a caller shows and a gate never holds on.
 */
#ifndef MD_WATCH_ABSTAT_H
#define MD_WATCH_ABSTAT_H

#include "util/common.h"

#define MD_ABSTAT_ALPHA 0.05 /* two-sided significance of the tests and the intervals */
#define MD_ABSTAT_POWER 0.8  /* the power the sample size is computed for */
/* The normal quantiles of 1 - alpha/2 and of the power, to 16 digits. */
#define MD_ABSTAT_Z_ALPHA 1.959963984540054
#define MD_ABSTAT_Z_POWER 0.8416212335729143

/* A two-sided interval; both NaN when there is none. */
struct md_abstat_ci {
    double lo;
    double hi;
};

/* The outcome of a two-sample test. */
struct md_abstat_test {
    double statistic; /* z or t of (a - b); NaN when not computable */
    double df;        /* Welch's degrees of freedom; NaN for the z-test */
    double p_value;   /* two-sided; NaN when not computable */
};

/* Standard normal CDF, Phi(z) = erfc(-z / sqrt 2) / 2. */
double md_abstat_norm_cdf(double z);

/* The regularized incomplete beta function I_x(a, b) for a, b > 0 and x in
 * [0, 1] (a continued fraction, relative error about 1e-15); NaN outside. */
double md_abstat_ibeta(double x, double a, double b);

/* Student's t CDF with df > 0 degrees of freedom (df may be fractional); NaN
 * for df <= 0 or a NaN argument. */
double md_abstat_t_cdf(double t, double df);

/* Student's t survival function times two: P(|T| >= |t|), computed without
 * the cancellation of 1 - CDF. */
double md_abstat_t_two_sided(double t, double df);

/* The quantile of Student's t for p in (0, 1) (NaN outside, or df <= 0). */
double md_abstat_t_quantile(double p, double df);

/* Wilson's score interval of k successes in n trials at 95%, within [0, 1]
 * (n 0: NaN, NaN). */
struct md_abstat_ci md_abstat_wilson(uint64_t k, uint64_t n);

/* The t interval of a mean at 95%: mean +- t(0.975, n - 1) sd / sqrt(n); sd
 * the sample standard deviation (n - 1 in its denominator). n < 2: NaN. */
struct md_abstat_ci md_abstat_mean_ci(double mean, double sd, uint64_t n);

/* The two-proportion z-test of k1/n1 against k2/n2 with the pooled
 * proportion: z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2)). NaN when an
 * arm is empty or every trial has the same outcome. */
struct md_abstat_test md_abstat_z_test(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2);

/* Welch's t-test of two samples given by their means, sample variances (n -
 * 1 in the denominator) and sizes. NaN when an arm has fewer than two
 * values or both variances are 0. */
struct md_abstat_test md_abstat_welch(double mean1, double var1, uint64_t n1, double mean2,
                                      double var2, uint64_t n2);

/*
 * The sample size per arm that detects a difference of min_effect (> 0)
 * with a two-sided test at MD_ABSTAT_ALPHA and MD_ABSTAT_POWER:
 * proportions from a baseline p (in [0, 1]): n = (z_a + z_b)^2 (p (1 - p) +
 * q (1 - q)) / d^2 with q = p + d (p - d when p + d > 1); means from the two
 * arms' variances: n = (z_a + z_b)^2 (var1 + var2) / d^2. Rounded up; NaN
 * for a min_effect that is not positive and finite or a NaN input.
 */
double md_abstat_n_proportion(double p, double min_effect);
double md_abstat_n_mean(double var1, double var2, double min_effect);

#endif
