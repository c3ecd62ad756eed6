/* SPDX-License-Identifier: MIT */
/*
 * fuzz_rollout.c: libFuzzer target for the rollout controller's parsers
 * (serve/rollout): the same bytes go to the strategy, the spec and the
 * state parser (the state against a spec of each kind). A refusal must say
 * why; what is accepted must format to JSON that parses back to the same
 * text, and must survive the controller: a rollout with a parsed strategy
 * is stepped through good, failing, NaN and empty measurements, and a
 * parsed state gets every command and a step; every state met must pass
 * md_rollout_state_check and read back the same, every decision must be
 * JSON, and the weights must add up to 100 with fractions in [0, 1].
 */
#include "serve/rollout.h"

#include <jansson.h>
#include <math.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define T0 1700000000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_refusal(int rc, const struct md_err *err)
{
    CHECK(rc == MD_EINVAL);
    CHECK(err->msg[0] != '\0');
}

static void check_weights(const struct md_rollout_weights *w)
{
    CHECK(w->candidate <= 100 && w->candidate + w->champion == 100);
    CHECK(w->shadow >= 0 && w->shadow <= 1);
    CHECK(w->mirror >= 0 && w->mirror <= 1);
}

/* The state passes its checks and reads back as the same text. */
static void check_state(const struct md_rollout_spec *spec, const struct md_rollout_state *st)
{
    struct md_rollout_state back;
    struct md_rollout_weights w;
    struct md_buf a;
    struct md_buf b;
    struct md_err err;

    CHECK(md_rollout_state_check(spec, st, &err) == MD_OK);
    md_buf_init(&a, 1 << 16);
    md_buf_init(&b, 1 << 16);
    CHECK(md_rollout_state_format(st, &a) == MD_OK);
    CHECK(md_rollout_state_parse(spec, a.data, a.len, &back, &err) == MD_OK);
    CHECK(md_rollout_state_format(&back, &b) == MD_OK);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    md_buf_release(&a);
    md_buf_release(&b);
    md_rollout_weights(spec, st, &w);
    check_weights(&w);
}

static void check_decision(const struct md_rollout_decision *d)
{
    struct md_buf b;
    json_error_t je;
    json_t *root;

    check_weights(&d->weights);
    CHECK(d->n_gates <= MD_ROLLOUT_GATES);
    CHECK(d->failed < (int)d->n_gates);
    md_buf_init(&b, 1 << 20);
    CHECK(md_rollout_decision_format(d, &b) == MD_OK);
    root = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &je);
    CHECK(root != NULL && json_is_object(root));
    json_decref(root);
    md_buf_release(&b);
}

/* Measurements of every kind, by number: good, bad, NaN, infinite, empty. */
static void measure(const struct md_rollout_strategy *s, unsigned kind,
                    struct md_rollout_metric *metrics, struct md_rollout_measure *m)
{
    static const double values[][2] = {{0.01, 0.01},          {1e9, 0.0}, {NAN, 0.5},
                                       {INFINITY, -INFINITY}, {0, 0},     {-1, 1e-300}};
    size_t i;

    memset(m, 0, sizeof(*m));
    m->metrics = metrics;
    m->candidate_requests = kind % 3 == 2 ? 0 : 1000000;
    m->champion_requests = m->candidate_requests;
    m->n_metrics = kind % 7 == 6 ? 0 : s->n_gates;
    for (i = 0; i < m->n_metrics; i++) {
        const double *v = values[(kind + i) % MD_ARRAY_LEN(values)];

        metrics[i].name = s->gates[i].metric;
        metrics[i].candidate = v[0];
        metrics[i].champion = v[1];
        metrics[i].candidate_samples = kind % 5 == 4 ? 0 : 1000000000000ULL;
        metrics[i].champion_samples = kind % 4 == 3 ? 0 : 1000000000000ULL;
    }
}

/* Steps a rollout of s from its start until it ends, or a bounded number of ticks. */
static void simulate(const struct md_rollout_spec *spec, unsigned seed)
{
    struct md_rollout_metric metrics[MD_ROLLOUT_GATES];
    struct md_rollout_measure m;
    struct md_rollout_state st;
    struct md_rollout_decision d;
    struct md_err err;
    int64_t now = T0;
    unsigned tick;

    md_rollout_begin(spec, now, &st, &d);
    check_decision(&d);
    check_state(spec, &st);
    for (tick = 0; tick < 40 && md_rollout_active(&st); tick++) {
        unsigned kind = (seed + tick) % 11;

        now += (int64_t)(kind % 2 == 0 ? 3600 : 30) * 1000;
        measure(&spec->strategy, kind < 6 ? 0 : kind, metrics, &m);
        if (st.phase == MD_ROLLOUT_PAUSED) {
            CHECK(md_rollout_command(spec, &st, MD_ROLLOUT_CMD_RESUME, now, "go", &m, &d, &st,
                                     &err) == MD_OK);
        } else {
            CHECK(md_rollout_step(spec, &st, now, &m, &d, &st, &err) == MD_OK);
        }
        check_decision(&d);
        check_state(spec, &st);
    }
    if (!md_rollout_active(&st))
        CHECK(md_rollout_step(spec, &st, now, NULL, &d, &st, &err) == MD_ECONFLICT);
}

/* Every command and a step on st, which parsed against spec. */
static void drive(const struct md_rollout_spec *spec, const struct md_rollout_state *st)
{
    struct md_rollout_metric metrics[MD_ROLLOUT_GATES];
    struct md_rollout_measure m;
    struct md_rollout_state next;
    struct md_rollout_decision d;
    struct md_err err;
    int cmd;
    int rc;

    check_state(spec, st);
    measure(&spec->strategy, 0, metrics, &m);
    for (cmd = MD_ROLLOUT_CMD_PAUSE; cmd <= MD_ROLLOUT_CMD_ROLLBACK; cmd++) {
        rc = md_rollout_command(spec, st, (enum md_rollout_cmd)cmd, T0, NULL, &m, &d, &next, &err);
        CHECK(rc == MD_OK || rc == MD_ECONFLICT);
        if (rc == MD_OK) {
            check_decision(&d);
            check_state(spec, &next);
        }
    }
    rc = md_rollout_step(spec, st, INT64_MAX / 2, &m, &d, &next, &err);
    CHECK((rc == MD_OK) == md_rollout_active(st));
    if (rc == MD_OK) {
        check_decision(&d);
        check_state(spec, &next);
    }
}

static void spec_for(struct md_rollout_spec *spec, enum md_rollout_kind kind)
{
    memset(spec, 0, sizeof(*spec));
    spec->id = 1;
    (void)snprintf(spec->model, sizeof(spec->model), "m");
    spec->candidate = 2;
    spec->champion = 1;
    md_rollout_strategy_default(&spec->strategy, kind);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct md_rollout_spec spec;
    struct md_rollout_spec back;
    struct md_rollout_state st;
    struct md_buf a;
    struct md_buf b;
    struct md_err err;
    int kind;
    int rc;

    if (size > 1 << 16)
        return 0;
    md_buf_init(&a, 1 << 20);
    md_buf_init(&b, 1 << 20);

    /* A strategy: round trip, then a rollout with it. */
    spec_for(&spec, MD_ROLLOUT_KIND_CANARY);
    err.msg[0] = '\0';
    rc = md_rollout_strategy_parse(text, size, &spec.strategy, &err);
    if (rc == MD_OK) {
        struct md_rollout_strategy again;

        CHECK(md_rollout_spec_check(&spec, &err) == MD_OK);
        CHECK(md_rollout_strategy_format(&spec.strategy, &a) == MD_OK);
        CHECK(md_rollout_strategy_parse(a.data, a.len, &again, &err) == MD_OK);
        CHECK(md_rollout_strategy_format(&again, &b) == MD_OK);
        CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        simulate(&spec, size);
    } else {
        check_refusal(rc, &err);
    }
    md_buf_reset(&a);
    md_buf_reset(&b);

    /* A spec: round trip. */
    err.msg[0] = '\0';
    rc = md_rollout_spec_parse(text, size, &spec, &err);
    if (rc == MD_OK) {
        CHECK(md_rollout_spec_format(&spec, &a) == MD_OK);
        CHECK(md_rollout_spec_parse(a.data, a.len, &back, &err) == MD_OK);
        CHECK(md_rollout_spec_format(&back, &b) == MD_OK);
        CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    } else {
        check_refusal(rc, &err);
    }

    /* A state, against a rollout of each kind. */
    for (kind = MD_ROLLOUT_KIND_CANARY; kind <= MD_ROLLOUT_KIND_SHADOW_CANARY; kind++) {
        spec_for(&spec, (enum md_rollout_kind)kind);
        err.msg[0] = '\0';
        rc = md_rollout_state_parse(&spec, text, size, &st, &err);
        if (rc == MD_OK)
            drive(&spec, &st);
        else
            check_refusal(rc, &err);
    }
    md_buf_release(&a);
    md_buf_release(&b);
    return 0;
}
