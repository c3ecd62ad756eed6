/* SPDX-License-Identifier: MIT */
/*
 * test_quality.c: the quality arithmetic (watch/quality.c) on cases worked
 * out by hand: a three-class confusion matrix, binary log loss, Brier and
 * ROC AUC with a tie, regression (exact and from sums), AUC from
 * histograms, and the empty and degenerate windows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "watch/quality.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-12)

static void test_classes(void **state)
{
    /* true a a b b c; predicted a b b b a */
    const uint64_t cm[9] = {1, 1, 0, 0, 2, 0, 1, 0, 0};
    double p[3], r[3], f[3];
    uint64_t sup[3];
    struct md_quality_classes q = {.precision = p, .recall = r, .f1 = f, .support = sup};

    (void)state;
    md_quality_classes(cm, 3, &q);
    assert_int_equal(q.n, 5);
    NEAR(q.accuracy, 0.6);
    NEAR(p[0], 0.5);
    NEAR(p[1], 2.0 / 3.0);
    NEAR(p[2], 0.0); /* never predicted: 0 */
    NEAR(r[0], 0.5);
    NEAR(r[1], 1.0);
    NEAR(r[2], 0.0);
    NEAR(f[0], 0.5);
    NEAR(f[1], 0.8);
    NEAR(f[2], 0.0);
    assert_int_equal(sup[2], 1);
    NEAR(q.macro_precision, (0.5 + 2.0 / 3.0) / 3.0);
    NEAR(q.macro_recall, 0.5);
    NEAR(q.macro_f1, 1.3 / 3.0);
}

static void test_classes_absent_and_empty(void **state)
{
    /* class c neither true nor predicted: left out of the macro means */
    const uint64_t cm[9] = {2, 0, 0, 1, 1, 0, 0, 0, 0};
    const uint64_t zero[4] = {0};
    struct md_quality_classes q = {0};

    (void)state;
    md_quality_classes(cm, 3, &q);
    NEAR(q.accuracy, 0.75);
    /* a: P 2/3 R 1 F1 0.8; b: P 1 R 0.5 F1 2/3 */
    NEAR(q.macro_precision, (2.0 / 3.0 + 1.0) / 2.0);
    NEAR(q.macro_f1, (0.8 + 2.0 / 3.0) / 2.0);
    md_quality_classes(zero, 2, &q);
    assert_int_equal(q.n, 0);
    assert_true(isnan(q.accuracy) && isnan(q.macro_f1));
}

static void test_binary(void **state)
{
    const unsigned char y[4] = {1, 1, 0, 0};
    const double p[4] = {0.9, 0.4, 0.4, 0.1};
    const unsigned char y2[2] = {1, 0};
    const double p2[2] = {0.8, 0.4};
    const double sure[2] = {1.0, 0.0};
    size_t work[4];

    (void)state;
    NEAR(md_quality_log_loss(y2, p2, 2), -(log(0.8) + log(0.6)) / 2);
    NEAR(md_quality_brier(y2, p2, 2), 0.1);
    /* 0.9 beats both negatives, 0.4 ties one and beats one: 3.5 of 4 pairs */
    NEAR(md_quality_roc_auc(y, p, 4, work), 0.875);
    /* certain and right: clipped, so finite and tiny */
    assert_true(md_quality_log_loss(y2, sure, 2) < 1e-15 * 10);
    NEAR(md_quality_log_loss(y2, (const double[]){0.0, 1.0}, 2), -log(MD_QUALITY_EPS));
    assert_true(isnan(md_quality_roc_auc(y, p, 2, work))); /* positives only */
    assert_true(isnan(md_quality_log_loss(y, p, 0)));
    assert_true(isnan(md_quality_brier(y, p, 0)));
}

static void test_auc_hist(void **state)
{
    uint64_t pos[MD_QUALITY_AUC_BINS] = {0};
    uint64_t neg[MD_QUALITY_AUC_BINS] = {0};

    (void)state;
    pos[md_quality_auc_bin(0.9)]++;
    pos[md_quality_auc_bin(0.4)]++;
    neg[md_quality_auc_bin(0.4)]++;
    neg[md_quality_auc_bin(0.1)]++;
    NEAR(md_quality_roc_auc_hist(pos, neg, MD_QUALITY_AUC_BINS), 0.875);
    assert_int_equal(md_quality_auc_bin(1.0), MD_QUALITY_AUC_BINS - 1);
    assert_int_equal(md_quality_auc_bin(-1.0), 0);
    assert_int_equal(md_quality_auc_bin(NAN), 0);
    neg[md_quality_auc_bin(0.4)] = 0;
    neg[md_quality_auc_bin(0.1)] = 0;
    assert_true(isnan(md_quality_roc_auc_hist(pos, neg, MD_QUALITY_AUC_BINS)));
}

static void test_regression(void **state)
{
    const double y[3] = {1, 2, 3};
    const double yhat[3] = {1, 3, 2};
    const double flat[2] = {5, 5};
    struct md_quality_regression q;
    struct md_quality_sums s = {3, 2, 2, 6, 14};

    (void)state;
    md_quality_regression(y, yhat, 3, &q);
    NEAR(q.mae, 2.0 / 3.0);
    NEAR(q.rmse, sqrt(2.0 / 3.0));
    NEAR(q.r2, 0.0); /* sum e^2 2, sum (y - 2)^2 2 */
    md_quality_regression_sums(&s, &q);
    NEAR(q.mae, 2.0 / 3.0);
    NEAR(q.rmse, sqrt(2.0 / 3.0));
    NEAR(q.r2, 0.0);
    md_quality_regression(y, y, 3, &q);
    NEAR(q.r2, 1.0);
    md_quality_regression(flat, flat, 2, &q);
    NEAR(q.r2, 1.0); /* constant and exact */
    md_quality_regression(flat, y, 2, &q);
    NEAR(q.r2, 0.0); /* constant, not exact */
    md_quality_regression(y, yhat, 1, &q);
    assert_true(isnan(q.r2));
    md_quality_regression(y, yhat, 0, &q);
    assert_true(isnan(q.mae) && isnan(q.rmse));
    s.n = 0;
    md_quality_regression_sums(&s, &q);
    assert_true(isnan(q.mae));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classes),    cmocka_unit_test(test_classes_absent_and_empty),
        cmocka_unit_test(test_binary),     cmocka_unit_test(test_auc_hist),
        cmocka_unit_test(test_regression),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
