/* SPDX-License-Identifier: MIT */
/*
 * test_triggers.c: the judgement of a model's triggers (control/triggers.c)
 * on made-up measurements: a schedule (interval or cron) comes due from the
 * last run or the start of watching, drift fires on a verdict only,
 * quality past its threshold with enough samples, labels at N, the order
 * among several due, a run queued or running and the cooldown hold a due
 * trigger (the cooldown counted from the last run asked for, or seen to
 * end when later), and what each says it measured.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "control/triggers.h"

#include <stdlib.h>

static struct md_trigger_config config(void)
{
    struct md_trigger_config t;

    memset(&t, 0, sizeof(t));
    t.present = true;
    t.quality_below = NAN;
    t.quality_above = NAN;
    t.quality_window_s = 3600;
    t.quality_min_samples = 200;
    t.cooldown_s = 3600;
    return t;
}

static struct md_trigger_obs nothing(int64_t now_ms)
{
    struct md_trigger_obs o;

    memset(&o, 0, sizeof(o));
    o.now_ms = now_ms;
    o.watched_ms = 1000;
    o.drift_features = NAN;
    o.quality = NAN;
    o.labels = -1;
    return o;
}

static void test_nothing_due(void **state)
{
    struct md_trigger_config t = config();
    struct md_trigger_obs o = nothing(1000000);
    struct md_trigger_decision d;

    (void)state;
    t.drift = true;
    t.new_labels = 10;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, 0);
    assert_false(d.fire);
    assert_null(d.held);
    assert_int_equal(d.schedule_due_ms, 0);
    assert_string_equal(d.details, "{}");
}

static void test_every(void **state)
{
    struct md_trigger_config t = config();
    struct md_trigger_obs o = nothing(2999);
    struct md_trigger_decision d;

    (void)state;
    t.every_s = 2;
    t.cooldown_s = 1;
    /* Never trained: from the start of watching. */
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, 0);
    assert_int_equal(d.schedule_due_ms, 3000);
    o.now_ms = 3000;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, MD_TRIGGER_SCHEDULE);
    assert_true(d.fire);
    assert_string_equal(d.details, "{\"every_s\":2,\"due_ms\":3000}");
    /* From the last run asked for, whatever asked for it. */
    o.last_ms = 2500;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, 0);
    assert_int_equal(d.schedule_due_ms, 4500);
    assert_int_equal(d.cooldown_until_ms, 3500);
    o.now_ms = 4500;
    md_triggers_decide(&t, &o, &d);
    assert_true(d.fire);
}

static void test_cron(void **state)
{
    struct md_trigger_config t = config();
    struct md_trigger_obs o = nothing(0);
    struct md_trigger_decision d;
    struct md_err err;

    (void)state;
    t.cron = "0 3 * * *";
    assert_int_equal(md_cron_parse(t.cron, &t.cron_expr, &err), MD_OK);
    o.watched_ms = 1796648720000; /* 2026-12-07T13:05:20Z */
    o.now_ms = o.watched_ms + 1000;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, 0);
    assert_int_equal(d.schedule_due_ms, 1796698800000); /* 2026-12-08T03:00Z */
    o.now_ms = 1796698800000;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, MD_TRIGGER_SCHEDULE);
    assert_true(d.fire);
    assert_string_equal(d.details, "{\"cron\":\"0 3 * * *\",\"due_ms\":1796698800000}");
    /* Asked for at 03:00:00.4: the next one is tomorrow's. */
    o.last_ms = 1796698800400;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, 0);
    assert_int_equal(d.schedule_due_ms, 1796698800000 + 86400000);
}

static void test_drift(void **state)
{
    struct md_trigger_config t = config();
    struct md_trigger_obs o = nothing(50000);
    struct md_trigger_decision d;

    (void)state;
    t.drift = true;
    o.drift_rows = 150;
    md_triggers_decide(&t, &o, &d); /* no verdict: too few rows */
    assert_int_equal(d.kind, 0);
    o.drift_features = 0;
    o.drift_rows = 2000;
    md_triggers_decide(&t, &o, &d); /* verdict "ok" */
    assert_int_equal(d.kind, 0);
    o.drift_features = 2;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, MD_TRIGGER_DRIFT);
    assert_true(d.fire);
    assert_string_equal(d.details, "{\"drift_features\":2,\"rows\":2000}");
    t.drift = false; /* measured but not a trigger of the model */
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, 0);
}

static void test_quality(void **state)
{
    struct md_trigger_config t = config();
    struct md_trigger_obs o = nothing(50000);
    struct md_trigger_decision d;

    (void)state;
    t.quality_metric = "roc_auc";
    t.quality_below = 0.8;
    t.quality_window_s = 600;
    o.quality = 0.7;
    o.quality_samples = 199; /* below min_samples */
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, 0);
    o.quality_samples = 200;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, MD_TRIGGER_QUALITY);
    assert_true(d.fire);
    assert_string_equal(d.details, "{\"metric\":\"roc_auc\",\"value\":0.7,\"below\":0.8,"
                                   "\"samples\":200,\"window_s\":600}");
    o.quality = 0.8; /* at the threshold: not below */
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, 0);
    o.quality = NAN;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, 0);
    /* An error metric: above. */
    t.quality_metric = "rmse";
    t.quality_below = NAN;
    t.quality_above = 2.5;
    o.quality = 2.5;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, 0);
    o.quality = 3;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, MD_TRIGGER_QUALITY);
    assert_non_null(strstr(d.details, "\"above\":2.5"));
}

static void test_labels(void **state)
{
    struct md_trigger_config t = config();
    struct md_trigger_obs o = nothing(50000);
    struct md_trigger_decision d;

    (void)state;
    t.new_labels = 50;
    md_triggers_decide(&t, &o, &d); /* not counted yet */
    assert_int_equal(d.kind, 0);
    o.labels = 49;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, 0);
    o.labels = 50;
    o.last_ms = 7000;
    o.now_ms = 7000 + 3600 * 1000;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, MD_TRIGGER_LABELS);
    assert_true(d.fire);
    assert_string_equal(d.details, "{\"labels\":50,\"new_labels\":50,\"since_ms\":7000}");
}

static void test_order_and_holds(void **state)
{
    struct md_trigger_config t = config();
    struct md_trigger_obs o = nothing(100000);
    struct md_trigger_decision d;

    (void)state;
    t.every_s = 1;
    t.drift = true;
    t.quality_metric = "accuracy";
    t.quality_below = 0.9;
    t.new_labels = 1;
    t.cooldown_s = 60;
    o.labels = 5;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, MD_TRIGGER_LABELS);
    o.quality = 0.5;
    o.quality_samples = 1000;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, MD_TRIGGER_QUALITY);
    o.drift_features = 1;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, MD_TRIGGER_DRIFT);
    assert_true(d.fire);
    /* A run queued or running holds every trigger. */
    o.busy = true;
    md_triggers_decide(&t, &o, &d);
    assert_int_equal(d.kind, MD_TRIGGER_DRIFT);
    assert_false(d.fire);
    assert_string_equal(d.held, "busy");
    /* The cooldown, from the last run asked for. */
    o.busy = false;
    o.last_ms = 50000;
    o.now_ms = 109999;
    md_triggers_decide(&t, &o, &d);
    assert_false(d.fire);
    assert_string_equal(d.held, "cooldown");
    assert_int_equal(d.cooldown_until_ms, 110000);
    o.now_ms = 110000;
    md_triggers_decide(&t, &o, &d);
    assert_true(d.fire);
    assert_null(d.held);
    /* A run seen to end later than it was asked for: the cooldown from its end. */
    o.ended_ms = 90000;
    md_triggers_decide(&t, &o, &d);
    assert_false(d.fire);
    assert_string_equal(d.held, "cooldown");
    assert_int_equal(d.cooldown_until_ms, 150000);
    o.now_ms = 150000;
    md_triggers_decide(&t, &o, &d);
    assert_true(d.fire);
    o.ended_ms = 0;
    /* No cooldown at all. */
    t.cooldown_s = 0;
    o.now_ms = 50001;
    md_triggers_decide(&t, &o, &d);
    assert_true(d.fire);
    assert_int_equal(d.cooldown_until_ms, 0);
}

/* ---- the store's count of labels ---- */

struct fb_job {
    const char *model;
    const char *kind;
    int64_t at_ms;
};

static int add_items(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    const struct fb_job *j = ctx;

    for (; j->model != NULL; j++) {
        struct md_store_feedback f;
        enum md_feedback_state st;
        char rid[32];
        int rc;

        memset(&f, 0, sizeof(f));
        (void)snprintf(rid, sizeof(rid), "r%lld", (long long)j->at_ms);
        f.model = j->model;
        f.request_id = rid;
        f.row = 0;
        f.kind = md_feedback_kind_parse(j->kind);
        f.label = "fraud";
        f.value = 1;
        f.source = "user";
        f.at_ms = j->at_ms;
        rc = md_store_tx_feedback_add(tx, &f, NULL, NULL, &st, err);
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

struct count {
    const char *model;
    int64_t since_ms, after_id, upto_id;
    uint64_t n;
};

static int run_count(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct count *c = ctx;

    return md_store_tx_labels_since(tx, c->model, c->since_ms, c->after_id, &c->upto_id, &c->n,
                                    err);
}

static void test_store_count(void **state)
{
    static const struct fb_job first[] = {
        {"m", "label", 1000},  {"m", "label", 2000},     {"m", "value", 3000},
        {"m", "reward", 3500}, {"other", "label", 4000}, {"m", "rating", 4500},
        {"m", "label", 5000},  {NULL, NULL, 0},
    };
    static const struct fb_job second[] = {
        {"m", "label", 6000}, {"other", "label", 7000}, {NULL, NULL, 0}};
    char dir[64];
    char cmd[96];
    struct md_store *s;
    struct md_err err;
    struct count c = {"m", 0, 0, 0, 0};

    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/md-triggers-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(md_store_open(dir, &s, &err), MD_OK);
    /* No feedback at all. */
    assert_int_equal(md_store_call(s, run_count, &c, &err), MD_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(c.upto_id, 0);
    assert_int_equal(md_store_call(s, add_items, (void *)first, &err), MD_OK);
    /* Labels and values of m only, from since_ms on. */
    assert_int_equal(md_store_call(s, run_count, &c, &err), MD_OK);
    assert_int_equal(c.n, 4);
    assert_int_equal(c.upto_id, 7);
    c.since_ms = 2000;
    assert_int_equal(md_store_call(s, run_count, &c, &err), MD_OK);
    assert_int_equal(c.n, 3);
    /* Then only the items that came since the last count. */
    c.after_id = c.upto_id;
    assert_int_equal(md_store_call(s, run_count, &c, &err), MD_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(c.upto_id, 7);
    assert_int_equal(md_store_call(s, add_items, (void *)second, &err), MD_OK);
    assert_int_equal(md_store_call(s, run_count, &c, &err), MD_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.upto_id, 9);
    md_store_close(s);
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_due),
        cmocka_unit_test(test_every),
        cmocka_unit_test(test_cron),
        cmocka_unit_test(test_drift),
        cmocka_unit_test(test_quality),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_order_and_holds),
        cmocka_unit_test(test_store_count),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
