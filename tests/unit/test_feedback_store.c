/* SPDX-License-Identifier: MIT */
/*
 * test_feedback_store.c: feedback in the store (store/sqlite_feedback.c):
 * items attached by request id, row and key; refusals naming the field;
 * pending items attached by the upkeep when their rows land, or orphaned;
 * replacement keeping history and telling the change; a quality window's
 * labelled rows and totals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <sqlite3.h>
#include <unistd.h>

#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"
#include "store_fixture.h"

struct fx {
    char dir[64];
    char db[128];
    struct md_store *s;
};

static int setup(void **state)
{
    struct fx *f = md_xcalloc(1, sizeof(*f));

    store_fx_make("fbstore", f->dir, f->db, &f->s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    store_fx_drop(f->dir, f->s);
    free(f);
    return 0;
}

/* The changes told, summed: per sign, and the last one. */
struct told {
    int plus;
    int minus;
    struct md_store_outcome last;
    char last_label[32];
    uint64_t counted; /* predictions counted by the upkeep */
    uint64_t pending;
    uint64_t orphaned;
};

static void on_outcome(void *ctx, const struct md_store_outcome *o)
{
    struct told *t = ctx;

    if (o->sign > 0)
        t->plus++;
    else
        t->minus++;
    t->last = *o;
    snprintf(t->last_label, sizeof(t->last_label), "%s", o->label != NULL ? o->label : "");
}

static void on_count(void *ctx, const char *model, int64_t version, const char *route, bool shadow,
                     int64_t minute_ms, uint64_t n)
{
    struct told *t = ctx;

    (void)model;
    (void)version;
    (void)route;
    (void)shadow;
    assert_int_equal(minute_ms % 60000, 0);
    t->counted += n;
}

static void on_totals(void *ctx, const char *model, uint64_t pending, uint64_t orphaned)
{
    struct told *t = ctx;

    (void)model;
    t->pending += pending;
    t->orphaned += orphaned;
}

/* ---- jobs */

struct add_job {
    struct md_store_prediction rows[4];
    size_t n;
};

static int run_rows(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct add_job *a = ctx;

    return md_store_tx_predictions_add(tx, a->rows, a->n, err);
}

static void add_row(struct fx *f, const char *rid, int64_t row, int64_t version, bool shadow,
                    const char *key, int64_t at_ms, const char *label, double score)
{
    static struct md_store_key k[1];
    struct add_job a;
    struct md_err err;

    memset(&a, 0, sizeof(a));
    k[0].name = "txn";
    k[0].value = key;
    a.rows[0] = (struct md_store_prediction){.request_id = rid,
                                             .row = row,
                                             .at_ms = at_ms,
                                             .model = "m",
                                             .version = version,
                                             .route = shadow ? "shadow" : "stable",
                                             .shadow = shadow,
                                             .status = 200,
                                             .key_list = key != NULL ? k : NULL,
                                             .n_keys = key != NULL ? 1 : 0,
                                             .label = label,
                                             .score = score};
    a.n = 1;
    assert_int_equal(md_store_call(f->s, run_rows, &a, &err), MD_OK);
}

struct fb_job {
    struct md_store_feedback fb;
    struct told *t;
    enum md_feedback_state state;
};

static int run_fb(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct fb_job *j = ctx;

    return md_store_tx_feedback_add(tx, &j->fb, on_outcome, j->t, &j->state, err);
}

static int add_fb(struct fx *f, struct fb_job *j, struct md_err *err)
{
    if (j->fb.model == NULL)
        j->fb.model = "m";
    if (j->fb.source == NULL)
        j->fb.source = "user";
    if (j->fb.kind == 0)
        j->fb.kind = MD_FEEDBACK_LABEL;
    return md_store_call(f->s, run_fb, j, err);
}

struct sweep_job {
    struct md_store_feedback_sweep s;
    struct told *t;
};

static int run_sweep(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct sweep_job *j = ctx;

    j->t->pending = 0;
    j->t->orphaned = 0;
    return md_store_tx_feedback_sweep(tx, &j->s, on_outcome, on_count, on_totals, j->t, err);
}

/* ---- tests */

static void test_by_id_row_and_key(void **state)
{
    struct fx *f = *state;
    struct told t = {0};
    struct fb_job j;
    struct md_err err;

    add_row(f, "r1", 0, 1, false, "T-1", 1000, "no", 0.2);
    add_row(f, "r1", 0, 2, true, NULL, 1000, "yes", 0.7); /* a shadow's answer */
    add_row(f, "r2", 0, 1, false, NULL, 2000, "no", 0.1);
    add_row(f, "r2", 1, 1, false, "T-2", 2000, "yes", 0.9);

    /* By id, row left out of a one-row request: both versions' rows told. */
    memset(&j, 0, sizeof(j));
    j.t = &t;
    j.fb.request_id = "r1";
    j.fb.row = -1;
    j.fb.label = "yes";
    assert_int_equal(add_fb(f, &j, &err), MD_OK);
    assert_int_equal(j.state, MD_FEEDBACK_ATTACHED);
    assert_int_equal(t.plus, 2);
    assert_int_equal(t.minus, 0);

    /* Row left out of a request of two rows; a row it lacks; another model's request. */
    j.fb.request_id = "r2";
    assert_int_equal(add_fb(f, &j, &err), MD_EINVAL);
    assert_string_equal(err.msg, "row: request 'r2' has 2 rows: say which one");
    j.fb.row = 5;
    assert_int_equal(add_fb(f, &j, &err), MD_EINVAL);
    assert_string_equal(err.msg, "row: request 'r2' has no row 5 (rows 0 to 1)");
    j.fb.row = 1;
    j.fb.model = "other";
    assert_int_equal(add_fb(f, &j, &err), MD_EINVAL);
    assert_string_equal(err.msg,
                        "request_id: request 'r2' is a prediction of model 'm', not 'other'");
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM feedback"), 1);

    /* By key: the row with that key. */
    memset(&j, 0, sizeof(j));
    j.t = &t;
    j.fb.key_name = "txn";
    j.fb.key_value = "T-2";
    j.fb.kind = MD_FEEDBACK_REWARD;
    j.fb.value = 2.5;
    assert_int_equal(add_fb(f, &j, &err), MD_OK);
    assert_int_equal(j.state, MD_FEEDBACK_ATTACHED);
    assert_int_equal(t.plus, 3);
    assert_true(t.last.kind == MD_FEEDBACK_REWARD && t.last.value == 2.5);
    assert_int_equal(t.last.at_ms, 2000);
    assert_int_equal(sql_int(f->db, "SELECT row FROM feedback WHERE key_value = 'T-2' AND "
                                    "request_id = 'r2'"),
                     1);

    /* No row named at all. */
    memset(&j, 0, sizeof(j));
    assert_int_equal(add_fb(f, &j, &err), MD_EINVAL);
    assert_string_equal(err.msg, "request_id: required (or a key)");
}

static void test_replace_keeps_history(void **state)
{
    struct fx *f = *state;
    struct told t = {0};
    struct fb_job j;
    struct md_err err;

    add_row(f, "r1", 0, 1, false, NULL, 1000, "no", 0.2);
    memset(&j, 0, sizeof(j));
    j.t = &t;
    j.fb.request_id = "r1";
    j.fb.label = "no";
    j.fb.at_ms = 5000;
    assert_int_equal(add_fb(f, &j, &err), MD_OK);
    j.fb.label = "yes";
    j.fb.at_ms = 6000;
    assert_int_equal(add_fb(f, &j, &err), MD_OK);
    assert_int_equal(t.plus, 2);
    assert_int_equal(t.minus, 1);
    assert_string_equal(t.last_label, "yes");
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM feedback"), 2);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM feedback WHERE current = 1 AND "
                                    "label = 'yes'"),
                     1);
    /* Another kind does not replace a label. */
    j.fb.kind = MD_FEEDBACK_RATING;
    j.fb.value = 4;
    assert_int_equal(add_fb(f, &j, &err), MD_OK);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM feedback WHERE current = 1"), 2);
    assert_int_equal(t.minus, 1);
}

static void test_pending_then_attached(void **state)
{
    struct fx *f = *state;
    struct told t = {0};
    struct fb_job j;
    struct sweep_job sw;
    struct md_err err;

    memset(&sw, 0, sizeof(sw));
    sw.t = &t;
    sw.s.after_id = -1;
    sw.s.horizon_ms = 60000;
    if (md_store_call(f->s, run_sweep, &sw, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(sw.s.after_id, 0);

    /* By id and by key, before their rows. */
    memset(&j, 0, sizeof(j));
    j.t = &t;
    j.fb.request_id = "r9";
    j.fb.row = -1;
    j.fb.label = "yes";
    assert_int_equal(add_fb(f, &j, &err), MD_OK);
    assert_int_equal(j.state, MD_FEEDBACK_PENDING);
    memset(&j, 0, sizeof(j));
    j.t = &t;
    j.fb.key_name = "txn";
    j.fb.key_value = "K";
    j.fb.label = "no";
    assert_int_equal(add_fb(f, &j, &err), MD_OK);
    j.fb.label = "yes"; /* replaces the one waiting for the same key */
    assert_int_equal(add_fb(f, &j, &err), MD_OK);
    assert_int_equal(j.state, MD_FEEDBACK_PENDING);
    assert_int_equal(t.plus, 0);
    sw.s.now_ms = 0;
    if (md_store_call(f->s, run_sweep, &sw, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(t.pending, 3);
    assert_int_equal(sw.s.attached, 0);

    add_row(f, "r9", 0, 1, false, NULL, 0, "no", 0.3);
    add_row(f, "r10", 0, 1, false, "K", 0, "no", 0.3);
    sw.s.now_ms = 0;
    if (md_store_call(f->s, run_sweep, &sw, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(t.counted, 2);
    assert_int_equal(sw.s.attached, 3);
    assert_int_equal(t.plus, 2); /* the replaced one attached as history */
    assert_int_equal(t.pending, 0);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM feedback WHERE request_id = 'r10' "
                                    "AND current = 1 AND label = 'yes'"),
                     1);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM feedback WHERE state = 'attached'"), 3);

    /* Many waiting, a few looked at a round: each gets its turn. */
    for (int i = 0; i < 5; i++) {
        char rid[16];

        snprintf(rid, sizeof(rid), "w%d", i);
        memset(&j, 0, sizeof(j));
        j.t = &t;
        j.fb.request_id = rid;
        j.fb.label = "yes";
        assert_int_equal(add_fb(f, &j, &err), MD_OK);
    }
    add_row(f, "w4", 0, 1, false, NULL, 0, "no", 0.3);
    sw.s.max_items = 2;
    sw.s.now_ms = 0;
    if (md_store_call(f->s, run_sweep, &sw, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(sw.s.attached, 0); /* w0, w1 */
    sw.s.now_ms = 0;
    if (md_store_call(f->s, run_sweep, &sw, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(sw.s.attached, 0); /* w2, w3 */
    sw.s.now_ms = 0;
    if (md_store_call(f->s, run_sweep, &sw, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(sw.s.attached, 1); /* w4 */
    assert_int_equal(sw.s.pending_after, 0);
    sw.s.max_items = 0;

    /* Orphaned past the horizon. */
    memset(&j, 0, sizeof(j));
    j.t = &t;
    j.fb.request_id = "never";
    j.fb.label = "yes";
    j.fb.at_ms = 1000;
    assert_int_equal(add_fb(f, &j, &err), MD_OK);
    sw.s.now_ms = 0;
    if (md_store_call(f->s, run_sweep, &sw, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(sw.s.orphaned, 1);
    assert_int_equal(t.orphaned, 1);
    assert_int_equal(t.counted, 3); /* and w4 */
}

struct window {
    int n;
    int64_t first_id;
    double value_sum;
    int labels;
    uint64_t total;
    int stop_after;
};

static bool on_row(void *ctx, const struct md_store_labelled *r)
{
    struct window *w = ctx;

    if (w->n == 0)
        w->first_id = r->id;
    w->n++;
    if (r->label != NULL)
        w->labels++;
    if (!isnan(r->reward))
        w->value_sum += r->reward;
    return w->stop_after == 0 || w->n < w->stop_after;
}

static void on_total(void *ctx, int64_t version, const char *route, bool shadow, uint64_t n)
{
    struct window *w = ctx;

    (void)version;
    (void)route;
    (void)shadow;
    w->total += n;
}

struct rows_job {
    struct md_store_quality_filter q;
    struct window w;
};

static int run_window(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct rows_job *j = ctx;

    return md_store_tx_feedback_rows(tx, &j->q, on_row, on_total, &j->w, err);
}

static void test_window_rows(void **state)
{
    struct fx *f = *state;
    struct told t = {0};
    struct fb_job j;
    struct rows_job rj;
    struct md_err err;
    char rid[16];

    for (int i = 0; i < 10; i++) {
        snprintf(rid, sizeof(rid), "q%d", i);
        add_row(f, rid, 0, 1, false, NULL, 1000 + i * 1000, "no", 0.1 * i);
        if (i % 2 == 0) {
            memset(&j, 0, sizeof(j));
            j.t = &t;
            j.fb.request_id = rid;
            j.fb.label = "yes";
            assert_int_equal(add_fb(f, &j, &err), MD_OK);
            j.fb.kind = MD_FEEDBACK_REWARD;
            j.fb.value = 1;
            assert_int_equal(add_fb(f, &j, &err), MD_OK);
        }
    }
    memset(&rj, 0, sizeof(rj));
    rj.q.model = "m";
    assert_int_equal(md_store_call(f->s, run_window, &rj, &err), MD_OK);
    assert_int_equal(rj.w.n, 5); /* one line per row, both kinds on it */
    assert_int_equal(rj.w.labels, 5);
    assert_true(rj.w.value_sum == 5);
    assert_int_equal(rj.w.total, 10);

    /* The last 2 labelled: rows q8 and q6; the total from q6's time on. */
    memset(&rj.w, 0, sizeof(rj.w));
    rj.w.stop_after = 2;
    assert_int_equal(md_store_call(f->s, run_window, &rj, &err), MD_OK);
    assert_int_equal(rj.w.n, 2);
    assert_int_equal(rj.w.total, 4);

    /* By time. */
    memset(&rj.w, 0, sizeof(rj.w));
    rj.q.since_ms = 5000;
    rj.q.until_ms = 9000;
    assert_int_equal(md_store_call(f->s, run_window, &rj, &err), MD_OK);
    assert_int_equal(rj.w.n, 2); /* q4 (5000), q6 (7000) */
    assert_int_equal(rj.w.total, 4);
    rj.q.model = "";
    assert_int_equal(md_store_call(f->s, run_window, &rj, &err), MD_EINVAL);
}

/* The first round starts from since_ms: the rows made since are counted, a
 * round of max_rows at a time, and their current outcomes told. */
static void test_first_round_from_since(void **state)
{
    struct fx *f = *state;
    struct told t = {0};
    struct fb_job j;
    struct sweep_job sw;
    struct md_err err;
    char rid[16];

    for (int i = 0; i < 10; i++) {
        snprintf(rid, sizeof(rid), "s%d", i);
        add_row(f, rid, 0, 1, false, NULL, 1000 + i * 1000, "no", 0.5);
        memset(&j, 0, sizeof(j));
        j.t = &t;
        j.fb.request_id = rid;
        j.fb.label = "yes";
        assert_int_equal(add_fb(f, &j, &err), MD_OK);
    }
    memset(&t, 0, sizeof(t));
    memset(&sw, 0, sizeof(sw));
    sw.t = &t;
    sw.s.after_id = -1;
    sw.s.since_ms = 6500; /* rows s6 .. s9 */
    sw.s.horizon_ms = 60000;
    sw.s.max_rows = 3;
    if (md_store_call(f->s, run_sweep, &sw, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(t.plus, 4);
    assert_int_equal(t.counted, 3);
    if (md_store_call(f->s, run_sweep, &sw, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(t.counted, 4);
    assert_int_equal(t.plus, 4); /* told once, in the first round */
    assert_int_equal(sw.s.after_id, 10);
    /* A gap in the ids (rows removed) is passed over. */
    sql_exec(f->db, "DELETE FROM predictions WHERE id BETWEEN 2 AND 9");
    add_row(f, "late", 0, 1, false, NULL, 20000, "no", 0.5); /* id 11 */
    sw.s.after_id = 1;
    for (int i = 0; i < 4; i++)
        if (md_store_call(f->s, run_sweep, &sw, &err) != MD_OK)
            fail_msg("%s", err.msg);
    assert_int_equal(sw.s.after_id, 11);
    assert_int_equal(t.counted, 6); /* 10 again, and 11 */
    /* Every row removed: ids start again from 1, and are counted. */
    sql_exec(f->db, "DELETE FROM predictions");
    add_row(f, "anew", 0, 1, false, NULL, 30000, "no", 0.5);
    if (md_store_call(f->s, run_sweep, &sw, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(t.counted, 7);
    assert_int_equal(sw.s.after_id, 1);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(md_feedback_kind_name(MD_FEEDBACK_RATING), "rating");
    assert_int_equal(md_feedback_kind_parse("value"), MD_FEEDBACK_VALUE);
    assert_int_equal(md_feedback_kind_parse("nope"), 0);
    assert_int_equal(md_feedback_kind_parse(NULL), 0);
    assert_string_equal(md_feedback_kind_name(0), "?");
    assert_string_equal(md_feedback_state_name(MD_FEEDBACK_ORPHANED), "orphaned");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_by_id_row_and_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_keeps_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_then_attached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_round_from_since, setup, teardown),
    };

    md_log_set_level(MD_LOG_OFF);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
