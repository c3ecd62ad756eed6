/* SPDX-License-Identifier: MIT */
/*
 * quality.h: the arithmetic of a model's quality against feedback, with
 * no state and no I/O: the confusion matrix and what follows from it
 * (accuracy, precision, recall and F1 per class and macro), log loss, ROC
 * AUC and Brier score for a binary task, MAE, RMSE and R² for regression,
 * exact from a window's rows; and the same figures from mergeable sums
 * (counts, sums of losses, score histograms) for the statistics kept as
 * feedback flows (watch/outcomes.h). Definitions follow scikit-learn's
 * (docs/monitoring.md has the formulas): a test compares them with it.
 *
 * Thread-safe: every function reads its arguments only.
 */
#ifndef MD_WATCH_QUALITY_H
#define MD_WATCH_QUALITY_H

#include "util/common.h"

/* Probabilities are clipped to [eps, 1 - eps] for the log loss: the
 * float64 machine epsilon, as scikit-learn 1.2's eps="auto". */
#define MD_QUALITY_EPS 2.220446049250313e-16

/* Bins of the score histograms the live statistics keep for ROC AUC. */
#define MD_QUALITY_AUC_BINS 100

/* What a confusion matrix says, per class and over the classes. */
struct md_quality_classes {
    uint64_t n;        /* rows */
    double accuracy;   /* trace / n; NaN when n is 0 */
    size_t k;          /* classes */
    double *precision; /* k of each, caller's arrays (may be NULL: not wanted) */
    double *recall;
    double *f1;
    uint64_t *support;      /* rows whose true class is each (may be NULL) */
    double macro_precision; /* unweighted means over the classes present (true or predicted
                               at least once); NaN when none is */
    double macro_recall;
    double macro_f1;
};

/*
 * From the k x k confusion matrix cm (cm[t * k + p]: rows of true class t
 * predicted p), fills out (out->k, out->precision, ... set by the caller).
 * Precision tp / (tp + fp), recall tp / (tp + fn), F1 2tp / (2tp + fp +
 * fn), each 0 when its denominator is (scikit-learn's zero_division=0).
 */
void md_quality_classes(const uint64_t *cm, size_t k, struct md_quality_classes *out);

/*
 * Binary scores: y[i] is 1 when row i's true class is the positive one
 * (labels[1]), p[i] the predicted P(positive). NaN for n 0.
 *   log loss  -mean(y log p + (1 - y) log(1 - p)), p clipped to [eps, 1 - eps]
 *   Brier     mean((p - y)^2)
 *   ROC AUC   the probability that a positive outscores a negative, ties
 *             counting a half (the Mann-Whitney U over n_pos n_neg); NaN
 *             when either class is absent. work: n indexes of scratch.
 */
double md_quality_log_loss(const unsigned char *y, const double *p, size_t n);
double md_quality_brier(const unsigned char *y, const double *p, size_t n);
double md_quality_roc_auc(const unsigned char *y, const double *p, size_t n, size_t *work);

/* Regression against true values y: predictions yhat. NaN for n 0; R² NaN
 * for n < 2, and when y is constant 1 if every prediction is exact, else 0
 * (scikit-learn's). */
struct md_quality_regression {
    uint64_t n;
    double mae;
    double rmse;
    double r2;
};
void md_quality_regression(const double *y, const double *yhat, size_t n,
                           struct md_quality_regression *out);

/* Mergeable sums of a regression window: n, sum |e|, sum e^2, sum y, sum y^2
 * (e = yhat - y). The figures from them as above (R² from the sums, so
 * within rounding of the exact one). */
struct md_quality_sums {
    uint64_t n;
    double abs_err;
    double sq_err;
    double y;
    double y2;
};
void md_quality_regression_sums(const struct md_quality_sums *s, struct md_quality_regression *out);

/* The histogram bin of a probability p (0 to MD_QUALITY_AUC_BINS - 1). */
size_t md_quality_auc_bin(double p);

/* ROC AUC from score histograms of positives and negatives (bins each):
 * ties within a bin count a half, so it is the AUC of the binned scores.
 * NaN when either class is empty. */
double md_quality_roc_auc_hist(const uint64_t *pos, const uint64_t *neg, size_t bins);

#endif
