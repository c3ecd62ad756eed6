/* SPDX-License-Identifier: MIT */
/*
 * test_outcomes.c: the quality statistics kept as feedback flows
 * (watch/outcomes.c): outcomes added and taken back, windows by minute and
 * by hour, shadows apart, the signals registered and their values, the
 * sums of two sets of buckets adding up to one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "watch/outcomes.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)
#define NOW        ((int64_t)1800000000000) /* a whole hour */

static void label(struct md_outcomes *o, int sign, int64_t version, const char *route,
                  int64_t at_ms, const char *predicted, double score, const char *truth)
{
    struct md_store_outcome c = {.sign = sign,
                                 .model = "m",
                                 .version = version,
                                 .route = route,
                                 .shadow = strcmp(route, "shadow") == 0,
                                 .at_ms = at_ms,
                                 .predicted = predicted,
                                 .score = score,
                                 .kind = MD_FEEDBACK_LABEL,
                                 .label = truth,
                                 .value = NAN};

    md_outcomes_apply(o, &c, "yes", NOW);
}

static double metric(struct md_outcomes *o, const char *name, const char *arg, int64_t version,
                     int64_t window_ms, uint64_t *samples)
{
    struct md_outcomes_sum s;
    struct md_signal_value v;
    struct md_err err;

    assert_true(md_outcomes_window(o, "m", version, NULL, window_ms, NOW, &s));
    assert_int_equal(md_outcomes_metric(&s, name, arg, &v, &err), MD_OK);
    if (samples != NULL)
        *samples = v.samples;
    return v.value;
}

static void test_classification(void **state)
{
    struct md_outcomes *o = md_outcomes_new();
    uint64_t n;

    (void)state;
    /* 4 rows: yes/yes right, no/no right, yes predicted for a no, no for a yes */
    label(o, 1, 1, "stable", NOW - 1000, "yes", 0.9, "yes");
    label(o, 1, 1, "stable", NOW - 2000, "no", 0.2, "no");
    label(o, 1, 1, "stable", NOW - 3000, "yes", 0.6, "no");
    label(o, 1, 1, "stable", NOW - 4000, "no", 0.4, "yes");
    label(o, 1, 2, "shadow", NOW - 1000, "yes", 0.9, "no"); /* a shadow: apart */
    md_outcomes_count(o, "m", 1, "stable", false, NOW - 60000, 8, NOW);
    md_outcomes_count(o, "m", 1, "stable", false, NOW - 1000, 2, NOW);
    NEAR(metric(o, "accuracy", NULL, 0, 300000, &n), 0.5);
    assert_int_equal(n, 4);
    NEAR(metric(o, "precision", "yes", 0, 300000, NULL), 0.5);
    NEAR(metric(o, "f1", NULL, 0, 300000, NULL), 0.5);
    NEAR(metric(o, "brier", NULL, 0, 300000, NULL), (0.01 + 0.04 + 0.36 + 0.36) / 4.0);
    NEAR(metric(o, "log_loss", NULL, 0, 300000, NULL),
         -(log(0.9) + log(0.8) + log(0.4) + log(0.4)) / 4.0);
    /* positives 0.9, 0.4; negatives 0.2, 0.6: 3 of 4 pairs */
    NEAR(metric(o, "roc_auc", NULL, 0, 300000, NULL), 0.75);
    NEAR(metric(o, "label_coverage", NULL, 0, 300000, &n), 0.4);
    assert_int_equal(n, 10);
    /* The shadow's version alone. */
    NEAR(metric(o, "accuracy", NULL, 2, 300000, NULL), 0.0);

    /* A replaced label: taken back, its successor added; figures move. */
    label(o, -1, 1, "stable", NOW - 3000, "yes", 0.6, "no");
    label(o, 1, 1, "stable", NOW - 3000, "yes", 0.6, "yes");
    NEAR(metric(o, "accuracy", NULL, 0, 300000, &n), 0.75);
    assert_int_equal(n, 4);

    /* Windows: the hour ring for longer ones; rows older than the window left out. */
    label(o, 1, 1, "stable", NOW - 2 * 3600000 - 5, "no", 0.1, "yes");
    NEAR(metric(o, "accuracy", NULL, 0, 4 * 3600000, &n), 0.6);
    assert_int_equal(n, 5);
    NEAR(metric(o, "accuracy", NULL, 0, 60000, &n), 0.75);
    md_outcomes_free(o);
}

static void test_regression_rewards(void **state)
{
    struct md_outcomes *o = md_outcomes_new();
    struct md_store_outcome c = {
        .sign = 1, .model = "m", .version = 1, .route = "stable", .at_ms = NOW - 10};

    (void)state;
    c.kind = MD_FEEDBACK_VALUE;
    c.score = 1;
    c.value = 1;
    md_outcomes_apply(o, &c, NULL, NOW);
    c.score = 3;
    c.value = 2;
    md_outcomes_apply(o, &c, NULL, NOW);
    c.score = 2;
    c.value = 3;
    md_outcomes_apply(o, &c, NULL, NOW);
    NEAR(metric(o, "mae", NULL, 0, 60000, NULL), 2.0 / 3.0);
    NEAR(metric(o, "rmse", NULL, 0, 60000, NULL), sqrt(2.0 / 3.0));
    NEAR(metric(o, "r2", NULL, 0, 60000, NULL), 0.0);
    c.kind = MD_FEEDBACK_REWARD;
    c.value = 1;
    md_outcomes_apply(o, &c, NULL, NOW);
    c.value = 0;
    md_outcomes_apply(o, &c, NULL, NOW);
    NEAR(metric(o, "mean_reward", NULL, 0, 60000, NULL), 0.5);
    assert_true(isnan(metric(o, "mean_rating", NULL, 0, 60000, NULL)));
    md_outcomes_waiting(o, "m", 3, 2);
    NEAR(metric(o, "feedback_orphaned", NULL, 0, 60000, NULL), 2);
    md_outcomes_free(o);
}

static void test_signals(void **state)
{
    struct md_outcomes *o = md_outcomes_new();
    struct md_signals *s = md_signals_new();
    struct md_signal_query q = {.model = "m", .window_ms = 300000, .now_ms = NOW};
    struct md_signal_value v;
    struct md_err err;

    (void)state;
    assert_int_equal(md_outcomes_register(o, s, &err), MD_OK);
    label(o, 1, 1, "stable", NOW - 1000, "yes", 0.9, "yes");
    label(o, 1, 1, "stable", NOW - 1000, "no", 0.9, "yes");
    q.metric = "f1:yes";
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_OK);
    NEAR(v.value, 2.0 / 3.0);
    q.metric = "f1";
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_OK);
    NEAR(v.value, (2.0 / 3.0 + 0.0) / 2.0);
    q.metric = "recall:yes";
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_OK);
    NEAR(v.value, 0.5);
    q.metric = "precision";
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_EINVAL);
    q.metric = "accuracy:x";
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_EINVAL);
    q.metric = "recall:maybe"; /* a class never seen: nothing measured */
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_OK);
    assert_true(isnan(v.value));
    q.model = "other";
    q.metric = "accuracy";
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_OK);
    assert_true(isnan(v.value) && v.samples == 0);
    md_signals_free(s);
    md_outcomes_free(o);
}

static uint64_t cell(const struct md_outcomes_sum *s, const char *t, const char *p)
{
    size_t ti = s->k;
    size_t pi = s->k;

    for (size_t i = 0; i < s->k; i++) {
        if (strcmp(s->classes[i], t) == 0)
            ti = i;
        if (strcmp(s->classes[i], p) == 0)
            pi = i;
    }
    assert_true(ti < s->k && pi < s->k);
    return s->cm[ti * MD_OUTCOMES_CLASSES + pi];
}

/* Two replicas' buckets add up to the buckets of one that saw everything. */
static void test_mergeable(void **state)
{
    struct md_outcomes *a = md_outcomes_new();
    struct md_outcomes *b = md_outcomes_new();
    struct md_outcomes *all = md_outcomes_new();
    struct md_outcomes_sum sa, sb, sall;

    (void)state;
    for (int i = 0; i < 40; i++) {
        const char *p = i % 3 ? "yes" : "no";
        const char *t = i % 4 ? "yes" : "no";

        label(i % 2 ? a : b, 1, 1, "stable", NOW - i * 1000, p, 0.01 * i, t);
        label(all, 1, 1, "stable", NOW - i * 1000, p, 0.01 * i, t);
    }
    assert_true(md_outcomes_window(a, "m", 0, NULL, 3600000, NOW, &sa));
    assert_true(md_outcomes_window(b, "m", 0, NULL, 3600000, NOW, &sb));
    assert_true(md_outcomes_window(all, "m", 0, NULL, 3600000, NOW, &sall));
    /* Classes are merged by name: each replica numbers them as it met them. */
    for (int t = 0; t < 2; t++)
        for (int p = 0; p < 2; p++) {
            const char *tn = t ? "yes" : "no";
            const char *pn = p ? "yes" : "no";

            assert_int_equal(cell(&sa, tn, pn) + cell(&sb, tn, pn), cell(&sall, tn, pn));
        }
    for (size_t i = 0; i < MD_QUALITY_AUC_BINS; i++)
        assert_int_equal(sa.pos[i] + sb.pos[i], sall.pos[i]);
    NEAR(sa.log_loss + sb.log_loss, sall.log_loss);
    assert_int_equal(sa.binary_n + sb.binary_n, sall.binary_n);
    md_outcomes_free(a);
    md_outcomes_free(b);
    md_outcomes_free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classification),
        cmocka_unit_test(test_regression_rewards),
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_mergeable),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
