/* SPDX-License-Identifier: MIT */
/*
 * test_gates.c: rollout gates on named metrics: a strategy's gates checked
 * against the registry of signals when it is written (serve/rollout_json.c),
 * the signals a rollout's gates name measured for the candidate and the
 * champion over the stage (control/rollouts.c), and judged by the
 * controller like the built-in metrics, a value not measured never holding
 * a gate. The signals here are fakes with known answers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "control/rollouts.h"
#include "serve/rollout.h"
#include "watch/signals.h"

#include <math.h>
#include <string.h>

#define T0 1700000000000LL
#define S  1000LL

/* What the fake providers were asked last. */
static struct md_signal_query asked;
static int calls;

/* accuracy: 0.9 for version 4, 0.95 for version 3, on 500 labelled rows. */
static int accuracy(void *ctx, const struct md_signal_query *q, struct md_signal_value *out,
                    struct md_err *err)
{
    (void)ctx;
    (void)err;
    asked = *q;
    calls++;
    out->value = q->version == 4 ? 0.9 : q->version == 3 ? 0.95 : NAN;
    out->samples = 500;
    return MD_OK;
}

/* f1:<class>: nothing measured (no feedback yet); an unknown class is an error. */
static int f1(void *ctx, const struct md_signal_query *q, struct md_signal_value *out,
              struct md_err *err)
{
    (void)ctx;
    if (strcmp(q->arg, "fraud") != 0)
        return md_err_set(err, MD_ENOTFOUND, "model 'fraud' has no class '%s'", q->arg);
    out->value = NAN;
    out->samples = 0;
    return MD_OK;
}

static struct md_signals *registry(void)
{
    static const struct md_signal_info acc = {"accuracy", "ratio", NULL, "right labels"};
    static const struct md_signal_info f = {"f1", "ratio", "class", "F1 of a class"};
    struct md_signals *s = md_signals_new();
    struct md_err err;

    assert_int_equal(md_signals_add(s, &acc, accuracy, NULL, &err), MD_OK);
    assert_int_equal(md_signals_add(s, &f, f1, NULL, &err), MD_OK);
    return s;
}

static void spec_of(struct md_rollout_spec *spec, const char *json)
{
    struct md_err err;

    memset(spec, 0, sizeof(*spec));
    spec->id = 3;
    (void)snprintf(spec->model, sizeof(spec->model), "fraud");
    spec->candidate = 4;
    spec->champion = 3;
    spec->created_ms = T0;
    if (md_rollout_strategy_parse(json, strlen(json), &spec->strategy, &err) != MD_OK)
        fail_msg("strategy %s: %s", json, err.msg);
}

static void test_check(void **state)
{
    struct md_signals *s = registry();
    struct md_rollout_spec spec;
    struct md_err err;

    (void)state;
    spec_of(&spec, "{\"kind\":\"canary\",\"gates\":[{\"metric\":\"error_rate\",\"max\":0.1},"
                   "{\"metric\":\"accuracy\",\"min_delta\":-0.01},"
                   "{\"metric\":\"f1:fraud\",\"min\":0.5}]}");
    assert_int_equal(md_rollout_strategy_check_signals(&spec.strategy, s, "strategy", &err), MD_OK);
    spec_of(&spec, "{\"kind\":\"canary\",\"gates\":[{\"metric\":\"error_rate\",\"max\":0.1},"
                   "{\"metric\":\"acuracy\",\"min\":0.9}]}");
    assert_int_equal(md_rollout_strategy_check_signals(&spec.strategy, s, "strategy", &err),
                     MD_EINVAL);
    assert_string_equal(err.msg, "strategy.gates[1].metric: unknown metric 'acuracy'");
    /* No registry: nothing to check against (the built-ins and whatever else) */
    assert_int_equal(md_rollout_strategy_check_signals(&spec.strategy, NULL, "", &err), MD_OK);
    spec_of(&spec, "{\"kind\":\"canary\",\"gates\":[{\"metric\":\"f1\",\"min\":0.5}]}");
    assert_int_equal(md_rollout_strategy_check_signals(&spec.strategy, s, "", &err), MD_EINVAL);
    assert_string_equal(err.msg, "gates[0].metric: metric 'f1' needs a class: 'f1:<class>'");
    spec_of(&spec, "{\"kind\":\"canary\",\"gates\":[{\"metric\":\"accuracy:x\",\"min\":0.5}]}");
    assert_int_equal(md_rollout_strategy_check_signals(&spec.strategy, s, "", &err), MD_EINVAL);
    md_signals_free(s);
}

/* The signals are measured for each side over the stage, and judged. */
static void test_measure_and_judge(void **state)
{
    struct md_signals *s = registry();
    struct md_rollout_spec spec;
    struct md_rollout_state st;
    struct md_rollout_decision d;
    struct md_rollout_metric mt[MD_ROLLOUT_GATES];
    struct md_rollout_measure m;
    struct md_err err;
    size_t n;

    (void)state;
    spec_of(&spec, "{\"kind\":\"canary\",\"interval_s\":60,\"min_requests\":10,"
                   "\"gates\":[{\"metric\":\"accuracy\",\"min\":0.85},"
                   "{\"metric\":\"error_rate\",\"max\":0.5},"
                   "{\"metric\":\"accuracy\",\"min_delta\":-0.01}]}");
    calls = 0;
    n = md_rollouts_measure_signals(s, &spec, T0, T0 + 90 * S, mt, MD_ROLLOUT_GATES);
    assert_int_equal(n, 1); /* error_rate is built in; accuracy measured once */
    assert_int_equal(calls, 2);
    assert_string_equal(mt[0].name, "accuracy");
    assert_true(mt[0].candidate == 0.9 && mt[0].champion == 0.95);
    assert_int_equal(mt[0].candidate_samples, 500);
    assert_int_equal(asked.version, 3); /* the champion's, asked last */
    assert_int_equal(asked.window_ms, 90 * S);
    assert_int_equal(asked.now_ms, T0 + 90 * S);
    assert_string_equal(asked.model, "fraud");

    /* 0.9 < 0.95 - 0.01: the third gate fails, and the rollout rolls back */
    md_rollout_begin(&spec, T0, &st, &d);
    memset(&m, 0, sizeof(m));
    m.candidate_requests = 100;
    m.champion_requests = 1000;
    m.metrics = mt;
    m.n_metrics = n;
    mt[n].name = "error_rate";
    mt[n].candidate = 0.0;
    mt[n].champion = 0.0;
    mt[n].candidate_samples = 100;
    mt[n].champion_samples = 1000;
    m.n_metrics++;
    assert_int_equal(md_rollout_step(&spec, &st, T0 + 90 * S, &m, &d, &st, &err), MD_OK);
    assert_int_equal(d.gates[0].result, MD_GATE_HELD);
    assert_int_equal(d.gates[1].result, MD_GATE_HELD);
    assert_int_equal(d.gates[2].result, MD_GATE_FAILED);
    assert_int_equal(d.action, MD_DECISION_ROLLBACK);
    md_signals_free(s);
}

/* A signal that measures nothing (NaN) or fails never holds a gate. */
static void test_not_measured(void **state)
{
    struct md_signals *s = registry();
    struct md_rollout_spec spec;
    struct md_rollout_state st;
    struct md_rollout_decision d;
    struct md_rollout_metric mt[MD_ROLLOUT_GATES];
    struct md_rollout_measure m;
    struct md_err err;
    size_t n;

    (void)state;
    spec_of(&spec, "{\"kind\":\"canary\",\"interval_s\":60,\"min_requests\":10,"
                   "\"gates\":[{\"metric\":\"f1:fraud\",\"min\":0.5,\"min_samples\":1},"
                   "{\"metric\":\"f1:legit\",\"min\":0.5,\"min_samples\":1}]}");
    n = md_rollouts_measure_signals(s, &spec, T0, T0, mt, MD_ROLLOUT_GATES);
    assert_int_equal(n, 2);
    assert_true(isnan(mt[0].candidate) && mt[0].candidate_samples == 0);
    assert_true(isnan(mt[1].candidate) && mt[1].candidate_samples == 0); /* its error */
    md_rollout_begin(&spec, T0, &st, &d);
    memset(&m, 0, sizeof(m));
    m.candidate_requests = 100;
    m.champion_requests = 1000;
    m.metrics = mt;
    m.n_metrics = n;
    assert_int_equal(md_rollout_step(&spec, &st, T0 + 90 * S, &m, &d, &st, &err), MD_OK);
    assert_int_equal(d.gates[0].result, MD_GATE_INCONCLUSIVE);
    assert_int_equal(d.gates[1].result, MD_GATE_INCONCLUSIVE);
    assert_int_equal(d.action, MD_DECISION_INCONCLUSIVE);
    /* No registry: nothing measured, the gates stay inconclusive */
    assert_int_equal(md_rollouts_measure_signals(NULL, &spec, T0, T0, mt, MD_ROLLOUT_GATES), 0);
    md_signals_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_measure_and_judge),
        cmocka_unit_test(test_not_measured),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
