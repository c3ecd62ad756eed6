/* SPDX-License-Identifier: MIT */
/*
 * rollouts.c: the rollout controller's loop around serve/rollout.c's pure
 * decisions: measuring a stage (deltas of the per-route statistics and of
 * the comparisons since the stage began), storing each decision that
 * changes something with its event, and turning the weights of a state
 * into the model's traffic policy (route "stable" the champion, "canary"
 * the candidate, a shadow of the candidate in the shadow and check stages).
 *
 * Order: a decision's state, decision and event are committed first, then
 * the traffic moves. A crash between the two leaves a stored state whose
 * traffic was not applied: md_rollouts_open applies the traffic of every
 * active rollout's state at start, so the two meet again.
 */
#include "control/rollouts.h"
#include "serve/policy.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/sys.h"
#include "watch/metrics.h"

#include <jansson.h>
#include <math.h>

#define SNAP_MAX 256 /* (version, route) pairs read per model */

/* One active rollout, as control keeps it between ticks. */
struct active {
    struct md_rollout_spec spec;
    struct md_rollout_state state;
    int64_t window;   /* the state's step_started_ms the baseline belongs to; -1: none */
    int64_t since_ms; /* when the baseline was taken */
    struct md_route_snapshot cand0, champ0;
    bool have_cand0, have_champ0;
    uint64_t rows0, agree0; /* the pair (champion, candidate) at the baseline */
};

struct md_rollouts {
    struct md_repo *repo;
    struct md_store *store;
    struct md_compare *cmp;
    const struct md_signals *signals; /* or NULL */
    struct active *v;                 /* active rollouts */
    size_t n;
    struct md_route_snapshot *snap; /* SNAP_MAX, scratch */
};

/* ---- formatting ---------------------------------------------------------- */

/* The JSON of a rollout: what GET shows of one, from control's view. */
static char *answer_of(const struct md_rollout_spec *spec, const struct md_rollout_state *st,
                       const struct md_rollout_decision *d)
{
    struct md_rollout_weights w;
    struct md_buf b;
    char *out = NULL;
    int rc;

    md_rollout_weights(spec, st, &w);
    md_buf_init(&b, (size_t)4 << 20);
    (void)md_buf_printf(&b, "{\"id\":%lld,\"model\":", (long long)spec->id);
    (void)md_buf_json_str(&b, spec->model, strlen(spec->model));
    (void)md_buf_printf(&b,
                        ",\"candidate\":\"%lld\",\"champion\":\"%lld\",\"phase\":\"%s\","
                        "\"stage\":\"%s\",\"step\":%u,\"weights\":",
                        (long long)spec->candidate, (long long)spec->champion,
                        md_rollout_phase_name(st->phase), md_rollout_stage_name(st->stage),
                        st->step);
    rc = md_rollout_weights_format(&w, &b);
    (void)md_buf_puts(&b, ",\"spec\":");
    if (rc == MD_OK)
        rc = md_rollout_spec_format(spec, &b);
    (void)md_buf_puts(&b, ",\"state\":");
    if (rc == MD_OK)
        rc = md_rollout_state_format(st, &b);
    if (rc == MD_OK && d != NULL) {
        (void)md_buf_puts(&b, ",\"decision\":");
        rc = md_rollout_decision_format(d, &b);
    }
    (void)md_buf_puts(&b, "}");
    if (rc == MD_OK && md_buf_putc(&b, '\0') == MD_OK)
        out = md_buf_detach(&b, NULL);
    md_buf_release(&b);
    return out;
}

/* ---- the store ------------------------------------------------------------ */

struct save_job {
    const struct md_rollout_spec *spec;
    const struct md_rollout_state *state;
    const struct md_rollout_decision *d;
    bool add; /* a new rollout: added, its id allocated */
    int64_t id;
};

static const char *event_kind(enum md_rollout_action a)
{
    switch (a) {
    case MD_DECISION_START:
        return "rollout_started";
    case MD_DECISION_ADVANCE:
        return "rollout_stepped";
    case MD_DECISION_PROMOTE:
        return "rollout_promoted";
    case MD_DECISION_ROLLBACK:
        return "rollout_rolled_back";
    case MD_DECISION_PAUSE:
        return "rollout_paused";
    case MD_DECISION_RESUME:
        return "rollout_resumed";
    case MD_DECISION_ABORT:
        return "rollout_aborted";
    case MD_DECISION_INCONCLUSIVE:
        return "rollout_inconclusive";
    default:
        return "rollout_decision";
    }
}

static int run_save(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct save_job *j = ctx;
    struct md_buf spec, state, dec;
    struct md_store_event ev;
    char message[MD_ROLLOUT_REASON_MAX + 64];
    int64_t now = md_wall_ms();
    int rc;

    md_buf_init(&spec, (size_t)1 << 20);
    md_buf_init(&state, (size_t)1 << 20);
    md_buf_init(&dec, (size_t)4 << 20);
    rc = md_rollout_spec_format(j->spec, &spec);
    if (rc == MD_OK)
        rc = md_rollout_state_format(j->state, &state);
    if (rc == MD_OK)
        rc = md_rollout_decision_format(j->d, &dec);
    if (rc == MD_OK && (md_buf_putc(&spec, '\0') != MD_OK || md_buf_putc(&state, '\0') != MD_OK ||
                        md_buf_putc(&dec, '\0') != MD_OK))
        rc = MD_ENOMEM;
    if (rc != MD_OK) {
        rc = md_err_set(err, MD_ENOMEM, "out of memory for a rollout's record");
    } else if (j->add) {
        struct md_store_rollout r;

        r.id = 0;
        r.model = j->spec->model;
        r.candidate = j->spec->candidate;
        r.phase = md_rollout_phase_name(j->state->phase);
        r.active = md_rollout_active(j->state);
        r.spec = spec.data;
        r.state = state.data;
        r.created_ms = j->spec->created_ms;
        r.updated_ms = now;
        rc = md_store_tx_rollout_add(tx, &r, &j->id, err);
    } else {
        rc = md_store_tx_rollout_update(tx, j->id, md_rollout_phase_name(j->state->phase),
                                        md_rollout_active(j->state), state.data, now, err);
    }
    if (rc == MD_OK)
        rc = md_store_tx_decision_add(tx, j->id, j->d->at_ms, dec.data, err);
    if (rc == MD_OK) {
        (void)snprintf(message, sizeof(message), "rollout %lld of version %lld: %s",
                       (long long)j->id, (long long)j->spec->candidate, j->d->reason);
        ev.id = 0;
        ev.at_ms = now;
        ev.model = j->spec->model;
        ev.kind = event_kind(j->d->action);
        ev.message = message;
        ev.details = dec.data;
        rc = md_store_tx_event_add(tx, &ev, NULL, err);
    }
    if (rc == MD_OK) {
        /* The decision in the audit log, in the same transaction. */
        char action[64];
        char target[MD_STORE_NAME_MAX + 96];

        (void)snprintf(action, sizeof(action), "rollout.%s", ev.kind + sizeof("rollout_") - 1);
        (void)snprintf(target, sizeof(target), "model=%s rollout=%lld version=%lld", j->spec->model,
                       (long long)j->id, (long long)j->spec->candidate);
        rc = md_store_tx_audit_decision(tx, "control:rollout", action, target, j->d->reason, NULL,
                                        err);
    }
    md_buf_release(&spec);
    md_buf_release(&state);
    md_buf_release(&dec);
    return rc;
}

/* ---- traffic ---------------------------------------------------------------- */

/* The policy the weights of st want, as JSON text into b. */
static int policy_text(const struct md_rollout_spec *spec, const struct md_rollout_state *st,
                       struct md_buf *b)
{
    struct md_rollout_weights w;

    md_rollout_weights(spec, st, &w);
    if (w.candidate >= 100 || (!md_rollout_active(st) && w.candidate == 0))
        return md_buf_printf(b, "{\"routes\":[{\"name\":\"stable\",\"version\":\"%lld\"}]}",
                             (long long)(w.candidate >= 100 ? spec->candidate : spec->champion));
    (void)md_buf_printf(b,
                        "{\"routes\":[{\"name\":\"stable\",\"version\":\"%lld\",\"weight\":%u},"
                        "{\"name\":\"canary\",\"version\":\"%lld\",\"weight\":%u}]",
                        (long long)spec->champion, w.champion, (long long)spec->candidate,
                        w.candidate);
    if (md_rollout_active(st) && w.shadow > 0)
        (void)md_buf_printf(b, ",\"shadows\":[{\"version\":\"%lld\",\"fraction\":%.17g}]",
                            (long long)spec->candidate, w.shadow);
    if (md_rollout_active(st) && w.mirror > 0 && w.candidate > 0)
        (void)md_buf_printf(b, ",\"mirror\":%.17g", w.mirror);
    return md_buf_puts(b, "}");
}

/* Applies the traffic st wants; on promotion the champion alias moves to
 * the candidate. */
static int apply_traffic(struct md_rollouts *ro, const struct md_rollout_spec *spec,
                         const struct md_rollout_state *st, const char *why, struct md_err *err)
{
    struct md_policy p;
    struct md_buf b;
    int rc;

    md_buf_init(&b, 4096);
    rc = policy_text(spec, st, &b);
    if (rc == MD_OK)
        rc = md_policy_parse(b.data, b.len, &p, err);
    else
        rc = md_err_set(err, MD_EINTERNAL, "rollout policy too long");
    md_buf_release(&b);
    if (rc != MD_OK)
        return rc;
    return md_repo_apply_policy(ro->repo, spec->model, &p,
                                st->phase == MD_ROLLOUT_PROMOTED ? spec->candidate : 0, why, err);
}

/* ---- measuring a stage ------------------------------------------------------ */

static const char *candidate_route(const struct md_rollout_state *st)
{
    return st->stage == MD_ROLLOUT_STAGE_CANARY ? "canary" : "shadow";
}

/* The pair (champion, candidate) of model: rows compared and those that agree. */
static void pair_counts(struct md_rollouts *ro, const struct md_rollout_spec *spec, uint64_t *rows,
                        uint64_t *agree, bool *labels)
{
    struct md_compare_pair pairs[16];
    size_t n;
    size_t i;

    *rows = 0;
    *agree = 0;
    *labels = false;
    if (ro->cmp == NULL)
        return;
    n = md_compare_snapshot(ro->cmp, spec->model, pairs, 16);
    for (i = 0; i < n && i < 16; i++) {
        if (pairs[i].a == spec->champion && pairs[i].b == spec->candidate) {
            *rows = pairs[i].rows;
            *agree = pairs[i].agree;
            *labels = pairs[i].labels;
        }
    }
}

static double ratio(uint64_t a, uint64_t b)
{
    return b > 0 ? (double)a / (double)b : NAN;
}

/*
 * What a's stage measured up to now into m (metrics in mt, at least 4 +
 * MD_ROLLOUT_GATES): the built-in metrics, then the signals the gates name;
 * false when the baseline was (re)taken now: nothing measured yet.
 */
static bool measure(struct md_rollouts *ro, struct active *a, int64_t now,
                    struct md_rollout_measure *m, struct md_rollout_metric *mt)
{
    struct md_metrics *metrics = md_repo_metrics(ro->repo);
    const struct md_route_snapshot *c;
    const struct md_route_snapshot *h;
    struct md_route_snapshot dc, dh;
    size_t n = md_metrics_snapshot(metrics, a->spec.model, ro->snap, SNAP_MAX);
    uint64_t rows, agree;
    bool labels;

    if (n > SNAP_MAX)
        n = SNAP_MAX;
    c = md_route_snapshot_find(ro->snap, n, a->spec.candidate, candidate_route(&a->state));
    h = md_route_snapshot_find(ro->snap, n, a->spec.champion, "stable");
    pair_counts(ro, &a->spec, &rows, &agree, &labels);
    if (a->window != a->state.step_started_ms) {
        a->window = a->state.step_started_ms;
        a->since_ms = now;
        a->have_cand0 = c != NULL;
        if (c != NULL)
            a->cand0 = *c;
        a->have_champ0 = h != NULL;
        if (h != NULL)
            a->champ0 = *h;
        a->rows0 = rows;
        a->agree0 = agree;
        return false;
    }
    memset(&dc, 0, sizeof(dc));
    memset(&dh, 0, sizeof(dh));
    if (c != NULL)
        md_route_snapshot_delta(c, a->have_cand0 ? &a->cand0 : NULL, &dc);
    if (h != NULL)
        md_route_snapshot_delta(h, a->have_champ0 ? &a->champ0 : NULL, &dh);
    rows = rows >= a->rows0 ? rows - a->rows0 : rows;
    agree = agree >= a->agree0 ? agree - a->agree0 : agree;
    memset(m, 0, sizeof(*m));
    m->since_ms = a->since_ms;
    m->candidate_requests = dc.requests;
    m->champion_requests = dh.requests;
    mt[0].name = "error_rate";
    mt[0].candidate = ratio(dc.errors, dc.requests);
    mt[0].champion = ratio(dh.errors, dh.requests);
    mt[0].candidate_samples = dc.requests;
    mt[0].champion_samples = dh.requests;
    mt[1].name = "latency_p99";
    mt[1].candidate = dc.success > 0 ? md_hist_quantile(dc.latency, 0.99) : NAN;
    mt[1].champion = dh.success > 0 ? md_hist_quantile(dh.latency, 0.99) : NAN;
    mt[1].candidate_samples = dc.success;
    mt[1].champion_samples = dh.success;
    mt[2].name = "agreement";
    mt[2].candidate = labels ? ratio(agree, rows) : NAN;
    mt[2].champion = labels && rows > 0 ? 1.0 : NAN;
    mt[2].candidate_samples = labels ? rows : 0;
    mt[2].champion_samples = labels ? rows : 0;
    mt[3].name = "success_rate";
    mt[3].candidate = ratio(dc.success, dc.requests);
    mt[3].champion = ratio(dh.success, dh.requests);
    mt[3].candidate_samples = dc.requests;
    mt[3].champion_samples = dh.requests;
    m->n_metrics = 4 + md_rollouts_measure_signals(ro->signals, &a->spec, a->since_ms, now, mt + 4,
                                                   MD_ROLLOUT_GATES);
    m->metrics = mt;
    return true;
}

/* One signal's value for version over [since_ms, now_ms]; NaN when it fails
 * (logged at debug level: a tick comes every second; the decision shows the
 * gate as not measured). */
static void signal_value(const struct md_signals *signals, const char *metric, const char *model,
                         int64_t version, int64_t since_ms, int64_t now_ms, double *value,
                         uint64_t *samples)
{
    struct md_signal_query q;
    struct md_signal_value v;
    struct md_err err;

    memset(&q, 0, sizeof(q));
    q.metric = metric;
    q.model = model;
    q.version = version;
    q.now_ms = now_ms;
    q.window_ms = now_ms > since_ms ? now_ms - since_ms : 1;
    if (md_signals_value(signals, &q, &v, &err) != MD_OK) {
        md_log_kv(MD_LOG_DEBUG, "rollout gate not measured", "model", model, "metric", metric,
                  "reason", err.msg, MD_KV_END);
        v.value = NAN;
        v.samples = 0;
    }
    *value = v.value;
    *samples = isfinite(v.value) ? v.samples : 0;
}

size_t md_rollouts_measure_signals(const struct md_signals *signals,
                                   const struct md_rollout_spec *spec, int64_t since_ms,
                                   int64_t now_ms, struct md_rollout_metric *mt, size_t n)
{
    const struct md_rollout_strategy *st = &spec->strategy;
    size_t k = 0;

    for (size_t i = 0; signals != NULL && i < st->n_gates && i < MD_ROLLOUT_GATES && k < n; i++) {
        const char *metric = st->gates[i].metric;
        bool seen = false;

        if (md_rollout_metric_builtin(metric))
            continue;
        for (size_t j = 0; j < k && !seen; j++)
            seen = strcmp(mt[j].name, metric) == 0;
        if (seen)
            continue;
        memset(&mt[k], 0, sizeof(mt[k]));
        mt[k].name = metric;
        signal_value(signals, metric, spec->model, spec->candidate, since_ms, now_ms,
                     &mt[k].candidate, &mt[k].candidate_samples);
        signal_value(signals, metric, spec->model, spec->champion, since_ms, now_ms,
                     &mt[k].champion, &mt[k].champion_samples);
        k++;
    }
    return k;
}

/* ---- the loop --------------------------------------------------------------- */

static void forget(struct md_rollouts *ro, size_t i)
{
    (void)md_repo_set_rollout(ro->repo, ro->v[i].spec.model, 0);
    ro->v[i] = ro->v[ro->n - 1];
    ro->n--;
}

/* Stores decision d and next for a, then moves the traffic; a becomes next. */
static int commit(struct md_rollouts *ro, struct active *a, const struct md_rollout_decision *d,
                  const struct md_rollout_state *next, struct md_err *err)
{
    struct save_job j = {&a->spec, next, d, false, a->spec.id};
    int rc = md_store_call(ro->store, run_save, &j, err);

    if (rc != MD_OK)
        return rc;
    a->state = *next;
    md_log_kv(d->action == MD_DECISION_ROLLBACK ? MD_LOG_WARN : MD_LOG_INFO, "rollout decision",
              "model", a->spec.model, "action", md_rollout_action_name(d->action), "reason",
              d->reason, MD_KV_END);
    if (d->traffic) {
        rc = apply_traffic(ro, &a->spec, next, d->reason, err);
        if (rc != MD_OK)
            md_log_kv(MD_LOG_ERROR, "rollout traffic not applied", "model", a->spec.model, "reason",
                      err->msg, MD_KV_END);
    }
    return MD_OK;
}

void md_rollouts_tick(struct md_rollouts *ro, int64_t now_ms)
{
    size_t i = 0;

    while (ro != NULL && i < ro->n) {
        struct active *a = &ro->v[i];
        struct md_rollout_metric mt[4 + MD_ROLLOUT_GATES];
        struct md_rollout_measure m;
        struct md_rollout_decision d;
        struct md_rollout_state next;
        struct md_err err;
        bool have = measure(ro, a, now_ms, &m, mt);

        if (!have) {
            i++;
            continue;
        }
        if (md_rollout_step(&a->spec, &a->state, now_ms, &m, &d, &next, &err) != MD_OK) {
            forget(ro, i);
            continue;
        }
        if (d.changed && commit(ro, a, &d, &next, &err) != MD_OK)
            md_log_kv(MD_LOG_ERROR, "rollout decision not stored; judged again", "model",
                      a->spec.model, "reason", err.msg, MD_KV_END);
        if (!md_rollout_active(&a->state)) {
            forget(ro, i);
            continue;
        }
        i++;
    }
}

/* ---- start, commands ---------------------------------------------------------- */

struct strategy_find {
    char *text;
};

static void found_strategy(void *ctx, const char *name, const char *strategy)
{
    struct strategy_find *f = ctx;

    MD_UNUSED(name);
    free(f->text);
    f->text = md_xstrdup(strategy);
}

static int run_find_strategy(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct strategy_find *f = ctx;

    return md_store_tx_strategies(tx, (const char *)f->text, found_strategy, f, err);
}

/* Reads the strategy field of a start body into out (and its name). */
static int read_strategy(struct md_rollouts *ro, json_t *v, struct md_rollout_spec *spec,
                         struct md_err *err)
{
    struct strategy_find f;
    int rc;

    if (v == NULL) {
        md_rollout_strategy_default(&spec->strategy, MD_ROLLOUT_KIND_CANARY);
        return MD_OK;
    }
    if (json_is_object(v))
        return md_rollout_strategy_from_json((const struct json_t *)v, "strategy", &spec->strategy,
                                             err);
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) >= sizeof(spec->strategy_name))
        return md_err_set(err, MD_EINVAL, "strategy: an object, or the name of a stored strategy");
    (void)snprintf(spec->strategy_name, sizeof(spec->strategy_name), "%s", json_string_value(v));
    f.text = md_xstrdup(spec->strategy_name);
    rc = md_store_call(ro->store, run_find_strategy, &f, err);
    if (rc == MD_ENOTFOUND) {
        free(f.text);
        return md_err_set(err, MD_EINVAL, "strategy: no stored strategy named '%s'",
                          spec->strategy_name);
    }
    if (rc == MD_OK)
        rc = md_rollout_strategy_parse(f.text, strlen(f.text), &spec->strategy, err);
    free(f.text);
    return rc;
}

static int version_field(struct md_rollouts *ro, const char *model, json_t *v, const char *field,
                         int64_t *num, struct md_err *err)
{
    char text[64];
    int rc;

    if (json_is_integer(v) && json_integer_value(v) >= 1)
        (void)snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < 64)
        (void)snprintf(text, sizeof(text), "%s", json_string_value(v));
    else
        return md_err_set(err, MD_EINVAL, "%s: a version number or an alias", field);
    rc = md_repo_pick_version(ro->repo, model, text, field, num, err);
    return rc == MD_ENOTFOUND && strstr(err->msg, "unknown model") != NULL ? MD_ENOTFOUND
           : rc != MD_OK                                                   ? MD_EINVAL
                                                                           : MD_OK;
}

/*
 * A refusal of a start's first policy names the field of the request it
 * comes from ("candidate: version 4 of model 'm' does not serve: ..."), not
 * the field of the policy made from it (routes[1].version).
 */
static void name_field(struct md_err *err)
{
    static const char *const map[][2] = {{"routes[0].version: ", "champion: "},
                                         {"routes[1].version: ", "candidate: "},
                                         {"shadows[0].version: ", "candidate: "}};
    size_t i;

    for (i = 0; i < MD_ARRAY_LEN(map); i++) {
        size_t n = strlen(map[i][0]);

        if (strncmp(err->msg, map[i][0], n) == 0) {
            memmove(err->msg, err->msg + n, strlen(err->msg + n) + 1);
            md_err_prefix(err, "%s", map[i][1]);
            return;
        }
    }
}

int md_rollouts_start(struct md_rollouts *ro, const char *model, const char *body, size_t len,
                      char **answer, struct md_err *err)
{
    static const char *const fields[] = {"candidate", "champion", "strategy", NULL};
    struct md_rollout_spec spec;
    struct md_rollout_state st;
    struct md_rollout_decision d;
    struct save_job j;
    struct active *a;
    json_error_t jerr;
    json_t *root;
    const char *key;
    json_t *val;
    size_t i;
    int rc = MD_OK;

    *answer = NULL;
    for (i = 0; i < ro->n; i++)
        if (strcmp(ro->v[i].spec.model, model) == 0)
            return md_err_set(err, MD_ECONFLICT,
                              "model '%s' has an active rollout (%lld): promote, abort or roll it "
                              "back first",
                              model, (long long)ro->v[i].spec.id);
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return md_err_set(err, MD_EINVAL, "malformed JSON at line %d, column %d: %s", jerr.line,
                          jerr.column, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return md_err_set(err, MD_EINVAL, "the body must be a JSON object");
    }
    json_object_foreach(root, key, val)
    {
        for (i = 0; fields[i] != NULL && strcmp(fields[i], key) != 0; i++)
            ;
        if (fields[i] == NULL) {
            rc = md_err_set(err, MD_EINVAL, "%.64s: unknown field", key);
            break;
        }
    }
    memset(&spec, 0, sizeof(spec));
    (void)snprintf(spec.model, sizeof(spec.model), "%s", model);
    spec.created_ms = md_wall_ms();
    if (rc == MD_OK && json_object_get(root, "candidate") == NULL)
        rc = md_err_set(err, MD_EINVAL, "candidate: required");
    if (rc == MD_OK)
        rc = version_field(ro, model, json_object_get(root, "candidate"), "candidate",
                           &spec.candidate, err);
    if (rc == MD_OK && json_object_get(root, "champion") != NULL)
        rc = version_field(ro, model, json_object_get(root, "champion"), "champion", &spec.champion,
                           err);
    else if (rc == MD_OK && (spec.champion = md_repo_champion(ro->repo, model)) == 0)
        rc = md_err_set(err, MD_EINVAL, "champion: model '%s' has no version serving", model);
    if (rc == MD_OK)
        rc = read_strategy(ro, json_object_get(root, "strategy"), &spec, err);
    if (rc == MD_OK)
        rc = md_rollout_strategy_check_signals(&spec.strategy, ro->signals, "strategy", err);
    json_decref(root);
    if (rc == MD_OK)
        rc = md_rollout_spec_check(&spec, err);
    if (rc != MD_OK)
        return rc;
    md_rollout_begin(&spec, md_wall_ms(), &st, &d);
    /* The first stage's traffic first: it proves the candidate loads, serves
     * and accepts the champion's requests. */
    rc = apply_traffic(ro, &spec, &st, "rollout started", err);
    if (rc != MD_OK) {
        name_field(err);
        return rc;
    }
    j.spec = &spec;
    j.state = &st;
    j.d = &d;
    j.add = true;
    j.id = 0;
    rc = md_store_call(ro->store, run_save, &j, err);
    if (rc != MD_OK) {
        struct md_err ignored;
        struct md_rollout_state back = st;

        back.phase = MD_ROLLOUT_ABORTED;
        (void)apply_traffic(ro, &spec, &back, "rollout not stored: traffic back", &ignored);
        return rc;
    }
    spec.id = j.id;
    ro->v = md_xrealloc(ro->v, (ro->n + 1) * sizeof(*ro->v));
    a = &ro->v[ro->n++];
    memset(a, 0, sizeof(*a));
    a->spec = spec;
    a->state = st;
    a->window = -1;
    (void)md_repo_set_rollout(ro->repo, model, spec.id);
    md_log_kv(MD_LOG_INFO, "rollout started", "model", model, "reason", d.reason, MD_KV_END);
    *answer = answer_of(&spec, &st, &d);
    return *answer != NULL ? MD_OK : md_err_set(err, MD_ENOMEM, "out of memory for the answer");
}

/* A rollout of the store that control does not run, read back for a refusal. */
struct ended {
    const char *model;
    int64_t id;
    bool found; /* of model, spec and state readable */
    struct md_rollout_spec spec;
    struct md_rollout_state state;
};

static void got_ended(void *ctx, const struct md_store_rollout *r)
{
    struct ended *e = ctx;
    struct md_err ignored;

    e->found =
        strcmp(r->model, e->model) == 0 &&
        md_rollout_spec_parse(r->spec, strlen(r->spec), &e->spec, &ignored) == MD_OK &&
        md_rollout_state_parse(&e->spec, r->state, strlen(r->state), &e->state, &ignored) == MD_OK;
    e->spec.id = r->id;
}

static int run_get_ended(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct ended *e = ctx;

    return md_store_tx_rollout_get(tx, e->id, got_ended, e, err);
}

/*
 * The refusal of a command on rollout id of model that control does not
 * run: MD_ENOTFOUND when the model never had it, else the reason its phase
 * gives ("rollout 3 is promoted; nothing to roll back (...)"), MD_ECONFLICT.
 */
static int refuse_ended(struct md_rollouts *ro, const char *model, int64_t id,
                        enum md_rollout_cmd cmd, struct md_err *err)
{
    struct ended *e = md_xcalloc(1, sizeof(*e));
    struct md_rollout_decision d;
    struct md_rollout_state next;
    int rc;

    e->model = model;
    e->id = id;
    rc = md_store_call(ro->store, run_get_ended, e, err);
    if (rc == MD_ENOTFOUND || (rc == MD_OK && !e->found))
        rc = md_err_set(err, MD_ENOTFOUND, "model '%s' has no rollout %lld", model, (long long)id);
    else if (rc == MD_OK && md_rollout_command(&e->spec, &e->state, cmd, md_wall_ms(), NULL, NULL,
                                               &d, &next, err) == MD_OK)
        rc = md_err_set(err, MD_ECONFLICT, "model '%s' has no active rollout %lld", model,
                        (long long)id); /* stored as active, not run: unreadable at start */
    else if (rc == MD_OK)
        rc = err->code;
    free(e);
    return rc;
}

int md_rollouts_command(struct md_rollouts *ro, const char *model, int64_t id,
                        enum md_rollout_cmd cmd, const char *note, char **answer,
                        struct md_err *err)
{
    struct md_rollout_metric mt[4 + MD_ROLLOUT_GATES];
    struct md_rollout_measure m;
    struct md_rollout_decision d;
    struct md_rollout_state next;
    struct active *a = NULL;
    size_t i;
    int rc;

    *answer = NULL;
    for (i = 0; i < ro->n; i++)
        if (ro->v[i].spec.id == id)
            a = &ro->v[i];
    if (a == NULL || strcmp(a->spec.model, model) != 0)
        return refuse_ended(ro, model, id, cmd, err);
    rc = md_rollout_command(&a->spec, &a->state, cmd, md_wall_ms(), note,
                            measure(ro, a, md_wall_ms(), &m, mt) ? &m : NULL, &d, &next, err);
    if (rc == MD_OK)
        rc = commit(ro, a, &d, &next, err);
    if (rc != MD_OK)
        return rc;
    *answer = answer_of(&a->spec, &a->state, &d);
    if (!md_rollout_active(&a->state))
        forget(ro, i - 1 < ro->n && ro->v[i - 1].spec.id == id ? i - 1 : (size_t)(a - ro->v));
    return *answer != NULL ? MD_OK : md_err_set(err, MD_ENOMEM, "out of memory for the answer");
}

/* ---- open ------------------------------------------------------------------- */

struct loading {
    struct md_rollouts *ro;
};

static void load_one(void *ctx, const struct md_store_rollout *r)
{
    struct md_rollouts *ro = ctx;
    struct active a;
    struct md_err err;

    memset(&a, 0, sizeof(a));
    if (md_rollout_spec_parse(r->spec, strlen(r->spec), &a.spec, &err) != MD_OK ||
        md_rollout_state_parse(&a.spec, r->state, strlen(r->state), &a.state, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "stored rollout unreadable; left as it is", "model", r->model,
                  "reason", err.msg, MD_KV_END);
        return;
    }
    a.spec.id = r->id;
    a.window = -1;
    ro->v = md_xrealloc(ro->v, (ro->n + 1) * sizeof(*ro->v));
    ro->v[ro->n++] = a;
}

static int run_load(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    return md_store_tx_rollouts(tx, NULL, true, 0, load_one, ctx, err);
}

int md_rollouts_open(struct md_repo *repo, struct md_store *store, struct md_compare *cmp,
                     const struct md_signals *signals, struct md_rollouts **out, struct md_err *err)
{
    struct md_rollouts *ro = md_xcalloc(1, sizeof(*ro));
    size_t i;
    int rc;

    ro->repo = repo;
    ro->store = store;
    ro->cmp = cmp;
    ro->signals = signals;
    ro->snap = md_xcalloc(SNAP_MAX, sizeof(*ro->snap));
    rc = md_store_call(store, run_load, ro, err);
    if (rc != MD_OK) {
        md_rollouts_free(ro);
        return rc;
    }
    for (i = 0; i < ro->n; i++) {
        struct md_err why;

        /* The traffic of the state stored last, in case a crash came between
         * the two: applying what is there already changes nothing. */
        if (apply_traffic(ro, &ro->v[i].spec, &ro->v[i].state, "rollout continues after a restart",
                          &why) != MD_OK)
            md_log_kv(MD_LOG_ERROR, "rollout traffic not applied after a restart", "model",
                      ro->v[i].spec.model, "reason", why.msg, MD_KV_END);
        (void)md_repo_set_rollout(repo, ro->v[i].spec.model, ro->v[i].spec.id);
        md_log_kv(MD_LOG_INFO, "rollout continues", "model", ro->v[i].spec.model, "stage",
                  md_rollout_stage_name(ro->v[i].state.stage), MD_KV_END);
    }
    *out = ro;
    return MD_OK;
}

void md_rollouts_free(struct md_rollouts *ro)
{
    if (ro == NULL)
        return;
    free(ro->v);
    free(ro->snap);
    free(ro);
}

size_t md_rollouts_active(struct md_rollouts *ro)
{
    return ro != NULL ? ro->n : 0;
}
