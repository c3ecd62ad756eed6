/* SPDX-License-Identifier: MIT */
/*
 * test_rollout.c: the rollout controller's core (serve/rollout): strategy
 * parsing (defaults, every refusal naming its field), a canary advanced
 * through every step to its promotion, a rollback on each kind of gate
 * (absolute and relative: delta and ratio, upper and lower), inconclusive
 * stages (too few requests or samples, NaN, infinities, nothing measured)
 * that wait and then pause or roll back, blue/green and shadow_canary,
 * every command in every phase, measurements that start after a restart,
 * and the JSON of specs, states and decisions read back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "serve/rollout.h"

#include <jansson.h>
#include <math.h>

#define T0 1700000000000LL /* the start of every rollout here, in ms */
#define S  1000LL          /* a second in ms */

/* ---- helpers ------------------------------------------------------------- */

/* A spec of model "fraud", version 4 against 3, rollout id 3, with the strategy parsed from json.
 */
static void spec_of(struct md_rollout_spec *spec, const char *json)
{
    struct md_err err;

    memset(spec, 0, sizeof(*spec));
    spec->id = 3;
    (void)snprintf(spec->model, sizeof(spec->model), "fraud");
    spec->candidate = 4;
    spec->champion = 3;
    spec->created_ms = T0;
    md_err_clear(&err);
    if (md_rollout_strategy_parse(json, strlen(json), &spec->strategy, &err) != MD_OK)
        fail_msg("strategy %s: %s", json, err.msg);
    if (md_rollout_spec_check(spec, &err) != MD_OK)
        fail_msg("spec: %s", err.msg);
}

/* Measurements: a table the tests fill in, and the measure that points at it. */
struct meas {
    struct md_rollout_metric metrics[8];
    struct md_rollout_measure m;
};

static void meas_add(struct meas *x, const char *name, double cand, double champ, uint64_t cand_n,
                     uint64_t champ_n)
{
    struct md_rollout_metric *e = &x->metrics[x->m.n_metrics++];

    e->name = name;
    e->candidate = cand;
    e->champion = champ;
    e->candidate_samples = cand_n;
    e->champion_samples = champ_n;
}

/* A healthy candidate over n requests (and 10 n on the champion). */
static struct md_rollout_measure *good(struct meas *x, uint64_t n)
{
    memset(x, 0, sizeof(*x));
    x->m.metrics = x->metrics;
    x->m.candidate_requests = n;
    x->m.champion_requests = 10 * n;
    meas_add(x, "error_rate", 0.011, 0.010, n, 10 * n);
    meas_add(x, "latency_p99", 0.0110, 0.0100, n, 10 * n);
    meas_add(x, "agreement", 0.99, NAN, n, 0);
    return &x->m;
}

static void step_ok(const struct md_rollout_spec *spec, struct md_rollout_state *st, int64_t now,
                    const struct md_rollout_measure *m, struct md_rollout_decision *d)
{
    struct md_err err;

    md_err_clear(&err);
    if (md_rollout_step(spec, st, now, m, d, st, &err) != MD_OK)
        fail_msg("step: %s", err.msg);
}

static void cmd_ok(const struct md_rollout_spec *spec, struct md_rollout_state *st,
                   enum md_rollout_cmd cmd, int64_t now, const char *note,
                   struct md_rollout_decision *d)
{
    struct md_err err;

    md_err_clear(&err);
    if (md_rollout_command(spec, st, cmd, now, note, NULL, d, st, &err) != MD_OK)
        fail_msg("command %s: %s", md_rollout_cmd_name(cmd), err.msg);
}

static void assert_weights(const struct md_rollout_weights *w, uint32_t cand, uint32_t champ,
                           double shadow, double mirror)
{
    assert_int_equal(w->candidate, cand);
    assert_int_equal(w->champion, champ);
    assert_true(w->shadow == shadow);
    assert_true(w->mirror == mirror);
}

static void assert_contains(const char *text, const char *needle)
{
    if (strstr(text, needle) == NULL)
        fail_msg("'%s' does not contain '%s'", text, needle);
}

static void assert_state_equal(const struct md_rollout_state *a, const struct md_rollout_state *b)
{
    assert_int_equal(a->phase, b->phase);
    assert_int_equal(a->stage, b->stage);
    assert_int_equal(a->step, b->step);
    assert_true(a->step_started_ms == b->step_started_ms);
    assert_true(a->inconclusive_since_ms == b->inconclusive_since_ms);
    assert_true(a->ended_ms == b->ended_ms);
    assert_string_equal(a->reason, b->reason);
}

/* The decision's JSON, parsed back: the caller decrefs. */
static json_t *decision_json(const struct md_rollout_decision *d)
{
    struct md_buf b;
    json_error_t je;
    json_t *root;

    md_buf_init(&b, 1 << 20);
    assert_int_equal(md_rollout_decision_format(d, &b), MD_OK);
    root = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        fail_msg("decision JSON %s: %s", b.data, je.text);
    md_buf_release(&b);
    return root;
}

/* The state formatted, parsed against spec, formatted again: the same text and fields. */
static void assert_state_roundtrip(const struct md_rollout_spec *spec,
                                   const struct md_rollout_state *st)
{
    struct md_rollout_state back;
    struct md_buf a;
    struct md_buf b;
    struct md_err err;

    md_buf_init(&a, 1 << 16);
    md_buf_init(&b, 1 << 16);
    assert_int_equal(md_rollout_state_format(st, &a), MD_OK);
    md_err_clear(&err);
    if (md_rollout_state_parse(spec, a.data, a.len, &back, &err) != MD_OK)
        fail_msg("state %s: %s", a.data, err.msg);
    assert_int_equal(md_rollout_state_format(&back, &b), MD_OK);
    assert_string_equal(a.data, b.data);
    assert_state_equal(&back, st);
    md_buf_release(&a);
    md_buf_release(&b);
}

/* ---- strategies ------------------------------------------------------------ */

static void test_strategy_defaults(void **state)
{
    struct md_rollout_strategy s;
    struct md_rollout_strategy d;
    struct md_buf a;
    struct md_buf b;
    struct md_err err;
    static const char *const kinds[] = {"{\"kind\":\"canary\"}", "{\"kind\":\"bluegreen\"}",
                                        "{\"kind\":\"shadow_canary\"}"};
    static const char seven[] = "{\"min_requests\":7,\"kind\":\"shadow_canary\"}";
    size_t i;

    (void)state;
    assert_int_equal(md_rollout_strategy_parse(kinds[0], strlen(kinds[0]), &s, &err), MD_OK);
    assert_int_equal(s.kind, MD_ROLLOUT_KIND_CANARY);
    assert_int_equal(s.n_steps, 4);
    assert_int_equal(s.steps[0], 5);
    assert_int_equal(s.steps[1], 25);
    assert_int_equal(s.steps[2], 50);
    assert_int_equal(s.steps[3], 100);
    assert_int_equal(s.interval_s, 60);
    assert_int_equal(s.min_requests, 100);
    assert_true(s.mirror == 0.1);
    assert_int_equal(s.shadow_s, 0);
    assert_int_equal(s.n_gates, 2);
    assert_string_equal(s.gates[0].metric, "error_rate");
    assert_int_equal(s.gates[0].cmp, MD_GATE_MAX_DELTA);
    assert_true(s.gates[0].threshold == 0.01);
    assert_int_equal(s.gates[0].min_samples, 100);
    assert_string_equal(s.gates[1].metric, "latency_p99");
    assert_int_equal(s.gates[1].cmp, MD_GATE_MAX_RATIO);
    assert_true(s.gates[1].threshold == 1.2);
    assert_int_equal(s.inconclusive_after_s, 600);
    assert_int_equal(s.inconclusive_action, MD_INCONCLUSIVE_PAUSE);

    assert_int_equal(md_rollout_strategy_parse(kinds[1], strlen(kinds[1]), &s, &err), MD_OK);
    assert_int_equal(s.kind, MD_ROLLOUT_KIND_BLUEGREEN);
    assert_int_equal(s.n_steps, 0);
    assert_int_equal(s.interval_s, 0);
    assert_int_equal(s.shadow_s, 60);
    assert_true(s.shadow_fraction == 1.0);
    assert_true(s.mirror == 0);

    /* The default gates take min_requests as their min_samples. */
    assert_int_equal(md_rollout_strategy_parse(seven, strlen(seven), &s, &err), MD_OK);
    assert_int_equal(s.shadow_s, 60);
    assert_int_equal(s.n_steps, 4);
    assert_int_equal(s.gates[0].min_samples, 7);
    assert_int_equal(s.gates[1].min_samples, 7);

    /* What md_rollout_strategy_default gives is what {"kind": k} parses to. */
    for (i = 0; i < MD_ARRAY_LEN(kinds); i++) {
        md_buf_init(&a, 4096);
        md_buf_init(&b, 4096);
        assert_int_equal(md_rollout_strategy_parse(kinds[i], strlen(kinds[i]), &s, &err), MD_OK);
        md_rollout_strategy_default(&d, s.kind);
        assert_int_equal(md_rollout_strategy_format(&s, &a), MD_OK);
        assert_int_equal(md_rollout_strategy_format(&d, &b), MD_OK);
        assert_string_equal(a.data, b.data);
        md_buf_release(&a);
        md_buf_release(&b);
    }
}

static const char FULL[] =
    "{\"kind\": \"shadow_canary\", \"steps\": [10, 40, 100], \"interval_s\": 30,"
    " \"min_requests\": 50, \"shadow_s\": 20, \"shadow_fraction\": 0.5, \"mirror\": 0.25,"
    " \"gates\": [{\"metric\": \"error_rate\", \"max_delta\": 0.01},"
    "             {\"metric\": \"latency_p99\", \"max_ratio\": 1.2, \"min_samples\": 500},"
    "             {\"metric\": \"agreement\", \"min\": 0.95},"
    "             {\"metric\": \"error_rate\", \"max\": 0.05},"
    "             {\"metric\": \"accuracy\", \"min_delta\": -0.01},"
    "             {\"metric\": \"drift_psi.age\", \"min_ratio\": 0.5}],"
    " \"inconclusive\": {\"after_s\": 120, \"action\": \"rollback\"}}";

static void test_strategy_full(void **state)
{
    struct md_rollout_strategy s;
    struct md_rollout_strategy back;
    struct md_buf a;
    struct md_buf b;
    struct md_err err;

    (void)state;
    md_err_clear(&err);
    if (md_rollout_strategy_parse(FULL, strlen(FULL), &s, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(s.n_steps, 3);
    assert_int_equal(s.steps[0], 10);
    assert_int_equal(s.interval_s, 30);
    assert_int_equal(s.min_requests, 50);
    assert_int_equal(s.shadow_s, 20);
    assert_true(s.shadow_fraction == 0.5);
    assert_true(s.mirror == 0.25);
    assert_int_equal(s.n_gates, 6);
    assert_int_equal(s.gates[0].min_samples, 50);
    assert_int_equal(s.gates[1].min_samples, 500);
    assert_int_equal(s.gates[2].cmp, MD_GATE_MIN);
    assert_int_equal(s.gates[3].cmp, MD_GATE_MAX);
    assert_int_equal(s.gates[4].cmp, MD_GATE_MIN_DELTA);
    assert_true(s.gates[4].threshold == -0.01);
    assert_int_equal(s.gates[5].cmp, MD_GATE_MIN_RATIO);
    assert_string_equal(s.gates[5].metric, "drift_psi.age");
    assert_int_equal(s.inconclusive_after_s, 120);
    assert_int_equal(s.inconclusive_action, MD_INCONCLUSIVE_ROLLBACK);

    /* Formatted and read back: the same strategy, the same text. */
    md_buf_init(&a, 4096);
    md_buf_init(&b, 4096);
    assert_int_equal(md_rollout_strategy_format(&s, &a), MD_OK);
    assert_int_equal(md_rollout_strategy_parse(a.data, a.len, &back, &err), MD_OK);
    assert_int_equal(md_rollout_strategy_format(&back, &b), MD_OK);
    assert_string_equal(a.data, b.data);
    assert_contains(a.data, "\"mirror\":0.25");
    assert_contains(a.data, "\"max_delta\":0.01,");
    md_buf_release(&a);
    md_buf_release(&b);
}

struct bad_case {
    const char *json;
    const char *needle;
};

static const struct bad_case bad_strategies[] = {
    {"", "strategy: invalid JSON"},
    {"{\"kind\":\"canary\"", "strategy: invalid JSON"},
    {"[]", "strategy: must be a JSON object"},
    {"{}", "kind: missing (one of canary, bluegreen, shadow_canary)"},
    {"{\"kind\":1}", "kind: must be a string"},
    {"{\"kind\":\"linear\"}", "kind: 'linear' is not one of canary, bluegreen, shadow_canary"},
    {"{\"kind\":\"canary\",\"kind\":\"canary\"}", "invalid JSON"},
    {"{\"kind\":\"canary\",\"step\":[5,100]}", "step: unknown field (known: kind, steps,"},
    {"{\"kind\":\"canary\",\"steps\":5}", "steps: must be an array of 2 to 16 percentages"},
    {"{\"kind\":\"canary\",\"steps\":[100]}", "steps: must be an array of 2 to 16"},
    {"{\"kind\":\"canary\",\"steps\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,100]}",
     "steps: must be an array of 2 to 16"},
    {"{\"kind\":\"canary\",\"steps\":[5,\"x\",100]}", "steps[1]: must be an integer from 1 to 100"},
    {"{\"kind\":\"canary\",\"steps\":[0,100]}", "steps[0]: must be an integer from 1 to 100"},
    {"{\"kind\":\"canary\",\"steps\":[5,101]}", "steps[1]: must be an integer from 1 to 100"},
    {"{\"kind\":\"canary\",\"steps\":[5,2.5,100]}", "steps[1]: must be an integer"},
    {"{\"kind\":\"canary\",\"steps\":[50,25,100]}",
     "steps[1]: 25 is not above steps[0] (50): steps increase"},
    {"{\"kind\":\"canary\",\"steps\":[5,5,100]}", "steps[1]: 5 is not above steps[0] (5)"},
    {"{\"kind\":\"canary\",\"steps\":[5,50]}", "steps[1]: the last step must be 100"},
    {"{\"kind\":\"canary\",\"interval_s\":0}", "interval_s: must be an integer from 1 to 2592000"},
    {"{\"kind\":\"canary\",\"interval_s\":-5}", "interval_s: must be an integer from 1 to"},
    {"{\"kind\":\"canary\",\"interval_s\":1.5}", "interval_s: must be an integer from 1 to"},
    {"{\"kind\":\"canary\",\"interval_s\":\"60\"}", "interval_s: must be an integer from 1 to"},
    {"{\"kind\":\"canary\",\"interval_s\":2592001}", "interval_s: must be an integer from 1 to"},
    {"{\"kind\":\"canary\",\"min_requests\":0}", "min_requests: must be an integer from 1 to"},
    {"{\"kind\":\"canary\",\"min_requests\":true}", "min_requests: must be an integer from 1 to"},
    {"{\"kind\":\"canary\",\"shadow_s\":10}", "shadow_s: not used by kind 'canary'"},
    {"{\"kind\":\"canary\",\"shadow_fraction\":0.5}", "shadow_fraction: not used by kind 'canary'"},
    {"{\"kind\":\"bluegreen\",\"steps\":[5,100]}", "steps: not used by kind 'bluegreen'"},
    {"{\"kind\":\"bluegreen\",\"interval_s\":5}", "interval_s: not used by kind 'bluegreen'"},
    {"{\"kind\":\"bluegreen\",\"mirror\":0.5}", "mirror: not used by kind 'bluegreen'"},
    {"{\"kind\":\"bluegreen\",\"shadow_s\":0}", "shadow_s: must be an integer from 1 to 2592000"},
    {"{\"kind\":\"bluegreen\",\"shadow_fraction\":0}",
     "shadow_fraction: must be a number above 0 and at most 1"},
    {"{\"kind\":\"bluegreen\",\"shadow_fraction\":1.5}",
     "shadow_fraction: must be a number above 0 and at most 1"},
    {"{\"kind\":\"canary\",\"mirror\":-0.1}", "mirror: must be a number from 0 to 1"},
    {"{\"kind\":\"canary\",\"mirror\":2}", "mirror: must be a number from 0 to 1"},
    {"{\"kind\":\"canary\",\"mirror\":\"x\"}", "mirror: must be a number from 0 to 1"},
    {"{\"kind\":\"canary\",\"mirror\":1e400}", "strategy: invalid JSON"},
    {"{\"kind\":\"canary\",\"gates\":{}}", "gates: must be an array of 1 to 16 gates"},
    {"{\"kind\":\"canary\",\"gates\":[]}", "gates: must be an array of 1 to 16 gates"},
    {"{\"kind\":\"canary\",\"gates\":[\"x\"]}", "gates[0]: must be an object"},
    {"{\"kind\":\"canary\",\"gates\":[{\"max\":1}]}", "gates[0].metric: missing"},
    {"{\"kind\":\"canary\",\"gates\":[{\"metric\":5,\"max\":1}]}",
     "gates[0].metric: must be a string"},
    {"{\"kind\":\"canary\",\"gates\":[{\"metric\":\"9x\",\"max\":1}]}",
     "gates[0].metric: must be a name of letters"},
    {"{\"kind\":\"canary\",\"gates\":[{\"metric\":\"\",\"max\":1}]}",
     "gates[0].metric: must be a name"},
    {"{\"kind\":\"canary\",\"gates\":[{\"metric\":\"a b\",\"max\":1}]}",
     "gates[0].metric: must be a name"},
    {"{\"kind\":\"canary\",\"gates\":[{\"metric\":"
     "\"m123456789012345678901234567890123456789012345678901234567890123\",\"max\":1}]}",
     "gates[0].metric: longer than 63 bytes"},
    {"{\"kind\":\"canary\",\"gates\":[{\"metric\":\"x\",\"max\":1},{\"metric\":\"error_rate\"}]}",
     "gates[1]: no comparison (one of min, max, min_delta, max_delta, min_ratio, max_ratio)"},
    {"{\"kind\":\"canary\",\"gates\":[{\"metric\":\"x\",\"max\":1,\"max_ratio\":2}]}",
     "gates[0]: both 'max' and 'max_ratio' given; a gate has one comparison"},
    {"{\"kind\":\"canary\",\"gates\":[{\"metric\":\"x\",\"max\":\"1\"}]}",
     "gates[0].max: must be a number"},
    {"{\"kind\":\"canary\",\"gates\":[{\"metric\":\"x\",\"max\":null}]}",
     "gates[0].max: must be a number"},
    {"{\"kind\":\"canary\",\"gates\":[{\"metric\":\"x\",\"max_ratio\":0}]}",
     "gates[0].max_ratio: must be above 0"},
    {"{\"kind\":\"canary\",\"gates\":[{\"metric\":\"x\",\"min_ratio\":-1}]}",
     "gates[0].min_ratio: must be above 0"},
    {"{\"kind\":\"canary\",\"gates\":[{\"metric\":\"x\",\"max\":1,\"min_samples\":0}]}",
     "gates[0].min_samples: must be an integer from 1 to 1000000000"},
    {"{\"kind\":\"canary\",\"gates\":[{\"metric\":\"x\",\"max\":1,\"limit\":2}]}",
     "gates[0].limit: unknown field (known: metric, min, max,"},
    {"{\"kind\":\"canary\",\"inconclusive\":5}", "inconclusive: must be an object"},
    {"{\"kind\":\"canary\",\"inconclusive\":{\"after_s\":-1}}",
     "inconclusive.after_s: must be an integer from 0 to 2592000"},
    {"{\"kind\":\"canary\",\"inconclusive\":{\"action\":\"stop\"}}",
     "inconclusive.action: 'stop' is not one of pause, rollback"},
    {"{\"kind\":\"canary\",\"inconclusive\":{\"action\":1}}",
     "inconclusive.action: must be a string"},
    {"{\"kind\":\"canary\",\"inconclusive\":{\"after\":1}}",
     "inconclusive.after: unknown field (known: after_s, action)"},
};

static void test_strategy_errors(void **state)
{
    struct md_rollout_strategy s;
    struct md_err err;
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(bad_strategies); i++) {
        const struct bad_case *c = &bad_strategies[i];
        int rc;

        md_err_clear(&err);
        rc = md_rollout_strategy_parse(c->json, strlen(c->json), &s, &err);
        if (rc != MD_EINVAL || strstr(err.msg, c->needle) == NULL)
            fail_msg("%s: want '%s', got %s '%s'", c->json, c->needle, md_strerror(rc), err.msg);
    }
}

/* A strategy inside a larger body: errors name the path from the body's top. */
static void test_strategy_from_json(void **state)
{
    struct md_rollout_strategy s;
    struct md_err err;
    json_t *body;
    json_error_t je;

    (void)state;
    body = json_loads("{\"candidate\": 4, \"strategy\": {\"kind\": \"canary\","
                      " \"gates\": [{\"metric\": \"x\", \"max\": 1}, {\"metric\": \"y\","
                      " \"max_ratio\": -2}]}}",
                      0, &je);
    assert_non_null(body);
    assert_int_equal(
        md_rollout_strategy_from_json(json_object_get(body, "strategy"), "strategy", &s, &err),
        MD_EINVAL);
    assert_contains(err.msg, "strategy.gates[1].max_ratio: must be above 0");
    assert_int_equal(
        md_rollout_strategy_from_json(json_object_get(body, "candidate"), "strategy", &s, &err),
        MD_EINVAL);
    assert_string_equal(err.msg, "strategy: must be an object");
    json_decref(body);
    body = json_loads("{\"kind\": \"bluegreen\"}", 0, &je);
    assert_int_equal(md_rollout_strategy_from_json(body, NULL, &s, &err), MD_OK);
    assert_int_equal(s.kind, MD_ROLLOUT_KIND_BLUEGREEN);
    json_decref(body);
}

/* ---- a canary, step by step ------------------------------------------------ */

static void test_canary_promote(void **state)
{
    struct md_rollout_spec spec;
    struct md_rollout_state st;
    struct md_rollout_state before;
    struct md_rollout_decision d;
    struct meas x;
    struct md_err err;
    json_t *j;

    (void)state;
    spec_of(&spec, "{\"kind\":\"canary\"}");
    md_rollout_begin(&spec, T0, &st, &d);
    assert_int_equal(d.action, MD_DECISION_START);
    assert_true(d.changed && d.traffic);
    assert_weights(&d.weights, 5, 95, 0, 0.1);
    assert_int_equal(st.phase, MD_ROLLOUT_RUNNING);
    assert_int_equal(st.stage, MD_ROLLOUT_STAGE_CANARY);
    assert_int_equal(st.step, 0);
    assert_true(st.step_started_ms == T0);
    assert_contains(d.reason, "step 1 (5%) for at least 60 s");
    assert_state_roundtrip(&spec, &st);

    /* Within the interval, good numbers wait; nothing changes. */
    before = st;
    step_ok(&spec, &st, T0 + 30 * S, good(&x, 1000), &d);
    assert_int_equal(d.action, MD_DECISION_WAIT);
    assert_int_equal(d.cause, MD_ROLLOUT_CAUSE_TIME);
    assert_false(d.changed);
    assert_false(d.traffic);
    assert_state_equal(&st, &before);
    assert_contains(d.reason, "step 1 (5%): 30 s of 60 s");
    assert_int_equal(d.gates[0].result, MD_GATE_HELD);

    /* Interval over, every gate held: 25%, then 50%. */
    step_ok(&spec, &st, T0 + 60 * S, good(&x, 1000), &d);
    assert_int_equal(d.action, MD_DECISION_ADVANCE);
    assert_int_equal(d.cause, MD_ROLLOUT_CAUSE_GATES);
    assert_true(d.changed && d.traffic);
    assert_int_equal(d.step, 0);
    assert_weights(&d.weights, 25, 75, 0, 0.1);
    assert_int_equal(st.step, 1);
    assert_true(st.step_started_ms == T0 + 60 * S);
    assert_contains(d.reason, "step 1 (5%): every gate held over 60 s and 1000 requests; "
                              "on to step 2 (25%)");
    j = decision_json(&d);
    assert_string_equal(json_string_value(json_object_get(j, "action")), "advance");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "weights"), "candidate")), 25);
    assert_int_equal(json_array_size(json_object_get(j, "gates")), 2);
    assert_null(json_object_get(j, "failed"));
    assert_true(json_is_true(json_object_get(j, "changed")));
    json_decref(j);

    step_ok(&spec, &st, T0 + 121 * S, good(&x, 1000), &d);
    assert_int_equal(d.action, MD_DECISION_ADVANCE);
    assert_weights(&d.weights, 50, 50, 0, 0.1);
    assert_int_equal(st.step, 2);
    assert_state_roundtrip(&spec, &st);

    /* The step before the last held: the promotion (100% is never a judged step). */
    step_ok(&spec, &st, T0 + 181 * S, good(&x, 1000), &d);
    assert_int_equal(d.action, MD_DECISION_PROMOTE);
    assert_weights(&d.weights, 100, 0, 0, 0);
    assert_int_equal(st.phase, MD_ROLLOUT_PROMOTED);
    assert_true(st.ended_ms == T0 + 181 * S);
    assert_contains(st.reason, "promoted: all traffic to version 4");
    assert_string_equal(d.reason, st.reason);
    assert_false(md_rollout_active(&st));
    assert_state_roundtrip(&spec, &st);

    /* A rollout that ended is not stepped. */
    assert_int_equal(md_rollout_step(&spec, &st, T0 + 200 * S, good(&x, 1000), &d, &st, &err),
                     MD_ECONFLICT);
    assert_string_equal(err.msg, "rollout 3 is promoted; there is nothing to step");
}

/* Two steps, [50, 100]: the first that holds promotes. */
static void test_canary_two_steps(void **state)
{
    struct md_rollout_spec spec;
    struct md_rollout_state st;
    struct md_rollout_decision d;
    struct meas x;

    (void)state;
    spec_of(&spec, "{\"kind\":\"canary\",\"steps\":[50,100],\"interval_s\":1,\"min_requests\":1}");
    md_rollout_begin(&spec, T0, &st, &d);
    assert_weights(&d.weights, 50, 50, 0, 0.1);
    step_ok(&spec, &st, T0 + S, good(&x, 1), &d);
    assert_int_equal(d.action, MD_DECISION_PROMOTE);
    assert_int_equal(st.phase, MD_ROLLOUT_PROMOTED);
}

/* ---- rollbacks, one per kind of gate ------------------------------------ */

/* Runs one step of a fresh canary with the given gates at now on x; returns the decision. */
static void judge_once(const char *strategy, int64_t now, struct meas *x,
                       struct md_rollout_decision *d, struct md_rollout_state *st)
{
    struct md_rollout_spec spec;
    struct md_rollout_decision start;

    spec_of(&spec, strategy);
    md_rollout_begin(&spec, T0, st, &start);
    step_ok(&spec, st, now, &x->m, d);
}

static void meas_init(struct meas *x, uint64_t requests)
{
    memset(x, 0, sizeof(*x));
    x->m.metrics = x->metrics;
    x->m.candidate_requests = requests;
    x->m.champion_requests = requests;
}

static void assert_rollback(const struct md_rollout_decision *d, const struct md_rollout_state *st,
                            int gate, const char *reason)
{
    assert_int_equal(d->action, MD_DECISION_ROLLBACK);
    assert_int_equal(d->cause, MD_ROLLOUT_CAUSE_GATES);
    assert_int_equal(d->failed, gate);
    assert_int_equal(d->gates[gate].result, MD_GATE_FAILED);
    assert_weights(&d->weights, 0, 100, 0, 0);
    assert_true(d->traffic && d->changed);
    assert_int_equal(st->phase, MD_ROLLOUT_ROLLED_BACK);
    assert_contains(st->reason, reason);
    assert_string_equal(d->reason, st->reason);
}

static void test_rollback_relative(void **state)
{
    struct md_rollout_decision d;
    struct md_rollout_state st;
    struct meas x;
    json_t *j;
    json_t *g;

    (void)state;
    /* error_rate max_delta 0.01: 5% against 1% fails at once, 5 s into a 60 s step. */
    meas_init(&x, 500);
    meas_add(&x, "error_rate", 0.05, 0.01, 500, 5000);
    meas_add(&x, "latency_p99", 0.010, 0.010, 500, 5000);
    judge_once("{\"kind\":\"canary\"}", T0 + 5 * S, &x, &d, &st);
    assert_rollback(&d, &st, 0,
                    "step 1 (5%): gate error_rate max_delta 0.01 failed: 0.05 > 0.02 (champion "
                    "0.01 + 0.01); rolled back");
    assert_true(fabs(d.gates[0].limit - 0.02) < 1e-12);
    assert_int_equal(d.gates[1].result, MD_GATE_HELD);
    j = decision_json(&d);
    assert_int_equal(json_integer_value(json_object_get(j, "failed")), 0);
    g = json_array_get(json_object_get(j, "gates"), 0);
    assert_string_equal(json_string_value(json_object_get(g, "result")), "failed");
    assert_string_equal(json_string_value(json_object_get(g, "comparison")), "max_delta");
    assert_string_equal(json_string_value(json_object_get(g, "op")), "<=");
    assert_true(json_real_value(json_object_get(g, "candidate")) == 0.05);
    assert_true(json_real_value(json_object_get(g, "champion")) == 0.01);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(g, "samples"), "champion")),
                     5000);
    assert_int_equal(json_integer_value(json_object_get(g, "min_samples")), 100);
    json_decref(j);

    /* A decision shows numbers for people: 0.003 + 0.01 as 0.013, not 0.013000000000000001. */
    meas_init(&x, 500);
    meas_add(&x, "error_rate", 0.004, 0.003, 500, 5000);
    meas_add(&x, "latency_p99", 0.010, 0.010, 500, 5000);
    judge_once("{\"kind\":\"canary\"}", T0 + 5 * S, &x, &d, &st);
    assert_int_equal(d.action, MD_DECISION_WAIT);
    {
        struct md_buf b;

        md_buf_init(&b, 1 << 16);
        assert_int_equal(md_rollout_decision_format(&d, &b), MD_OK);
        assert_contains(b.data, "\"limit\":0.013,\"candidate\":0.004,\"champion\":0.003,");
        md_buf_release(&b);
    }

    /* latency_p99 max_ratio 1.2: 0.2 s against 0.1 s fails. */
    meas_init(&x, 500);
    meas_add(&x, "error_rate", 0.01, 0.01, 500, 5000);
    meas_add(&x, "latency_p99", 0.2, 0.1, 500, 5000);
    judge_once("{\"kind\":\"canary\"}", T0 + 61 * S, &x, &d, &st);
    assert_rollback(&d, &st, 1,
                    "gate latency_p99 max_ratio 1.2 failed: 0.2 > 0.12 (champion 0.1 x 1.2)");

    /* min_delta -0.01: accuracy 0.8 against 0.9 fails; 0.895 would hold. */
    meas_init(&x, 500);
    meas_add(&x, "accuracy", 0.8, 0.9, 500, 500);
    judge_once("{\"kind\":\"canary\",\"gates\":[{\"metric\":\"accuracy\",\"min_delta\":-0.01}]}",
               T0 + 61 * S, &x, &d, &st);
    assert_rollback(&d, &st, 0,
                    "gate accuracy min_delta -0.01 failed: 0.8 < 0.89 (champion 0.9 - 0.01)");
    assert_string_equal(md_gate_op(MD_GATE_MIN_DELTA), ">=");
    x.metrics[0].candidate = 0.895;
    judge_once("{\"kind\":\"canary\",\"gates\":[{\"metric\":\"accuracy\",\"min_delta\":-0.01}]}",
               T0 + 61 * S, &x, &d, &st);
    assert_int_equal(d.action, MD_DECISION_ADVANCE);

    /* min_ratio 0.9: f1 0.8 against 1.0 fails. */
    meas_init(&x, 500);
    meas_add(&x, "f1", 0.8, 1.0, 500, 500);
    judge_once("{\"kind\":\"canary\",\"gates\":[{\"metric\":\"f1\",\"min_ratio\":0.9}]}",
               T0 + 61 * S, &x, &d, &st);
    assert_rollback(&d, &st, 0, "gate f1 min_ratio 0.9 failed: 0.8 < 0.9 (champion 1 x 0.9)");
}

static void test_rollback_absolute(void **state)
{
    struct md_rollout_decision d;
    struct md_rollout_state st;
    struct meas x;

    (void)state;
    /* max: the champion's side is not needed (no samples there). */
    meas_init(&x, 500);
    meas_add(&x, "error_rate", 0.06, NAN, 500, 0);
    judge_once("{\"kind\":\"canary\",\"gates\":[{\"metric\":\"error_rate\",\"max\":0.05}]}", T0 + S,
               &x, &d, &st);
    assert_rollback(&d, &st, 0, "gate error_rate max 0.05 failed: 0.06 > 0.05");

    /* min: agreement 0.81 under 0.95. */
    meas_init(&x, 500);
    meas_add(&x, "error_rate", 0.0, 0.0, 500, 500);
    meas_add(&x, "agreement", 0.81, NAN, 300, 0);
    judge_once("{\"kind\":\"canary\",\"gates\":[{\"metric\":\"error_rate\",\"max\":0.05},"
               "{\"metric\":\"agreement\",\"min\":0.95}]}",
               T0 + S, &x, &d, &st);
    assert_rollback(&d, &st, 1, "gate agreement min 0.95 failed: 0.81 < 0.95");
    assert_int_equal(d.gates[0].result, MD_GATE_HELD);

    /* On the limit is held: max 0.05 with 0.05, min 0.95 with 0.95. */
    meas_init(&x, 500);
    meas_add(&x, "error_rate", 0.05, NAN, 500, 0);
    meas_add(&x, "agreement", 0.95, NAN, 500, 0);
    judge_once("{\"kind\":\"canary\",\"gates\":[{\"metric\":\"error_rate\",\"max\":0.05},"
               "{\"metric\":\"agreement\",\"min\":0.95}]}",
               T0 + 60 * S, &x, &d, &st);
    assert_int_equal(d.action, MD_DECISION_ADVANCE);
    assert_int_equal(d.gates[0].result, MD_GATE_HELD);
    assert_int_equal(d.gates[1].result, MD_GATE_HELD);
    assert_string_equal(d.gates[1].note, "");
}

/* ---- inconclusive ------------------------------------------------------------ */

static void test_inconclusive_pause(void **state)
{
    struct md_rollout_spec spec;
    struct md_rollout_state st;
    struct md_rollout_state before;
    struct md_rollout_decision d;
    struct meas x;

    (void)state;
    spec_of(&spec, "{\"kind\":\"canary\",\"inconclusive\":{\"after_s\":300}}");
    md_rollout_begin(&spec, T0, &st, &d);

    /* Interval over with 40 requests of 100: inconclusive, the first time recorded. */
    step_ok(&spec, &st, T0 + 60 * S, good(&x, 40), &d);
    assert_int_equal(d.action, MD_DECISION_INCONCLUSIVE);
    assert_int_equal(d.cause, MD_ROLLOUT_CAUSE_INCONCLUSIVE);
    assert_true(d.changed);
    assert_false(d.traffic);
    assert_true(st.inconclusive_since_ms == T0 + 60 * S);
    assert_int_equal(st.phase, MD_ROLLOUT_RUNNING);
    assert_contains(d.reason, "step 1 (5%): inconclusive for 0 s of 300 s: candidate: 40 "
                              "requests of 100 needed");
    assert_state_roundtrip(&spec, &st);

    /* Still inconclusive a tick later: nothing new to store. */
    before = st;
    step_ok(&spec, &st, T0 + 61 * S, good(&x, 41), &d);
    assert_int_equal(d.action, MD_DECISION_INCONCLUSIVE);
    assert_false(d.changed);
    assert_state_equal(&st, &before);

    /* Enough requests, but a gate with too few samples: still never a pass. */
    good(&x, 1000);
    x.metrics[1].candidate_samples = 99;
    step_ok(&spec, &st, T0 + 200 * S, &x.m, &d);
    assert_int_equal(d.action, MD_DECISION_INCONCLUSIVE);
    assert_int_equal(d.gates[1].result, MD_GATE_INCONCLUSIVE);
    assert_string_equal(d.gates[1].note, "candidate: 99 samples of 100 needed");
    assert_contains(d.reason, "gate latency_p99 max_ratio 1.2: candidate: 99 samples of 100");

    /* after_s after the first inconclusive verdict: paused, traffic held where it is. */
    step_ok(&spec, &st, T0 + 360 * S, good(&x, 50), &d);
    assert_int_equal(d.action, MD_DECISION_PAUSE);
    assert_int_equal(d.cause, MD_ROLLOUT_CAUSE_INCONCLUSIVE);
    assert_true(d.changed);
    assert_false(d.traffic);
    assert_weights(&d.weights, 5, 95, 0, 0.1);
    assert_int_equal(st.phase, MD_ROLLOUT_PAUSED);
    assert_true(md_rollout_active(&st));
    assert_contains(st.reason, "step 1 (5%): inconclusive for 300 s: candidate: 50 requests of "
                               "100 needed; paused");
    assert_string_equal(d.reason, st.reason);
    assert_state_roundtrip(&spec, &st);

    /* Paused: the gates are judged for the record, nothing is done, whatever they say. */
    before = st;
    good(&x, 1000);
    x.metrics[0].candidate = 0.5;
    step_ok(&spec, &st, T0 + 400 * S, &x.m, &d);
    assert_int_equal(d.action, MD_DECISION_WAIT);
    assert_int_equal(d.cause, MD_ROLLOUT_CAUSE_PAUSED);
    assert_int_equal(d.gates[0].result, MD_GATE_FAILED);
    assert_false(d.changed);
    assert_state_equal(&st, &before);
    assert_string_equal(d.reason, st.reason);

    /* Resumed: the step's time starts again, and good numbers then advance it. */
    cmd_ok(&spec, &st, MD_ROLLOUT_CMD_RESUME, T0 + 500 * S, NULL, &d);
    assert_int_equal(d.action, MD_DECISION_RESUME);
    assert_int_equal(st.phase, MD_ROLLOUT_RUNNING);
    assert_true(st.step_started_ms == T0 + 500 * S);
    assert_true(st.inconclusive_since_ms == 0);
    assert_string_equal(st.reason, "");
    step_ok(&spec, &st, T0 + 530 * S, good(&x, 1000), &d);
    assert_int_equal(d.action, MD_DECISION_WAIT);
    step_ok(&spec, &st, T0 + 560 * S, good(&x, 1000), &d);
    assert_int_equal(d.action, MD_DECISION_ADVANCE);
    assert_int_equal(st.step, 1);
}

static void test_inconclusive_rollback(void **state)
{
    struct md_rollout_spec spec;
    struct md_rollout_state st;
    struct md_rollout_decision d;
    struct meas x;

    (void)state;
    /* after_s 0: the first verdict that cannot be given acts. A model with no traffic. */
    spec_of(&spec,
            "{\"kind\":\"canary\",\"inconclusive\":{\"after_s\":0,\"action\":\"rollback\"}}");
    md_rollout_begin(&spec, T0, &st, &d);
    step_ok(&spec, &st, T0 + 59 * S, NULL, &d);
    assert_int_equal(d.action, MD_DECISION_WAIT);
    step_ok(&spec, &st, T0 + 60 * S, NULL, &d);
    assert_int_equal(d.action, MD_DECISION_ROLLBACK);
    assert_int_equal(d.cause, MD_ROLLOUT_CAUSE_INCONCLUSIVE);
    assert_weights(&d.weights, 0, 100, 0, 0);
    assert_int_equal(st.phase, MD_ROLLOUT_ROLLED_BACK);
    assert_contains(st.reason, "inconclusive for 0 s: candidate: 0 requests of 100 needed; "
                               "rolled back");
    assert_int_equal(d.gates[0].result, MD_GATE_INCONCLUSIVE);
    assert_string_equal(d.gates[0].note, "not measured");

    /* after_s 120 with traffic on the candidate only: the relative gates lack the champion. */
    spec_of(&spec,
            "{\"kind\":\"canary\",\"inconclusive\":{\"after_s\":120,\"action\":\"rollback\"}}");
    md_rollout_begin(&spec, T0, &st, &d);
    good(&x, 1000);
    x.metrics[0].champion_samples = 0;
    x.metrics[1].champion_samples = 0;
    step_ok(&spec, &st, T0 + 100 * S, &x.m, &d);
    assert_int_equal(d.action, MD_DECISION_INCONCLUSIVE);
    assert_string_equal(d.gates[0].note, "champion: 0 samples of 100 needed");
    step_ok(&spec, &st, T0 + 219 * S, &x.m, &d);
    assert_int_equal(d.action, MD_DECISION_INCONCLUSIVE);
    step_ok(&spec, &st, T0 + 220 * S, &x.m, &d);
    assert_int_equal(d.action, MD_DECISION_ROLLBACK);
    assert_contains(st.reason, "inconclusive for 120 s: gate error_rate max_delta 0.01: "
                               "champion: 0 samples of 100 needed; rolled back");
}

/* NaN, infinities, zeros, an empty table: never a pass, never a crash. */
static void test_nan_and_empty(void **state)
{
    struct md_rollout_decision d;
    struct md_rollout_state st;
    struct meas x;
    struct md_rollout_measure none;
    json_t *j;
    json_t *g;

    (void)state;
    /* NaN on the candidate's side with plenty of samples. */
    good(&x, 1000);
    x.metrics[0].candidate = NAN;
    judge_once("{\"kind\":\"canary\"}", T0 + 60 * S, &x, &d, &st);
    assert_int_equal(d.action, MD_DECISION_INCONCLUSIVE);
    assert_string_equal(d.gates[0].note, "candidate: the value is not a finite number");
    j = decision_json(&d);
    g = json_array_get(json_object_get(j, "gates"), 0);
    assert_true(json_is_null(json_object_get(g, "candidate")));
    assert_true(json_is_null(json_object_get(g, "limit")));
    assert_string_equal(json_string_value(json_object_get(g, "result")), "inconclusive");
    json_decref(j);

    /* An infinite champion's value; an infinite limit (a huge value times the ratio). */
    good(&x, 1000);
    x.metrics[0].champion = INFINITY;
    x.metrics[1].champion = 1.7e308;
    x.metrics[1].candidate = 1e308;
    judge_once("{\"kind\":\"canary\"}", T0 + 60 * S, &x, &d, &st);
    assert_int_equal(d.action, MD_DECISION_INCONCLUSIVE);
    assert_string_equal(d.gates[0].note, "champion: the value is not a finite number");
    assert_string_equal(d.gates[1].note, "the limit is not a finite number");

    /* -inf on an upper gate would "hold": not a finite number, inconclusive. */
    good(&x, 1000);
    x.metrics[0].candidate = -INFINITY;
    judge_once("{\"kind\":\"canary\"}", T0 + 60 * S, &x, &d, &st);
    assert_int_equal(d.gates[0].result, MD_GATE_INCONCLUSIVE);

    /* All zeros and no samples: inconclusive. */
    meas_init(&x, 0);
    meas_add(&x, "error_rate", 0, 0, 0, 0);
    meas_add(&x, "latency_p99", 0, 0, 0, 0);
    judge_once("{\"kind\":\"canary\"}", T0 + 60 * S, &x, &d, &st);
    assert_int_equal(d.action, MD_DECISION_INCONCLUSIVE);
    assert_int_equal(d.gates[0].result, MD_GATE_INCONCLUSIVE);
    assert_int_equal(d.gates[1].result, MD_GATE_INCONCLUSIVE);

    /* Zeros with samples are numbers like any other: 0 <= 0 + 0.01 and 0 <= 0 x 1.2 hold. */
    meas_init(&x, 500);
    meas_add(&x, "error_rate", 0, 0, 500, 500);
    meas_add(&x, "latency_p99", 0, 0, 500, 500);
    judge_once("{\"kind\":\"canary\"}", T0 + 60 * S, &x, &d, &st);
    assert_int_equal(d.action, MD_DECISION_ADVANCE);

    /* An entry with no name is skipped; the first of two with a name wins. */
    meas_init(&x, 500);
    meas_add(&x, NULL, 0.9, 0.9, 500, 500);
    meas_add(&x, "error_rate", 0.5, 0.0, 500, 500);
    meas_add(&x, "error_rate", 0.0, 0.0, 500, 500);
    meas_add(&x, "latency_p99", 1, 1, 500, 500);
    judge_once("{\"kind\":\"canary\"}", T0 + 60 * S, &x, &d, &st);
    assert_int_equal(d.action, MD_DECISION_ROLLBACK);
    assert_true(d.gates[0].candidate == 0.5);

    /* A measure with metrics NULL, and one with a count but no table. */
    memset(&none, 0, sizeof(none));
    none.candidate_requests = 1000;
    none.n_metrics = 5;
    memset(&x, 0, sizeof(x));
    x.m = none;
    judge_once("{\"kind\":\"canary\"}", T0 + 60 * S, &x, &d, &st);
    assert_int_equal(d.action, MD_DECISION_INCONCLUSIVE);
    assert_string_equal(d.gates[0].note, "not measured");
}

/* ---- other kinds ------------------------------------------------------------ */

static void test_bluegreen(void **state)
{
    struct md_rollout_spec spec;
    struct md_rollout_state st;
    struct md_rollout_decision d;
    struct meas x;

    (void)state;
    spec_of(&spec, "{\"kind\":\"bluegreen\",\"shadow_s\":30,\"shadow_fraction\":0.5,"
                   "\"gates\":[{\"metric\":\"agreement\",\"min\":0.95},"
                   "{\"metric\":\"error_rate\",\"max_delta\":0.01}]}");
    md_rollout_begin(&spec, T0, &st, &d);
    assert_int_equal(st.stage, MD_ROLLOUT_STAGE_CHECK);
    assert_weights(&d.weights, 0, 100, 0.5, 0);
    assert_true(d.traffic);
    assert_true(d.duration_ms == 30 * S);
    assert_contains(d.reason, "the blue/green check for at least 30 s");
    assert_state_roundtrip(&spec, &st);

    step_ok(&spec, &st, T0 + 29 * S, good(&x, 1000), &d);
    assert_int_equal(d.action, MD_DECISION_WAIT);
    assert_weights(&d.weights, 0, 100, 0.5, 0);
    step_ok(&spec, &st, T0 + 30 * S, good(&x, 1000), &d);
    assert_int_equal(d.action, MD_DECISION_PROMOTE);
    assert_weights(&d.weights, 100, 0, 0, 0);
    assert_contains(st.reason, "the blue/green check: every gate held over 30 s and 1000 "
                               "requests; promoted: all traffic to version 4");
    assert_state_roundtrip(&spec, &st);

    /* The idle colour disagrees: rolled back, the shadow removed. */
    md_rollout_begin(&spec, T0, &st, &d);
    good(&x, 1000);
    x.metrics[2].candidate = 0.5;
    step_ok(&spec, &st, T0 + 10 * S, &x.m, &d);
    assert_int_equal(d.action, MD_DECISION_ROLLBACK);
    assert_int_equal(d.failed, 0);
    assert_weights(&d.weights, 0, 100, 0, 0);
    assert_true(d.traffic);
    assert_contains(st.reason, "the blue/green check: gate agreement min 0.95 failed");
}

static void test_shadow_canary(void **state)
{
    struct md_rollout_spec spec;
    struct md_rollout_state st;
    struct md_rollout_decision d;
    struct meas x;

    (void)state;
    spec_of(&spec, "{\"kind\":\"shadow_canary\",\"shadow_s\":120,\"steps\":[20,100],"
                   "\"interval_s\":10,\"mirror\":0.05}");
    md_rollout_begin(&spec, T0, &st, &d);
    assert_int_equal(st.stage, MD_ROLLOUT_STAGE_SHADOW);
    assert_weights(&d.weights, 0, 100, 1, 0);
    step_ok(&spec, &st, T0 + 100 * S, good(&x, 1000), &d);
    assert_int_equal(d.action, MD_DECISION_WAIT);
    assert_contains(d.reason, "the shadow stage: 100 s of 120 s");

    /* The shadow stage held: the first canary step. */
    step_ok(&spec, &st, T0 + 120 * S, good(&x, 1000), &d);
    assert_int_equal(d.action, MD_DECISION_ADVANCE);
    assert_int_equal(d.stage, MD_ROLLOUT_STAGE_SHADOW);
    assert_int_equal(st.stage, MD_ROLLOUT_STAGE_CANARY);
    assert_int_equal(st.step, 0);
    assert_weights(&d.weights, 20, 80, 0, 0.05);
    assert_contains(d.reason, "the shadow stage: every gate held over 120 s and 1000 requests; "
                              "on to step 1 (20%)");
    assert_state_roundtrip(&spec, &st);
    step_ok(&spec, &st, T0 + 125 * S, good(&x, 1000), &d);
    assert_int_equal(d.action, MD_DECISION_WAIT);
    assert_true(d.duration_ms == 10 * S);
    step_ok(&spec, &st, T0 + 130 * S, good(&x, 1000), &d);
    assert_int_equal(d.action, MD_DECISION_PROMOTE);
    assert_int_equal(st.phase, MD_ROLLOUT_PROMOTED);

    /* A shadow that errs is rolled back before it ever answers. */
    md_rollout_begin(&spec, T0, &st, &d);
    good(&x, 1000);
    x.metrics[0].candidate = 0.2;
    step_ok(&spec, &st, T0 + 5 * S, &x.m, &d);
    assert_int_equal(d.action, MD_DECISION_ROLLBACK);
    assert_weights(&d.weights, 0, 100, 0, 0);
    assert_contains(st.reason, "the shadow stage: gate error_rate max_delta 0.01 failed");
}

/* ---- time: restarts, clocks ------------------------------------------------- */

static void test_restart_and_clock(void **state)
{
    struct md_rollout_spec spec;
    struct md_rollout_state st;
    struct md_rollout_state back;
    struct md_rollout_decision d;
    struct md_buf b;
    struct md_err err;
    struct meas x;

    (void)state;
    spec_of(&spec, "{\"kind\":\"canary\"}");
    md_rollout_begin(&spec, T0, &st, &d);
    step_ok(&spec, &st, T0 + 60 * S, good(&x, 1000), &d);
    assert_int_equal(st.step, 1);

    /* Stored, then read back after a restart: the same step, the same start. */
    md_buf_init(&b, 4096);
    assert_int_equal(md_rollout_state_format(&st, &b), MD_OK);
    assert_int_equal(md_rollout_state_parse(&spec, b.data, b.len, &back, &err), MD_OK);
    md_buf_release(&b);
    assert_int_equal(back.step, 1);

    /* The restart lost the window: numbers since T0 + 100 s wait for their own 60 s. */
    good(&x, 1000);
    x.m.since_ms = T0 + 100 * S;
    step_ok(&spec, &back, T0 + 130 * S, &x.m, &d);
    assert_int_equal(d.action, MD_DECISION_WAIT);
    assert_true(d.elapsed_ms == 30 * S);
    step_ok(&spec, &back, T0 + 160 * S, &x.m, &d);
    assert_int_equal(d.action, MD_DECISION_ADVANCE);
    assert_int_equal(back.step, 2);

    /* since_ms before the step's start counts from the start. */
    good(&x, 1000);
    x.m.since_ms = T0;
    step_ok(&spec, &back, T0 + 200 * S, &x.m, &d);
    assert_int_equal(d.action, MD_DECISION_WAIT);
    assert_true(d.elapsed_ms == 40 * S);

    /* A clock that went back: no time has passed, nothing judged as over. */
    step_ok(&spec, &back, T0, good(&x, 1000), &d);
    assert_int_equal(d.action, MD_DECISION_WAIT);
    assert_true(d.elapsed_ms == 0);
}

/* ---- commands ------------------------------------------------------------- */

/* A state of spec in phase p (a canary at step 1). */
static void state_in(const struct md_rollout_spec *spec, enum md_rollout_phase p,
                     struct md_rollout_state *st)
{
    struct md_rollout_decision d;

    md_rollout_begin(spec, T0, st, &d);
    st->step = 1;
    st->phase = p;
    if (!md_rollout_active(st)) {
        st->ended_ms = T0 + 5 * S;
        (void)snprintf(st->reason, sizeof(st->reason), "ended");
    } else if (p == MD_ROLLOUT_PAUSED) {
        (void)snprintf(st->reason, sizeof(st->reason), "paused by command");
    }
}

struct cmd_case {
    enum md_rollout_phase phase;
    enum md_rollout_cmd cmd;
    int code;
    const char *text; /* the error, or the decision's reason */
    enum md_rollout_phase after;
};

static const struct cmd_case cmd_cases[] = {
    {MD_ROLLOUT_RUNNING, MD_ROLLOUT_CMD_PAUSE, MD_OK, "paused by command at step 2 (25%)",
     MD_ROLLOUT_PAUSED},
    {MD_ROLLOUT_RUNNING, MD_ROLLOUT_CMD_RESUME, MD_ECONFLICT,
     "rollout 3 is running; nothing to resume", 0},
    {MD_ROLLOUT_RUNNING, MD_ROLLOUT_CMD_PROMOTE, MD_OK,
     "promoted by command at step 2 (25%): all traffic to version 4", MD_ROLLOUT_PROMOTED},
    {MD_ROLLOUT_RUNNING, MD_ROLLOUT_CMD_ABORT, MD_OK, "aborted by command at step 2 (25%)",
     MD_ROLLOUT_ABORTED},
    {MD_ROLLOUT_RUNNING, MD_ROLLOUT_CMD_ROLLBACK, MD_OK, "rolled back by command at step 2 (25%)",
     MD_ROLLOUT_ROLLED_BACK},
    {MD_ROLLOUT_PAUSED, MD_ROLLOUT_CMD_PAUSE, MD_ECONFLICT, "rollout 3 is paused already", 0},
    {MD_ROLLOUT_PAUSED, MD_ROLLOUT_CMD_RESUME, MD_OK,
     "resumed by command: step 2 (25%) starts its time again", MD_ROLLOUT_RUNNING},
    {MD_ROLLOUT_PAUSED, MD_ROLLOUT_CMD_PROMOTE, MD_OK, "promoted by command at step 2 (25%)",
     MD_ROLLOUT_PROMOTED},
    {MD_ROLLOUT_PAUSED, MD_ROLLOUT_CMD_ABORT, MD_OK, "aborted by command", MD_ROLLOUT_ABORTED},
    {MD_ROLLOUT_PAUSED, MD_ROLLOUT_CMD_ROLLBACK, MD_OK, "rolled back by command",
     MD_ROLLOUT_ROLLED_BACK},
    {MD_ROLLOUT_PROMOTED, MD_ROLLOUT_CMD_PAUSE, MD_ECONFLICT,
     "rollout 3 is promoted; nothing to pause", 0},
    {MD_ROLLOUT_PROMOTED, MD_ROLLOUT_CMD_RESUME, MD_ECONFLICT,
     "rollout 3 is promoted; nothing to resume", 0},
    {MD_ROLLOUT_PROMOTED, MD_ROLLOUT_CMD_PROMOTE, MD_ECONFLICT,
     "rollout 3 is promoted; nothing to promote", 0},
    {MD_ROLLOUT_PROMOTED, MD_ROLLOUT_CMD_ABORT, MD_ECONFLICT,
     "rollout 3 is promoted; nothing to abort (to go back to version 3, change the traffic "
     "policy or start a rollout of it)",
     0},
    {MD_ROLLOUT_PROMOTED, MD_ROLLOUT_CMD_ROLLBACK, MD_ECONFLICT,
     "rollout 3 is promoted; nothing to roll back (to go back to version 3", 0},
    {MD_ROLLOUT_ROLLED_BACK, MD_ROLLOUT_CMD_PAUSE, MD_ECONFLICT,
     "rollout 3 is rolled back; nothing to pause", 0},
    {MD_ROLLOUT_ROLLED_BACK, MD_ROLLOUT_CMD_RESUME, MD_ECONFLICT,
     "rollout 3 is rolled back; nothing to resume", 0},
    {MD_ROLLOUT_ROLLED_BACK, MD_ROLLOUT_CMD_PROMOTE, MD_ECONFLICT,
     "rollout 3 is rolled back; nothing to promote", 0},
    {MD_ROLLOUT_ROLLED_BACK, MD_ROLLOUT_CMD_ABORT, MD_ECONFLICT,
     "rollout 3 is rolled back; nothing to abort", 0},
    {MD_ROLLOUT_ROLLED_BACK, MD_ROLLOUT_CMD_ROLLBACK, MD_ECONFLICT,
     "rollout 3 is rolled back; nothing to roll back", 0},
    {MD_ROLLOUT_ABORTED, MD_ROLLOUT_CMD_PAUSE, MD_ECONFLICT,
     "rollout 3 is aborted; nothing to pause", 0},
    {MD_ROLLOUT_ABORTED, MD_ROLLOUT_CMD_RESUME, MD_ECONFLICT,
     "rollout 3 is aborted; nothing to resume", 0},
    {MD_ROLLOUT_ABORTED, MD_ROLLOUT_CMD_PROMOTE, MD_ECONFLICT,
     "rollout 3 is aborted; nothing to promote", 0},
    {MD_ROLLOUT_ABORTED, MD_ROLLOUT_CMD_ABORT, MD_ECONFLICT,
     "rollout 3 is aborted; nothing to abort", 0},
    {MD_ROLLOUT_ABORTED, MD_ROLLOUT_CMD_ROLLBACK, MD_ECONFLICT,
     "rollout 3 is aborted; nothing to roll back", 0},
};

/* The weights a phase reached by a command puts on each side. */
static void assert_phase_weights(const struct md_rollout_weights *w, enum md_rollout_phase p)
{
    switch (p) {
    case MD_ROLLOUT_PROMOTED:
        assert_weights(w, 100, 0, 0, 0);
        break;
    case MD_ROLLOUT_ROLLED_BACK:
    case MD_ROLLOUT_ABORTED:
        assert_weights(w, 0, 100, 0, 0);
        break;
    default:
        assert_weights(w, 25, 75, 0, 0.1);
        break;
    }
}

static void test_commands(void **state)
{
    struct md_rollout_spec spec;
    struct md_rollout_state st;
    struct md_rollout_state next;
    struct md_rollout_state poison;
    struct md_rollout_decision d;
    struct md_err err;
    size_t i;

    (void)state;
    spec_of(&spec, "{\"kind\":\"canary\"}");
    memset(&poison, 0x5a, sizeof(poison));
    for (i = 0; i < MD_ARRAY_LEN(cmd_cases); i++) {
        const struct cmd_case *c = &cmd_cases[i];
        int rc;

        state_in(&spec, c->phase, &st);
        next = poison;
        md_err_clear(&err);
        rc = md_rollout_command(&spec, &st, c->cmd, T0 + 100 * S, NULL, NULL, &d, &next, &err);
        if (rc != c->code)
            fail_msg("case %zu: %s in %s: want %s, got %s '%s'", i, md_rollout_cmd_name(c->cmd),
                     md_rollout_phase_name(c->phase), md_strerror(c->code), md_strerror(rc),
                     err.msg);
        if (rc != MD_OK) {
            assert_contains(err.msg, c->text);
            /* A refused command leaves its outputs alone. */
            assert_int_equal(memcmp(&next, &poison, sizeof(next)), 0);
            continue;
        }
        assert_contains(d.reason, c->text);
        assert_int_equal(d.cause, MD_ROLLOUT_CAUSE_COMMAND);
        assert_string_equal(d.command, md_rollout_cmd_name(c->cmd));
        assert_int_equal(next.phase, c->after);
        assert_true(d.changed);
        assert_false(d.measured);
        assert_phase_weights(&d.weights, c->after);
        assert_true(d.traffic == (c->after != MD_ROLLOUT_PAUSED && c->after != MD_ROLLOUT_RUNNING));
        if (md_rollout_active(&next))
            assert_true(next.ended_ms == 0);
        else
            assert_true(next.ended_ms == T0 + 100 * S);
        if (next.phase == MD_ROLLOUT_RUNNING)
            assert_string_equal(next.reason, "");
        else
            assert_string_equal(next.reason, d.reason);
        assert_state_roundtrip(&spec, &next);
    }

    /* An unknown command; the names. */
    state_in(&spec, MD_ROLLOUT_RUNNING, &st);
    assert_int_equal(
        md_rollout_command(&spec, &st, (enum md_rollout_cmd)9, T0, NULL, NULL, &d, &st, &err),
        MD_EINVAL);
    assert_contains(err.msg, "command: 9 is not one of pause, resume, promote, abort, rollback");
    assert_int_equal(md_rollout_cmd_parse("pause"), MD_ROLLOUT_CMD_PAUSE);
    assert_int_equal(md_rollout_cmd_parse("rollback"), MD_ROLLOUT_CMD_ROLLBACK);
    assert_int_equal(md_rollout_cmd_parse("stop"), 0);
    assert_int_equal(md_rollout_cmd_parse(NULL), 0);

    /* Before the store gave an id, "the rollout". */
    spec.id = 0;
    state_in(&spec, MD_ROLLOUT_ABORTED, &st);
    assert_int_equal(
        md_rollout_command(&spec, &st, MD_ROLLOUT_CMD_RESUME, T0, NULL, NULL, &d, &st, &err),
        MD_ECONFLICT);
    assert_string_equal(err.msg, "the rollout is aborted; nothing to resume");
}

/* A note, the measurements a command records, and a note too long for the reason. */
static void test_command_note(void **state)
{
    struct md_rollout_spec spec;
    struct md_rollout_state st;
    struct md_rollout_decision d;
    struct md_err err;
    struct meas x;
    char note[400];
    size_t i;
    json_t *j;

    (void)state;
    spec_of(&spec, "{\"kind\":\"canary\"}");
    state_in(&spec, MD_ROLLOUT_RUNNING, &st);
    assert_int_equal(md_rollout_command(&spec, &st, MD_ROLLOUT_CMD_PROMOTE, T0 + 30 * S,
                                        "alice: \"looks fine\"", good(&x, 700), &d, &st, &err),
                     MD_OK);
    assert_string_equal(d.reason, "promoted by command at step 2 (25%): all traffic to version 4: "
                                  "alice: \"looks fine\"");
    assert_true(d.measured);
    assert_int_equal(d.candidate_requests, 700);
    assert_int_equal(d.gates[0].result, MD_GATE_HELD);
    assert_true(d.elapsed_ms == 30 * S);
    j = decision_json(&d);
    assert_string_equal(json_string_value(json_object_get(j, "command")), "promote");
    assert_string_equal(json_string_value(json_object_get(j, "cause")), "command");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "requests"), "candidate")), 700);
    json_decref(j);

    /* 400 bytes of two-byte characters: cut whole, and still valid in the stored JSON. */
    for (i = 0; i + 2 < sizeof(note); i += 2) {
        note[i] = (char)0xC3;
        note[i + 1] = (char)0xA9; /* é */
    }
    note[i] = '\0';
    state_in(&spec, MD_ROLLOUT_RUNNING, &st);
    assert_int_equal(
        md_rollout_command(&spec, &st, MD_ROLLOUT_CMD_PAUSE, T0, note, NULL, &d, &st, &err), MD_OK);
    assert_true(strlen(st.reason) < MD_ROLLOUT_REASON_MAX);
    assert_true(strlen(st.reason) >= MD_ROLLOUT_REASON_MAX - 2);
    assert_int_equal(((unsigned char)st.reason[strlen(st.reason) - 1]), 0xA9);
    assert_state_roundtrip(&spec, &st);
    j = decision_json(&d);
    json_decref(j);
}

/* ---- weights ------------------------------------------------------------ */

static void test_weights(void **state)
{
    struct md_rollout_spec spec;
    struct md_rollout_state st;
    struct md_rollout_weights w;
    struct md_buf b;

    (void)state;
    spec_of(&spec, "{\"kind\":\"shadow_canary\",\"steps\":[1,10,100],\"shadow_fraction\":0.3,"
                   "\"mirror\":0.2}");
    state_in(&spec, MD_ROLLOUT_RUNNING, &st);
    st.stage = MD_ROLLOUT_STAGE_SHADOW;
    st.step = 0;
    md_rollout_weights(&spec, &st, &w);
    assert_weights(&w, 0, 100, 0.3, 0);
    st.phase = MD_ROLLOUT_PAUSED;
    md_rollout_weights(&spec, &st, &w);
    assert_weights(&w, 0, 100, 0.3, 0);
    st.stage = MD_ROLLOUT_STAGE_CANARY;
    st.step = 1;
    md_rollout_weights(&spec, &st, &w);
    assert_weights(&w, 10, 90, 0, 0.2);
    st.phase = MD_ROLLOUT_PROMOTED;
    md_rollout_weights(&spec, &st, &w);
    assert_weights(&w, 100, 0, 0, 0);
    st.phase = MD_ROLLOUT_ROLLED_BACK;
    md_rollout_weights(&spec, &st, &w);
    assert_weights(&w, 0, 100, 0, 0);
    st.phase = MD_ROLLOUT_ABORTED;
    md_rollout_weights(&spec, &st, &w);
    assert_weights(&w, 0, 100, 0, 0);
    /* A state the parser would refuse gets the champion's weights, not garbage. */
    st.phase = MD_ROLLOUT_RUNNING;
    st.step = 40;
    md_rollout_weights(&spec, &st, &w);
    assert_weights(&w, 0, 100, 0, 0);
    st.phase = (enum md_rollout_phase)0;
    md_rollout_weights(&spec, &st, &w);
    assert_weights(&w, 0, 100, 0, 0);

    md_buf_init(&b, 256);
    w.candidate = 10;
    w.champion = 90;
    w.shadow = 0.3;
    w.mirror = 0.1;
    assert_int_equal(md_rollout_weights_format(&w, &b), MD_OK);
    assert_string_equal(b.data, "{\"candidate\":10,\"champion\":90,\"shadow\":0.3,\"mirror\":0.1}");
    md_buf_release(&b);
}

/* ---- specs and states as JSON ------------------------------------------------ */

static void test_spec_json(void **state)
{
    struct md_rollout_spec spec;
    struct md_rollout_spec back;
    struct md_buf a;
    struct md_buf b;
    struct md_err err;
    static const struct bad_case bad[] = {
        {"[5]", "spec: must be a JSON object"},
        {"5", "spec: invalid JSON"},
        {"{\"model\":\"m\",\"candidate\":4,\"champion\":3,\"created_ms\":0}", "strategy: missing"},
        {"{\"candidate\":4,\"champion\":3,\"created_ms\":0,\"strategy\":{\"kind\":\"canary\"}}",
         "model: missing"},
        {"{\"model\":\"\",\"candidate\":4,\"champion\":3,\"created_ms\":0,"
         "\"strategy\":{\"kind\":\"canary\"}}",
         "model: must be a name of 1 to 127 bytes"},
        {"{\"model\":\"m\",\"candidate\":0,\"champion\":3,\"created_ms\":0,"
         "\"strategy\":{\"kind\":\"canary\"}}",
         "candidate: must be an integer of at least 1"},
        {"{\"model\":\"m\",\"candidate\":\"4\",\"champion\":3,\"created_ms\":0,"
         "\"strategy\":{\"kind\":\"canary\"}}",
         "candidate: must be an integer of at least 1"},
        {"{\"model\":\"m\",\"candidate\":3,\"champion\":3,\"created_ms\":0,"
         "\"strategy\":{\"kind\":\"canary\"}}",
         "candidate: version 3 is the champion; a rollout needs another one"},
        {"{\"model\":\"m\",\"candidate\":4,\"champion\":3,\"created_ms\":-1,"
         "\"strategy\":{\"kind\":\"canary\"}}",
         "created_ms: must be an integer of at least 0"},
        {"{\"model\":\"m\",\"candidate\":4,\"champion\":3,\"created_ms\":0,"
         "\"strategy\":{\"kind\":\"canary\",\"steps\":[5,1,100]}}",
         "strategy.steps[1]: 1 is not above steps[0] (5)"},
        {"{\"model\":\"m\",\"candidate\":4,\"champion\":3,\"created_ms\":0,\"id\":2,"
         "\"strategy\":{\"kind\":\"canary\"}}",
         "id: unknown field"},
        {"{\"model\":\"m\",\"candidate\":4,\"champion\":3,\"created_ms\":0,\"strategy_name\":7,"
         "\"strategy\":{\"kind\":\"canary\"}}",
         "strategy_name: must be a string"},
    };
    size_t i;

    (void)state;
    spec_of(&spec, FULL);
    (void)snprintf(spec.strategy_name, sizeof(spec.strategy_name), "careful \"one\"");
    md_buf_init(&a, 1 << 16);
    md_buf_init(&b, 1 << 16);
    assert_int_equal(md_rollout_spec_format(&spec, &a), MD_OK);
    md_err_clear(&err);
    if (md_rollout_spec_parse(a.data, a.len, &back, &err) != MD_OK)
        fail_msg("%s: %s", a.data, err.msg);
    assert_int_equal(back.id, 0);
    assert_string_equal(back.model, "fraud");
    assert_int_equal(back.candidate, 4);
    assert_int_equal(back.champion, 3);
    assert_true(back.created_ms == T0);
    assert_string_equal(back.strategy_name, "careful \"one\"");
    assert_int_equal(back.strategy.n_gates, 6);
    assert_int_equal(md_rollout_spec_format(&back, &b), MD_OK);
    assert_string_equal(a.data, b.data);
    md_buf_release(&a);
    md_buf_release(&b);

    for (i = 0; i < MD_ARRAY_LEN(bad); i++) {
        int rc;

        md_err_clear(&err);
        rc = md_rollout_spec_parse(bad[i].json, strlen(bad[i].json), &back, &err);
        if (rc != MD_EINVAL || strstr(err.msg, bad[i].needle) == NULL)
            fail_msg("%s: want '%s', got %s '%s'", bad[i].json, bad[i].needle, md_strerror(rc),
                     err.msg);
    }

    /* A spec the caller filled in, checked: a strategy struct out of range. */
    spec_of(&spec, "{\"kind\":\"canary\"}");
    spec.strategy.gates[1].threshold = NAN;
    assert_int_equal(md_rollout_spec_check(&spec, &err), MD_EINVAL);
    assert_string_equal(err.msg, "strategy.gates[1].max_ratio: must be a finite number");
    spec_of(&spec, "{\"kind\":\"canary\"}");
    spec.strategy.kind = (enum md_rollout_kind)7;
    assert_int_equal(md_rollout_spec_check(&spec, &err), MD_EINVAL);
    assert_contains(err.msg, "strategy.kind: must be one of");
    spec_of(&spec, "{\"kind\":\"canary\"}");
    spec.strategy.n_gates = 0;
    assert_int_equal(md_rollout_spec_check(&spec, &err), MD_EINVAL);
    assert_contains(err.msg, "strategy.gates: must be an array of 1 to 16 gates");
    spec_of(&spec, "{\"kind\":\"canary\"}");
    spec.strategy.inconclusive_action = (enum md_rollout_on_inconclusive)0;
    assert_int_equal(md_rollout_spec_check(&spec, &err), MD_EINVAL);
    assert_contains(err.msg, "strategy.inconclusive.action: must be \"pause\" or \"rollback\"");
    spec_of(&spec, "{\"kind\":\"canary\"}");
    memset(spec.model, 'm', sizeof(spec.model));
    assert_int_equal(md_rollout_spec_check(&spec, &err), MD_EINVAL);
    assert_contains(err.msg, "model: must be a name of 1 to 127 bytes");
}

static void test_state_json(void **state)
{
    struct md_rollout_spec canary;
    struct md_rollout_spec blue;
    struct md_rollout_state st;
    struct md_err err;
    static const char ok[] =
        "{\"phase\":\"paused\",\"stage\":\"canary\",\"step\":2,\"step_started_ms\":5,"
        "\"inconclusive_since_ms\":7,\"ended_ms\":0,\"reason\":\"why \\\"not\\\"\\n\\u00e9\"}";
    static const struct bad_case bad[] = {
        {"", "state: invalid JSON"},
        {"[1]", "state: must be a JSON object"},
        {"{\"phase\":\"running\",\"stage\":\"canary\",\"step\":0,\"step_started_ms\":0,"
         "\"inconclusive_since_ms\":0,\"reason\":\"\"}",
         "ended_ms: missing"},
        {"{\"phase\":\"running\",\"stage\":\"canary\",\"step\":0,\"step_started_ms\":0,"
         "\"inconclusive_since_ms\":0,\"ended_ms\":0,\"reason\":\"\",\"weight\":5}",
         "weight: unknown field"},
        {"{\"phase\":\"done\",\"stage\":\"canary\",\"step\":0,\"step_started_ms\":0,"
         "\"inconclusive_since_ms\":0,\"ended_ms\":0,\"reason\":\"\"}",
         "phase: 'done' is not one of running, paused, promoted, rolled_back, aborted"},
        {"{\"phase\":\"running\",\"stage\":\"shadow\",\"step\":0,\"step_started_ms\":0,"
         "\"inconclusive_since_ms\":0,\"ended_ms\":0,\"reason\":\"\"}",
         "stage: a canary rollout has no stage 'shadow'"},
        {"{\"phase\":\"running\",\"stage\":\"check\",\"step\":0,\"step_started_ms\":0,"
         "\"inconclusive_since_ms\":0,\"ended_ms\":0,\"reason\":\"\"}",
         "stage: a canary rollout has no stage 'check'"},
        {"{\"phase\":\"running\",\"stage\":\"canary\",\"step\":3,\"step_started_ms\":0,"
         "\"inconclusive_since_ms\":0,\"ended_ms\":0,\"reason\":\"\"}",
         "step: 3 is past the strategy's last judged step (2)"},
        {"{\"phase\":\"promoted\",\"stage\":\"canary\",\"step\":4,\"step_started_ms\":0,"
         "\"inconclusive_since_ms\":0,\"ended_ms\":9,\"reason\":\"\"}",
         "step: 4 is past the strategy's last step (3)"},
        {"{\"phase\":\"running\",\"stage\":\"canary\",\"step\":99,\"step_started_ms\":0,"
         "\"inconclusive_since_ms\":0,\"ended_ms\":0,\"reason\":\"\"}",
         "step: must be an integer from 0 to 15"},
        {"{\"phase\":\"running\",\"stage\":\"canary\",\"step\":-1,\"step_started_ms\":0,"
         "\"inconclusive_since_ms\":0,\"ended_ms\":0,\"reason\":\"\"}",
         "step: must be an integer of at least 0"},
        {"{\"phase\":\"running\",\"stage\":\"canary\",\"step\":0,\"step_started_ms\":-4,"
         "\"inconclusive_since_ms\":0,\"ended_ms\":0,\"reason\":\"\"}",
         "step_started_ms: must be an integer of at least 0"},
        {"{\"phase\":\"running\",\"stage\":\"canary\",\"step\":0,\"step_started_ms\":0,"
         "\"inconclusive_since_ms\":0,\"ended_ms\":3,\"reason\":\"\"}",
         "ended_ms: must be 0 while the rollout is running"},
        {"{\"phase\":\"running\",\"stage\":\"canary\",\"step\":0,\"step_started_ms\":0,"
         "\"inconclusive_since_ms\":0,\"ended_ms\":0,\"reason\":5}",
         "reason: must be a string"},
        {"{\"phase\":\"running\",\"stage\":7,\"step\":0,\"step_started_ms\":0,"
         "\"inconclusive_since_ms\":0,\"ended_ms\":0,\"reason\":\"\"}",
         "stage: must be a string (one of shadow, canary, check)"},
    };
    char longer[512];
    size_t i;

    (void)state;
    spec_of(&canary, "{\"kind\":\"canary\"}");
    spec_of(&blue, "{\"kind\":\"bluegreen\"}");
    md_err_clear(&err);
    if (md_rollout_state_parse(&canary, ok, strlen(ok), &st, &err) != MD_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(st.phase, MD_ROLLOUT_PAUSED);
    assert_int_equal(st.step, 2);
    assert_string_equal(st.reason, "why \"not\"\n\xc3\xa9");
    assert_state_roundtrip(&canary, &st);

    for (i = 0; i < MD_ARRAY_LEN(bad); i++) {
        int rc;

        md_err_clear(&err);
        rc = md_rollout_state_parse(&canary, bad[i].json, strlen(bad[i].json), &st, &err);
        if (rc != MD_EINVAL || strstr(err.msg, bad[i].needle) == NULL)
            fail_msg("%s: want '%s', got %s '%s'", bad[i].json, bad[i].needle, md_strerror(rc),
                     err.msg);
    }
    /* A bluegreen rollout has only its check, at step 0. */
    assert_int_equal(md_rollout_state_parse(&blue, ok, strlen(ok), &st, &err), MD_EINVAL);
    assert_string_equal(err.msg, "stage: a bluegreen rollout has no stage 'canary'");
    (void)snprintf(longer, sizeof(longer),
                   "{\"phase\":\"running\",\"stage\":\"check\",\"step\":1,\"step_started_ms\":0,"
                   "\"inconclusive_since_ms\":0,\"ended_ms\":0,\"reason\":\"\"}");
    assert_int_equal(md_rollout_state_parse(&blue, longer, strlen(longer), &st, &err), MD_EINVAL);
    assert_string_equal(err.msg, "step: must be 0 in stage 'check'");
    /* A reason longer than a state holds. */
    i = (size_t)snprintf(longer, sizeof(longer),
                         "{\"phase\":\"running\",\"stage\":\"check\",\"step\":0,"
                         "\"step_started_ms\":0,\"inconclusive_since_ms\":0,\"ended_ms\":0,"
                         "\"reason\":\"");
    memset(longer + i, 'x', 300);
    (void)snprintf(longer + i + 300, sizeof(longer) - i - 300, "\"}");
    assert_int_equal(md_rollout_state_parse(&blue, longer, strlen(longer), &st, &err), MD_EINVAL);
    assert_string_equal(err.msg, "reason: longer than 255 bytes");
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(md_rollout_kind_name(MD_ROLLOUT_KIND_SHADOW_CANARY), "shadow_canary");
    assert_string_equal(md_rollout_kind_name((enum md_rollout_kind)0), "?");
    assert_string_equal(md_rollout_kind_name((enum md_rollout_kind)9), "?");
    assert_string_equal(md_rollout_phase_name(MD_ROLLOUT_ROLLED_BACK), "rolled_back");
    assert_string_equal(md_rollout_stage_name(MD_ROLLOUT_STAGE_CHECK), "check");
    assert_string_equal(md_rollout_action_name(MD_DECISION_INCONCLUSIVE), "inconclusive");
    assert_string_equal(md_rollout_action_name(MD_DECISION_ABORT), "abort");
    assert_string_equal(md_rollout_cause_name(MD_ROLLOUT_CAUSE_TIME), "interval");
    assert_string_equal(md_gate_cmp_name(MD_GATE_MIN_RATIO), "min_ratio");
    assert_string_equal(md_gate_result_name(MD_GATE_INCONCLUSIVE), "inconclusive");
    assert_string_equal(md_rollout_cmd_name(MD_ROLLOUT_CMD_ROLLBACK), "rollback");
    assert_int_equal(md_rollout_phase_parse("aborted"), MD_ROLLOUT_ABORTED);
    assert_int_equal(md_rollout_phase_parse("rolled back"), 0);
    assert_int_equal(md_rollout_kind_parse("bluegreen"), MD_ROLLOUT_KIND_BLUEGREEN);
    assert_int_equal(md_rollout_stage_parse("shadow"), MD_ROLLOUT_STAGE_SHADOW);
    assert_int_equal(md_gate_cmp_parse("max_delta"), MD_GATE_MAX_DELTA);
    assert_int_equal(md_gate_cmp_parse("?"), 0);
    assert_string_equal(md_gate_op(MD_GATE_MAX_RATIO), "<=");
    assert_string_equal(md_gate_op(MD_GATE_MIN), ">=");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strategy_defaults),
        cmocka_unit_test(test_strategy_full),
        cmocka_unit_test(test_strategy_errors),
        cmocka_unit_test(test_strategy_from_json),
        cmocka_unit_test(test_canary_promote),
        cmocka_unit_test(test_canary_two_steps),
        cmocka_unit_test(test_rollback_relative),
        cmocka_unit_test(test_rollback_absolute),
        cmocka_unit_test(test_inconclusive_pause),
        cmocka_unit_test(test_inconclusive_rollback),
        cmocka_unit_test(test_nan_and_empty),
        cmocka_unit_test(test_bluegreen),
        cmocka_unit_test(test_shadow_canary),
        cmocka_unit_test(test_restart_and_clock),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_command_note),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_spec_json),
        cmocka_unit_test(test_state_json),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
