/* SPDX-License-Identifier: MIT */
/*
 * rollout.c: the rollout controller's state machine: judging a stage's
 * gates, the step that advances, promotes, rolls back or waits, the
 * operator's commands, and the weights of a state. Pure functions of their
 * arguments (the time comes from the caller); the JSON forms of strategies,
 * specs, states and decisions live in rollout_json.c.
 */
#include "serve/rollout.h"
#include "serve/rollout_int.h"

#include <math.h>
#include <stdarg.h>

/* ---- names ---------------------------------------------------------------- */

static const char *const kind_names[] = {NULL, "canary", "bluegreen", "shadow_canary"};
static const char *const phase_names[] = {NULL,       "running",     "paused",
                                          "promoted", "rolled_back", "aborted"};
/* The phases as a sentence says them. */
static const char *const phase_texts[] = {NULL,       "running",     "paused",
                                          "promoted", "rolled back", "aborted"};
static const char *const stage_names[] = {NULL, "shadow", "canary", "check"};
static const char *const action_names[] = {NULL,      "start",   "wait",     "inconclusive",
                                           "advance", "promote", "rollback", "pause",
                                           "resume",  "abort"};
static const char *const cause_names[] = {NULL,           "start",  "interval", "gates",
                                          "inconclusive", "paused", "command"};
static const char *const cmp_names[] = {NULL,        "min",       "max",      "min_delta",
                                        "max_delta", "min_ratio", "max_ratio"};
static const char *const result_names[] = {NULL, "held", "failed", "inconclusive"};
static const char *const cmd_names[] = {NULL, "pause", "resume", "promote", "abort", "rollback"};
/* What a command does, in the sentence that refuses it ("nothing to roll back"). */
static const char *const cmd_verbs[] = {NULL, "pause", "resume", "promote", "abort", "roll back"};

static const char *name_of(const char *const *names, size_t n, int v)
{
    if (v <= 0 || (size_t)v >= n)
        return "?";
    return names[v];
}

static int parse_name(const char *const *names, size_t n, const char *s)
{
    size_t i;

    if (s == NULL)
        return 0;
    for (i = 1; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    return 0;
}

const char *md_rollout_kind_name(enum md_rollout_kind k)
{
    return name_of(kind_names, MD_ARRAY_LEN(kind_names), (int)k);
}

const char *md_rollout_phase_name(enum md_rollout_phase p)
{
    return name_of(phase_names, MD_ARRAY_LEN(phase_names), (int)p);
}

const char *md_rollout_stage_name(enum md_rollout_stage s)
{
    return name_of(stage_names, MD_ARRAY_LEN(stage_names), (int)s);
}

const char *md_rollout_action_name(enum md_rollout_action a)
{
    return name_of(action_names, MD_ARRAY_LEN(action_names), (int)a);
}

const char *md_rollout_cause_name(enum md_rollout_cause c)
{
    return name_of(cause_names, MD_ARRAY_LEN(cause_names), (int)c);
}

const char *md_gate_cmp_name(enum md_gate_cmp c)
{
    return name_of(cmp_names, MD_ARRAY_LEN(cmp_names), (int)c);
}

const char *md_gate_result_name(enum md_gate_result r)
{
    return name_of(result_names, MD_ARRAY_LEN(result_names), (int)r);
}

const char *md_rollout_cmd_name(enum md_rollout_cmd c)
{
    return name_of(cmd_names, MD_ARRAY_LEN(cmd_names), (int)c);
}

enum md_rollout_kind md_rollout_kind_parse(const char *name)
{
    return (enum md_rollout_kind)parse_name(kind_names, MD_ARRAY_LEN(kind_names), name);
}

enum md_rollout_phase md_rollout_phase_parse(const char *name)
{
    return (enum md_rollout_phase)parse_name(phase_names, MD_ARRAY_LEN(phase_names), name);
}

enum md_rollout_stage md_rollout_stage_parse(const char *name)
{
    return (enum md_rollout_stage)parse_name(stage_names, MD_ARRAY_LEN(stage_names), name);
}

enum md_gate_cmp md_gate_cmp_parse(const char *name)
{
    return (enum md_gate_cmp)parse_name(cmp_names, MD_ARRAY_LEN(cmp_names), name);
}

enum md_rollout_cmd md_rollout_cmd_parse(const char *name)
{
    return (enum md_rollout_cmd)parse_name(cmd_names, MD_ARRAY_LEN(cmd_names), name);
}

bool md_rollout_active(const struct md_rollout_state *st)
{
    return st->phase == MD_ROLLOUT_RUNNING || st->phase == MD_ROLLOUT_PAUSED;
}

/* ---- texts ---------------------------------------------------------------- */

/* "rollout 3", or "the rollout" before the store gave it an id. */
static void rollout_title(const struct md_rollout_spec *spec, char *out, size_t n)
{
    if (spec->id > 0)
        (void)snprintf(out, n, "rollout %lld", (long long)spec->id);
    else
        (void)snprintf(out, n, "the rollout");
}

/* The stage st is in, for a sentence: "step 2 (25%)", "the shadow stage". */
static void stage_text(const struct md_rollout_spec *spec, const struct md_rollout_state *st,
                       char *out, size_t n)
{
    const struct md_rollout_strategy *s = &spec->strategy;

    switch (st->stage) {
    case MD_ROLLOUT_STAGE_CANARY:
        if (st->step < s->n_steps)
            (void)snprintf(out, n, "step %u (%u%%)", st->step + 1, s->steps[st->step]);
        else
            (void)snprintf(out, n, "step %u", st->step + 1);
        return;
    case MD_ROLLOUT_STAGE_SHADOW:
        (void)snprintf(out, n, "the shadow stage");
        return;
    case MD_ROLLOUT_STAGE_CHECK:
        (void)snprintf(out, n, "the blue/green check");
        return;
    }
    (void)snprintf(out, n, "an unknown stage");
}

void md_rollout__copy_text(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);

    if (len >= n) {
        len = n - 1;
        /* Back over UTF-8 continuation bytes, so that the cut leaves whole characters. */
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Sets a reason from a format; cut at a UTF-8 boundary when it does not fit. */
static void reason_set(char *dst, const char *fmt, ...) MD_PRINTF(2, 3);

static void reason_set(char *dst, const char *fmt, ...)
{
    char tmp[2 * MD_ROLLOUT_REASON_MAX];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    md_rollout__copy_text(dst, MD_ROLLOUT_REASON_MAX, tmp);
}

/* ---- judging the gates -------------------------------------------------- */

static bool cmp_is_relative(enum md_gate_cmp c)
{
    return c != MD_GATE_MIN && c != MD_GATE_MAX;
}

/* The candidate must be at most the limit (else at least). */
static bool cmp_is_upper(enum md_gate_cmp c)
{
    return c == MD_GATE_MAX || c == MD_GATE_MAX_DELTA || c == MD_GATE_MAX_RATIO;
}

const char *md_gate_op(enum md_gate_cmp c)
{
    return cmp_is_upper(c) ? "<=" : ">=";
}

static const struct md_rollout_metric *find_metric(const struct md_rollout_measure *m,
                                                   const char *name)
{
    size_t i;

    if (m == NULL || m->metrics == NULL)
        return NULL;
    for (i = 0; i < m->n_metrics; i++)
        if (m->metrics[i].name != NULL && strcmp(m->metrics[i].name, name) == 0)
            return &m->metrics[i];
    return NULL;
}

static void gate_inconclusive(struct md_rollout_gate_record *r, const char *fmt, ...)
    MD_PRINTF(2, 3);

static void gate_inconclusive(struct md_rollout_gate_record *r, const char *fmt, ...)
{
    va_list ap;

    r->result = MD_GATE_INCONCLUSIVE;
    r->limit = NAN;
    va_start(ap, fmt);
    (void)vsnprintf(r->note, sizeof(r->note), fmt, ap);
    va_end(ap);
}

/* The note of a failed gate: "0.05 > 0.015 (champion 0.005 + 0.01)". */
static void gate_failed(struct md_rollout_gate_record *r)
{
    const struct md_rollout_gate *g = &r->gate;
    const char *op = cmp_is_upper(g->cmp) ? ">" : "<";

    r->result = MD_GATE_FAILED;
    switch (g->cmp) {
    case MD_GATE_MIN_DELTA:
    case MD_GATE_MAX_DELTA:
        (void)snprintf(r->note, sizeof(r->note), "%.6g %s %.6g (champion %.6g %c %.6g)",
                       r->candidate, op, r->limit, r->champion, g->threshold < 0 ? '-' : '+',
                       fabs(g->threshold));
        return;
    case MD_GATE_MIN_RATIO:
    case MD_GATE_MAX_RATIO:
        (void)snprintf(r->note, sizeof(r->note), "%.6g %s %.6g (champion %.6g x %.6g)",
                       r->candidate, op, r->limit, r->champion, g->threshold);
        return;
    case MD_GATE_MIN:
    case MD_GATE_MAX:
        break;
    }
    (void)snprintf(r->note, sizeof(r->note), "%.6g %s %.6g", r->candidate, op, r->limit);
}

static void judge_gate(const struct md_rollout_gate *g, const struct md_rollout_measure *m,
                       struct md_rollout_gate_record *r)
{
    const struct md_rollout_metric *x = find_metric(m, g->metric);
    bool relative = cmp_is_relative(g->cmp);
    double limit;
    bool held;

    memset(r, 0, sizeof(*r));
    r->gate = *g;
    r->candidate = NAN;
    r->champion = NAN;
    r->limit = NAN;
    if (x == NULL) {
        gate_inconclusive(r, "not measured");
        return;
    }
    r->candidate = x->candidate;
    r->champion = x->champion;
    r->candidate_samples = x->candidate_samples;
    r->champion_samples = x->champion_samples;
    if (x->candidate_samples < g->min_samples) {
        gate_inconclusive(r, "candidate: %llu samples of %llu needed",
                          (unsigned long long)x->candidate_samples,
                          (unsigned long long)g->min_samples);
        return;
    }
    if (relative && x->champion_samples < g->min_samples) {
        gate_inconclusive(r, "champion: %llu samples of %llu needed",
                          (unsigned long long)x->champion_samples,
                          (unsigned long long)g->min_samples);
        return;
    }
    if (!isfinite(x->candidate)) {
        gate_inconclusive(r, "candidate: the value is not a finite number");
        return;
    }
    if (relative && !isfinite(x->champion)) {
        gate_inconclusive(r, "champion: the value is not a finite number");
        return;
    }
    switch (g->cmp) {
    case MD_GATE_MIN_DELTA:
    case MD_GATE_MAX_DELTA:
        limit = x->champion + g->threshold;
        break;
    case MD_GATE_MIN_RATIO:
    case MD_GATE_MAX_RATIO:
        limit = x->champion * g->threshold;
        break;
    case MD_GATE_MIN:
    case MD_GATE_MAX:
    default:
        limit = g->threshold;
        break;
    }
    if (!isfinite(limit)) {
        gate_inconclusive(r, "the limit is not a finite number");
        return;
    }
    r->limit = limit;
    held = cmp_is_upper(g->cmp) ? x->candidate <= limit : x->candidate >= limit;
    if (held)
        r->result = MD_GATE_HELD;
    else
        gate_failed(r);
}

/* Judges every gate of s on m (NULL: nothing measured) into d. Returns how
 * many are inconclusive. */
static size_t judge(const struct md_rollout_strategy *s, const struct md_rollout_measure *m,
                    struct md_rollout_decision *d)
{
    size_t i;
    size_t inconclusive = 0;

    d->measured = true;
    d->candidate_requests = m != NULL ? m->candidate_requests : 0;
    d->champion_requests = m != NULL ? m->champion_requests : 0;
    d->n_gates = s->n_gates <= MD_ROLLOUT_GATES ? s->n_gates : MD_ROLLOUT_GATES;
    d->failed = -1;
    for (i = 0; i < d->n_gates; i++) {
        judge_gate(&s->gates[i], m, &d->gates[i]);
        if (d->gates[i].result == MD_GATE_FAILED && d->failed < 0)
            d->failed = (int)i;
        if (d->gates[i].result == MD_GATE_INCONCLUSIVE)
            inconclusive++;
    }
    return inconclusive;
}

/* "gates[0] error_rate max_delta 0.01" */
static void gate_title(const struct md_rollout_decision *d, size_t i, char *out, size_t n)
{
    const struct md_rollout_gate *g = &d->gates[i].gate;

    (void)snprintf(out, n, "gate %s %s %.6g", g->metric, md_gate_cmp_name(g->cmp), g->threshold);
}

/* Why a stage could not be judged: the requests, else the first inconclusive gate. */
static void why_inconclusive(const struct md_rollout_strategy *s,
                             const struct md_rollout_decision *d, char *out, size_t n)
{
    char title[MD_ROLLOUT_METRIC_MAX + 48];
    size_t i;

    if (d->candidate_requests < s->min_requests) {
        (void)snprintf(out, n, "candidate: %llu requests of %llu needed",
                       (unsigned long long)d->candidate_requests,
                       (unsigned long long)s->min_requests);
        return;
    }
    for (i = 0; i < d->n_gates; i++)
        if (d->gates[i].result == MD_GATE_INCONCLUSIVE) {
            gate_title(d, i, title, sizeof(title));
            (void)snprintf(out, n, "%s: %s", title, d->gates[i].note);
            return;
        }
    (void)snprintf(out, n, "nothing to judge");
}

/* ---- states ------------------------------------------------------------- */

/* The stage's least time. */
static int64_t stage_duration_ms(const struct md_rollout_strategy *s, enum md_rollout_stage stage)
{
    if (stage == MD_ROLLOUT_STAGE_CANARY)
        return (int64_t)s->interval_s * 1000;
    return (int64_t)s->shadow_s * 1000;
}

static bool state_equal(const struct md_rollout_state *a, const struct md_rollout_state *b)
{
    return a->phase == b->phase && a->stage == b->stage && a->step == b->step &&
           a->step_started_ms == b->step_started_ms &&
           a->inconclusive_since_ms == b->inconclusive_since_ms && a->ended_ms == b->ended_ms &&
           strcmp(a->reason, b->reason) == 0;
}

static bool weights_equal(const struct md_rollout_weights *a, const struct md_rollout_weights *b)
{
    return a->candidate == b->candidate && a->champion == b->champion && a->shadow == b->shadow &&
           a->mirror == b->mirror;
}

void md_rollout_weights(const struct md_rollout_spec *spec, const struct md_rollout_state *st,
                        struct md_rollout_weights *out)
{
    const struct md_rollout_strategy *s = &spec->strategy;

    memset(out, 0, sizeof(*out));
    out->champion = 100;
    switch (st->phase) {
    case MD_ROLLOUT_PROMOTED:
        out->candidate = 100;
        out->champion = 0;
        return;
    case MD_ROLLOUT_ROLLED_BACK:
    case MD_ROLLOUT_ABORTED:
        return;
    case MD_ROLLOUT_RUNNING:
    case MD_ROLLOUT_PAUSED:
        break;
    default:
        return;
    }
    if (st->stage == MD_ROLLOUT_STAGE_CANARY) {
        /* A state that md_rollout_state_parse would refuse gets the champion's weights. */
        if (st->step >= s->n_steps || s->steps[st->step] > 100)
            return;
        out->candidate = s->steps[st->step];
        out->champion = 100 - out->candidate;
        out->mirror = s->mirror;
    } else if (st->stage == MD_ROLLOUT_STAGE_SHADOW || st->stage == MD_ROLLOUT_STAGE_CHECK) {
        out->shadow = s->shadow_fraction;
    }
}

/* The decision's fields that do not depend on what is decided. */
static void decision_init(const struct md_rollout_spec *spec, const struct md_rollout_state *cur,
                          int64_t now_ms, struct md_rollout_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->at_ms = now_ms;
    d->stage = cur->stage;
    d->step = cur->step;
    d->duration_ms = stage_duration_ms(&spec->strategy, cur->stage);
    d->failed = -1;
    md_rollout_weights(spec, cur, &d->weights);
}

/* Fills in what follows from the state after the decision. */
static void decision_finish(const struct md_rollout_spec *spec, const struct md_rollout_state *cur,
                            const struct md_rollout_state *next, struct md_rollout_decision *d)
{
    struct md_rollout_weights before = d->weights;

    md_rollout_weights(spec, next, &d->weights);
    d->traffic = !weights_equal(&before, &d->weights);
    d->changed = !state_equal(cur, next);
}

static void end_phase(struct md_rollout_state *st, enum md_rollout_phase phase, int64_t now_ms)
{
    st->phase = phase;
    st->ended_ms = now_ms;
    st->inconclusive_since_ms = 0;
}

void md_rollout_begin(const struct md_rollout_spec *spec, int64_t now_ms,
                      struct md_rollout_state *out, struct md_rollout_decision *d)
{
    struct md_rollout_state none;
    char where[64];

    memset(out, 0, sizeof(*out));
    out->phase = MD_ROLLOUT_RUNNING;
    switch (spec->strategy.kind) {
    case MD_ROLLOUT_KIND_SHADOW_CANARY:
        out->stage = MD_ROLLOUT_STAGE_SHADOW;
        break;
    case MD_ROLLOUT_KIND_BLUEGREEN:
        out->stage = MD_ROLLOUT_STAGE_CHECK;
        break;
    case MD_ROLLOUT_KIND_CANARY:
    default:
        out->stage = MD_ROLLOUT_STAGE_CANARY;
        break;
    }
    out->step_started_ms = now_ms;
    /* Before the start, all the traffic was the champion's. */
    memset(&none, 0, sizeof(none));
    none.phase = MD_ROLLOUT_ABORTED;
    decision_init(spec, &none, now_ms, d);
    d->stage = out->stage;
    d->duration_ms = stage_duration_ms(&spec->strategy, out->stage);
    d->action = MD_DECISION_START;
    d->cause = MD_ROLLOUT_CAUSE_START;
    stage_text(spec, out, where, sizeof(where));
    reason_set(d->reason, "started: version %lld against version %lld, %s for at least %lld s",
               (long long)spec->candidate, (long long)spec->champion, where,
               (long long)(d->duration_ms / 1000));
    decision_finish(spec, &none, out, d);
    d->changed = true;
}

/* ---- the step ----------------------------------------------------------- */

/* Every gate held: the next stage, or the promotion. */
static void step_pass(const struct md_rollout_spec *spec, struct md_rollout_state *st,
                      int64_t now_ms, struct md_rollout_decision *d, const char *where)
{
    const struct md_rollout_strategy *s = &spec->strategy;
    char held[96];
    char next[64];

    (void)snprintf(held, sizeof(held), "every gate held over %lld s and %llu requests",
                   (long long)(d->elapsed_ms / 1000), (unsigned long long)d->candidate_requests);
    d->cause = MD_ROLLOUT_CAUSE_GATES;
    st->inconclusive_since_ms = 0;
    if (st->stage == MD_ROLLOUT_STAGE_CHECK ||
        (st->stage == MD_ROLLOUT_STAGE_CANARY && st->step + 2 >= s->n_steps)) {
        d->action = MD_DECISION_PROMOTE;
        end_phase(st, MD_ROLLOUT_PROMOTED, now_ms);
        reason_set(st->reason, "%s: %s; promoted: all traffic to version %lld", where, held,
                   (long long)spec->candidate);
        return;
    }
    d->action = MD_DECISION_ADVANCE;
    if (st->stage == MD_ROLLOUT_STAGE_SHADOW) {
        st->stage = MD_ROLLOUT_STAGE_CANARY;
        st->step = 0;
    } else {
        st->step++;
    }
    st->step_started_ms = now_ms;
    stage_text(spec, st, next, sizeof(next));
    reason_set(d->reason, "%s: %s; on to %s", where, held, next);
}

/* The stage's time is over and it cannot be judged: wait, or after the limit pause or roll back. */
static void step_inconclusive(const struct md_rollout_spec *spec, struct md_rollout_state *st,
                              int64_t now_ms, struct md_rollout_decision *d, const char *where)
{
    const struct md_rollout_strategy *s = &spec->strategy;
    int64_t limit_ms = (int64_t)s->inconclusive_after_s * 1000;
    int64_t waited_ms;
    char why[160];

    why_inconclusive(s, d, why, sizeof(why));
    d->cause = MD_ROLLOUT_CAUSE_INCONCLUSIVE;
    if (st->inconclusive_since_ms == 0 || st->inconclusive_since_ms > now_ms)
        st->inconclusive_since_ms = now_ms;
    waited_ms = now_ms - st->inconclusive_since_ms;
    if (waited_ms < limit_ms) {
        d->action = MD_DECISION_INCONCLUSIVE;
        reason_set(d->reason, "%s: inconclusive for %lld s of %lld s: %s", where,
                   (long long)(waited_ms / 1000), (long long)(limit_ms / 1000), why);
        return;
    }
    if (s->inconclusive_action == MD_INCONCLUSIVE_ROLLBACK) {
        d->action = MD_DECISION_ROLLBACK;
        end_phase(st, MD_ROLLOUT_ROLLED_BACK, now_ms);
        reason_set(st->reason, "%s: inconclusive for %lld s: %s; rolled back", where,
                   (long long)(waited_ms / 1000), why);
        return;
    }
    d->action = MD_DECISION_PAUSE;
    st->phase = MD_ROLLOUT_PAUSED;
    reason_set(st->reason, "%s: inconclusive for %lld s: %s; paused", where,
               (long long)(waited_ms / 1000), why);
}

int md_rollout_step(const struct md_rollout_spec *spec, const struct md_rollout_state *cur,
                    int64_t now_ms, const struct md_rollout_measure *m,
                    struct md_rollout_decision *d, struct md_rollout_state *next,
                    struct md_err *err)
{
    const struct md_rollout_strategy *s = &spec->strategy;
    struct md_rollout_state st = *cur;
    struct md_rollout_decision out;
    char title[48];
    char where[64];
    char gate[MD_ROLLOUT_METRIC_MAX + 48];
    int64_t start = cur->step_started_ms;
    size_t inconclusive;

    if (!md_rollout_active(cur)) {
        rollout_title(spec, title, sizeof(title));
        return md_err_set(err, MD_ECONFLICT, "%s is %s; there is nothing to step", title,
                          name_of(phase_texts, MD_ARRAY_LEN(phase_texts), (int)cur->phase));
    }
    decision_init(spec, cur, now_ms, &out);
    inconclusive = judge(s, m, &out);
    if (m != NULL && m->since_ms > start)
        start = m->since_ms;
    out.elapsed_ms = now_ms > start ? now_ms - start : 0;
    stage_text(spec, cur, where, sizeof(where));
    if (cur->phase == MD_ROLLOUT_PAUSED) {
        out.action = MD_DECISION_WAIT;
        out.cause = MD_ROLLOUT_CAUSE_PAUSED;
        /* The pause's own reason says where and why. */
        reason_set(out.reason, "%s", cur->reason[0] != '\0' ? cur->reason : "paused");
    } else if (out.failed >= 0) {
        out.action = MD_DECISION_ROLLBACK;
        out.cause = MD_ROLLOUT_CAUSE_GATES;
        end_phase(&st, MD_ROLLOUT_ROLLED_BACK, now_ms);
        gate_title(&out, (size_t)out.failed, gate, sizeof(gate));
        reason_set(st.reason, "%s: %s failed: %s; rolled back", where, gate,
                   out.gates[out.failed].note);
    } else if (out.elapsed_ms < out.duration_ms) {
        out.action = MD_DECISION_WAIT;
        out.cause = MD_ROLLOUT_CAUSE_TIME;
        reason_set(out.reason, "%s: %lld s of %lld s", where, (long long)(out.elapsed_ms / 1000),
                   (long long)(out.duration_ms / 1000));
    } else if (out.candidate_requests < s->min_requests || inconclusive > 0) {
        step_inconclusive(spec, &st, now_ms, &out, where);
    } else {
        step_pass(spec, &st, now_ms, &out, where);
    }
    if (!md_rollout_active(&st) || st.phase != cur->phase)
        md_rollout__copy_text(out.reason, sizeof(out.reason), st.reason);
    decision_finish(spec, cur, &st, &out);
    *d = out;
    *next = st;
    return MD_OK;
}

/* ---- commands ----------------------------------------------------------- */

/* Whether cmd makes sense in cur's phase; MD_ECONFLICT saying why not. */
static int cmd_allowed(const struct md_rollout_spec *spec, const struct md_rollout_state *cur,
                       enum md_rollout_cmd cmd, struct md_err *err)
{
    const char *phase = name_of(phase_texts, MD_ARRAY_LEN(phase_texts), (int)cur->phase);
    const char *verb = name_of(cmd_verbs, MD_ARRAY_LEN(cmd_verbs), (int)cmd);
    char title[48];

    rollout_title(spec, title, sizeof(title));
    if (md_rollout_active(cur)) {
        if (cmd == MD_ROLLOUT_CMD_PAUSE && cur->phase == MD_ROLLOUT_PAUSED)
            return md_err_set(err, MD_ECONFLICT, "%s is paused already", title);
        if (cmd == MD_ROLLOUT_CMD_RESUME && cur->phase == MD_ROLLOUT_RUNNING)
            return md_err_set(err, MD_ECONFLICT, "%s is running; nothing to resume", title);
        return MD_OK;
    }
    if (cur->phase == MD_ROLLOUT_PROMOTED &&
        (cmd == MD_ROLLOUT_CMD_ROLLBACK || cmd == MD_ROLLOUT_CMD_ABORT))
        return md_err_set(err, MD_ECONFLICT,
                          "%s is promoted; nothing to %s (to go back to version %lld, change the "
                          "traffic policy or start a rollout of it)",
                          title, verb, (long long)spec->champion);
    return md_err_set(err, MD_ECONFLICT, "%s is %s; nothing to %s", title, phase, verb);
}

int md_rollout_command(const struct md_rollout_spec *spec, const struct md_rollout_state *cur,
                       enum md_rollout_cmd cmd, int64_t now_ms, const char *note,
                       const struct md_rollout_measure *m, struct md_rollout_decision *d,
                       struct md_rollout_state *next, struct md_err *err)
{
    struct md_rollout_state st = *cur;
    struct md_rollout_decision out;
    char where[64];
    char head[128];
    int rc;

    if (cmd < MD_ROLLOUT_CMD_PAUSE || cmd > MD_ROLLOUT_CMD_ROLLBACK)
        return md_err_set(err, MD_EINVAL,
                          "command: %d is not one of pause, resume, promote, "
                          "abort, rollback",
                          (int)cmd);
    rc = cmd_allowed(spec, cur, cmd, err);
    if (rc != MD_OK)
        return rc;
    decision_init(spec, cur, now_ms, &out);
    if (m != NULL) {
        (void)judge(&spec->strategy, m, &out);
        if (m->since_ms > cur->step_started_ms)
            out.elapsed_ms = now_ms > m->since_ms ? now_ms - m->since_ms : 0;
        else
            out.elapsed_ms = now_ms > cur->step_started_ms ? now_ms - cur->step_started_ms : 0;
    }
    out.cause = MD_ROLLOUT_CAUSE_COMMAND;
    md_rollout__copy_text(out.command, sizeof(out.command), md_rollout_cmd_name(cmd));
    stage_text(spec, cur, where, sizeof(where));
    switch (cmd) {
    case MD_ROLLOUT_CMD_PAUSE:
        out.action = MD_DECISION_PAUSE;
        st.phase = MD_ROLLOUT_PAUSED;
        (void)snprintf(head, sizeof(head), "paused by command at %s", where);
        break;
    case MD_ROLLOUT_CMD_RESUME:
        out.action = MD_DECISION_RESUME;
        st.phase = MD_ROLLOUT_RUNNING;
        st.step_started_ms = now_ms;
        st.inconclusive_since_ms = 0;
        (void)snprintf(head, sizeof(head), "resumed by command: %s starts its time again", where);
        break;
    case MD_ROLLOUT_CMD_PROMOTE:
        out.action = MD_DECISION_PROMOTE;
        end_phase(&st, MD_ROLLOUT_PROMOTED, now_ms);
        (void)snprintf(head, sizeof(head), "promoted by command at %s: all traffic to version %lld",
                       where, (long long)spec->candidate);
        break;
    case MD_ROLLOUT_CMD_ABORT:
        out.action = MD_DECISION_ABORT;
        end_phase(&st, MD_ROLLOUT_ABORTED, now_ms);
        (void)snprintf(head, sizeof(head), "aborted by command at %s", where);
        break;
    case MD_ROLLOUT_CMD_ROLLBACK:
    default:
        out.action = MD_DECISION_ROLLBACK;
        end_phase(&st, MD_ROLLOUT_ROLLED_BACK, now_ms);
        (void)snprintf(head, sizeof(head), "rolled back by command at %s", where);
        break;
    }
    if (note != NULL && note[0] != '\0')
        reason_set(out.reason, "%s: %s", head, note);
    else
        reason_set(out.reason, "%s", head);
    /* A running rollout has no reason; every other phase keeps why it is there. */
    if (st.phase == MD_ROLLOUT_RUNNING)
        st.reason[0] = '\0';
    else
        md_rollout__copy_text(st.reason, sizeof(st.reason), out.reason);
    decision_finish(spec, cur, &st, &out);
    *d = out;
    *next = st;
    return MD_OK;
}
