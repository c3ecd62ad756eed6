/* SPDX-License-Identifier: MIT */
/*
 * test_signals.c: the registry of named metrics (watch/signals.c): names
 * checked when added, arguments required exactly when a signal takes one,
 * the query passed on with its argument and a clock, errors named.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "watch/signals.h"

#include <math.h>
#include <string.h>
#include <time.h>

struct seen {
    char arg[64];
    int64_t now_ms;
    int64_t version;
};

static int answer(void *ctx, const struct md_signal_query *q, struct md_signal_value *out,
                  struct md_err *err)
{
    struct seen *s = ctx;

    (void)err;
    (void)snprintf(s->arg, sizeof(s->arg), "%s", q->arg != NULL ? q->arg : "(none)");
    s->now_ms = q->now_ms;
    s->version = q->version;
    out->value = 0.25;
    out->samples = 8;
    return MD_OK;
}

static void test_registry(void **state)
{
    struct md_signals *s = md_signals_new();
    struct md_signal_info rate = {"error_rate", "ratio", NULL, "failed requests per request"};
    struct md_signal_info missing = {"missing_rate", "ratio", "feature", "missing values"};
    struct md_signal_info bad = {"Error-Rate", "ratio", NULL, "x"};
    struct md_signal_query q = {.metric = "error_rate", .model = "m", .window_ms = 60000};
    struct md_signal_value v;
    struct seen seen;
    struct md_err err;
    const struct md_signal_info *list;
    size_t n;

    (void)state;
    assert_int_equal(md_signals_add(s, &rate, answer, &seen, &err), MD_OK);
    assert_int_equal(md_signals_add(s, &missing, answer, &seen, &err), MD_OK);
    assert_int_equal(md_signals_add(s, &rate, answer, &seen, &err), MD_ECONFLICT);
    assert_int_equal(md_signals_add(s, &bad, answer, &seen, &err), MD_EINVAL);
    assert_string_equal(err.msg, "signal name 'Error-Rate' is not [a-z][a-z0-9_]*");

    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_OK);
    assert_true(v.value == 0.25 && v.samples == 8);
    assert_string_equal(seen.arg, "(none)");
    assert_true(seen.now_ms > 1700000000000); /* filled in: now */
    q.metric = "missing_rate:age";
    q.version = 3;
    q.now_ms = 1234;
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_OK);
    assert_string_equal(seen.arg, "age");
    assert_int_equal(seen.now_ms, 1234);
    assert_int_equal(seen.version, 3);
    assert_null(q.arg); /* the caller's query is not written */

    q.metric = "missing_rate";
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_EINVAL);
    assert_string_equal(err.msg, "metric 'missing_rate' needs a feature: 'missing_rate:<feature>'");
    assert_true(isnan(v.value));
    q.metric = "error_rate:x";
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_EINVAL);
    assert_string_equal(err.msg, "metric 'error_rate' takes no argument (':x')");
    q.metric = "f1";
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "unknown metric 'f1'");
    q.metric = "error_rate";
    q.window_ms = 0;
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_EINVAL);
    assert_string_equal(err.msg, "window: must be above 0");
    q.window_ms = 1;
    q.model = NULL;
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_EINVAL);
    assert_string_equal(err.msg, "model: missing");

    assert_int_equal(md_signals_check(s, "missing_rate:x", &err), MD_OK);
    assert_int_equal(md_signals_check(s, "", &err), MD_EINVAL);
    list = md_signals_list(s, &n);
    assert_int_equal(n, 2);
    assert_string_equal(list[1].name, "missing_rate");
    assert_string_equal(list[1].arg, "feature");
    md_signals_free(s);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A provider that waits on the store is marked so, and only its evaluation
 * is held by the delay. */
static void test_waits(void **state)
{
    struct md_signals *s = md_signals_new();
    struct md_signal_info rate = {"error_rate", "ratio", NULL, "failed requests per request"};
    struct md_signal_info ab = {"ab_lift", "ratio", "outcome", "lift from the store"};
    struct md_signal_query q = {.metric = "error_rate", .model = "m", .window_ms = 60000};
    struct md_signal_value v;
    struct seen seen;
    struct md_err err;
    uint64_t t0;

    (void)state;
    assert_int_equal(md_signals_add(s, &rate, answer, &seen, &err), MD_OK);
    assert_int_equal(md_signals_add_flags(s, &ab, MD_SIGNAL_WAITS, answer, &seen, &err), MD_OK);
    assert_int_equal(md_signals_add_flags(s, &ab, 0, answer, &seen, &err), MD_ECONFLICT);
    assert_true(md_signals_waits(s, "ab_lift:reward"));
    assert_true(md_signals_waits(s, "ab_lift"));
    assert_false(md_signals_waits(s, "error_rate"));
    assert_false(md_signals_waits(s, "nosuch:x"));
    assert_false(md_signals_waits(s, NULL));

    md_signals_set_delay(s, 50);
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_OK);
    q.metric = "ab_lift:reward";
    t0 = mono_ns();
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_OK);
    assert_true(mono_ns() - t0 >= 50000000ULL); /* held 50 ms */
    assert_string_equal(seen.arg, "reward");
    md_signals_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_waits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
