/* SPDX-License-Identifier: MIT */
/*
 * test_metrics.c: the registry of version statistics (one series per model
 * and version across reloads, retired versions kept within their bounds),
 * the scan error count, the process figures of util/proc, and the route
 * slots of a version: found by pointer, then by text, bounded ("other"), made
 * by several threads at once, read back as snapshots whose deltas give a
 * step's counts and latency quantiles.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/proc.h"
#include "util/mem.h"
#include "watch/metrics.h"

#include <math.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

struct seen {
    char keys[400][40]; /* "model/version live" */
    size_t n;
};

static void collect(void *ctx, const struct md_metrics_row *row)
{
    struct seen *s = ctx;

    assert_true(s->n < MD_ARRAY_LEN(s->keys));
    (void)snprintf(s->keys[s->n++], sizeof(s->keys[0]), "%s/%s%s", row->model, row->version,
                   row->live ? " live" : "");
}

static void test_attach_same_series(void **state)
{
    struct md_metrics *m = md_metrics_new();
    struct md_version_stats *a;
    struct md_version_stats *b;
    struct seen s = {.n = 0};

    (void)state;
    a = md_metrics_attach(m, "fraud", 2, false);
    atomic_fetch_add(&md_route_stats(a, "stable")->success, 5);
    /* A reload of the same version: the same series, counting on. */
    b = md_metrics_attach(m, "fraud", 2, true);
    assert_ptr_equal(a, b);
    assert_int_equal(atomic_load(&md_route_stats(b, "stable")->success), 5);
    md_metrics_detach(m, a);
    md_metrics_attach(m, "churn", 1, false);
    md_metrics_attach(m, "fraud", 10, false);
    md_metrics_foreach(m, collect, &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.keys[0], "churn/1 live");
    assert_string_equal(s.keys[1], "fraud/2 live");
    assert_string_equal(s.keys[2], "fraud/10 live");
    /* Retired: kept, not live, counts intact. */
    md_metrics_detach(m, b);
    s.n = 0;
    md_metrics_foreach(m, collect, &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.keys[1], "fraud/2");
    b = md_metrics_attach(m, "fraud", 2, false);
    assert_int_equal(atomic_load(&md_route_stats(b, "stable")->success), 5);
    md_metrics_scan_error(m);
    md_metrics_scan_error(m);
    assert_int_equal(md_metrics_scan_errors(m), 2);
    md_metrics_free(m); /* with series still attached: a test may */
}

static void test_retired_bounds(void **state)
{
    struct md_metrics *m = md_metrics_new();
    struct md_version_stats *v[MD_METRICS_RETIRED_PER_MODEL + 3];
    struct seen s = {.n = 0};
    char model[16];
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(v); i++)
        v[i] = md_metrics_attach(m, "m", (int64_t)i + 1, false);
    /* Retired in the order 3, 1, 2, ...: the longest retired go first. */
    md_metrics_detach(m, v[2]);
    md_metrics_detach(m, v[0]);
    for (i = 1; i < MD_ARRAY_LEN(v); i++)
        if (i != 2)
            md_metrics_detach(m, v[i]);
    md_metrics_foreach(m, collect, &s);
    assert_int_equal(s.n, MD_METRICS_RETIRED_PER_MODEL);
    /* 3, 1, 2 were retired first; 4 .. 7 stay. */
    assert_string_equal(s.keys[0], "m/4");
    assert_string_equal(s.keys[MD_METRICS_RETIRED_PER_MODEL - 1], "m/7");
    /* A live series is never dropped, however many retire around it. */
    md_metrics_attach(m, "m", 100, false);
    for (i = 0; i < 10; i++)
        md_metrics_detach(m, md_metrics_attach(m, "m", 200 + (int64_t)i, false));
    s.n = 0;
    md_metrics_foreach(m, collect, &s);
    assert_int_equal(s.n, MD_METRICS_RETIRED_PER_MODEL + 1);
    assert_string_equal(s.keys[0], "m/100 live");
    md_metrics_free(m);

    /* In all: MD_METRICS_RETIRED_MAX retired series across models. */
    m = md_metrics_new();
    for (i = 0; i < MD_METRICS_RETIRED_MAX + 20; i++) {
        (void)snprintf(model, sizeof(model), "m%03zu", i);
        md_metrics_detach(m, md_metrics_attach(m, model, 1, false));
    }
    s.n = 0;
    md_metrics_foreach(m, collect, &s);
    assert_int_equal(s.n, MD_METRICS_RETIRED_MAX);
    assert_string_equal(s.keys[0], "m020/1");
    md_metrics_free(m);
}

static void test_proc_stats(void **state)
{
    struct md_proc_stats ps;
    struct md_err err;
    double now = (double)time(NULL);
    volatile double x = 0;
    int i;

    (void)state;
    for (i = 0; i < 1000000; i++)
        x += i;
    assert_int_equal(md_proc_stats(&ps, &err), MD_OK);
    assert_true(ps.rss_bytes > (1u << 20));
    assert_true(ps.vsize_bytes >= ps.rss_bytes);
    assert_true(ps.open_fds >= 3);
    assert_true(ps.max_fds >= ps.open_fds);
    assert_true(ps.cpu_s >= 0);
    /* Started in the last hour, btime being a whole second. */
    assert_true(ps.start_time_s <= now + 1 && ps.start_time_s > now - 3600);
}

/* ---- routes ------------------------------------------------------------- */

static void test_route_slots(void **state)
{
    struct md_version_stats *s = md_xcalloc(1, sizeof(*s));
    char same[16];
    char name[MD_ROUTE_NAME_MAX + 8];
    struct md_route_stats *stable;
    struct md_route_stats *r;
    size_t i;

    (void)state;
    stable = md_route_stats(s, "stable");
    assert_string_equal(stable->name, "stable");
    assert_int_equal(atomic_load(&s->n_routes), 1);
    /* The same name through another pointer: the same slot, the new pointer kept as the hint. */
    (void)snprintf(same, sizeof(same), "%s", "stable");
    assert_ptr_equal(md_route_stats(s, same), stable);
    assert_ptr_equal(atomic_load(&stable->key), same);
    /* The hint is checked: the same address holding another name finds another slot. */
    (void)snprintf(same, sizeof(same), "%s", "canary");
    r = md_route_stats(s, same);
    assert_ptr_not_equal(r, stable);
    assert_string_equal(r->name, "canary");
    assert_ptr_equal(md_route_stats(s, NULL), md_route_stats(s, "default"));
    assert_int_equal(atomic_load(&s->n_routes), 3);
    /* A name too long for a slot counts as "other", as every name past the bound does. */
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    r = md_route_stats(s, name);
    assert_ptr_equal(r, &s->routes[MD_ROUTES_PER_VERSION]);
    assert_string_equal(md_route_stats_name(s, r), "other");
    for (i = 0; i < MD_ROUTES_PER_VERSION + 5; i++) {
        (void)snprintf(name, sizeof(name), "arm%zu", i);
        atomic_fetch_add(&md_route_stats(s, name)->success, 1);
    }
    assert_int_equal(atomic_load(&s->n_routes), MD_ROUTES_PER_VERSION);
    assert_string_equal(s->routes[MD_ROUTES_PER_VERSION - 1].name, "arm12");
    assert_int_equal(atomic_load(&s->routes[MD_ROUTES_PER_VERSION].success), 8);
    assert_string_equal(md_route_stats_name(s, stable), "stable");
    free(s);
}

/* Threads that give one version's routes their names at once, each counting. */
struct namer {
    struct md_version_stats *s;
    unsigned seed;
};

static void *name_routes(void *arg)
{
    struct namer *n = arg;
    char name[16];
    unsigned i;

    for (i = 0; i < 2000; i++) {
        (void)snprintf(name, sizeof(name), "r%u", (i * 7 + n->seed) % 24);
        atomic_fetch_add(&md_route_stats(n->s, name)->success, 1);
    }
    return NULL;
}

static void test_route_slots_threads(void **state)
{
    struct md_version_stats *s = md_xcalloc(1, sizeof(*s));
    struct md_request_totals t;
    struct namer n[4];
    pthread_t th[4];
    size_t i;
    size_t k;

    (void)state;
    for (i = 0; i < 4; i++) {
        n[i].s = s;
        n[i].seed = (unsigned)i;
        assert_int_equal(pthread_create(&th[i], NULL, name_routes, &n[i]), 0);
    }
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    /* Every request counted once; no name in two slots. */
    md_request_totals(s, NULL, &t);
    assert_int_equal(t.success, 8000);
    assert_int_equal(atomic_load(&s->n_routes), MD_ROUTES_PER_VERSION);
    for (i = 0; i < MD_ROUTES_PER_VERSION; i++)
        for (k = i + 1; k < MD_ROUTES_PER_VERSION; k++)
            assert_string_not_equal(s->routes[i].name, s->routes[k].name);
    free(s);
}

static void observe_ms(struct md_route_stats *r, uint64_t ms)
{
    atomic_fetch_add(&r->success, 1);
    md_histogram_observe(&r->request, ms * 1000000u);
}

static void test_snapshot_delta_quantiles(void **state)
{
    struct md_metrics *m = md_metrics_new();
    struct md_version_stats *v1 = md_metrics_attach(m, "m", 1, false);
    struct md_version_stats *v2 = md_metrics_attach(m, "m", 2, false);
    struct md_route_snapshot before[8];
    struct md_route_snapshot after[8];
    struct md_route_snapshot d;
    const struct md_route_snapshot *a;
    uint64_t empty[MD_HIST_BUCKETS + 1] = {0};
    size_t nb;
    size_t na;
    int i;

    (void)state;
    md_metrics_attach(m, "other", 1, false);
    assert_int_equal(md_metrics_snapshot(m, "m", before, 8), 0);
    /* Before the step: 100 fast requests on stable. */
    for (i = 0; i < 100; i++)
        observe_ms(md_route_stats(v1, "stable"), 1);
    atomic_fetch_add(&md_route_stats(v2, "canary")->fail_rejected, 1);
    nb = md_metrics_snapshot(m, "m", before, 8);
    assert_int_equal(nb, 2);
    assert_int_equal(before[0].version, 1);
    assert_string_equal(before[0].route, "stable");
    assert_true(before[0].live);
    assert_int_equal(before[1].version, 2);
    assert_int_equal(before[1].rejected, 1);
    assert_int_equal(before[1].requests, 1);
    /* The step: stable 99 at 1 ms and one at 200 ms; canary 90 ok at 20 ms, 10 failed (5xx). */
    for (i = 0; i < 99; i++)
        observe_ms(md_route_stats(v1, "stable"), 1);
    observe_ms(md_route_stats(v1, "stable"), 200);
    for (i = 0; i < 90; i++)
        observe_ms(md_route_stats(v2, "canary"), 20);
    atomic_fetch_add(&md_route_stats(v2, "canary")->fail_backend, 4);
    atomic_fetch_add(&md_route_stats(v2, "canary")->fail_overload, 3);
    atomic_fetch_add(&md_route_stats(v2, "canary")->fail_timeout, 3);
    atomic_fetch_add(&md_route_stats(v2, "shadow")->success, 1);
    na = md_metrics_snapshot(m, "m", after, 2);
    assert_int_equal(na, 3); /* one more than the room given: call again */
    na = md_metrics_snapshot(m, "m", after, 8);
    assert_int_equal(na, 3);
    a = md_route_snapshot_find(after, na, 2, "canary");
    assert_non_null(a);
    md_route_snapshot_delta(a, md_route_snapshot_find(before, nb, 2, "canary"), &d);
    assert_int_equal(d.requests, 100);
    assert_int_equal(d.success, 90);
    assert_int_equal(d.errors, 10);
    assert_int_equal(d.rejected, 0);
    /* 20 ms lies in the (10 ms, 25 ms] bucket: every quantile is inside it. */
    assert_true(md_hist_quantile(d.latency, 0.5) > 0.010 &&
                md_hist_quantile(d.latency, 0.5) <= 0.025);
    md_route_snapshot_delta(md_route_snapshot_find(after, na, 1, "stable"),
                            md_route_snapshot_find(before, nb, 1, "stable"), &d);
    assert_int_equal(d.success, 100);
    assert_true(md_hist_quantile(d.latency, 0.5) <= 0.001);
    /* p99 falls on the 99th request, the last at 1 ms; p99.5 on the slow one. */
    assert_true(md_hist_quantile(d.latency, 0.99) <= 0.001);
    assert_true(md_hist_quantile(d.latency, 0.995) > 0.1 &&
                md_hist_quantile(d.latency, 0.995) <= 0.25);
    /* No route before: the delta is the whole count. */
    md_route_snapshot_delta(md_route_snapshot_find(after, na, 2, "shadow"), NULL, &d);
    assert_int_equal(d.success, 1);
    assert_null(md_route_snapshot_find(after, na, 3, "stable"));
    assert_true(isnan(md_hist_quantile(empty, 0.5)));
    empty[MD_HIST_BUCKETS] = 1;
    assert_true(md_hist_quantile(empty, 0.99) == md_hist_bounds_s[MD_HIST_BUCKETS - 1]);
    /* A retired version stays, not live. */
    md_metrics_detach(m, v2);
    na = md_metrics_snapshot(m, "m", after, 8);
    assert_false(md_route_snapshot_find(after, na, 2, "canary")->live);
    md_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attach_same_series),  cmocka_unit_test(test_retired_bounds),
        cmocka_unit_test(test_proc_stats),          cmocka_unit_test(test_route_slots),
        cmocka_unit_test(test_route_slots_threads), cmocka_unit_test(test_snapshot_delta_quantiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
