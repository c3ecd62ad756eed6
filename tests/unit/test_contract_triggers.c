/* SPDX-License-Identifier: MIT */
/*
 * test_contract_triggers.c: model.yaml's `triggers:` section
 * (serve/contract_triggers.c): every key read, the defaults filled in with
 * or without the section, and each bad setting refused naming its key path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "serve/contract.h"
#include "util/buf.h"

static const char binary_head[] = "backend: trees\n"
                                  "task: classification\n"
                                  "labels: [legit, fraud]\n"
                                  "features:\n"
                                  "  - {name: x, datatype: FP32}\n"
                                  "training: {min_rows: 50}\n";
static const char untrained_head[] = "backend: trees\n"
                                     "task: classification\n"
                                     "labels: [legit, fraud]\n"
                                     "features:\n"
                                     "  - {name: x, datatype: FP32}\n";
static const char multi_head[] = "backend: trees\n"
                                 "task: classification\n"
                                 "labels: [a, b, c]\n"
                                 "features:\n"
                                 "  - {name: x, datatype: FP32}\n"
                                 "training: {min_rows: 50}\n";
static const char regression_head[] = "backend: trees\n"
                                      "task: regression\n"
                                      "features:\n"
                                      "  - {name: x, datatype: FP32}\n"
                                      "training: {min_rows: 50}\n";

static int parse(const char *head, const char *tail, struct md_contract **c, struct md_err *err)
{
    char text[2048];

    (void)snprintf(text, sizeof(text), "%s%s", head, tail);
    md_err_clear(err);
    return md_contract_parse(text, strlen(text), "m", c, err);
}

static struct md_contract *parse_ok(const char *head, const char *tail)
{
    struct md_contract *c = NULL;
    struct md_err err;

    if (parse(head, tail, &c, &err) != MD_OK)
        fail_msg("refused: %s\n%s", err.msg, tail);
    return c;
}

static void test_absent_defaults(void **state)
{
    struct md_contract *c = parse_ok(untrained_head, "");
    const struct md_trigger_config *t = &c->triggers;

    (void)state;
    assert_false(t->present);
    assert_int_equal(t->every_s, 0);
    assert_null(t->cron);
    assert_false(t->drift);
    assert_null(t->quality_metric);
    assert_true(isnan(t->quality_below) && isnan(t->quality_above));
    assert_int_equal(t->quality_window_s, 3600);
    assert_int_equal(t->quality_min_samples, 200);
    assert_int_equal(t->new_labels, 0);
    assert_int_equal(t->cooldown_s, 3600);
    md_contract_free(c);
}

static void test_every_key(void **state)
{
    struct md_contract *c = parse_ok(binary_head, "triggers:\n"
                                                  "  schedule: {every: 7d}\n"
                                                  "  drift: true\n"
                                                  "  quality: {metric: roc_auc, below: 0.8, "
                                                  "window: 30m, min_samples: 50}\n"
                                                  "  new_labels: 500\n"
                                                  "  cooldown: 90s\n");
    const struct md_trigger_config *t = &c->triggers;

    (void)state;
    assert_true(t->present);
    assert_int_equal(t->every_s, 7 * 86400);
    assert_null(t->cron);
    assert_true(t->drift);
    assert_string_equal(t->quality_metric, "roc_auc");
    assert_true(t->quality_below == 0.8);
    assert_true(isnan(t->quality_above));
    assert_int_equal(t->quality_window_s, 1800);
    assert_int_equal(t->quality_min_samples, 50);
    assert_int_equal(t->new_labels, 500);
    assert_int_equal(t->cooldown_s, 90);
    md_contract_free(c);

    c = parse_ok(binary_head, "triggers:\n"
                              "  schedule: {cron: \"0 3 * * mon\"}\n"
                              "  quality: {metric: log_loss, above: 0.4}\n"
                              "  cooldown: 0\n");
    t = &c->triggers;
    assert_string_equal(t->cron, "0 3 * * mon");
    assert_int_equal(t->every_s, 0);
    assert_int_equal(t->cron_expr.hours, 1u << 3);
    assert_int_equal(t->cron_expr.wdays, 1u << 1);
    assert_true(t->quality_above == 0.4);
    assert_true(isnan(t->quality_below));
    assert_int_equal(t->cooldown_s, 0);
    assert_int_equal(t->quality_window_s, 3600);
    md_contract_free(c);

    c = parse_ok(multi_head, "triggers: {quality: {metric: \"f1:b\", below: 0.5}, "
                             "schedule: {every: 3600}}\n");
    assert_string_equal(c->triggers.quality_metric, "f1:b");
    assert_int_equal(c->triggers.every_s, 3600);
    md_contract_free(c);
    c = parse_ok(regression_head, "triggers: {quality: {metric: rmse, above: 2.5}}\n");
    assert_string_equal(c->triggers.quality_metric, "rmse");
    md_contract_free(c);
    c = parse_ok(regression_head, "triggers: {quality: {metric: r2, below: 0.3}}\n");
    md_contract_free(c);
}

static void test_refusals(void **state)
{
    static const struct {
        const char *head;
        const char *tail;
        const char *words;
    } bad[] = {
        {binary_head, "triggers: {}\n", "triggers: names no trigger"},
        {untrained_head, "triggers: {drift: true}\n", "triggers: needs a training: section"},
        {binary_head, "triggers: [1]\n", "triggers"},
        {binary_head, "triggers: {when: now}\n", "when"},
        {binary_head, "triggers: {schedule: {}}\n", "triggers.schedule: give one of every"},
        {binary_head, "triggers: {schedule: {every: 1d, cron: '@daily'}}\n",
         "triggers.schedule: give one of every"},
        {binary_head, "triggers: {schedule: {every: soon}}\n",
         "triggers.schedule.every: 'soon' is not a duration"},
        {binary_head, "triggers: {schedule: {every: 500ms}}\n",
         "triggers.schedule.every: 500 ms is not a whole number of seconds"},
        {binary_head, "triggers: {schedule: {every: 0}}\n", "triggers.schedule.every"},
        {binary_head, "triggers: {schedule: {every: 400d}}\n",
         "triggers.schedule.every: '400d' is longer than 366 days"},
        {binary_head, "triggers: {schedule: {cron: '0 3 * *'}}\n",
         "triggers.schedule.cron: 4 fields, not five"},
        {binary_head, "triggers: {schedule: {cron: '0 25 * * *'}}\n",
         "triggers.schedule.cron: hour: 25 is not between 0 and 23"},
        {binary_head, "triggers: {schedule: {cron: '0 0 31 feb *'}}\n",
         "triggers.schedule.cron: day of month: no day"},
        {binary_head, "triggers: {drift: yes please}\n", "triggers.drift"},
        {binary_head, "triggers: {quality: {below: 0.8}}\n", "triggers.quality.metric: missing"},
        {binary_head, "triggers: {quality: {metric: speed, below: 0.8}}\n",
         "triggers.quality.metric: 'speed' is not a quality metric"},
        {binary_head, "triggers: {quality: {metric: rmse, above: 1}}\n",
         "triggers.quality.metric: rmse needs a regression model"},
        {multi_head, "triggers: {quality: {metric: roc_auc, below: 0.8}}\n",
         "triggers.quality.metric: roc_auc needs a binary classification model"},
        {regression_head, "triggers: {quality: {metric: accuracy, below: 0.8}}\n",
         "triggers.quality.metric: accuracy needs a classification model"},
        {binary_head, "triggers: {quality: {metric: recall, below: 0.8}}\n",
         "triggers.quality.metric: recall needs a class: recall:<label>"},
        {binary_head, "triggers: {quality: {metric: 'recall:spam', below: 0.8}}\n",
         "triggers.quality.metric: 'spam' is not one of the model's labels"},
        {binary_head, "triggers: {quality: {metric: 'roc_auc:fraud', below: 0.8}}\n",
         "triggers.quality.metric: roc_auc takes no argument"},
        {binary_head, "triggers: {quality: {metric: roc_auc}}\n",
         "triggers.quality: give one of below"},
        {binary_head, "triggers: {quality: {metric: roc_auc, below: 0.8, above: 0.9}}\n",
         "triggers.quality: give one of below"},
        {binary_head, "triggers: {quality: {metric: roc_auc, above: 0.8}}\n",
         "triggers.quality.above: roc_auc is higher when better: say below: instead"},
        {binary_head, "triggers: {quality: {metric: log_loss, below: 0.8}}\n",
         "triggers.quality.below: log_loss is lower when better: say above: instead"},
        {binary_head, "triggers: {quality: {metric: roc_auc, below: high}}\n",
         "triggers.quality.below"},
        {binary_head, "triggers: {quality: {metric: roc_auc, below: 0.8, window: 0}}\n",
         "triggers.quality.window: shorter than 1s"},
        {binary_head, "triggers: {quality: {metric: roc_auc, below: 0.8, window: 60d}}\n",
         "triggers.quality.window: '60d' is longer than 30 days"},
        {binary_head, "triggers: {quality: {metric: roc_auc, below: 0.8, min_samples: 0}}\n",
         "triggers.quality.min_samples: 0 is below 1"},
        {binary_head, "triggers: {quality: {metric: roc_auc, below: 0.8, speed: 1}}\n", "speed"},
        {binary_head, "triggers: {new_labels: 0}\n",
         "triggers.new_labels: 0 is not between 1 and 1000000000"},
        {binary_head, "triggers: {new_labels: many}\n", "triggers.new_labels"},
        {binary_head, "triggers: {new_labels: 10, cooldown: forever}\n",
         "triggers.cooldown: 'forever' is not a duration"},
    };

    (void)state;
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        struct md_contract *c = NULL;
        struct md_err err;
        int rc = parse(bad[i].head, bad[i].tail, &c, &err);

        if (rc != MD_EINVAL || strstr(err.msg, bad[i].words) == NULL)
            fail_msg("%s: got %d '%s', expected '%s'", bad[i].tail, rc, err.msg, bad[i].words);
        assert_null(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
