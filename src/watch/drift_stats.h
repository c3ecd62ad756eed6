/* SPDX-License-Identifier: MIT */
/*
 * drift_stats.h: the statistics that compare a live distribution with a
 * reference one, both given as counts over the same bins (the reference
 * profile's bins, watch/profile.h): the population stability index, the
 * Jensen-Shannon distance, the Kolmogorov-Smirnov statistic and p-value on
 * ordered bins, the chi-squared test of homogeneity, and the special
 * functions their p-values need. Pure functions of their arguments: no
 * state, no allocation, thread-safe. docs/monitoring.md ("Drift") gives the
 * formulas; tests/unit/test_drift_stats.c checks them against SciPy.
 */
#ifndef MD_WATCH_DRIFT_STATS_H
#define MD_WATCH_DRIFT_STATS_H

#include "util/common.h"

/* The pseudo-count added to every bin of both sides before the PSI's
 * logarithm, so that an empty bin gives a finite index. */
#define MD_DRIFT_PSI_PSEUDO 0.5

/*
 * The regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a),
 * for a > 0 and x >= 0 (NaN otherwise): a series below x < a + 1, a
 * continued fraction (modified Lentz) above, both to double precision. The
 * chi-squared survival function with k degrees of freedom is Q(k/2, x/2).
 */
double md_stat_gamma_q(double a, double x);

/*
 * The survival function of the Kolmogorov distribution, P(K > lambda) =
 * 2 Σ_{j>=1} (-1)^(j-1) exp(-2 j² lambda²); below lambda = 1 it is computed
 * as 1 - sqrt(2π)/lambda Σ_{j>=1} exp(-(2j-1)² π² / (8 lambda²)), which
 * converges fast there. 1 for lambda <= 0.
 */
double md_stat_kolmogorov_q(double lambda);

/*
 * The population stability index of live against ref over k bins:
 * Σ (l_i - r_i) ln(l_i / r_i) with r_i = (ref_i + 0.5) / (R + 0.5 k) and
 * l_i likewise (R, L the totals). NaN when either total is 0.
 */
double md_drift_psi(const uint64_t *ref, const uint64_t *live, size_t k);

/*
 * The Jensen-Shannon distance (base 2, in [0, 1]) of the two proportions
 * over k bins: sqrt((KL(r||m) + KL(l||m)) / 2), m = (r + l) / 2, no
 * pseudo-count. NaN when either total is 0.
 */
double md_drift_js(const uint64_t *ref, const uint64_t *live, size_t k);

/*
 * The two-sample Kolmogorov-Smirnov test on k ordered bins: *d the largest
 * distance between the two empirical distribution functions at the bins'
 * upper edges (the statistic of the samples with each value replaced by its
 * bin), *p the asymptotic p-value md_stat_kolmogorov_q(sqrt(n) * d) with
 * n = R L / (R + L). Both NaN when either total is 0.
 */
void md_drift_ks(const uint64_t *ref, const uint64_t *live, size_t k, double *d, double *p);

/*
 * The chi-squared test of homogeneity of the 2 x k table (ref, live), bins
 * empty on both sides left out: *stat Σ (O - E)² / E, *df the bins kept
 * minus 1, *p = Q(df / 2, stat / 2) (no continuity correction). *p NaN when
 * either total is 0 or fewer than 2 bins are kept (*df 0).
 */
void md_drift_chi2(const uint64_t *ref, const uint64_t *live, size_t k, double *stat, double *df,
                   double *p);

#endif
