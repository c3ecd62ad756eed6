/* SPDX-License-Identifier: MIT */
/*
 * test_metrics.c: the registry of version statistics (one series per model
 * and version across reloads, retired versions kept within their bounds),
 * the scan error count, and the process figures of util/proc.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/proc.h"
#include "watch/metrics.h"

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
    atomic_fetch_add(&a->success, 5);
    /* A reload of the same version: the same series, counting on. */
    b = md_metrics_attach(m, "fraud", 2, true);
    assert_ptr_equal(a, b);
    assert_int_equal(atomic_load(&b->success), 5);
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
    assert_int_equal(atomic_load(&b->success), 5);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attach_same_series),
        cmocka_unit_test(test_retired_bounds),
        cmocka_unit_test(test_proc_stats),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
