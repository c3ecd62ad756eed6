/* SPDX-License-Identifier: MIT */
/*
 * test_drift.c: reference profiles (watch/profile.c) and live windows with
 * their report (watch/drift.c): a profile parsed and its bins found; every
 * malformed profile refused with a message naming the field; the check
 * against a contract; counts in a window's slots summed over the window
 * asked for, slots of an older time cleared; PSI and p-values of the report
 * as drift_stats computes them, Holm's and Bonferroni's corrections, the
 * min_rows rule; the histograms of the report's JSON (the bins, counts and
 * shares the figures are computed from); and the check of 100 features
 * under 10 ms.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_files.h"

#include "serve/contract.h"
#include "serve/drift_feed.h"
#include "serve/repo.h"
#include "watch/drift.h"
#include "watch/drift_stats.h"
#include "watch/profile.h"
#include "util/mem.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

static const char good[] =
    "{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": 100,"
    " \"features\": {"
    "  \"age\": {\"kind\": \"numeric\", \"edges\": [10, 20, 30], \"counts\": [25, 25, 25, 20],"
    "           \"missing\": 5},"
    "  \"plan\": {\"kind\": \"categorical\", \"counts\": {\"basic\": 60, \"pro\": 30},"
    "            \"other\": 10}},"
    " \"predictions\": {\"labels\": {\"no\": 80, \"yes\": 20},"
    "                 \"scores\": {\"edges\": [0.5], \"counts\": [80, 20]}},"
    " \"quality\": {\"accuracy\": 0.9}}";

static struct md_profile *parse(const char *text)
{
    struct md_profile *p = NULL;
    struct md_err err = {0};

    if (md_profile_parse(text, strlen(text), &p, &err) != MD_OK) {
        print_error("%s\n", err.msg);
        fail();
    }
    return p;
}

static void test_parse_and_bins(void **state)
{
    struct md_profile *p = parse(good);
    const struct md_profile_feature *age = md_profile_feature(p, "age");
    const struct md_profile_feature *plan = md_profile_feature(p, "plan");

    (void)state;
    assert_int_equal(p->rows, 100);
    assert_int_equal(p->n_features, 2);
    assert_non_null(age);
    assert_int_equal(age->n_bins, 4);
    assert_int_equal(age->counts[4], 5);
    assert_int_equal(md_profile_bin(age, -1e9), 0);
    assert_int_equal(md_profile_bin(age, 10), 0); /* (-inf, 10] */
    assert_int_equal(md_profile_bin(age, 10.5), 1);
    assert_int_equal(md_profile_bin(age, 30), 2);
    assert_int_equal(md_profile_bin(age, 31), 3);
    assert_int_equal(md_profile_bin(age, NAN), 4);
    assert_int_equal(plan->n_bins, 3);
    assert_int_equal(md_profile_category(plan, "pro", 3), 1);
    assert_int_equal(md_profile_category(plan, "gold", 4), 2);
    assert_int_equal(plan->counts[2], 10);
    assert_int_equal(p->labels.n_bins, 3);
    assert_int_equal(p->scores.n_bins, 2);
    assert_int_equal(p->width, 5 + 4 + 4 + 3);
    assert_int_equal(p->n_quality, 1);
    assert_string_equal(p->quality[0].name, "accuracy");
    assert_null(md_profile_feature(p, "nope"));
    md_profile_unref(p);
}

static void test_parse_errors(void **state)
{
    static const char *const cases[][2] = {
        {"[]", "profile: expected a JSON object, got an array"},
        {"{\"format\": \"x\"}", "format: expected \"modeld-profile\""},
        {"{\"format\": \"modeld-profile\"}", "format_version: required"},
        {"{\"format\": \"modeld-profile\", \"format_version\": 2}",
         "format_version: 2 is not supported"},
        {"{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": -1}",
         "rows: '-1' is not a whole number"},
        {"{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": 0}", "rows: 0"},
        {"{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": 1}",
         "features: required"},
        {"{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": 1, \"x\": 1}",
         "profile: unknown key 'x'"},
        {"{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": 1, \"features\": "
         "{\"a\": {\"kind\": \"numeric\", \"edges\": [1], \"counts\": [1]}}}",
         "features.a.counts: 1 counts for 2 bins"},
        {"{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": 1, \"features\": "
         "{\"a\": {\"kind\": \"numeric\", \"edges\": [1, 1], \"counts\": [1, 0, 0]}}}",
         "features.a.edges[1]: 1 is not above the edge before it"},
        {"{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": 1, \"features\": "
         "{\"a\": {\"kind\": \"numeric\", \"edges\": [\"1\"], \"counts\": [1, 0]}}}",
         "features.a.edges[0]: expected a number, got a string"},
        {"{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": 2, \"features\": "
         "{\"a\": {\"kind\": \"numeric\", \"edges\": [1], \"counts\": [1, 0]}}}",
         "features.a: its counts and missing add up to 1, not the profile's rows (2)"},
        {"{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": 1, \"features\": "
         "{\"a\": {\"kind\": \"text\"}}}",
         "features.a.kind: expected \"numeric\" or \"categorical\""},
        {"{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": 1, \"features\": "
         "{\"a\": {\"kind\": \"categorical\", \"counts\": {\"x\": 1}, \"edges\": []}}}",
         "features.a: unknown key 'edges'"},
        {"{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": 1, \"features\": "
         "{\"a\": {\"kind\": \"categorical\", \"counts\": {\"x\": 1.5}}}}",
         "features.a.counts.x: '1.5' is not a whole number"},
        {"{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": 1, \"features\": "
         "{\"a\": {\"kind\": \"categorical\", \"counts\": {\"x\": 1}}, \"a\": 2}}",
         "features: 'a' is given twice"},
        {"{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": 1, \"features\": {}, "
         "\"quality\": {\"auc\": \"high\"}}",
         "quality.auc: expected a finite number, got a string"},
        {"{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": 1, \"features\": {}, "
         "\"predictions\": {\"values\": {}}}",
         "predictions: unknown key 'values'"},
        {"{\"format\": \"modeld-profile\",", "profile: invalid JSON"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(cases); i++) {
        struct md_profile *p = NULL;
        struct md_err err = {0};
        int rc = md_profile_parse(cases[i][0], strlen(cases[i][0]), &p, &err);

        if (rc == MD_OK || strstr(err.msg, cases[i][1]) == NULL) {
            print_error("case %zu: got '%s', want '%s'\n", i, err.msg, cases[i][1]);
            fail();
        }
        assert_int_equal(rc, MD_EINVAL);
        assert_null(p);
    }
}

static void test_check(void **state)
{
    struct md_profile *p = parse(good);
    const char *const plans[] = {"basic", "pro", "max"};
    const char *const plans2[] = {"basic"};
    const char *const labels[] = {"no", "yes"};
    const char *const labels2[] = {"no", "maybe"};
    struct md_profile_field fields[] = {
        {"age", false, NULL, 0}, {"plan", true, plans, 3}, {"extra", false, NULL, 0}};
    struct md_err err = {0};

    (void)state;
    assert_int_equal(md_profile_check(p, fields, 3, labels, 2, &err), MD_OK);
    assert_int_equal(md_profile_check(p, fields, 3, labels2, 2, &err), MD_EINVAL);
    assert_string_equal(err.msg, "predictions.labels: 'yes' is not a label of the contract");
    fields[1].categories = plans2;
    fields[1].n_categories = 1;
    assert_int_equal(md_profile_check(p, fields, 3, labels, 2, &err), MD_EINVAL);
    assert_string_equal(err.msg, "features.plan.counts: 'pro' is not a category of the contract");
    fields[1].categorical = false;
    assert_int_equal(md_profile_check(p, fields, 3, labels, 2, &err), MD_EINVAL);
    assert_string_equal(err.msg,
                        "features.plan.kind: categorical, but the contract's feature is numeric");
    assert_int_equal(md_profile_check(p, fields, 1, labels, 2, &err), MD_EINVAL);
    assert_string_equal(err.msg, "features.plan: not a feature of the contract");
    md_profile_unref(p);
}

/* Adds n rows to slot v: value bin b of age and category c of plan. */
static void add(struct md_profile *p, _Atomic uint32_t *v, size_t n, size_t b, size_t c)
{
    size_t i;

    for (i = 0; i < n; i++) {
        md_drift_count(v, 0);
        md_drift_count(v, 1 + md_profile_feature(p, "age")->offset + b);
        md_drift_count(v, 1 + md_profile_feature(p, "plan")->offset + c);
    }
}

static void test_window_and_report(void **state)
{
    struct md_profile *p = parse(good);
    struct md_drift_config cfg;
    struct md_drift_window *w;
    struct md_drift_report rep;
    const struct md_drift_result *age, *plan;
    const int64_t t0 = 1800000000000; /* a slot is 60 s with window_s 3600 */
    uint64_t live[5] = {0, 0, 0, 300, 0};
    double d, pv, s, df, pp;

    (void)state;
    md_drift_config_default(&cfg);
    cfg.min_rows = 10;
    w = md_drift_window_new(p, &cfg);
    md_profile_unref(p); /* the window keeps its reference */
    add(p, md_drift_window_slot(w, t0), 100, 3, 0);
    add(p, md_drift_window_slot(w, t0 + 60000), 100, 3, 0);
    add(p, md_drift_window_slot(w, t0 + 120000), 100, 3, 0);
    /* the last minute holds one slot; the whole window all three */
    assert_int_equal(md_drift_report(w, 60000, t0 + 120000, &rep, NULL), MD_OK);
    assert_int_equal(rep.rows, 100);
    assert_int_equal(rep.window_ms, 60000);
    md_drift_report_release(&rep);
    assert_int_equal(md_drift_report(w, 0, t0 + 120000, &rep, NULL), MD_OK);
    assert_int_equal(rep.rows, 300);
    assert_int_equal(rep.window_ms, 3600000);
    age = md_drift_report_feature(&rep, "age");
    plan = md_drift_report_feature(&rep, "plan");
    assert_non_null(age);
    assert_true(fabs(age->psi - md_drift_psi(p->features[0].counts, live, 5)) < 1e-12);
    md_drift_ks(p->features[0].counts, live, 4, &d, &pv);
    assert_true(fabs(age->statistic - d) < 1e-12 && fabs(age->p_value - pv) < 1e-15);
    live[3] = 0;
    live[0] = 300;
    md_drift_chi2(p->features[1].counts, live, 4, &s, &df, &pp);
    assert_true(fabs(plan->statistic - s) < 1e-9 && plan->df == df);
    /* Holm with 2 tests: the smaller p doubled, the larger kept (and not below it) */
    {
        double lo = fmin(age->p_value, plan->p_value), hi = fmax(age->p_value, plan->p_value);
        double alo = fmin(age->p_adjusted, plan->p_adjusted);
        double ahi = fmax(age->p_adjusted, plan->p_adjusted);

        assert_true(fabs(alo - fmin(1, 2 * lo)) < 1e-15);
        assert_true(fabs(ahi - fmax(fmin(1, 2 * lo), hi)) < 1e-15);
    }
    assert_true(age->drifted && age->major);
    assert_true(plan->drifted);
    assert_int_equal(rep.drifted, 2);
    assert_string_equal(rep.verdict, "drift");
    assert_true(rep.score == fmax(age->psi, plan->psi));
    assert_true(rep.has_labels && rep.has_scores && rep.labels.rows == 0);
    assert_true(isnan(rep.prediction_psi));
    md_drift_report_release(&rep);

    /* An hour later the ring has moved on: the old slot is cleared when reused. */
    add(p, md_drift_window_slot(w, t0 + 3600000), 5, 0, 1);
    assert_int_equal(md_drift_report(w, 0, t0 + 3600000, &rep, NULL), MD_OK);
    assert_int_equal(rep.rows, 5 + 200); /* the slots of t0 + 1 and + 2 minutes are in */
    md_drift_report_release(&rep);
    assert_int_equal(md_drift_report(w, 0, t0 + 3600000 + 180000, &rep, NULL), MD_OK);
    assert_int_equal(rep.rows, 5);
    assert_string_equal(rep.verdict, "insufficient_data");
    assert_int_equal(rep.drifted, 0);
    md_drift_report_release(&rep);
    md_drift_window_unref(w);
}

static void test_bonferroni(void **state)
{
    struct md_profile *p = parse(good);
    struct md_drift_config cfg;
    struct md_drift_window *w;
    struct md_drift_report rep;
    size_t i;

    (void)state;
    md_drift_config_default(&cfg);
    cfg.bonferroni = true;
    cfg.min_rows = 1;
    w = md_drift_window_new(p, &cfg);
    add(p, md_drift_window_slot(w, 0), 20, 1, 0);
    add(p, md_drift_window_slot(w, 0), 20, 2, 1);
    assert_int_equal(md_drift_report(w, 0, 0, &rep, NULL), MD_OK);
    assert_int_equal(rep.tests, 2);
    for (i = 0; i < rep.n_features; i++)
        assert_true(rep.features[i].p_adjusted == fmin(1, 2 * rep.features[i].p_value));
    md_drift_report_release(&rep);
    md_drift_window_unref(w);
    md_profile_unref(p);
}

/* The PSI of md_drift_psi recomputed from a histogram's shares and row counts. */
static double psi_of_shares(json_t *h, json_int_t live_rows)
{
    json_t *ref = json_object_get(h, "reference"), *live = json_object_get(h, "live");
    double rr = (double)json_integer_value(json_object_get(h, "reference_rows"));
    double lr = (double)live_rows, k = (double)json_array_size(ref), psi = 0;
    size_t i;

    for (i = 0; i < json_array_size(ref); i++) {
        double r = (json_real_value(json_array_get(ref, i)) * rr + MD_DRIFT_PSI_PSEUDO) /
                   (rr + MD_DRIFT_PSI_PSEUDO * k);
        double l = (json_number_value(json_array_get(live, i)) * lr + MD_DRIFT_PSI_PSEUDO) /
                   (lr + MD_DRIFT_PSI_PSEUDO * k);

        psi += (l - r) * log(l / r);
    }
    return psi;
}

static void assert_counts(json_t *arr, const uint64_t *want, size_t k)
{
    size_t i;

    assert_int_equal(json_array_size(arr), k);
    for (i = 0; i < k; i++)
        assert_int_equal(json_integer_value(json_array_get(arr, i)), want[i]);
}

static void test_report_histograms(void **state)
{
    struct md_profile *p = parse(good);
    struct md_drift_config cfg;
    struct md_drift_window *w;
    struct md_drift_report rep;
    struct md_buf b;
    json_t *doc, *age, *plan, *h, *labels;
    json_error_t jerr;
    const uint64_t age_ref[5] = {25, 25, 25, 20, 5}, age_live[5] = {0, 0, 0, 30, 10};
    const uint64_t plan_ref[4] = {60, 30, 10, 0}, plan_live[4] = {10, 30, 0, 0};
    size_t i;

    (void)state;
    md_drift_config_default(&cfg);
    cfg.min_rows = 10;
    w = md_drift_window_new(p, &cfg);
    add(p, md_drift_window_slot(w, 0), 30, 3, 1);
    add(p, md_drift_window_slot(w, 0), 10, 4, 0); /* age missing */
    assert_int_equal(md_drift_report(w, 0, 0, &rep, NULL), MD_OK);
    for (i = 0; i < 5; i++)
        assert_int_equal(rep.features[0].live[i], age_live[i]);
    for (i = 0; i < 4; i++)
        assert_int_equal(rep.features[1].live[i], plan_live[i]);

    /* Without the flag: the figures only. */
    md_buf_init(&b, 1 << 20);
    md_buf_putc(&b, '{');
    assert_int_equal(md_drift_report_json(w, &rep, 0, &b), MD_OK);
    md_buf_putc(&b, '}');
    assert_null(strstr(b.data, "histogram"));
    md_buf_reset(&b);

    md_buf_putc(&b, '{');
    assert_int_equal(md_drift_report_json(w, &rep, MD_DRIFT_JSON_HISTOGRAMS, &b), MD_OK);
    md_buf_putc(&b, '}');
    doc = json_loadb(b.data, b.len, 0, &jerr);
    if (doc == NULL)
        print_error("%s\n", jerr.text);
    assert_non_null(doc);
    age = json_array_get(json_object_get(doc, "features"), 0);
    h = json_object_get(age, "histogram");
    assert_non_null(h);
    assert_int_equal(json_array_size(json_object_get(h, "edges")), 3);
    assert_true(json_number_value(json_array_get(json_object_get(h, "edges"), 2)) == 30);
    assert_null(json_object_get(h, "categories"));
    assert_int_equal(json_integer_value(json_object_get(h, "reference_rows")), 100);
    assert_counts(json_object_get(h, "reference_counts"), age_ref, 5);
    assert_counts(json_object_get(h, "live_counts"), age_live, 5);
    for (i = 0; i < 5; i++) {
        assert_true(json_number_value(json_array_get(json_object_get(h, "reference"), i)) ==
                    (double)age_ref[i] / 100);
        assert_true(json_number_value(json_array_get(json_object_get(h, "live"), i)) ==
                    (double)age_live[i] / 40);
    }
    assert_true(fabs(psi_of_shares(h, 40) - json_real_value(json_object_get(age, "psi"))) < 1e-12);

    plan = json_array_get(json_object_get(doc, "features"), 1);
    h = json_object_get(plan, "histogram");
    assert_null(json_object_get(h, "edges"));
    assert_int_equal(json_array_size(json_object_get(h, "categories")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(h, "categories"), 1)),
                        "pro");
    assert_counts(json_object_get(h, "reference_counts"), plan_ref, 4);
    assert_counts(json_object_get(h, "live_counts"), plan_live, 4);
    assert_true(fabs(psi_of_shares(h, 40) - json_real_value(json_object_get(plan, "psi"))) < 1e-12);

    /* No predictions counted: their live shares are null, the reference's are there. */
    labels = json_object_get(json_object_get(doc, "predictions"), "labels");
    h = json_object_get(labels, "histogram");
    assert_int_equal(json_array_size(json_object_get(h, "categories")), 2);
    assert_true(json_is_null(json_array_get(json_object_get(h, "live"), 0)));
    assert_true(json_number_value(json_array_get(json_object_get(h, "reference"), 0)) == 0.8);
    json_decref(doc);
    md_buf_release(&b);
    md_drift_report_release(&rep);
    md_drift_window_unref(w);
    md_profile_unref(p);
}

/* 100 numeric features of 20 bins and their report, timed. */
static void test_report_of_100_features_is_fast(void **state)
{
    struct md_buf text;
    struct md_profile *p;
    struct md_drift_config cfg;
    struct md_drift_window *w;
    struct md_drift_report rep;
    struct timespec a, b;
    size_t f, j, r;
    double ms;

    (void)state;
    md_buf_init(&text, (size_t)1 << 24);
    md_buf_puts(&text, "{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": 2000, "
                       "\"features\": {");
    for (f = 0; f < 100; f++) {
        md_buf_printf(&text, "%s\"f%zu\": {\"kind\": \"numeric\", \"edges\": [", f ? "," : "", f);
        for (j = 1; j < 20; j++)
            md_buf_printf(&text, "%s%zu", j > 1 ? "," : "", j);
        md_buf_puts(&text, "], \"counts\": [");
        for (j = 0; j < 20; j++)
            md_buf_printf(&text, "%s100", j ? "," : "");
        md_buf_puts(&text, "]}");
    }
    md_buf_puts(&text, "}}");
    p = parse(text.data);
    md_buf_release(&text);
    md_drift_config_default(&cfg);
    w = md_drift_window_new(p, &cfg);
    for (r = 0; r < 60; r++) { /* every slot of the ring full */
        _Atomic uint32_t *v = md_drift_window_slot(w, (int64_t)r * 60000);

        for (j = 0; j < 100; j++) {
            md_drift_count(v, 0);
            for (f = 0; f < 100; f++)
                md_drift_count(v, 1 + p->features[f].offset + (j + f) % 21);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (r = 0; r < 10; r++) {
        assert_int_equal(md_drift_report(w, 0, (int64_t)59 * 60000, &rep, NULL), MD_OK);
        assert_int_equal(rep.rows, 6000);
        md_drift_report_release(&rep);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    ms = ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6) / 10;
    print_message("drift report of 100 features x 20 bins over 60 slots: %.3f ms\n", ms);
    /* The limit holds for the build that serves; a sanitizer's build is several times
     * slower (ThreadSanitizer's about 60 times), so there only the figure is shown. */
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
    assert_true(ms < 10);
#endif
    md_drift_window_unref(w);
    md_profile_unref(p);
}

struct counter_arg {
    struct md_drift_window *w;
    const struct md_profile *p;
    int64_t t0;
};

/* 20,000 rows into the window, the clock moving over three slots. */
static void *count_rows(void *varg)
{
    struct counter_arg *a = varg;
    size_t i;

    for (i = 0; i < 20000; i++) {
        _Atomic uint32_t *v = md_drift_window_slot(a->w, a->t0 + (int64_t)(i / 7000) * 60000);

        md_drift_count(v, 0);
        md_drift_count(v, 1 + a->p->features[0].offset + i % 4);
    }
    return NULL;
}

/* Counting from several threads while reports are made loses nothing: the sums are exact. */
static void test_concurrent_counting(void **state)
{
    struct md_profile *p = parse(good);
    struct md_drift_config cfg;
    struct counter_arg arg;
    struct md_drift_report rep;
    pthread_t th[4];
    size_t i;

    (void)state;
    md_drift_config_default(&cfg);
    arg.w = md_drift_window_new(p, &cfg);
    arg.p = p;
    arg.t0 = 1800000000000;
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, count_rows, &arg), 0);
    for (i = 0; i < 50; i++) {
        assert_int_equal(md_drift_report(arg.w, 0, arg.t0 + 120000, &rep, NULL), MD_OK);
        assert_true(rep.rows <= 80000);
        md_drift_report_release(&rep);
    }
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(md_drift_report(arg.w, 0, arg.t0 + 120000, &rep, NULL), MD_OK);
    assert_int_equal(rep.rows, 80000);
    assert_int_equal(md_drift_report_feature(&rep, "age")->rows, 80000);
    md_drift_report_release(&rep);
    md_drift_window_unref(arg.w);
    md_profile_unref(p);
}

/* model.yaml's drift: section (serve/contract_drift.c): defaults, every key, errors named. */
static void test_contract_drift_section(void **state)
{
    static const char head[] = "backend: trees\ntask: regression\n"
                               "features:\n  - {name: x, datatype: FP32}\n";
    static const char *const bad[][2] = {
        {"drift: {window_s: 59}", "drift.window_s: 59 is not between 60 and 86400"},
        {"drift: {window_s: 3600.5}", "drift.window_s: expected an integer"},
        {"drift: {psi_warn: 0}", "drift.psi_warn: 0 is not above 0"},
        {"drift: {psi_alert: 0.05}", "drift.psi_alert: 0.05 is below psi_warn (0.1)"},
        {"drift: {alpha: 1}", "drift.alpha: 1 is not between 0 and 1 (exclusive)"},
        {"drift: {correction: sidak}", "drift.correction"},
        {"drift: {min_rows: 0}", "drift.min_rows: 0 is not between 1"},
        {"drift: {sample_rows: 65537}", "drift.sample_rows: 65537 is not between 0 and 65536"},
        {"drift: {window: 60}", "drift.window: unknown key"},
        {"drift: 5", "drift"},
    };
    char text[512];
    struct md_contract *c = NULL;
    struct md_err err = {0};
    size_t i;

    (void)state;
    assert_int_equal(md_contract_parse(head, strlen(head), "m", &c, &err), MD_OK);
    assert_int_equal(c->drift.window_s, 3600);
    assert_true(c->drift.psi_warn == 0.1 && c->drift.psi_alert == 0.25);
    assert_true(c->drift.alpha == 0.05 && !c->drift.bonferroni);
    assert_int_equal(c->drift.min_rows, 200);
    assert_int_equal(c->drift.sample_rows, 256);
    md_contract_free(c);
    snprintf(text, sizeof(text),
             "%sdrift: {window_s: 600, psi_warn: 0.2, psi_alert: 0.3, alpha: 0.01, correction: "
             "bonferroni, min_rows: 50, sample_rows: 0}\n",
             head);
    assert_int_equal(md_contract_parse(text, strlen(text), "m", &c, &err), MD_OK);
    assert_int_equal(c->drift.window_s, 600);
    assert_true(c->drift.psi_warn == 0.2 && c->drift.psi_alert == 0.3);
    assert_true(c->drift.alpha == 0.01 && c->drift.bonferroni);
    assert_int_equal(c->drift.min_rows, 50);
    assert_int_equal(c->drift.sample_rows, 0);
    md_contract_free(c);
    for (i = 0; i < MD_ARRAY_LEN(bad); i++) {
        snprintf(text, sizeof(text), "%s%s\n", head, bad[i][0]);
        c = NULL;
        if (md_contract_parse(text, strlen(text), "m", &c, &err) == MD_OK ||
            strstr(err.msg, bad[i][1]) == NULL) {
            print_error("case %zu: got '%s', want '%s'\n", i, err.msg, bad[i][1]);
            fail();
        }
        assert_null(c);
    }
}

static double signal(const struct md_signals *s, const char *metric, const char *model,
                     int64_t version, uint64_t *samples, int *rc)
{
    struct md_signal_query q = {metric, NULL, model, version, NULL, 3600000, 0};
    struct md_signal_value v = {0, 0};
    struct md_err err = {0};

    *rc = md_signals_value(s, &q, &v, &err);
    *samples = v.samples;
    return v.value;
}

/* The named metrics of drift, from a repository's version with a profile: NaN before any
 * row, the report's figures after, errors for an unknown feature or model. Runs from the
 * top of the source tree (it reads tests/data/bench). */
static void test_signals(void **state)
{
    char dir[64], p[160];
    struct md_buf text;
    struct md_repo *r = NULL;
    struct md_signals *s = md_signals_new();
    struct md_version *v = NULL;
    struct md_drift_report rep;
    struct md_err err = {0};
    _Atomic uint32_t *slot;
    uint64_t samples;
    size_t i, f;
    double val;
    int rc;

    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/modeld-drift-XXXXXX");
    assert_non_null(mkdtemp(dir));
    file_bench_model(dir, "bench", NULL);
    md_buf_init(&text, 1 << 20);
    md_buf_puts(&text, "{\"format\": \"modeld-profile\", \"format_version\": 1, \"rows\": 100, "
                       "\"features\": {");
    for (f = 0; f < 30; f++)
        md_buf_printf(&text,
                      "%s\"f%zu\": {\"kind\": \"numeric\", \"edges\": [0], "
                      "\"counts\": [50, 50]}",
                      f ? ", " : "", f);
    md_buf_puts(&text, "}}");
    (void)snprintf(p, sizeof(p), "%s/bench/1/profile.json", dir);
    file_put(p, text.data);
    md_buf_release(&text);
    assert_int_equal(md_repo_open(dir, &r, &err), MD_OK);
    assert_int_equal(md_repo_scan(r), 0);
    assert_int_equal(md_drift_signals_add(s, r, &err), MD_OK);

    val = signal(s, "drift_score", "bench", 0, &samples, &rc);
    assert_int_equal(rc, MD_OK);
    assert_true(isnan(val) && samples == 0);

    /* 300 rows, every value in the upper bin */
    assert_int_equal(md_repo_acquire(r, "bench", NULL, &v, &err), MD_OK);
    assert_non_null(v->drift);
    slot = md_drift_window_slot(md_drift_feed_window(v->drift), md_wall_ms());
    for (i = 0; i < 300; i++) {
        md_drift_count(slot, 0);
        for (f = 0; f < 30; f++)
            md_drift_count(
                slot,
                1 + md_drift_window_profile(md_drift_feed_window(v->drift))->features[f].offset +
                    1);
    }
    assert_int_equal(md_drift_report(md_drift_feed_window(v->drift), 0, md_wall_ms(), &rep, NULL),
                     MD_OK);
    val = signal(s, "drift_score", "bench", 1, &samples, &rc);
    assert_int_equal(rc, MD_OK);
    assert_int_equal(samples, 300);
    assert_true(val == rep.score && val > 0.25);
    val = signal(s, "drift_psi:f7", "bench", 0, &samples, &rc);
    assert_true(rc == MD_OK && val == md_drift_report_feature(&rep, "f7")->psi);
    val = signal(s, "drift_js:f7", "bench", 0, &samples, &rc);
    assert_true(rc == MD_OK && val == md_drift_report_feature(&rep, "f7")->js);
    val = signal(s, "drift_features", "bench", 0, &samples, &rc);
    assert_true(rc == MD_OK && val == 30);
    val = signal(s, "prediction_drift_psi", "bench", 0, &samples, &rc);
    assert_true(rc == MD_OK && isnan(val)); /* the profile has no predictions */
    (void)signal(s, "drift_psi:nope", "bench", 0, &samples, &rc);
    assert_int_equal(rc, MD_ENOTFOUND);
    (void)signal(s, "drift_score", "nope", 0, &samples, &rc);
    assert_int_equal(rc, MD_ENOTFOUND);
    (void)signal(s, "drift_score", "bench", 9, &samples, &rc);
    assert_int_equal(rc, MD_ENOTFOUND);
    md_drift_report_release(&rep);
    md_version_unref(v);
    md_repo_free(r);
    md_signals_free(s);
    (void)remove(p);
    (void)snprintf(p, sizeof(p), "%s/bench/1/model.json", dir);
    (void)remove(p);
    (void)snprintf(p, sizeof(p), "%s/bench/1", dir);
    (void)rmdir(p);
    (void)snprintf(p, sizeof(p), "%s/bench/model.yaml", dir);
    (void)remove(p);
    (void)snprintf(p, sizeof(p), "%s/bench", dir);
    (void)rmdir(p);
    (void)rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_bins),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_window_and_report),
        cmocka_unit_test(test_bonferroni),
        cmocka_unit_test(test_report_histograms),
        cmocka_unit_test(test_report_of_100_features_is_fast),
        cmocka_unit_test(test_contract_drift_section),
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_concurrent_counting),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
