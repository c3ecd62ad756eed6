/* SPDX-License-Identifier: MIT */
/*
 * test_alerts.c: alert rules (watch/alert_rule.c: durations, reading every
 * field, errors naming the field, writing back), the evaluator's state
 * machine (watch/alerts.c) with a fake clock and a fake signal provider,
 * the notifier (watch/notify.c: Alertmanager's body, retries against a
 * port where nothing listens, the full queue), and the store's alert
 * tables (store/sqlite_alerts.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "store/store.h"
#include "util/buf.h"
#include "util/log.h"
#include "watch/alert_rule.h"
#include "watch/alerts.h"
#include "watch/notify.h"
#include "watch/signals.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- a fake signal provider ------------------------------------------------- */

struct fake {
    double value;
    uint64_t samples;
    int rc; /* MD_OK, or the error it answers */
    int calls;
    int64_t last_now_ms;
    int64_t last_window_ms;
};

static int fake_value(void *ctx, const struct md_signal_query *q, struct md_signal_value *out,
                      struct md_err *err)
{
    struct fake *f = ctx;

    f->calls++;
    f->last_now_ms = q->now_ms;
    f->last_window_ms = q->window_ms;
    if (f->rc != MD_OK)
        return md_err_set(err, f->rc, "unknown model '%s'", q->model);
    out->value = f->value;
    out->samples = f->samples;
    return MD_OK;
}

static struct md_signals *fake_signals(struct fake *f)
{
    static const struct md_signal_info info = {"error_rate", "ratio", NULL, "test"};
    static const struct md_signal_info arg = {"missing_rate", "ratio", "feature", "test"};
    struct md_signals *s = md_signals_new();
    struct md_err err;

    assert_int_equal(md_signals_add(s, &info, fake_value, f, &err), MD_OK);
    assert_int_equal(md_signals_add(s, &arg, fake_value, f, &err), MD_OK);
    return s;
}

static struct md_alert_rule *rule_of(const char *name, const char *json, const struct md_signals *s)
{
    struct md_alert_rule *r = NULL;
    struct md_err err;
    int rc = md_alert_rule_parse(name, json, strlen(json), s, &r, &err);

    if (rc != MD_OK)
        fail_msg("%s", err.msg);
    return r;
}

/* The error of parsing json: its code, the message in err. */
static int parse_err(const char *json, const struct md_signals *s, struct md_err *err)
{
    struct md_alert_rule *r = NULL;
    int rc = md_alert_rule_parse("r", json, strlen(json), s, &r, err);

    assert_null(r);
    return rc;
}

/* ---- rules -------------------------------------------------------------------- */

static void test_durations(void **state)
{
    struct md_err err;
    int64_t ms;
    char buf[32];

    (void)state;
    assert_int_equal(md_alert_duration_parse("90", "for", MD_ALERT_WINDOW_MAX_MS, &ms, &err),
                     MD_OK);
    assert_int_equal(ms, 90000);
    assert_int_equal(md_alert_duration_parse("1h30m", "w", MD_ALERT_WINDOW_MAX_MS, &ms, &err),
                     MD_OK);
    assert_int_equal(ms, 5400000);
    assert_int_equal(md_alert_duration_parse("250ms", "w", MD_ALERT_WINDOW_MAX_MS, &ms, &err),
                     MD_OK);
    assert_int_equal(ms, 250);
    assert_int_equal(md_alert_duration_parse("2d", "w", MD_ALERT_WINDOW_MAX_MS, &ms, &err), MD_OK);
    assert_int_equal(ms, 172800000);
    assert_int_equal(md_alert_duration_parse("5 m", "window", MD_ALERT_WINDOW_MAX_MS, &ms, &err),
                     MD_EINVAL);
    assert_non_null(strstr(err.msg, "window: '5 m' is not a duration"));
    assert_int_equal(md_alert_duration_parse("m", "w", MD_ALERT_WINDOW_MAX_MS, &ms, &err),
                     MD_EINVAL);
    assert_int_equal(md_alert_duration_parse("", "w", MD_ALERT_WINDOW_MAX_MS, &ms, &err),
                     MD_EINVAL);
    assert_int_equal(md_alert_duration_parse("32d", "w", MD_ALERT_WINDOW_MAX_MS, &ms, &err),
                     MD_EINVAL);
    assert_non_null(strstr(err.msg, "longer than 31 days"));
    assert_int_equal(
        md_alert_duration_parse("99999999999999999999s", "w", MD_ALERT_WINDOW_MAX_MS, &ms, &err),
        MD_EINVAL);
    md_alert_duration_format(5400000, buf, sizeof(buf));
    assert_string_equal(buf, "1h30m");
    md_alert_duration_format(1500, buf, sizeof(buf));
    assert_string_equal(buf, "1s500ms");
    md_alert_duration_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "0s");
}

static void test_rule_fields(void **state)
{
    struct fake f = {0.5, 10, MD_OK, 0, 0, 0};
    struct md_signals *s = fake_signals(&f);
    struct md_alert_rule *r = rule_of(
        "fraud_errors",
        "{\"metric\":\"error_rate\",\"model\":\"fraud\",\"version\":3,\"route\":\"canary\","
        "\"op\":\">=\",\"threshold\":0.05,\"window\":\"5m\",\"for\":30,\"interval\":\"10s\","
        "\"min_samples\":20,\"severity\":\"critical\",\"labels\":{\"team\":\"risk\",\"a\":\"1\"},"
        "\"annotations\":{\"summary\":\"too many errors\"},\"receivers\":[\"ops\"]}",
        s);
    struct md_alert_rule *back;
    struct md_buf b;

    (void)state;
    assert_string_equal(r->metric, "error_rate");
    assert_int_equal(r->version, 3);
    assert_string_equal(r->route, "canary");
    assert_int_equal(r->op, MD_ALERT_GE);
    assert_true(r->threshold == 0.05);
    assert_int_equal(r->window_ms, 300000);
    assert_int_equal(r->for_ms, 30000);
    assert_int_equal(r->interval_ms, 10000);
    assert_int_equal(r->min_samples, 20);
    assert_int_equal(r->severity, MD_ALERT_CRITICAL);
    assert_int_equal(r->n_labels, 2);
    assert_string_equal(r->labels[0].name, "a"); /* sorted */
    assert_int_equal(r->n_receivers, 1);
    md_buf_init(&b, 1 << 20);
    assert_int_equal(md_alert_rule_format(r, &b), MD_OK);
    assert_int_equal(md_buf_putc(&b, '\0'), MD_OK);
    assert_non_null(strstr(b.data, "\"window\":\"5m\",\"for\":\"30s\",\"interval\":\"10s\""));
    /* What is written reads back the same. */
    back = rule_of("fraud_errors", b.data, s);
    {
        struct md_buf b2;

        md_buf_init(&b2, 1 << 20);
        assert_int_equal(md_alert_rule_format(back, &b2), MD_OK);
        assert_int_equal(md_buf_putc(&b2, '\0'), MD_OK);
        assert_string_equal(b.data, b2.data);
        md_buf_release(&b2);
    }
    md_alert_rule_free(back);
    md_buf_release(&b);
    md_alert_rule_free(r);

    /* Defaults. */
    r = rule_of("d",
                "{\"metric\":\"missing_rate:age\",\"model\":\"m\",\"op\":\"<\","
                "\"threshold\":1,\"window\":60}",
                s);
    assert_int_equal(r->for_ms, 0);
    assert_int_equal(r->interval_ms, 1000);
    assert_int_equal(r->min_samples, 1);
    assert_int_equal(r->severity, MD_ALERT_WARNING);
    assert_int_equal(r->version, 0);
    assert_string_equal(r->route, "");
    md_alert_rule_free(r);
    md_signals_free(s);
}

static void test_rule_errors(void **state)
{
    struct fake f = {0.5, 10, MD_OK, 0, 0, 0};
    struct md_signals *s = fake_signals(&f);
    static const struct {
        const char *json;
        const char *msg;
    } cases[] = {
        {"{\"model\":\"m\",\"op\":\">\",\"threshold\":1,\"window\":1}", "metric: required"},
        {"{\"metric\":\"latency\",\"model\":\"m\",\"op\":\">\",\"threshold\":1,\"window\":1}",
         "metric: unknown metric 'latency'"},
        {"{\"metric\":\"missing_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":1,\"window\":1}",
         "metric: "},
        {"{\"metric\":\"error_rate\",\"op\":\">\",\"threshold\":1,\"window\":1}",
         "model: required"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\"=>\",\"threshold\":1,\"window\":1}",
         "op: '=>' is not a comparison"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":5,\"threshold\":1,\"window\":1}",
         "op: not a string is not a comparison"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"window\":1}",
         "threshold: required"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":\"x\",\"window\":"
         "1}",
         "threshold: must be a finite number"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":1}",
         "window: required"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":1,\"window\":-1}",
         "window: must not be negative"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":1,\"window\":\"-"
         "1m\"}",
         "window: must not be negative"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":1,\"window\":0}",
         "window: must be longer than 0"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":1,\"window\":1.5}",
         "window: a fraction of seconds"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":1,\"window\":1,"
         "\"interval\":\"500ms\"}",
         "interval: must be 1s or longer"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":1,\"window\":1,"
         "\"version\":0}",
         "version: must be a version number"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":1,\"window\":1,"
         "\"severity\":\"page\"}",
         "severity: must be critical, warning or info"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":1,\"window\":1,"
         "\"labels\":{\"alertname\":\"x\"}}",
         "labels.alertname: set by the rule itself"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":1,\"window\":1,"
         "\"labels\":{\"a-b\":\"x\"}}",
         "labels: 'a-b' is not a label name"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":1,\"window\":1,"
         "\"labels\":{\"a\":1}}",
         "labels.a: must be a string"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":1,\"window\":1,"
         "\"receivers\":[\"a\",\"a\"]}",
         "receivers[1]: 'a' is named twice"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":1,\"window\":1,"
         "\"colour\":1}",
         "colour: unknown field"},
        {"{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":1,\"window\":1,"
         "\"name\":\"other\"}",
         "name: must be the rule's name, 'r'"},
        {"[1]", "rule: must be a JSON object"},
        {"{\"metric\":", "rule: invalid JSON"},
        {"{\"metric\":\"a\",\"metric\":\"b\"}", "rule: invalid JSON"},
    };
    struct md_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse_err(cases[i].json, s, &err), MD_EINVAL);
        if (strstr(err.msg, cases[i].msg) != err.msg)
            fail_msg("case %zu: '%s' does not start with '%s'", i, err.msg, cases[i].msg);
    }
    {
        struct md_alert_rule *r = NULL;
        char big[MD_ALERT_RULE_MAX_BYTES + 2];

        memset(big, ' ', sizeof(big));
        assert_int_equal(md_alert_rule_parse("r", big, sizeof(big), s, &r, &err), MD_ETOOBIG);
        assert_int_equal(md_alert_rule_parse("9r", "{}", 2, s, &r, &err), MD_EINVAL);
        assert_non_null(strstr(err.msg, "name: '9r' is not a rule name"));
    }
    md_signals_free(s);
}

/* ---- the state machine ---------------------------------------------------------- */

#define T0 1800000000000LL

struct run {
    struct fake f;
    struct md_signals *s;
    struct md_alerts *a;
    struct md_alert_transition *t;
    size_t n;
};

static void run_start(struct run *x, const char *json)
{
    struct md_alert_rule **rules = malloc(sizeof(*rules));

    memset(x, 0, sizeof(*x));
    x->f.value = NAN;
    x->s = fake_signals(&x->f);
    x->a = md_alerts_new(x->s);
    rules[0] = rule_of("r", json, x->s);
    md_alerts_set_rules(x->a, rules, NULL, 1, NULL, 0, T0, &x->t, &x->n);
    assert_int_equal(x->n, 0);
}

static void run_clear(struct run *x)
{
    for (size_t i = 0; i < x->n; i++)
        md_alert_transition_release(&x->t[i]);
    free(x->t);
    x->t = NULL;
    x->n = 0;
}

static void run_stop(struct run *x)
{
    run_clear(x);
    md_alerts_free(x->a);
    md_signals_free(x->s);
}

/* Evaluates at T0 + at_s seconds with the metric at v: the one transition
 * made (its state), or -1 for none. */
static int at(struct run *x, double at_s, double v)
{
    int got;

    run_clear(x);
    x->f.value = v;
    x->f.samples = isnan(v) ? 0 : 10;
    (void)md_alerts_eval(x->a, T0 + (int64_t)(at_s * 1000), &x->t, &x->n);
    assert_true(x->n <= 1);
    got = x->n == 1 ? (int)x->t[0].state : -1;
    return got;
}

static const char *const RULE_FOR =
    "{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":0.1,"
    "\"window\":\"1m\",\"for\":\"3s\",\"labels\":{\"team\":\"risk\"},"
    "\"annotations\":{\"summary\":\"s\"}}";

static void test_pending_firing_resolved(void **state)
{
    struct run x;
    struct md_buf b;

    (void)state;
    run_start(&x, RULE_FOR);
    assert_int_equal(at(&x, 0, 0.05), -1);
    assert_int_equal(x.f.last_window_ms, 60000);
    assert_int_equal(x.f.last_now_ms, T0);
    assert_int_equal(at(&x, 1, 0.2), MD_ALERT_PENDING);
    assert_int_equal(x.t[0].active_ms, T0 + 1000);
    assert_int_equal(at(&x, 2, 0.2), -1);
    assert_int_equal(at(&x, 3, 0.3), -1);
    md_buf_init(&b, 1 << 20);
    assert_int_equal(md_alerts_json(x.a, MD_ALERT_PENDING, NULL, NULL, &b), MD_OK);
    assert_int_equal(md_buf_putc(&b, '\0'), MD_OK);
    assert_non_null(strstr(b.data, "\"state\":\"pending\""));
    md_buf_release(&b);
    /* Held for 3 s since second 1. */
    assert_int_equal(at(&x, 4, 0.3), MD_ALERT_FIRING);
    assert_int_equal(x.t[0].from, MD_ALERT_PENDING);
    assert_int_equal(x.t[0].fired_ms, T0 + 4000);
    assert_true(x.t[0].value == 0.3);
    assert_string_equal(x.t[0].labels,
                        "{\"alertname\":\"r\",\"metric\":\"error_rate\","
                        "\"model\":\"m\",\"severity\":\"warning\",\"team\":\"risk\"}");
    assert_string_equal(x.t[0].annotations, "{\"summary\":\"s\"}");
    assert_int_equal(strlen(x.t[0].fingerprint), 16);
    assert_int_equal(at(&x, 5, 0.3), -1);
    assert_int_equal(at(&x, 6, 0.1), MD_ALERT_RESOLVED); /* 0.1 > 0.1 does not hold */
    assert_int_equal(x.t[0].fired_ms, T0 + 4000);
    assert_int_equal(x.t[0].at_ms, T0 + 6000);
    assert_int_equal(at(&x, 7, 0.05), -1);
    /* Again from the start. */
    assert_int_equal(at(&x, 8, 0.5), MD_ALERT_PENDING);
    run_stop(&x);
}

static void test_pending_that_stops(void **state)
{
    struct run x;

    (void)state;
    run_start(&x, RULE_FOR);
    assert_int_equal(at(&x, 0, 0.5), MD_ALERT_PENDING);
    assert_int_equal(at(&x, 2, 0.5), -1);
    assert_int_equal(at(&x, 3, 0.0), MD_ALERT_INACTIVE);
    assert_int_equal(x.t[0].from, MD_ALERT_PENDING);
    /* The `for` counts again from the next start. */
    assert_int_equal(at(&x, 4, 0.5), MD_ALERT_PENDING);
    assert_int_equal(at(&x, 6, 0.5), -1);
    assert_int_equal(at(&x, 7, 0.5), MD_ALERT_FIRING);
    run_stop(&x);
}

static void test_for_zero_fires_at_once(void **state)
{
    struct run x;

    (void)state;
    run_start(&x, "{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\"==\",\"threshold\":1,"
                  "\"window\":\"1m\"}");
    assert_int_equal(at(&x, 0, 1), MD_ALERT_FIRING);
    assert_int_equal(x.t[0].from, MD_ALERT_INACTIVE);
    assert_int_equal(at(&x, 1, 2), MD_ALERT_RESOLVED);
    run_stop(&x);
}

static void test_no_data_never_fires(void **state)
{
    struct run x;

    (void)state;
    /* `<` would hold for anything, NaN aside. */
    run_start(&x, "{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\"!=\",\"threshold\":1,"
                  "\"window\":\"1m\",\"min_samples\":5}");
    assert_int_equal(at(&x, 0, NAN), -1);
    /* Too few samples is no data. */
    x.f.samples = 4;
    run_clear(&x);
    x.f.value = 0.5;
    (void)md_alerts_eval(x.a, T0 + 1000, &x.t, &x.n);
    assert_int_equal(x.n, 0);
    /* An error of the provider (an unknown model) is no data too. */
    assert_int_equal(at(&x, 2, 0.5), MD_ALERT_FIRING);
    x.f.rc = MD_ENOTFOUND;
    assert_int_equal(at(&x, 3, 0.5), MD_ALERT_RESOLVED);
    assert_true(isnan(x.t[0].value));
    x.f.rc = MD_OK;
    assert_int_equal(at(&x, 4, NAN), -1);
    run_stop(&x);
}

static void test_interval(void **state)
{
    struct run x;

    (void)state;
    run_start(&x, "{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":1,"
                  "\"window\":\"1m\",\"interval\":\"10s\"}");
    assert_int_equal(at(&x, 0, 0), -1);
    assert_int_equal(x.f.calls, 1);
    assert_int_equal(at(&x, 5, 5), -1); /* not due: not read */
    assert_int_equal(x.f.calls, 1);
    assert_int_equal(at(&x, 10, 5), MD_ALERT_FIRING);
    assert_int_equal(x.f.calls, 2);
    /* Missed evaluations are skipped, not made up. */
    assert_int_equal(at(&x, 45, 5), -1);
    assert_int_equal(at(&x, 46, 0), -1);
    assert_int_equal(x.f.calls, 3);
    assert_int_equal(at(&x, 55, 0), MD_ALERT_RESOLVED);
    run_stop(&x);
}

static void test_rules_replaced(void **state)
{
    struct run x;
    struct md_alert_rule **rules;
    bool from_file[2] = {false, true};

    (void)state;
    run_start(&x, RULE_FOR);
    assert_int_equal(at(&x, 0, 0.5), MD_ALERT_PENDING);
    assert_int_equal(at(&x, 3, 0.5), MD_ALERT_FIRING);
    /* The same rule again, and a new one: the firing alert stays. */
    run_clear(&x);
    rules = malloc(2 * sizeof(*rules));
    rules[0] = rule_of("r", RULE_FOR, x.s);
    rules[1] = rule_of("file_rule", RULE_FOR, x.s);
    md_alerts_set_rules(x.a, rules, from_file, 2, NULL, 0, T0 + 3500, &x.t, &x.n);
    assert_int_equal(x.n, 0);
    assert_true(md_alerts_from_file(x.a, "file_rule"));
    assert_false(md_alerts_from_file(x.a, "r"));
    assert_int_equal(at(&x, 4, 0.5), MD_ALERT_PENDING); /* file_rule's */
    assert_string_equal(x.t[0].rule, "file_rule");
    /* r changed: its firing alert resolves; file_rule removed: its pending one ends. */
    run_clear(&x);
    rules = malloc(sizeof(*rules));
    rules[0] = rule_of("r",
                       "{\"metric\":\"error_rate\",\"model\":\"m\",\"op\":\">\",\"threshold\":0.2,"
                       "\"window\":\"1m\"}",
                       x.s);
    md_alerts_set_rules(x.a, rules, NULL, 1, NULL, 0, T0 + 5000, &x.t, &x.n);
    assert_int_equal(x.n, 2);
    assert_string_equal(x.t[0].rule, "r");
    assert_int_equal(x.t[0].state, MD_ALERT_RESOLVED);
    assert_string_equal(x.t[1].rule, "file_rule");
    assert_int_equal(x.t[1].state, MD_ALERT_INACTIVE);
    run_stop(&x);
}

static void test_annotation_templates(void **state)
{
    struct run x;

    (void)state;
    run_start(&x, "{\"metric\":\"error_rate\",\"model\":\"m\",\"version\":3,\"op\":\">\","
                  "\"threshold\":0.1,\"window\":\"1m\",\"labels\":{\"team\":\"risk\"},"
                  "\"annotations\":{\"summary\":\"{{ $value }} errors on {{$labels.model}} "
                  "v{{ $labels.version }}, team {{ $labels.team }}{{ $labels.none }} {{ other }}\","
                  "\"plain\":\"no fields {{\"}}");
    assert_int_equal(at(&x, 0, 0.25), MD_ALERT_FIRING);
    assert_string_equal(x.t[0].annotations,
                        "{\"plain\":\"no fields {{\",\"summary\":\"0.25 errors on m v3, team risk "
                        "{{ other }}\"}");
    /* No data keeps the last value written. */
    assert_int_equal(at(&x, 1, NAN), MD_ALERT_RESOLVED);
    assert_non_null(strstr(x.t[0].annotations, "0.25 errors"));
    run_stop(&x);
}

static void test_restore(void **state)
{
    struct run x;
    struct md_alert_rule **rules;
    struct md_alert_restore restore = {"r", MD_ALERT_FIRING, T0 - 9000, T0 - 5000, 0.5};
    struct md_buf b;

    (void)state;
    memset(&x, 0, sizeof(x));
    x.s = fake_signals(&x.f);
    x.a = md_alerts_new(x.s);
    rules = malloc(sizeof(*rules));
    rules[0] = rule_of("r", RULE_FOR, x.s);
    md_alerts_set_rules(x.a, rules, NULL, 1, &restore, 1, T0, &x.t, &x.n);
    assert_int_equal(x.n, 0);
    md_buf_init(&b, 1 << 20);
    assert_int_equal(md_alerts_json(x.a, -1, NULL, NULL, &b), MD_OK);
    assert_int_equal(md_buf_putc(&b, '\0'), MD_OK);
    assert_non_null(strstr(b.data, "\"state\":\"firing\""));
    md_buf_release(&b);
    assert_int_equal(at(&x, 0, 0.5), -1);
    assert_int_equal(at(&x, 1, NAN), MD_ALERT_RESOLVED);
    assert_int_equal(x.t[0].fired_ms, T0 - 5000);
    md_buf_init(&b, 1 << 20);
    md_alerts_prom(x.a, &b);
    assert_int_equal(md_buf_putc(&b, '\0'), MD_OK);
    assert_non_null(strstr(b.data, "modeld_alert_rules 1\n"));
    assert_non_null(strstr(b.data, "modeld_alerts{state=\"firing\"} 0\n"));
    assert_non_null(strstr(b.data, "modeld_alert_evaluations_total 2\n"));
    md_buf_release(&b);
    run_stop(&x);
}

/* ---- notifications -------------------------------------------------------------- */

static void test_alert_body(void **state)
{
    struct md_alert_transition t;
    struct md_buf b;
    json_t *j;
    json_error_t je;
    json_t *a;

    (void)state;
    memset(&t, 0, sizeof(t));
    snprintf(t.rule, sizeof(t.rule), "r");
    snprintf(t.model, sizeof(t.model), "m");
    t.state = MD_ALERT_RESOLVED;
    t.at_ms = T0 + 60000;
    t.fired_ms = T0;
    snprintf(t.fingerprint, sizeof(t.fingerprint), "0123456789abcdef");
    t.labels = strdup("{\"alertname\":\"r\",\"model\":\"m\"}");
    t.annotations = strdup("{\"summary\":\"s\"}");
    md_buf_init(&b, 1 << 20);
    assert_int_equal(md_notify_alert_body(&t, "ops", "http://127.0.0.1:8080", &b), MD_OK);
    j = json_loadb(b.data, b.len, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "version")), "4");
    assert_string_equal(json_string_value(json_object_get(j, "status")), "resolved");
    assert_string_equal(json_string_value(json_object_get(j, "receiver")), "ops");
    assert_string_equal(json_string_value(json_object_get(j, "groupKey")), "{}:{alertname=\"r\"}");
    assert_string_equal(json_string_value(json_object_get(j, "externalURL")),
                        "http://127.0.0.1:8080");
    assert_int_equal(json_integer_value(json_object_get(j, "truncatedAlerts")), 0);
    a = json_pack("{s:s}", "alertname", "r");
    assert_true(json_equal(json_object_get(j, "groupLabels"), a));
    json_decref(a);
    a = json_array_get(json_object_get(j, "alerts"), 0);
    assert_string_equal(json_string_value(json_object_get(a, "status")), "resolved");
    assert_string_equal(json_string_value(json_object_get(a, "startsAt")),
                        "2027-01-15T08:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(a, "endsAt")),
                        "2027-01-15T08:01:00.000Z");
    assert_string_equal(json_string_value(json_object_get(a, "generatorURL")),
                        "http://127.0.0.1:8080/api/v1/alert-rules/r");
    assert_string_equal(json_string_value(json_object_get(a, "fingerprint")), "0123456789abcdef");
    json_decref(j);
    md_buf_release(&b);
    md_alert_transition_release(&t);
}

/* A port on 127.0.0.1 where nothing listens (bound, never listened on). */
static int dead_port(int *fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    *fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
    return ntohs(sa.sin_port);
}

static void test_retries_then_fails(void **state)
{
    struct md_notify_config c;
    struct md_notify *n;
    struct md_alert_transition t;
    struct md_notify_stats st;
    struct md_err err;
    char url[64];
    int fd;
    int port = dead_port(&fd);

    (void)state;
    md_notify_config_init(&c);
    c.max_attempts = 3;
    c.backoff_ms = 5;
    c.queue = 2;
    c.v = calloc(1, sizeof(*c.v));
    c.n = 1;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
    c.v[0].name = strdup("ops");
    c.v[0].url = strdup(url);
    c.v[0].send_resolved = false;
    assert_int_equal(md_notify_new(&c, "http://x", &n, &err), MD_OK);
    assert_true(md_notify_has_receiver(n, "ops"));
    assert_false(md_notify_has_receiver(n, "other"));
    assert_false(md_notify_wants_events(n));
    memset(&t, 0, sizeof(t));
    snprintf(t.rule, sizeof(t.rule), "r");
    t.labels = strdup("{}");
    t.annotations = strdup("{}");
    t.state = MD_ALERT_RESOLVED; /* not for a receiver without send_resolved */
    md_notify_alert(n, &t);
    t.state = MD_ALERT_PENDING; /* never notified */
    md_notify_alert(n, &t);
    md_notify_get_stats(n, &st);
    assert_int_equal(st.queued, 0);
    t.state = MD_ALERT_FIRING;
    for (int i = 0; i < 4; i++)
        md_notify_alert(n, &t);
    for (int i = 0; i < 1000; i++) {
        md_notify_get_stats(n, &st);
        if (st.failed + st.dropped == 4)
            break;
        usleep(10000);
    }
    /* The queue holds 2: the first is being sent or waits, so 1 or 2 more are dropped. */
    assert_true(st.dropped >= 1 && st.dropped <= 2);
    assert_int_equal(st.failed + st.dropped, 4);
    assert_int_equal(st.retried, 2 * st.failed);
    assert_int_equal(st.sent, 0);
    md_notify_free(n);
    md_notify_config_release(&c);
    md_alert_transition_release(&t);
    close(fd);
}

/* ---- the store ------------------------------------------------------------------ */

struct rows {
    int n;
    char names[8][32];
    char sources[8][8];
};

static void rule_row(void *ctx, const struct md_store_alert_rule *r)
{
    struct rows *x = ctx;

    if (x->n < 8) {
        snprintf(x->names[x->n], sizeof(x->names[0]), "%s", r->name);
        snprintf(x->sources[x->n], sizeof(x->sources[0]), "%s", r->source);
    }
    x->n++;
}

static void alert_row(void *ctx, const struct md_store_alert *a)
{
    struct rows *x = ctx;

    if (x->n < 8)
        snprintf(x->names[x->n], sizeof(x->names[0]), "%s:%s:%lld", a->rule, a->state,
                 (long long)a->id);
    x->n++;
}

static int store_work(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct md_store_alert_rule a = {"a", "{\"x\":1}", "api", 0};
    struct md_store_alert_rule b = {"b", "{\"x\":2}", "file", 5};
    struct md_store_alert_rule a2 = {"a", "{\"x\":3}", "api", 0};
    struct md_store_alert_filter all = {NULL, NULL, NULL, 0, 0, 0, false};
    struct md_store_alert_filter last = {NULL, NULL, NULL, 0, 0, 0, true};
    struct md_store_alert_filter page = {"a", NULL, NULL, 0, 3, 1, false};
    struct md_store_alert_filter firing = {NULL, NULL, "firing", 0, 0, 0, false};
    const char *states[] = {"pending", "firing", "pending", "resolved"};
    const char *rules[] = {"a", "a", "b", "a"};
    struct rows x;
    int64_t id = 0;

    (void)ctx;
    assert_int_equal(md_store_tx_alert_rule_put(tx, &a, err), MD_OK);
    assert_int_equal(md_store_tx_alert_rule_put(tx, &b, err), MD_OK);
    assert_int_equal(md_store_tx_alert_rule_put(tx, &a2, err), MD_OK);
    memset(&x, 0, sizeof(x));
    assert_int_equal(md_store_tx_alert_rules(tx, NULL, rule_row, &x, err), MD_OK);
    assert_int_equal(x.n, 2);
    assert_string_equal(x.names[0], "a");
    assert_string_equal(x.sources[1], "file");
    memset(&x, 0, sizeof(x));
    assert_int_equal(md_store_tx_alert_rules(tx, "zz", rule_row, &x, err), MD_ENOTFOUND);
    assert_int_equal(md_store_tx_alert_rule_delete(tx, "b", err), MD_OK);
    assert_int_equal(md_store_tx_alert_rule_delete(tx, "b", err), MD_ENOTFOUND);
    assert_int_equal(
        md_store_tx_alert_rule_put(tx, &(struct md_store_alert_rule){"", "x", "api", 0}, err),
        MD_EINVAL);

    for (int i = 0; i < 4; i++) {
        struct md_store_alert sa = {0, rules[i], "m", states[i], T0 + i, T0,
                                    0, NAN,      "f", "{}",      "{}"};

        assert_int_equal(md_store_tx_alert_add(tx, &sa, &id, err), MD_OK);
    }
    assert_int_equal(id, 4);
    memset(&x, 0, sizeof(x));
    assert_int_equal(md_store_tx_alerts(tx, &all, alert_row, &x, err), MD_OK);
    assert_int_equal(x.n, 4);
    assert_string_equal(x.names[0], "a:resolved:4"); /* newest first */
    memset(&x, 0, sizeof(x));
    assert_int_equal(md_store_tx_alerts(tx, &last, alert_row, &x, err), MD_OK);
    assert_int_equal(x.n, 2);
    assert_string_equal(x.names[0], "a:resolved:4");
    assert_string_equal(x.names[1], "b:pending:3");
    memset(&x, 0, sizeof(x));
    assert_int_equal(md_store_tx_alerts(tx, &page, alert_row, &x, err), MD_OK);
    assert_int_equal(x.n, 1);
    assert_string_equal(x.names[0], "a:firing:2");
    memset(&x, 0, sizeof(x));
    assert_int_equal(md_store_tx_alerts(tx, &firing, alert_row, &x, err), MD_OK);
    assert_int_equal(x.n, 1);
    /* Old changes go, but the last of each rule stays whatever its age. */
    assert_int_equal(md_store_tx_alerts_prune(tx, T0 + 100, &id, err), MD_OK);
    assert_int_equal(id, 2);
    memset(&x, 0, sizeof(x));
    assert_int_equal(md_store_tx_alerts(tx, &all, alert_row, &x, err), MD_OK);
    assert_int_equal(x.n, 2);
    assert_string_equal(x.names[0], "a:resolved:4");
    assert_string_equal(x.names[1], "b:pending:3");
    return MD_OK;
}

static void test_store(void **state)
{
    char dir[] = "/tmp/test_alerts_XXXXXX";
    struct md_store *s;
    struct md_err err;
    char cmd[64];

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(md_store_open(dir, &s, &err), MD_OK);
    assert_int_equal(md_store_call(s, store_work, NULL, &err), MD_OK);
    md_store_close(s);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_rule_fields),
        cmocka_unit_test(test_rule_errors),
        cmocka_unit_test(test_pending_firing_resolved),
        cmocka_unit_test(test_pending_that_stops),
        cmocka_unit_test(test_for_zero_fires_at_once),
        cmocka_unit_test(test_no_data_never_fires),
        cmocka_unit_test(test_interval),
        cmocka_unit_test(test_rules_replaced),
        cmocka_unit_test(test_annotation_templates),
        cmocka_unit_test(test_restore),
        cmocka_unit_test(test_alert_body),
        cmocka_unit_test(test_retries_then_fails),
        cmocka_unit_test(test_store),
    };

    md_log_set_level(MD_LOG_OFF); /* the notifier's warnings are expected here */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
