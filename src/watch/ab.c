/* SPDX-License-Identifier: MIT */
/*
 * ab.c: A/B comparisons of a model's routes (ab.h): per-arm sums of units
 * from the store, the outcomes, intervals, tests, sample sizes and
 * verdicts, their JSON, and the signals gates and alert rules read.
 */
#include "watch/ab.h"

#include "util/mem.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const char *md_ab_metric_name(enum md_ab_metric m)
{
    switch (m) {
    case MD_AB_CONVERSION:
        return "conversion";
    case MD_AB_REWARD:
        return "reward";
    case MD_AB_VALUE:
        return "value";
    }
    return "?";
}

enum md_ab_metric md_ab_metric_parse(const char *name)
{
    if (name == NULL)
        return 0;
    if (strcmp(name, "conversion") == 0)
        return MD_AB_CONVERSION;
    if (strcmp(name, "reward") == 0)
        return MD_AB_REWARD;
    if (strcmp(name, "value") == 0)
        return MD_AB_VALUE;
    return 0;
}

const char *md_ab_verdict_name(enum md_ab_verdict v)
{
    switch (v) {
    case MD_AB_KEEP_RUNNING:
        return "keep_running";
    case MD_AB_WINNER:
        return "winner";
    case MD_AB_NO_DIFFERENCE:
        return "no_difference";
    }
    return "?";
}

void md_ab_result_init(struct md_ab_result *r, enum md_ab_metric metric, bool per_key)
{
    memset(r, 0, sizeof(*r));
    r->metric = metric;
    r->per_key = per_key;
}

/* Routes whose rows are no arm of an experiment. */
static bool not_an_arm(const char *route)
{
    static const char *const others[] = {"", "direct", "shadow", "mirror", "retry"};

    for (size_t i = 0; i < MD_ARRAY_LEN(others); i++)
        if (strcmp(route, others[i]) == 0)
            return true;
    return strlen(route) >= MD_AB_NAME_MAX;
}

/* The arm of route, added in name order when new; NULL when full. */
static struct md_ab_arm *arm_of(struct md_ab_result *r, const char *route)
{
    size_t i;

    for (i = 0; i < r->n_arms; i++) {
        int c = strcmp(r->arms[i].route, route);

        if (c == 0)
            return &r->arms[i];
        if (c > 0)
            break;
    }
    if (r->n_arms == MD_AB_ARMS)
        return NULL;
    memmove(&r->arms[i + 1], &r->arms[i], (r->n_arms - i) * sizeof(r->arms[0]));
    memset(&r->arms[i], 0, sizeof(r->arms[i]));
    memcpy(r->arms[i].route, route, strlen(route) + 1);
    r->n_arms++;
    return &r->arms[i];
}

void md_ab_add(struct md_ab_result *r, const struct md_store_ab_group *g)
{
    struct md_ab_arm *a;
    double x;
    double delta;

    if (g->rows == 0 || not_an_arm(g->route))
        return;
    a = arm_of(r, g->route);
    if (a == NULL) {
        r->skipped++;
        return;
    }
    if (a->units == 0 || g->version_min < a->version_min)
        a->version_min = g->version_min;
    if (a->units == 0 || g->version_max > a->version_max)
        a->version_max = g->version_max;
    a->rows += g->rows;
    a->sum += g->sum;
    /* The unit's outcome, then Welford's update of the arm's mean (kept in
     * outcome until md_ab_finish) and sum of squares. */
    x = g->sum / (double)g->rows;
    a->units++;
    delta = x - a->outcome;
    a->outcome += delta / (double)a->units;
    a->m2 += delta * (x - a->outcome);
}

/* Whether the arms are compared as proportions of rows (z-test, Wilson). */
static bool proportions(const struct md_ab_result *r)
{
    return r->metric == MD_AB_CONVERSION && !r->per_key;
}

static double variance(const struct md_ab_arm *a)
{
    return a->units >= 2 ? a->m2 / (double)(a->units - 1) : NAN;
}

static void finish_arm(const struct md_ab_result *r, struct md_ab_arm *a)
{
    if (a->units == 0) {
        a->outcome = NAN;
        a->sd = NAN;
        a->ci.lo = NAN;
        a->ci.hi = NAN;
        return;
    }
    a->sd = sqrt(variance(a));
    if (proportions(r))
        a->ci = md_abstat_wilson((uint64_t)llround(a->sum), a->units);
    else
        a->ci = md_abstat_mean_ci(a->outcome, a->sd, a->units);
}

static size_t find_arm(const struct md_ab_result *r, const char *route)
{
    for (size_t i = 0; route != NULL && i < r->n_arms; i++)
        if (strcmp(r->arms[i].route, route) == 0)
            return i;
    return r->n_arms;
}

static void compare(const struct md_ab_result *r, size_t i, double min_effect,
                    struct md_ab_comparison *c)
{
    const struct md_ab_arm *a = &r->arms[i];
    const struct md_ab_arm *k = &r->arms[r->control];
    double smaller;

    memset(c, 0, sizeof(*c));
    c->arm = i;
    c->difference = a->outcome - k->outcome;
    c->lift = k->outcome != 0 ? c->difference / k->outcome : NAN;
    c->min_effect = isnan(min_effect) ? 0.1 * fabs(k->outcome) : min_effect;
    if (proportions(r)) {
        c->test = "z";
        c->t = md_abstat_z_test((uint64_t)llround(a->sum), a->units, (uint64_t)llround(k->sum),
                                k->units);
        c->needed = md_abstat_n_proportion(k->outcome, c->min_effect);
    } else {
        c->test = "welch";
        c->t =
            md_abstat_welch(a->outcome, variance(a), a->units, k->outcome, variance(k), k->units);
        c->needed = md_abstat_n_mean(variance(a), variance(k), c->min_effect);
    }
    smaller = (double)(a->units < k->units ? a->units : k->units);
    c->still_needed = isnan(c->needed) ? NAN : (c->needed > smaller ? c->needed - smaller : 0.0);
    c->winner = i;
    if (isnan(c->still_needed) || c->still_needed > 0 || isnan(c->t.p_value)) {
        c->verdict = MD_AB_KEEP_RUNNING;
    } else if (c->t.p_value < MD_ABSTAT_ALPHA) {
        c->verdict = MD_AB_WINNER;
        c->winner = c->difference > 0 ? i : r->control;
    } else {
        c->verdict = MD_AB_NO_DIFFERENCE;
    }
}

void md_ab_finish(struct md_ab_result *r, const struct md_ab_design *d, double min_effect)
{
    r->control = r->n_arms;
    r->n_cmp = 0;
    if (d != NULL && d->control[0] != '\0')
        r->control = find_arm(r, d->control);
    if (r->control == r->n_arms)
        r->control = find_arm(r, "stable");
    if (r->control == r->n_arms && r->n_arms > 0)
        r->control = 0;
    for (size_t i = 0; i < r->n_arms; i++)
        finish_arm(r, &r->arms[i]);
    for (size_t i = 0; i < r->n_arms; i++)
        if (i != r->control)
            compare(r, i, min_effect, &r->cmp[r->n_cmp++]);
}

/* ---- the analysis ----------------------------------------------------------- */

static void add_group(void *ctx, const struct md_store_ab_group *g)
{
    md_ab_add(ctx, g);
}

int md_ab_run(struct md_store_tx *tx, const struct md_ab_params *p, struct md_ab_result *out,
              struct md_err *err)
{
    struct md_store_ab_query q;
    bool per_key = p->design.unit_key[0] != '\0';
    int rc;

    md_ab_result_init(out, p->metric, per_key);
    memset(&q, 0, sizeof(q));
    q.model = p->model;
    switch (p->metric) {
    case MD_AB_CONVERSION:
        if (p->positive == NULL || p->positive[0] == '\0')
            return md_err_set(err, MD_EINVAL,
                              "positive: the label that counts as a conversion "
                              "is missing");
        q.outcome = MD_STORE_AB_LABEL;
        break;
    case MD_AB_REWARD:
        q.outcome = MD_STORE_AB_REWARD;
        break;
    case MD_AB_VALUE:
        q.outcome = MD_STORE_AB_VALUE;
        break;
    default:
        return md_err_set(err, MD_EINVAL, "metric: one of conversion, reward, value");
    }
    q.positive = p->positive;
    q.unit_key = per_key ? p->design.unit_key : NULL;
    q.since_ms = p->since_ms;
    q.until_ms = p->until_ms;
    rc = md_store_tx_ab_groups(tx, &q, add_group, out, err);
    if (rc != MD_OK)
        return rc;
    md_ab_finish(out, &p->design, p->min_effect);
    return MD_OK;
}

/* ---- JSON ------------------------------------------------------------------- */

static void put_num(struct md_buf *b, double x)
{
    if (isfinite(x))
        (void)md_buf_printf(b, "%.17g", x);
    else
        (void)md_buf_puts(b, "null");
}

static void put_ci(struct md_buf *b, struct md_abstat_ci ci)
{
    (void)md_buf_putc(b, '[');
    put_num(b, ci.lo);
    (void)md_buf_putc(b, ',');
    put_num(b, ci.hi);
    (void)md_buf_putc(b, ']');
}

static void put_arm(struct md_buf *b, const struct md_ab_arm *a)
{
    (void)md_buf_puts(b, "{\"route\":");
    (void)md_buf_json_str(b, a->route, strlen(a->route));
    (void)md_buf_printf(b, ",\"versions\":[\"%lld\"", (long long)a->version_min);
    if (a->version_max != a->version_min)
        (void)md_buf_printf(b, ",\"%lld\"", (long long)a->version_max);
    (void)md_buf_printf(b, "],\"n\":%llu,\"rows\":%llu,\"outcome\":", (unsigned long long)a->units,
                        (unsigned long long)a->rows);
    put_num(b, a->outcome);
    (void)md_buf_puts(b, ",\"sd\":");
    put_num(b, a->sd);
    (void)md_buf_puts(b, ",\"ci\":");
    put_ci(b, a->ci);
    (void)md_buf_putc(b, '}');
}

static void put_comparison(struct md_buf *b, const struct md_ab_result *r,
                           const struct md_ab_comparison *c)
{
    const char *control = r->arms[r->control].route;

    (void)md_buf_puts(b, "{\"route\":");
    (void)md_buf_json_str(b, r->arms[c->arm].route, strlen(r->arms[c->arm].route));
    (void)md_buf_puts(b, ",\"control\":");
    (void)md_buf_json_str(b, control, strlen(control));
    (void)md_buf_puts(b, ",\"difference\":");
    put_num(b, c->difference);
    (void)md_buf_puts(b, ",\"lift\":");
    put_num(b, c->lift);
    (void)md_buf_printf(b, ",\"test\":\"%s\",\"statistic\":", c->test);
    put_num(b, c->t.statistic);
    (void)md_buf_puts(b, ",\"df\":");
    put_num(b, c->t.df);
    (void)md_buf_puts(b, ",\"p_value\":");
    put_num(b, c->t.p_value);
    (void)md_buf_puts(b, ",\"min_effect\":");
    put_num(b, c->min_effect);
    (void)md_buf_puts(b, ",\"needed_per_arm\":");
    put_num(b, c->needed);
    (void)md_buf_puts(b, ",\"still_needed\":");
    put_num(b, c->still_needed);
    (void)md_buf_printf(b, ",\"verdict\":\"%s\",\"winner\":", md_ab_verdict_name(c->verdict));
    if (c->verdict == MD_AB_WINNER)
        (void)md_buf_json_str(b, r->arms[c->winner].route, strlen(r->arms[c->winner].route));
    else
        (void)md_buf_puts(b, "null");
    (void)md_buf_putc(b, '}');
}

int md_ab_format(const struct md_ab_result *r, struct md_buf *b)
{
    (void)md_buf_printf(b, "{\"metric\":\"%s\",\"unit\":\"%s\",\"control\":",
                        md_ab_metric_name(r->metric), r->per_key ? "key" : "row");
    if (r->control < r->n_arms)
        (void)md_buf_json_str(b, r->arms[r->control].route, strlen(r->arms[r->control].route));
    else
        (void)md_buf_puts(b, "null");
    (void)md_buf_puts(b, ",\"arms\":[");
    for (size_t i = 0; i < r->n_arms; i++) {
        if (i > 0)
            (void)md_buf_putc(b, ',');
        put_arm(b, &r->arms[i]);
    }
    (void)md_buf_puts(b, "],\"comparisons\":[");
    for (size_t i = 0; i < r->n_cmp; i++) {
        if (i > 0)
            (void)md_buf_putc(b, ',');
        put_comparison(b, r, &r->cmp[i]);
    }
    (void)md_buf_printf(b, "],\"skipped_groups\":%llu}", (unsigned long long)r->skipped);
    return md_buf_error(b);
}

/* ---- signals ----------------------------------------------------------------- */

/* A result the signals computed lately, for the queries that follow. */
struct cached {
    bool used;
    uint64_t stamp; /* larger: more recent */
    char model[MD_STORE_NAME_MAX];
    enum md_ab_metric metric;
    char positive[MD_SIGNAL_NAME_MAX];
    struct md_ab_design design;
    int64_t since_ms;
    int64_t until_ms;
    struct md_ab_result r;
};

struct md_ab_signals {
    struct md_store *store;
    md_ab_design_fn design;
    void *ctx;
    pthread_mutex_t lock; /* guards cache and stamp */
    struct cached cache[MD_AB_CACHE];
    uint64_t stamp;
    uint64_t runs; /* analyses run (read in tests) */
};

size_t md_ab_arm_for(const struct md_ab_result *r, const char *route, int64_t version)
{
    if (route != NULL && route[0] != '\0')
        return find_arm(r, route);
    if (version > 0) {
        if (r->control < r->n_arms && r->arms[r->control].version_min <= version &&
            version <= r->arms[r->control].version_max)
            return r->control;
        for (size_t i = 0; i < r->n_arms; i++)
            if (r->arms[i].version_min <= version && version <= r->arms[i].version_max)
                return i;
        return r->n_arms;
    }
    for (size_t i = 0; i < r->n_arms; i++)
        if (i != r->control)
            return i;
    return r->n_arms;
}

enum which { SIG_CONVERSION, SIG_LIFT, SIG_P_VALUE };

struct signal_job {
    struct md_ab_params p;
    struct md_ab_result r;
};

static int run_signal(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct signal_job *j = ctx;

    return md_ab_run(tx, &j->p, &j->r, err);
}

/* The outcome of an argument: "reward", "value" or "conversion=<label>". */
static int outcome_arg(const char *arg, struct md_ab_params *p, struct md_err *err)
{
    if (strcmp(arg, "reward") == 0) {
        p->metric = MD_AB_REWARD;
        return MD_OK;
    }
    if (strcmp(arg, "value") == 0) {
        p->metric = MD_AB_VALUE;
        return MD_OK;
    }
    if (strncmp(arg, "conversion=", 11) == 0 && arg[11] != '\0') {
        p->metric = MD_AB_CONVERSION;
        p->positive = arg + 11;
        return MD_OK;
    }
    return md_err_set(err, MD_EINVAL,
                      "metric argument '%s': one of reward, value, conversion=<label>", arg);
}

/* Whether c holds the analysis p asks for, computed near enough its window. */
static bool cache_fits(const struct cached *c, const struct md_ab_params *p)
{
    const char *pos = p->positive != NULL ? p->positive : "";

    return c->used && c->metric == p->metric && strcmp(c->model, p->model) == 0 &&
           strcmp(c->positive, pos) == 0 &&
           memcmp(&c->design, &p->design, sizeof(c->design)) == 0 &&
           llabs(c->since_ms - p->since_ms) <= MD_AB_REUSE_MS &&
           llabs(c->until_ms - p->until_ms) <= MD_AB_REUSE_MS;
}

/* The analysis of p into *r: from the cache, or run and kept there. */
static int analyse(struct md_ab_signals *a, struct signal_job *j, struct md_err *err)
{
    struct cached *slot = NULL;
    size_t i;
    int rc;

    pthread_mutex_lock(&a->lock);
    for (i = 0; i < MD_AB_CACHE; i++) {
        if (cache_fits(&a->cache[i], &j->p)) {
            j->r = a->cache[i].r;
            pthread_mutex_unlock(&a->lock);
            return MD_OK;
        }
    }
    pthread_mutex_unlock(&a->lock);
    rc = md_store_call(a->store, run_signal, j, err);
    if (rc != MD_OK)
        return rc;
    pthread_mutex_lock(&a->lock);
    a->runs++;
    if (strlen(j->p.model) < sizeof(slot->model) &&
        (j->p.positive == NULL || strlen(j->p.positive) < sizeof(slot->positive))) {
        /* into a free slot, else over the oldest */
        slot = &a->cache[0];
        for (i = 0; i < MD_AB_CACHE; i++) {
            if (!a->cache[i].used) {
                slot = &a->cache[i];
                break;
            }
            if (a->cache[i].stamp < slot->stamp)
                slot = &a->cache[i];
        }
        slot->used = true;
        slot->stamp = ++a->stamp;
        memcpy(slot->model, j->p.model, strlen(j->p.model) + 1);
        slot->metric = j->p.metric;
        (void)snprintf(slot->positive, sizeof(slot->positive), "%s",
                       j->p.positive != NULL ? j->p.positive : "");
        slot->design = j->p.design;
        slot->since_ms = j->p.since_ms;
        slot->until_ms = j->p.until_ms;
        slot->r = j->r;
    }
    pthread_mutex_unlock(&a->lock);
    return MD_OK;
}

static int answer(struct md_ab_signals *a, enum which w, const struct md_signal_query *q,
                  struct md_signal_value *out, struct md_err *err)
{
    struct signal_job *j = md_xcalloc(1, sizeof(*j));
    size_t arm;
    int rc;

    j->p.model = q->model;
    j->p.min_effect = NAN;
    j->p.since_ms = q->now_ms - q->window_ms;
    j->p.until_ms = q->now_ms + 1;
    if (w == SIG_CONVERSION) {
        j->p.metric = MD_AB_CONVERSION;
        j->p.positive = q->arg;
        rc = MD_OK;
    } else {
        rc = outcome_arg(q->arg, &j->p, err);
    }
    if (rc == MD_OK && a->design != NULL)
        rc = a->design(a->ctx, q->model, &j->p.design, err);
    if (rc == MD_OK)
        rc = analyse(a, j, err);
    if (rc != MD_OK) {
        free(j);
        return rc;
    }
    arm = md_ab_arm_for(&j->r, q->route, q->version);
    if (arm < j->r.n_arms) {
        const struct md_ab_arm *x = &j->r.arms[arm];

        out->samples = x->units;
        if (w == SIG_CONVERSION) {
            out->value = x->outcome;
        } else {
            for (size_t i = 0; i < j->r.n_cmp; i++) {
                if (j->r.cmp[i].arm != arm)
                    continue;
                out->value = w == SIG_LIFT ? j->r.cmp[i].lift : j->r.cmp[i].t.p_value;
                /* what a comparison stands on: the smaller arm */
                if (j->r.arms[j->r.control].units < out->samples)
                    out->samples = j->r.arms[j->r.control].units;
            }
        }
    }
    free(j);
    return MD_OK;
}

static int conversion_fn(void *ctx, const struct md_signal_query *q, struct md_signal_value *out,
                         struct md_err *err)
{
    return answer(ctx, SIG_CONVERSION, q, out, err);
}

static int lift_fn(void *ctx, const struct md_signal_query *q, struct md_signal_value *out,
                   struct md_err *err)
{
    return answer(ctx, SIG_LIFT, q, out, err);
}

static int p_value_fn(void *ctx, const struct md_signal_query *q, struct md_signal_value *out,
                      struct md_err *err)
{
    return answer(ctx, SIG_P_VALUE, q, out, err);
}

int md_ab_signals_add(struct md_signals *s, struct md_store *store, md_ab_design_fn design,
                      void *ctx, struct md_ab_signals **out, struct md_err *err)
{
    static const struct md_signal_info conversion = {
        "ab_conversion", "ratio", "label",
        "share of a route's units (keys or rows) whose feedback label is the argument"};
    static const struct md_signal_info lift = {
        "ab_lift", "ratio", "outcome",
        "relative difference of a route's outcome from the control's (reward, value, "
        "conversion=<label>)"};
    static const struct md_signal_info p_value = {
        "ab_p_value", "score", "outcome",
        "p-value of the difference of a route's outcome from the control's"};
    struct md_ab_signals *a = md_xcalloc(1, sizeof(*a));
    int rc;

    pthread_mutex_init(&a->lock, NULL);
    a->store = store;
    a->design = design;
    a->ctx = ctx;
    rc = md_signals_add_flags(s, &conversion, MD_SIGNAL_WAITS, conversion_fn, a, err);
    if (rc == MD_OK)
        rc = md_signals_add_flags(s, &lift, MD_SIGNAL_WAITS, lift_fn, a, err);
    if (rc == MD_OK)
        rc = md_signals_add_flags(s, &p_value, MD_SIGNAL_WAITS, p_value_fn, a, err);
    *out = a;
    return rc;
}

void md_ab_signals_free(struct md_ab_signals *a)
{
    if (a == NULL)
        return;
    pthread_mutex_destroy(&a->lock);
    free(a);
}

uint64_t md_ab_signals_runs(struct md_ab_signals *a)
{
    uint64_t n;

    pthread_mutex_lock(&a->lock);
    n = a->runs;
    pthread_mutex_unlock(&a->lock);
    return n;
}
