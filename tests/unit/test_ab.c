/* SPDX-License-Identifier: MIT */
/*
 * test_ab.c: A/B comparisons (watch/ab.c over store/sqlite_ab.c): outcomes
 * read from prediction rows joined with their current feedback, aggregated
 * per key first when the routes were sticky by a key, then compared over
 * keys; per row otherwise. Expected figures from Debian's python3-scipy on
 * the same data (the generator is described by make_rows), to 1e-9.
 * Feedback rows are inserted here with SQL: the feedback part's own writer
 * is tested with it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "watch/ab.h"
#include "store/sqlite_int.h"
#include "util/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx {
    char dir[64];
    struct md_store *s;
    int64_t now_ms;
};

static void near(double got, double want, double tol)
{
    double scale = fabs(want) > 1.0 ? fabs(want) : 1.0;

    if (fabs(want) < 1e-3 && want != 0)
        scale = fabs(want);
    if (!(fabs(got - want) <= tol * scale))
        fail_msg("got %.17g, want %.17g", got, want);
}

static int exec_sql(struct md_store_tx *tx, const char *sql, struct md_err *err)
{
    char *msg = NULL;

    if (sqlite3_exec(tx->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        md_err_set(err, MD_EIO, "%s: %s", sql, msg != NULL ? msg : "?");
        sqlite3_free(msg);
        return MD_EIO;
    }
    return MD_OK;
}

/* One prediction row, with its key "user" (unless user < 0) and a feedback label (unless NULL). */
static int add_row(struct md_store_tx *tx, const char *model, const char *rid, int64_t row,
                   int64_t at_ms, int64_t version, const char *route, bool shadow, int status,
                   int user, const char *label, struct md_err *err)
{
    struct md_store_prediction p;
    struct md_store_key key;
    char value[16];
    char sql[512];
    int rc;

    memset(&p, 0, sizeof(p));
    snprintf(value, sizeof(value), "u%d", user);
    key.name = "user";
    key.value = value;
    p.request_id = rid;
    p.row = row;
    p.at_ms = at_ms;
    p.model = model;
    p.version = version;
    p.route = route;
    p.shadow = shadow;
    p.status = status;
    p.score = NAN;
    p.key_list = user >= 0 ? &key : NULL;
    p.n_keys = user >= 0 ? 1 : 0;
    rc = md_store_tx_predictions_add(tx, &p, 1, err);
    if (rc != MD_OK || label == NULL)
        return rc;
    snprintf(sql, sizeof(sql),
             "INSERT INTO feedback (model, request_id, row, kind, label, source, at_ms) "
             "VALUES ('%s', '%s', %lld, 'label', '%s', 'user', %lld)",
             model, rid, (long long)row, label, (long long)at_ms);
    return exec_sql(tx, sql, err);
}

/*
 * The data: user u in 0..39 on arm "b" (version 2) when u is odd, else "a"
 * (version 1); 1 + (u * 7) % 4 rows, one request "q<u>" with rows j; row j
 * converts ("yes", else "no") when (u * 13 + j * 5) % (3 on b, 4 on a) is 0.
 * One row of arm a without a key converts (a unit of its own). Around
 * them, rows no analysis may count: a shadow copy, a call that named a
 * version (route "direct"), a failed request, a replaced feedback item,
 * a row without feedback, another model's row, a row outside the window.
 */
static int make_rows(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    const struct fx *f = ctx;
    int64_t at = f->now_ms - 1000;
    int rc = MD_OK;

    for (int u = 0; rc == MD_OK && u < 40; u++) {
        bool b = u % 2 != 0;
        int n = 1 + (u * 7) % 4;
        char rid[16];

        snprintf(rid, sizeof(rid), "q%d", u);
        for (int j = 0; rc == MD_OK && j < n; j++) {
            bool yes = (u * 13 + j * 5) % (b ? 3 : 4) == 0;

            rc = add_row(tx, "m", rid, j, at, b ? 2 : 1, b ? "b" : "a", false, 200, u,
                         yes ? "yes" : "no", err);
        }
    }
    if (rc == MD_OK)
        rc = add_row(tx, "m", "nokey", 0, at, 1, "a", false, 200, -1, "yes", err);
    if (rc == MD_OK)
        rc = add_row(tx, "m", "q0", 0, at, 3, "shadow", true, 200, 0, NULL, err);
    if (rc == MD_OK)
        rc = add_row(tx, "m", "direct", 0, at, 2, "direct", false, 200, 3, "yes", err);
    if (rc == MD_OK)
        rc = add_row(tx, "m", "failed", 0, at, 2, "b", false, 500, 5, "yes", err);
    if (rc == MD_OK)
        rc = add_row(tx, "m", "unlabelled", 0, at, 2, "b", false, 200, 7, NULL, err);
    if (rc == MD_OK)
        rc = add_row(tx, "other", "q1", 0, at, 2, "b", false, 200, 1, "yes", err);
    if (rc == MD_OK)
        rc = add_row(tx, "m", "old", 0, at - 3600 * 1000, 2, "b", false, 200, 9, "yes", err);
    /* q1 row 0 did not convert ((13) % 3 != 0); an earlier item said it did */
    if (rc == MD_OK)
        rc = exec_sql(tx,
                      "INSERT INTO feedback (model, request_id, row, kind, label, source, at_ms, "
                      "current) VALUES ('m', 'q1', 0, 'label', 'yes', 'user', 0, 0)",
                      err);
    return rc;
}

static int setup(void **state)
{
    struct fx *f = md_xcalloc(1, sizeof(*f));
    struct md_err err;

    snprintf(f->dir, sizeof(f->dir), "/tmp/md-ab-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(md_store_open(f->dir, &f->s, &err), MD_OK);
    f->now_ms = 1800000000000;
    assert_int_equal(md_store_call(f->s, make_rows, f, &err), MD_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];

    md_store_close(f->s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

struct run {
    struct md_ab_params p;
    struct md_ab_result r;
};

static int run_ab(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct run *r = ctx;

    return md_ab_run(tx, &r->p, &r->r, err);
}

static void analyse(struct fx *f, struct run *r, const char *unit_key, double min_effect)
{
    struct md_err err;

    memset(r, 0, sizeof(*r));
    r->p.model = "m";
    r->p.metric = MD_AB_CONVERSION;
    r->p.positive = "yes";
    r->p.min_effect = min_effect;
    r->p.since_ms = f->now_ms - 60000;
    snprintf(r->p.design.unit_key, sizeof(r->p.design.unit_key), "%s", unit_key);
    assert_int_equal(md_store_call(f->s, run_ab, r, &err), MD_OK);
}

/* Sticky by key: each user's conversion rate first, then Welch over users. */
static void test_per_key(void **state)
{
    struct fx *f = *state;
    struct run r;
    const struct md_ab_arm *a;
    const struct md_ab_arm *b;
    const struct md_ab_comparison *c;

    analyse(f, &r, "user", NAN);
    assert_true(r.r.per_key);
    assert_int_equal(r.r.n_arms, 2);
    a = &r.r.arms[0];
    b = &r.r.arms[1];
    assert_string_equal(a->route, "a");
    assert_string_equal(b->route, "b");
    assert_int_equal(r.r.control, 0); /* no "stable": the first by name */
    assert_int_equal(a->units, 21);
    assert_int_equal(b->units, 20);
    assert_int_equal(a->rows, 41);
    assert_int_equal(b->rows, 60);
    assert_true(a->version_min == 1 && a->version_max == 1 && b->version_min == 2);
    near(a->outcome, 0.6825396825396826, 1e-12);
    near(b->outcome, 0.3375, 1e-12);
    /* scipy.stats.t.interval(0.95, n - 1, loc=mean, scale=sd / sqrt(n)) */
    near(a->sd, 0.3411775438127727, 1e-12);
    near(a->ci.lo, 0.5272375265480748, 1e-9);
    near(a->ci.hi, 0.8378418385312904, 1e-9);
    near(b->sd, 0.18628995509264865, 1e-12);
    near(b->ci.lo, 0.2503136172453225, 1e-9);
    near(b->ci.hi, 0.42468638275467757, 1e-9);
    assert_int_equal(r.r.n_cmp, 1);
    c = &r.r.cmp[0];
    assert_int_equal(c->arm, 1);
    assert_string_equal(c->test, "welch");
    /* scipy.stats.ttest_ind(b, a, equal_var=False) */
    near(c->t.statistic, -4.044439904069773, 1e-12);
    near(c->t.p_value, 0.00031914722454620686, 1e-9);
    near(c->difference, 0.3375 - 0.6825396825396826, 1e-12);
    near(c->lift, (0.3375 - 0.6825396825396826) / 0.6825396825396826, 1e-12);
    /* min_effect 10% of the control's: 255 users per arm, 235 more on b */
    near(c->min_effect, 0.06825396825396826, 1e-12);
    assert_true(c->needed == 255 && c->still_needed == 235);
    assert_int_equal(c->verdict, MD_AB_KEEP_RUNNING);

    /* A larger effect needs 14 per arm: reached, and a is better */
    analyse(f, &r, "user", 0.3);
    c = &r.r.cmp[0];
    assert_true(c->needed == 14 && c->still_needed == 0);
    assert_int_equal(c->verdict, MD_AB_WINNER);
    assert_int_equal(c->winner, 0);
}

/* Not sticky: every row a unit; Wilson's interval and the z-test. */
static void test_per_row(void **state)
{
    struct fx *f = *state;
    struct run r;
    const struct md_ab_comparison *c;
    struct md_buf b;

    analyse(f, &r, "", 0.5);
    assert_false(r.r.per_key);
    assert_int_equal(r.r.arms[0].units, 41);
    assert_int_equal(r.r.arms[1].units, 60);
    near(r.r.arms[0].outcome, 0.5121951219512195, 1e-12);
    near(r.r.arms[1].outcome, 0.3333333333333333, 1e-12);
    near(r.r.arms[0].ci.lo, 0.3648450865154381, 1e-12);
    near(r.r.arms[0].ci.hi, 0.6574557044556734, 1e-12);
    c = &r.r.cmp[0];
    assert_string_equal(c->test, "z");
    near(c->t.statistic, -1.7975387289809723, 1e-12);
    near(c->t.p_value, 0.07225013546154446, 1e-9);
    assert_true(isnan(c->t.df));
    /* ceil(7.8489 (0.5122 * 0.4878 + 0.0122 * 0.9878) / 0.25) = 9: reached, p >= 0.05 */
    assert_true(c->needed == 9 && c->still_needed == 0);
    assert_int_equal(c->verdict, MD_AB_NO_DIFFERENCE);

    md_buf_init(&b, 1 << 16);
    assert_int_equal(md_ab_format(&r.r, &b), MD_OK);
    assert_non_null(strstr(b.data, "\"metric\":\"conversion\",\"unit\":\"row\",\"control\":\"a\""));
    assert_non_null(strstr(b.data, "\"verdict\":\"no_difference\",\"winner\":null"));
    assert_non_null(strstr(b.data, "\"df\":null"));
    md_buf_release(&b);
}

/* The control the design names; "stable" before the first by name. */
static void test_control(void **state)
{
    struct md_ab_result r;
    struct md_ab_design d;
    struct md_store_ab_group g = {"canary", 4, 4, 2, 1.0};

    (void)state;
    memset(&d, 0, sizeof(d));
    md_ab_result_init(&r, MD_AB_VALUE, false);
    md_ab_add(&r, &g);
    g.route = "stable";
    g.version_min = g.version_max = 3;
    md_ab_add(&r, &g);
    g.route = "direct";
    md_ab_add(&r, &g);
    md_ab_finish(&r, &d, NAN);
    assert_int_equal(r.n_arms, 2);
    assert_string_equal(r.arms[r.control].route, "stable");
    assert_true(isnan(r.arms[0].sd) && isnan(r.cmp[0].t.p_value)); /* one unit each */
    assert_int_equal(r.cmp[0].verdict, MD_AB_KEEP_RUNNING);
    assert_int_equal(md_ab_arm_for(&r, NULL, 4), 0);
    assert_int_equal(md_ab_arm_for(&r, NULL, 3), 1);
    assert_int_equal(md_ab_arm_for(&r, NULL, 9), 2);
    assert_int_equal(md_ab_arm_for(&r, NULL, 0), 0);
    assert_int_equal(md_ab_arm_for(&r, "stable", 4), 1);
    snprintf(d.control, sizeof(d.control), "canary");
    md_ab_finish(&r, &d, NAN);
    assert_string_equal(r.arms[r.control].route, "canary");
}

static int design(void *ctx, const char *model, struct md_ab_design *out, struct md_err *err)
{
    (void)ctx;
    (void)err;
    memset(out, 0, sizeof(*out));
    if (strcmp(model, "m") == 0)
        snprintf(out->unit_key, sizeof(out->unit_key), "user");
    return MD_OK;
}

/* The signals gates and alert rules read. */
static void test_signals(void **state)
{
    struct fx *f = *state;
    struct md_signals *s = md_signals_new();
    struct md_ab_signals *ab = NULL;
    struct md_signal_query q;
    struct md_signal_value v;
    struct md_err err;

    assert_int_equal(md_ab_signals_add(s, f->s, design, NULL, &ab, &err), MD_OK);
    assert_int_equal(md_signals_check(s, "ab_p_value:conversion=yes", &err), MD_OK);
    assert_int_equal(md_signals_check(s, "ab_conversion", &err), MD_EINVAL);
    memset(&q, 0, sizeof(q));
    q.model = "m";
    q.window_ms = 60000;
    q.now_ms = f->now_ms;
    q.metric = "ab_conversion:yes";
    q.version = 2;
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_OK);
    near(v.value, 0.3375, 1e-12);
    assert_int_equal(v.samples, 20);
    q.metric = "ab_p_value:conversion=yes";
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_OK);
    near(v.value, 0.00031914722454620686, 1e-9);
    assert_int_equal(v.samples, 20);
    q.metric = "ab_lift:conversion=yes";
    q.version = 0;
    q.route = "b";
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_OK);
    near(v.value, (0.3375 - 0.6825396825396826) / 0.6825396825396826, 1e-12);
    /* Three signals of one outcome and window: one analysis of the store */
    assert_int_equal(md_ab_signals_runs(ab), 1);
    /* ... and the next within MD_AB_REUSE_MS too; one beyond it reads again */
    q.now_ms = f->now_ms + MD_AB_REUSE_MS;
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_OK);
    assert_int_equal(md_ab_signals_runs(ab), 1);
    q.now_ms = f->now_ms + MD_AB_REUSE_MS + 1;
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_OK);
    assert_int_equal(md_ab_signals_runs(ab), 2);
    q.now_ms = f->now_ms;
    /* The control has no p-value of its own: not measured */
    q.metric = "ab_p_value:conversion=yes";
    q.route = NULL;
    q.version = 1;
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_OK);
    assert_true(isnan(v.value));
    /* Nothing in the window */
    q.now_ms = f->now_ms + 3600 * 1000;
    q.version = 2;
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_OK);
    assert_true(isnan(v.value) && v.samples == 0);
    q.metric = "ab_p_value:ratings";
    assert_int_equal(md_signals_value(s, &q, &v, &err), MD_EINVAL);
    assert_string_equal(err.msg,
                        "metric argument 'ratings': one of reward, value, conversion=<label>");
    md_signals_free(s);
    md_ab_signals_free(ab);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_per_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_row, setup, teardown),
        cmocka_unit_test(test_control),
        cmocka_unit_test_setup_teardown(test_signals, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
