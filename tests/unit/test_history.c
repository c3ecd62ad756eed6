/* SPDX-License-Identifier: MIT */
/*
 * test_history.c: the per-minute history (watch/history.c and
 * store/sqlite_history.c): durations, rows into points (counts summed,
 * rates from the sums, quantiles from merged buckets, other signals as
 * means weighted by their samples), the store's rows written, read back by
 * model, version, route and time, and expired, and the task end to end: a
 * batch per step with the request rollups and the registry's other signals
 * (names without an argument, and the configured names with one), the
 * retention applied at the first tick, the running step written at a stop.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "watch/history.h"

#include <math.h>
#include <string.h>

#define T0   1800000000000LL /* a whole minute, ms since the epoch */
#define STEP 60000

static void test_duration(void **state)
{
    int64_t ms = 0;

    (void)state;
    assert_true(md_history_duration("90s", INT64_MAX, &ms) && ms == 90000);
    assert_true(md_history_duration("15m", INT64_MAX, &ms) && ms == 900000);
    assert_true(md_history_duration("6h", INT64_MAX, &ms) && ms == 21600000);
    assert_true(md_history_duration("30d", INT64_MAX, &ms) && ms == 2592000000LL);
    assert_true(md_history_duration("250ms", INT64_MAX, &ms) && ms == 250);
    assert_true(md_history_duration("1234", INT64_MAX, &ms) && ms == 1234);
    assert_false(md_history_duration("0s", INT64_MAX, &ms));
    assert_false(md_history_duration("", INT64_MAX, &ms));
    assert_false(md_history_duration("5x", INT64_MAX, &ms));
    assert_false(md_history_duration("-5s", INT64_MAX, &ms));
    assert_false(md_history_duration("s", INT64_MAX, &ms));
    assert_false(md_history_duration("2d", 86400000, &ms));
    assert_true(md_history_duration("1d", 86400000, &ms));
    assert_false(md_history_duration("99999999999999999999d", INT64_MAX, &ms));
    assert_false(md_history_duration(NULL, INT64_MAX, &ms));
}

static struct md_store_history_requests req_row(int64_t at, uint64_t ok, uint64_t failed,
                                                size_t bucket)
{
    struct md_store_history_requests r;

    memset(&r, 0, sizeof(r));
    r.model = "m";
    r.version = 1;
    r.route = "stable";
    r.at_ms = at;
    r.requests = ok + failed;
    r.success = ok;
    r.errors = failed;
    r.rows = ok;
    r.latency_sum_ns = ok * 1000000;
    r.latency[bucket] = ok;
    return r;
}

static void test_points(void **state)
{
    struct md_history_points p;
    struct md_signal_value v;
    struct md_err err;
    struct md_store_history_requests a = req_row(T0, 10, 0, 8);           /* 1-2.5 ms */
    struct md_store_history_requests b = req_row(T0 + STEP, 1, 3, 12);    /* 25-50 ms */
    struct md_store_history_requests c = req_row(T0 + 5 * STEP, 4, 0, 8); /* the next point */
    struct md_store_history_value v1 = {"m", 0, "accuracy", T0, 0.5, 10};
    struct md_store_history_value v2 = {"m", 0, "accuracy", T0 + STEP, 1.0, 30};
    struct md_store_history_value v3 = {"m", 0, "drift", T0, 0.2, 0};
    struct md_store_history_value v4 = {"m", 0, "drift", T0 + STEP, 0.4, 0};

    (void)state;
    /* 5-minute points over [T0 + 30 s, T0 + 10 min): from T0 (rounded down), two. */
    assert_int_equal(
        md_history_points_init(&p, MD_SERIES_ERROR_RATE, T0 + 30000, T0 + 600000, 5 * STEP, &err),
        MD_OK);
    assert_int_equal(p.n, 2);
    assert_true(p.since_ms == T0);
    md_history_points_add_requests(&p, &a);
    md_history_points_add_requests(&p, &b);
    md_history_points_add_requests(&p, &c);
    md_history_points_add_requests(&p, &(struct md_store_history_requests){.at_ms = T0 - 1});
    md_history_points_add_requests(&p, &(struct md_store_history_requests){.at_ms = T0 + 600000});
    /* From the sums: 3 / 14, not the mean of 0 and 0.75. */
    md_history_points_value(&p, 0, &v);
    assert_true(fabs(v.value - 3.0 / 14) < 1e-15 && v.samples == 14);
    md_history_points_value(&p, 1, &v);
    assert_true(v.value == 0 && v.samples == 4);
    md_history_points_value(&p, 2, &v);
    assert_true(isnan(v.value));
    md_history_points_release(&p);

    assert_int_equal(md_history_points_init(&p, MD_SERIES_P50, T0, T0 + 600000, 5 * STEP, &err),
                     MD_OK);
    md_history_points_add_requests(&p, &a);
    md_history_points_add_requests(&p, &b);
    md_history_points_value(&p, 0, &v); /* 11 successes: 10 in 1-2.5 ms, 1 in 25-50 ms */
    assert_true(v.value >= 1.0 && v.value <= 2.5 && v.samples == 11);
    md_history_points_release(&p);

    assert_int_equal(md_history_points_init(&p, MD_SERIES_RPS, T0, T0 + 600000, 5 * STEP, &err),
                     MD_OK);
    md_history_points_add_requests(&p, &a);
    md_history_points_add_requests(&p, &b);
    md_history_points_value(&p, 0, &v);
    assert_true(fabs(v.value - 14.0 / 300) < 1e-15);
    md_history_points_release(&p);

    /* Other signals: weighted by samples; a plain mean without samples. */
    assert_int_equal(md_history_points_init(&p, -1, T0, T0 + 600000, 5 * STEP, &err), MD_OK);
    md_history_points_add_value(&p, &v1);
    md_history_points_add_value(&p, &v2);
    md_history_points_value(&p, 0, &v);
    assert_true(fabs(v.value - (0.5 * 10 + 1.0 * 30) / 40) < 1e-15 && v.samples == 40);
    md_history_points_value(&p, 1, &v);
    assert_true(isnan(v.value) && v.samples == 0);
    md_history_points_release(&p);
    assert_int_equal(md_history_points_init(&p, -1, T0, T0 + 600000, 5 * STEP, &err), MD_OK);
    md_history_points_add_value(&p, &v3);
    md_history_points_add_value(&p, &v4);
    md_history_points_value(&p, 0, &v);
    assert_true(fabs(v.value - 0.3) < 1e-15);
    md_history_points_release(&p);

    /* Bounds. */
    assert_int_equal(md_history_points_init(&p, -1, T0, T0, STEP, &err), MD_EINVAL);
    assert_int_equal(md_history_points_init(&p, -1, -1, T0, STEP, &err), MD_EINVAL);
    assert_int_equal(md_history_points_init(&p, -1, T0, T0 + STEP, 0, &err), MD_EINVAL);
    assert_int_equal(md_history_points_init(&p, -1, 0, INT64_MAX, INT64_MAX, &err), MD_OK);
    assert_int_equal(p.n, 1);
    md_history_points_release(&p);
    assert_int_equal(md_history_points_init(&p, -1, T0, T0 + (int64_t)STEP * 5001, STEP, &err),
                     MD_EINVAL);
    assert_non_null(strstr(err.msg, "5001 points"));
    assert_int_equal(md_history_points_init(&p, -1, T0, T0 + (int64_t)STEP * 5000, STEP, &err),
                     MD_OK);
    md_history_points_release(&p);
}

/* ---- with a store ------------------------------------------------------- */

struct fx {
    char dir[64];
    struct md_store *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct md_err err;

    snprintf(f->dir, sizeof(f->dir), "/tmp/md-history-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(md_store_open(f->dir, &f->s, &err), MD_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[200];

    md_store_close(f->s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* What a read saw. */
struct seen {
    struct md_store_history_requests req[16];
    struct md_store_history_value val[16];
    char routes[16][16];
    size_t n_req, n_val;
    struct md_store_history_filter f;
    uint64_t removed;
};

static void see_req(void *ctx, const struct md_store_history_requests *r)
{
    struct seen *s = ctx;

    assert_true(s->n_req < 16);
    snprintf(s->routes[s->n_req], sizeof(s->routes[0]), "%s", r->route);
    s->req[s->n_req] = *r;
    s->req[s->n_req].route = s->routes[s->n_req];
    s->n_req++;
}

static void see_val(void *ctx, const struct md_store_history_value *v)
{
    struct seen *s = ctx;

    assert_true(s->n_val < 16);
    s->val[s->n_val++] = *v;
}

static int run_read(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct seen *s = ctx;

    s->n_req = 0;
    s->n_val = 0;
    if (md_store_tx_history_requests(tx, &s->f, see_req, s, err) != MD_OK)
        return err->code;
    if (s->f.metric != NULL)
        return md_store_tx_history_values(tx, &s->f, see_val, s, err);
    return MD_OK;
}

static int run_add(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct md_store_history_requests r[3] = {req_row(T0, 10, 0, 8), req_row(T0 + STEP, 1, 3, 12),
                                             req_row(T0 + STEP, 5, 0, 20)};
    struct md_store_history_value v[3] = {{"m", 0, "accuracy", T0, 0.5, 10},
                                          {"m", 2, "accuracy", T0, 0.75, 4},
                                          {"m", 0, "accuracy", T0 + STEP, NAN, 0}};

    (void)ctx;
    r[2].route = "shadow";
    r[2].version = 2;
    r[2].latency[MD_STORE_LATENCY_BUCKETS - 1] = 7;
    return md_store_tx_history_add(tx, r, 3, v, 3, err);
}

static int run_add_bad(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct md_store_history_requests r = req_row(T0, 1, 0, 0);

    (void)ctx;
    r.model = "";
    return md_store_tx_history_add(tx, &r, 1, NULL, 0, err);
}

static int run_expire(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct seen *s = ctx;

    return md_store_tx_history_expire(tx, T0 + 1, &s->removed, err);
}

static void test_store_rows(void **state)
{
    struct fx *f = *state;
    struct seen s;
    struct md_err err;

    memset(&s, 0, sizeof(s));
    assert_int_equal(md_store_call(f->s, run_add, NULL, &err), MD_OK);
    assert_int_equal(md_store_call(f->s, run_add_bad, NULL, &err), MD_EINVAL);
    s.f = (struct md_store_history_filter){"m", 0, NULL, "accuracy", T0, T0 + 10 * STEP};
    assert_int_equal(md_store_call(f->s, run_read, &s, &err), MD_OK);
    assert_int_equal(s.n_req, 3);
    assert_true(s.req[0].at_ms == T0 && s.req[0].requests == 10 && s.req[0].latency[8] == 10);
    assert_true(s.req[1].errors == 3 && s.req[1].latency[12] == 1);
    assert_string_equal(s.req[2].route, "shadow");
    assert_true(s.req[2].latency[MD_STORE_LATENCY_BUCKETS - 1] == 7 && s.req[2].latency[20] == 7);
    /* Values: the model's (version 0) only; the NaN was not stored. */
    assert_int_equal(s.n_val, 1);
    assert_true(s.val[0].value == 0.5 && s.val[0].samples == 10);
    /* By version, route, time. */
    s.f.version = 2;
    assert_int_equal(md_store_call(f->s, run_read, &s, &err), MD_OK);
    assert_int_equal(s.n_req, 1);
    assert_int_equal(s.n_val, 1);
    assert_true(s.val[0].value == 0.75);
    s.f.version = 0;
    s.f.route = "stable";
    s.f.metric = NULL;
    assert_int_equal(md_store_call(f->s, run_read, &s, &err), MD_OK);
    assert_int_equal(s.n_req, 2);
    s.f.route = NULL;
    s.f.since_ms = T0 + 1;
    assert_int_equal(md_store_call(f->s, run_read, &s, &err), MD_OK);
    assert_int_equal(s.n_req, 2);
    s.f.model = "other";
    assert_int_equal(md_store_call(f->s, run_read, &s, &err), MD_OK);
    assert_int_equal(s.n_req, 0);
    /* Expired: every row of a step before T0 + 1 (two requests rows, two values). */
    assert_int_equal(md_store_call(f->s, run_expire, &s, &err), MD_OK);
    assert_int_equal(s.removed, 3);
    s.f.model = "m";
    s.f.since_ms = 0;
    assert_int_equal(md_store_call(f->s, run_read, &s, &err), MD_OK);
    assert_int_equal(s.n_req, 2);
}

/* A signal of another part: its value is the query's version + 0.5, with 3
 * samples; "arg" takes an argument. */
static int other(void *ctx, const struct md_signal_query *q, struct md_signal_value *out,
                 struct md_err *err)
{
    int64_t *calls = ctx;

    (void)err;
    (*calls)++;
    assert_int_equal(q->window_ms, STEP);
    out->value = (double)q->version + 0.5;
    out->samples = 3;
    return MD_OK;
}

static int barrier(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    (void)tx;
    (void)ctx;
    (void)err;
    return MD_OK;
}

static void test_task(void **state)
{
    struct fx *f = *state;
    struct md_metrics *m = md_metrics_new();
    struct md_version_stats *vs = md_metrics_attach(m, "m", 2, false);
    struct md_series *ser = md_series_new(m);
    struct md_signals *sig = md_signals_new();
    struct md_signal_info quality = {"quality", "ratio", NULL, "a test signal"};
    struct md_signal_info per = {"per", "ratio", "feature", "a test signal with an argument"};
    struct md_history_config cfg = {STEP, 3600000, "per:x, nosuch:y"};
    struct md_history *h;
    struct md_history_stats st;
    struct seen s;
    struct md_err err;
    int64_t calls = 0;

    (void)state;
    assert_int_equal(md_series_register(ser, sig, &err), MD_OK);
    assert_int_equal(md_signals_add(sig, &quality, other, &calls, &err), MD_OK);
    assert_int_equal(md_signals_add(sig, &per, other, &calls, &err), MD_OK);
    assert_int_equal(md_history_new(&cfg, ser, sig, f->s, &h, &err), MD_OK);
    assert_int_equal(md_history_step_ms(h), STEP);
    /* An old row, for the retention at the first tick. */
    assert_int_equal(md_store_call(f->s, run_add, NULL, &err), MD_OK);

    atomic_fetch_add(&md_route_stats(vs, "stable")->success, 5);
    md_history_tick(h, T0 + 2 * 3600000 + 500); /* first tick: a step starts */
    assert_int_equal(calls, 0);
    atomic_fetch_add(&md_route_stats(vs, "stable")->success, 7);
    md_history_tick(h, T0 + 2 * 3600000 + 30500);
    md_history_tick(h, T0 + 2 * 3600000 + STEP + 500); /* the step ends */
    assert_int_equal(md_store_call(f->s, barrier, NULL, &err), MD_OK);
    md_history_get_stats(h, &st);
    /* The request rollup and, for the model and its version, "quality" and
     * "per:x" (nosuch:y was skipped): 1 + 2 x 2 rows. */
    assert_int_equal(calls, 4);
    assert_int_equal(st.batches, 1);
    assert_int_equal(st.rows, 5);
    assert_int_equal(st.expired, 5); /* run_add's rows, all older than the retention */
    assert_int_equal(st.dropped, 0);

    memset(&s, 0, sizeof(s));
    s.f = (struct md_store_history_filter){"m", 0, NULL, "quality", T0, T0 + 3 * 3600000};
    assert_int_equal(md_store_call(f->s, run_read, &s, &err), MD_OK);
    assert_int_equal(s.n_req, 1);
    assert_true(s.req[0].requests == 12 && s.req[0].version == 2);
    assert_true(s.req[0].at_ms == T0 + 2 * 3600000);
    assert_int_equal(s.n_val, 1);
    assert_true(s.val[0].value == 0.5 && s.val[0].samples == 3);
    assert_true(s.val[0].at_ms == T0 + 2 * 3600000);
    s.f.version = 2;
    s.f.metric = "per:x";
    assert_int_equal(md_store_call(f->s, run_read, &s, &err), MD_OK);
    assert_int_equal(s.n_val, 1);
    assert_true(s.val[0].value == 2.5);

    /* A quiet step writes nothing. */
    md_history_tick(h, T0 + 2 * 3600000 + 2 * STEP + 500);
    assert_int_equal(md_store_call(f->s, barrier, NULL, &err), MD_OK);
    md_history_get_stats(h, &st);
    assert_int_equal(st.rows, 5 + 4); /* the values only */
    /* At shutdown, the running step's requests (and no values). */
    atomic_fetch_add(&md_route_stats(vs, "stable")->success, 4);
    md_history_flush(h, T0 + 2 * 3600000 + 2 * STEP + 20500);
    assert_int_equal(md_store_call(f->s, barrier, NULL, &err), MD_OK);
    md_history_get_stats(h, &st);
    assert_int_equal(st.rows, 5 + 4 + 1);
    s.f = (struct md_store_history_filter){
        "m", 2, "stable", NULL, T0 + 2 * 3600000 + 2 * STEP, T0 + 3 * 3600000};
    assert_int_equal(md_store_call(f->s, run_read, &s, &err), MD_OK);
    assert_int_equal(s.n_req, 1);
    assert_true(s.req[0].requests == 4 && s.req[0].at_ms == T0 + 2 * 3600000 + 2 * STEP);
    md_history_flush(NULL, 0);

    md_store_close(f->s);
    f->s = NULL;
    assert_int_equal(md_store_open(f->dir, &f->s, &err), MD_OK);
    md_history_free(h);
    md_signals_free(sig);
    md_series_free(ser);
    md_metrics_detach(m, vs);
    md_metrics_free(m);
}

static void test_config(void **state)
{
    struct md_history *h = NULL;
    struct md_history_config cfg = {STEP, 3600000, NULL};
    struct md_err err;
    char many[40 * 8];

    (void)state;
    cfg.step_ms = 0;
    assert_int_equal(md_history_new(&cfg, NULL, NULL, NULL, &h, &err), MD_EINVAL);
    cfg.step_ms = STEP;
    for (int i = 0; i < 33; i++)
        memcpy(many + 4 * i, "a:b,", 4);
    many[4 * 33] = '\0';
    cfg.extra = many;
    assert_int_equal(md_history_new(&cfg, NULL, NULL, NULL, &h, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "history_metrics: more than 32"));
    cfg.extra = "ok:1,,  ,x:yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy";
    assert_int_equal(md_history_new(&cfg, NULL, NULL, NULL, &h, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "longer than 63 bytes"));
    cfg.extra = "a:b,requests";
    assert_int_equal(md_history_new(&cfg, NULL, NULL, NULL, &h, &err), MD_EINVAL);
    assert_string_equal(err.msg, "history_metrics: 'requests' has no argument (name:argument); "
                                 "every name without one is kept anyway");
    cfg.extra = " a:b , c:d ";
    assert_int_equal(md_history_new(&cfg, NULL, NULL, NULL, &h, &err), MD_OK);
    md_history_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_points),
        cmocka_unit_test_setup_teardown(test_store_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task, setup, teardown),
        cmocka_unit_test(test_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
