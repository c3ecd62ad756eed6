/* SPDX-License-Identifier: MIT */
/*
 * test_series.c: the request signals over windows (watch/series.c): rings of
 * cumulative samples, windows as differences (to the second in the seconds
 * ring, a minute's sample further back, from zero for a series that began
 * inside the window), sums over routes and versions without "shadow",
 * quantiles from bucket differences, the signals answered through the
 * registry, and the per-step rollups the history stores.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "watch/series.h"

#include <math.h>
#include <string.h>

#define T0 1800000000000LL /* a whole minute, ms since the epoch */

static void count(struct md_route_stats *r, uint64_t ok, uint64_t failed, uint64_t refused,
                  uint64_t latency_ns)
{
    atomic_fetch_add(&r->success, ok);
    atomic_fetch_add(&r->fail_backend, failed);
    atomic_fetch_add(&r->fail_rejected, refused);
    atomic_fetch_add(&r->inference_count, ok * 2);
    for (uint64_t i = 0; i < ok; i++)
        md_histogram_observe(&r->request, latency_ns);
}

static void test_windows(void **state)
{
    struct md_metrics *m = md_metrics_new();
    struct md_version_stats *vs = md_metrics_attach(m, "m", 1, false);
    struct md_route_stats *r = md_route_stats(vs, "stable");
    struct md_series *s = md_series_new(m);
    struct md_series_filter f = {"m", 0, NULL};
    struct md_series_counts c;
    double secs;
    int64_t now = T0 + 1199 * 1000;

    (void)state;
    /* One request a second for 20 minutes: sample i has i + 1 requests. */
    for (int i = 0; i < 1200; i++) {
        count(r, 1, 0, 0, 1000000);
        md_series_sample(s, T0 + (int64_t)i * 1000);
    }
    assert_int_equal(md_series_window(s, &f, 60000, now, &c, &secs), 1);
    assert_int_equal(c.requests, 60);
    assert_true(secs == 60.0);
    assert_int_equal(md_series_window(s, &f, 600000, now, &c, &secs), 1);
    assert_int_equal(c.requests, 600);
    assert_int_equal(c.rows, 1200);
    /* Between two samples: the one before the start. */
    assert_int_equal(md_series_window(s, &f, 60500, now, &c, &secs), 1);
    assert_int_equal(c.requests, 61);
    assert_true(secs == 61.0);
    /* 16 minutes: past the seconds ring (15 minutes), from the minute's
     * sample before the start (T0 + 180 s). */
    assert_int_equal(md_series_window(s, &f, 960000, now, &c, &secs), 1);
    assert_int_equal(c.requests, 1200 - 181);
    assert_true(secs == 1019.0);
    /* Reaching before the series began: from zero, over the window. */
    assert_int_equal(md_series_window(s, &f, 3600000, now, &c, &secs), 1);
    assert_int_equal(c.requests, 1200);
    assert_true(secs == 3600.0);
    /* A window ending in the past ends at the sample then. */
    assert_int_equal(md_series_window(s, &f, 10000, T0 + 1000000, &c, &secs), 1);
    assert_int_equal(c.requests, 10);
    /* Other models, versions and routes match nothing. */
    f.model = "other";
    assert_int_equal(md_series_window(s, &f, 60000, now, &c, &secs), 0);
    assert_int_equal(c.requests, 0);
    f.model = "m";
    f.version = 2;
    assert_int_equal(md_series_window(s, &f, 60000, now, &c, &secs), 0);
    f.version = 1;
    f.route = "canary";
    assert_int_equal(md_series_window(s, &f, 60000, now, &c, &secs), 0);
    assert_int_equal(md_series_untracked(s), 0);
    md_series_free(s);
    md_metrics_detach(m, vs);
    md_metrics_free(m);
}

static void test_sums_and_quantiles(void **state)
{
    struct md_metrics *m = md_metrics_new();
    struct md_version_stats *v1 = md_metrics_attach(m, "m", 1, false);
    struct md_version_stats *v2 = md_metrics_attach(m, "m", 2, false);
    struct md_series *s = md_series_new(m);
    struct md_series_filter f = {"m", 0, NULL};
    struct md_series_counts c;
    struct md_signal_value v;
    double secs;

    (void)state;
    md_route_stats(v1, "stable");
    md_route_stats(v2, "canary");
    md_route_stats(v2, "shadow");
    md_series_sample(s, T0);
    /* 90 at 3 ms (bucket 2.5-5 ms) and 10 at 30 ms (25-50 ms) on stable;
     * canary 20 ok at 0.3 ms, 5 failed, 5 refused; shadow 50 failed. */
    count(md_route_stats(v1, "stable"), 90, 0, 0, 3000000);
    count(md_route_stats(v1, "stable"), 10, 0, 0, 30000000);
    count(md_route_stats(v2, "canary"), 20, 5, 5, 300000);
    count(md_route_stats(v2, "shadow"), 0, 50, 0, 0);
    md_series_sample(s, T0 + 1000);
    md_series_sample(s, T0 + 2000);

    assert_int_equal(md_series_window(s, &f, 1500, T0 + 2000, &c, &secs), 2); /* no shadow */
    assert_int_equal(c.requests, 130);
    assert_int_equal(c.success, 120);
    assert_int_equal(c.errors, 5);
    assert_int_equal(c.rejected, 5);
    md_series_value(MD_SERIES_ERROR_RATE, &c, secs, &v);
    assert_true(fabs(v.value - 5.0 / 130) < 1e-15 && v.samples == 130);
    md_series_value(MD_SERIES_SUCCESS_RATE, &c, secs, &v);
    assert_true(fabs(v.value - 120.0 / 130) < 1e-15);
    md_series_value(MD_SERIES_RPS, &c, secs, &v);
    assert_true(fabs(v.value - 130 / 2.0) < 1e-12); /* from T0 to T0 + 2 s */
    md_series_value(MD_SERIES_ROWS_PS, &c, secs, &v);
    assert_true(fabs(v.value - 240 / 2.0) < 1e-12);

    f.version = 1;
    assert_int_equal(md_series_window(s, &f, 1500, T0 + 2000, &c, &secs), 1);
    md_series_value(MD_SERIES_P50, &c, secs, &v);
    assert_true(v.value >= 2.5 && v.value <= 5.0 && v.samples == 100);
    md_series_value(MD_SERIES_P90, &c, secs, &v);
    assert_true(v.value >= 2.5 && v.value <= 5.0);
    md_series_value(MD_SERIES_P99, &c, secs, &v);
    assert_true(v.value >= 25.0 && v.value <= 50.0);
    md_series_value(MD_SERIES_MEAN, &c, secs, &v);
    assert_true(fabs(v.value - (90 * 3.0 + 10 * 30.0) / 100) < 1e-9);
    /* The difference, not the cumulative counts: a later window without
     * traffic has no latency and no error rate; counts are 0. */
    f.version = 0;
    md_series_sample(s, T0 + 3000);
    assert_int_equal(md_series_window(s, &f, 1000, T0 + 3000, &c, &secs), 2);
    md_series_value(MD_SERIES_P99, &c, secs, &v);
    assert_true(isnan(v.value) && v.samples == 0);
    md_series_value(MD_SERIES_ERROR_RATE, &c, secs, &v);
    assert_true(isnan(v.value));
    md_series_value(MD_SERIES_REQUESTS, &c, secs, &v);
    assert_true(v.value == 0);
    f.route = "shadow";
    assert_int_equal(md_series_window(s, &f, 2500, T0 + 3000, &c, &secs), 1);
    assert_int_equal(c.errors, 50);

    md_series_free(s);
    md_metrics_detach(m, v1);
    md_metrics_detach(m, v2);
    md_metrics_free(m);
}

static void test_signals(void **state)
{
    struct md_metrics *m = md_metrics_new();
    struct md_version_stats *vs = md_metrics_attach(m, "m", 1, false);
    struct md_series *s = md_series_new(m);
    struct md_signals *sig = md_signals_new();
    struct md_signal_query q = {.metric = "error_rate", .model = "m", .window_ms = 60000};
    struct md_signal_value v;
    struct md_err err;
    size_t n;

    (void)state;
    assert_int_equal(md_series_register(s, sig, &err), MD_OK);
    (void)md_signals_list(sig, &n);
    assert_int_equal(n, MD_SERIES_METRICS);
    assert_int_equal(md_series_metric_find("latency_p99_ms"), MD_SERIES_P99);
    assert_int_equal(md_series_metric_find("nope"), -1);
    count(md_route_stats(vs, "stable"), 7, 3, 0, 1000000);
    md_series_sample(s, T0);
    q.now_ms = T0;
    assert_int_equal(md_signals_value(sig, &q, &v, &err), MD_OK);
    assert_true(fabs(v.value - 0.3) < 1e-15 && v.samples == 10);
    q.metric = "requests";
    q.model = "unseen";
    assert_int_equal(md_signals_value(sig, &q, &v, &err), MD_OK);
    assert_true(v.value == 0 && v.samples == 0);
    q.metric = "latency_p50_ms";
    assert_int_equal(md_signals_value(sig, &q, &v, &err), MD_OK);
    assert_true(isnan(v.value));
    md_signals_free(sig);
    md_series_free(s);
    md_metrics_detach(m, vs);
    md_metrics_free(m);
}

struct steps {
    int64_t at[8];
    uint64_t requests[8];
    char route[8][16];
    size_t n;
};

static void take_step(void *ctx, const struct md_series_step *st)
{
    struct steps *s = ctx;

    assert_true(s->n < 8);
    s->at[s->n] = st->at_ms;
    s->requests[s->n] = st->counts.requests;
    snprintf(s->route[s->n], sizeof(s->route[0]), "%s", st->route);
    s->n++;
}

static void test_rollup(void **state)
{
    struct md_metrics *m = md_metrics_new();
    struct md_version_stats *vs = md_metrics_attach(m, "m", 1, false);
    struct md_route_stats *r = md_route_stats(vs, "stable");
    struct md_series *s = md_series_new(m);
    struct steps got = {0};

    (void)state;
    /* One request a second, a sample each second, a rollup after each. */
    for (int i = 0; i <= 180; i++) {
        if (i < 150)
            count(r, 1, 0, 0, 1000000);
        md_series_sample(s, T0 + 500 + (int64_t)i * 1000);
        md_series_rollup(s, T0 + 500 + (int64_t)i * 1000, 60000, take_step, &got);
    }
    /* Minutes from T0: 60 (the samples of T0 + 0.5 s to T0 + 59.5 s, and the
     * one at 60.5 s, taken at the boundary), then 60, then the rest (29). */
    assert_int_equal(got.n, 3);
    assert_true(got.at[0] == T0 && got.requests[0] == 61);
    assert_true(got.at[1] == T0 + 60000 && got.requests[1] == 60);
    assert_true(got.at[2] == T0 + 120000 && got.requests[2] == 29);
    assert_string_equal(got.route[0], "stable");
    /* A quiet minute gives no step. */
    md_series_sample(s, T0 + 240500);
    md_series_rollup(s, T0 + 240500, 60000, take_step, &got);
    assert_int_equal(got.n, 3);
    md_series_free(s);
    md_metrics_detach(m, vs);
    md_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_sums_and_quantiles),
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_rollup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
