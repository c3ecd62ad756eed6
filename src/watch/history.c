/* SPDX-License-Identifier: MIT */
/*
 * history.c: the per-minute history: the task that rolls the request
 * series and the registry's signals up into batches for the store, the
 * retention, and the points a reader aggregates stored rows into. The
 * SQL is the store's (store/sqlite_history.c); the windows are the
 * series' (watch/series.c).
 */
#include "watch/history.h"

#include "util/arena.h"
#include "util/log.h"
#include "util/mem.h"

#include <math.h>
#include <stdatomic.h>

_Static_assert(MD_STORE_LATENCY_BUCKETS == MD_HIST_BUCKETS + 1,
               "the store keeps the latency buckets of watch/metrics.h");

#define EXPIRE_EVERY_MS 3600000 /* the retention runs this often (and at start) */
#define BATCH_ARENA_MAX (64u << 20)
#define DURATION_DIGITS 15

struct md_history {
    struct md_history_config cfg;
    struct md_series *series;   /* borrowed */
    struct md_signals *signals; /* borrowed */
    struct md_store *store;     /* borrowed */
    /* Control thread only: */
    char extra[MD_HISTORY_EXTRA_MAX][MD_SIGNAL_NAME_MAX];
    size_t n_extra;
    bool checked;        /* the extra names were checked against the registry */
    int64_t boundary_ms; /* the start of the step now running; INT64_MIN before the first tick */
    int64_t next_expire_ms;
    /* Store thread and control thread: */
    _Atomic uint32_t inflight;
    _Atomic uint64_t batches;
    _Atomic uint64_t rows;
    _Atomic uint64_t dropped;
    _Atomic uint64_t expired;
};

/* One batch for the store: rows and the strings they point into. */
struct batch {
    struct md_store_job job;
    struct md_history *h;
    struct md_arena strings;
    struct md_store_history_requests *req;
    size_t n_req, cap_req;
    struct md_store_history_value *val;
    size_t n_val, cap_val;
    bool failed;           /* a row did not fit: the batch is dropped whole */
    int64_t expire_before; /* > INT64_MIN: a retention job, no rows */
};

bool md_history_duration(const char *s, int64_t max_ms, int64_t *out_ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1}};
    int64_t v = 0;
    const char *p = s;
    int digits = 0;

    if (s == NULL || *p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (++digits > DURATION_DIGITS)
            return false;
        v = v * 10 + (*p - '0');
    }
    for (size_t i = 0; i < MD_ARRAY_LEN(units); i++) {
        if (strcmp(p, units[i].unit) != 0)
            continue;
        if (v <= 0 || v > max_ms / units[i].ms)
            return false;
        *out_ms = v * units[i].ms;
        return true;
    }
    return false;
}

/* ---- the task ---------------------------------------------------------- */

static int parse_extra(struct md_history *h, const char *list, struct md_err *err)
{
    const char *p = list;

    while (p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);

        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (len > 0) {
            if (h->n_extra == MD_HISTORY_EXTRA_MAX)
                return md_err_set(err, MD_EINVAL, "history_metrics: more than %d names",
                                  MD_HISTORY_EXTRA_MAX);
            if (memchr(p, ':', len) == NULL)
                return md_err_set(err, MD_EINVAL,
                                  "history_metrics: '%.*s' has no argument (name:argument); every "
                                  "name without one is kept anyway",
                                  (int)len, p);
            if (len >= MD_SIGNAL_NAME_MAX)
                return md_err_set(err, MD_EINVAL, "history_metrics: '%.*s' is longer than %d bytes",
                                  (int)len, p, MD_SIGNAL_NAME_MAX - 1);
            memcpy(h->extra[h->n_extra], p, len);
            h->extra[h->n_extra][len] = '\0';
            h->n_extra++;
        }
        p = comma != NULL ? comma + 1 : NULL;
    }
    return MD_OK;
}

int md_history_new(const struct md_history_config *cfg, struct md_series *s, struct md_signals *sig,
                   struct md_store *store, struct md_history **out, struct md_err *err)
{
    struct md_history *h;
    int rc;

    *out = NULL;
    if (cfg->step_ms <= 0 || cfg->retention_ms <= 0)
        return md_err_set(err, MD_EINVAL, "history: step and retention must be above 0");
    h = md_xcalloc(1, sizeof(*h));
    h->cfg = *cfg;
    h->cfg.extra = NULL;
    h->series = s;
    h->signals = sig;
    h->store = store;
    h->boundary_ms = INT64_MIN;
    rc = parse_extra(h, cfg->extra, err);
    if (rc != MD_OK) {
        free(h);
        return rc;
    }
    *out = h;
    return MD_OK;
}

void md_history_free(struct md_history *h)
{
    free(h);
}

int64_t md_history_step_ms(const struct md_history *h)
{
    return h->cfg.step_ms;
}

void md_history_get_stats(struct md_history *h, struct md_history_stats *out)
{
    out->batches = atomic_load(&h->batches);
    out->rows = atomic_load(&h->rows);
    out->dropped = atomic_load(&h->dropped);
    out->expired = atomic_load(&h->expired);
    out->untracked = md_series_untracked(h->series);
}

static struct batch *batch_new(struct md_history *h)
{
    struct batch *b = md_xcalloc(1, sizeof(*b));

    b->h = h;
    b->expire_before = INT64_MIN;
    md_arena_init(&b->strings, BATCH_ARENA_MAX);
    return b;
}

static void batch_free(struct batch *b)
{
    md_arena_release(&b->strings);
    free(b->req);
    free(b->val);
    free(b);
}

static int run_batch(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct batch *b = ctx;
    uint64_t removed = 0;
    int rc;

    if (b->expire_before != INT64_MIN) {
        rc = md_store_tx_history_expire(tx, b->expire_before, &removed, err);
        if (rc == MD_OK && removed > 0) {
            /* Retention in the audit log when it removed something. */
            char details[64];

            (void)snprintf(details, sizeof(details), "{\"removed\":%llu}",
                           (unsigned long long)removed);
            rc = md_store_tx_audit_decision(tx, "control:retention", "retention.history", NULL,
                                            "ok", details, err);
        }
        if (rc == MD_OK)
            atomic_fetch_add(&b->h->expired, removed);
        return rc;
    }
    return md_store_tx_history_add(tx, b->req, b->n_req, b->val, b->n_val, err);
}

static void batch_done(void *ctx, int code, const struct md_err *err)
{
    struct batch *b = ctx;
    struct md_history *h = b->h;

    if (b->expire_before == INT64_MIN) {
        if (code == MD_OK) {
            atomic_fetch_add(&h->batches, 1);
            atomic_fetch_add(&h->rows, b->n_req + b->n_val);
        } else {
            atomic_fetch_add(&h->dropped, b->n_req + b->n_val);
            md_log_kv(MD_LOG_WARN, "history rows not stored", "reason", err->msg, MD_KV_END);
        }
    } else if (code != MD_OK) {
        md_log_kv(MD_LOG_WARN, "history retention not applied", "reason", err->msg, MD_KV_END);
    }
    atomic_fetch_sub(&h->inflight, 1);
    batch_free(b);
}

/* Hands b to the store, or drops it (counted) when too many wait already. */
static void submit(struct md_history *h, struct batch *b)
{
    if (b->failed || atomic_load(&h->inflight) >= MD_HISTORY_INFLIGHT_MAX) {
        atomic_fetch_add(&h->dropped, b->n_req + b->n_val);
        md_log(MD_LOG_WARN, "history: %zu rows dropped (%s)", b->n_req + b->n_val,
               b->failed ? "a batch past its bounds" : "the store is behind");
        batch_free(b);
        return;
    }
    atomic_fetch_add(&h->inflight, 1);
    b->job.run = run_batch;
    b->job.done = batch_done;
    b->job.ctx = b;
    md_store_submit(h->store, &b->job);
}

static const char *keep(struct batch *b, const char *s)
{
    char *copy = md_arena_strndup(&b->strings, s, strlen(s));

    if (copy == NULL)
        b->failed = true;
    return copy != NULL ? copy : "";
}

static void take_step(void *ctx, const struct md_series_step *st)
{
    struct batch *b = ctx;
    struct md_store_history_requests *r;

    if (b->n_req + b->n_val >= MD_HISTORY_ROWS_MAX) {
        b->failed = true;
        return;
    }
    if (b->n_req == b->cap_req) {
        b->cap_req = b->cap_req > 0 ? b->cap_req * 2 : 16;
        b->req = md_xrealloc(b->req, b->cap_req * sizeof(*b->req));
    }
    r = &b->req[b->n_req++];
    r->model = keep(b, st->model);
    r->version = st->version;
    r->route = keep(b, st->route);
    r->at_ms = st->at_ms;
    r->requests = st->counts.requests;
    r->success = st->counts.success;
    r->errors = st->counts.errors;
    r->rejected = st->counts.rejected;
    r->rows = st->counts.rows;
    r->latency_sum_ns = st->counts.latency_sum_ns;
    memcpy(r->latency, st->counts.latency, sizeof(r->latency));
}

/* The (model, version) pairs whose values a step keeps: each model (version
 * 0) and each of its versions, collected first (the series' lock is held). */
struct pairs {
    struct batch *b;
    struct {
        const char *model;
        int64_t version;
    } * v;
    size_t n, cap;
};

static void add_pair(struct pairs *p, const char *model, int64_t version)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].version == version && strcmp(p->v[i].model, model) == 0)
            return;
    if (p->n == p->cap) {
        p->cap = p->cap > 0 ? p->cap * 2 : 16;
        p->v = md_xrealloc(p->v, p->cap * sizeof(*p->v));
    }
    p->v[p->n].model = keep(p->b, model);
    p->v[p->n].version = version;
    p->n++;
}

static void take_version(void *ctx, const char *model, int64_t version)
{
    add_pair(ctx, model, 0);
    add_pair(ctx, model, version);
}

static void add_value(struct batch *b, const char *model, int64_t version, const char *metric,
                      int64_t at_ms, const struct md_signal_value *v)
{
    struct md_store_history_value *row;

    if (!isfinite(v->value))
        return;
    if (b->n_req + b->n_val >= MD_HISTORY_ROWS_MAX) {
        b->failed = true;
        return;
    }
    if (b->n_val == b->cap_val) {
        b->cap_val = b->cap_val > 0 ? b->cap_val * 2 : 64;
        b->val = md_xrealloc(b->val, b->cap_val * sizeof(*b->val));
    }
    row = &b->val[b->n_val++];
    row->model = model;
    row->version = version;
    row->metric = metric; /* a literal of the registry or h->extra: both outlive the batch */
    row->at_ms = at_ms;
    row->value = v->value;
    row->samples = v->samples;
}

/* The extra names, checked once against the complete registry. */
static void check_extra(struct md_history *h)
{
    size_t kept = 0;

    for (size_t i = 0; i < h->n_extra; i++) {
        struct md_err err;

        if (md_signals_check(h->signals, h->extra[i], &err) != MD_OK) {
            md_log_kv(MD_LOG_ERROR, "history_metrics: a name is skipped", "metric", h->extra[i],
                      "reason", err.msg, MD_KV_END);
            continue;
        }
        if (kept != i)
            memcpy(h->extra[kept], h->extra[i], sizeof(h->extra[i]));
        kept++;
    }
    h->n_extra = kept;
    h->checked = true;
}

/* The value of one name over the step [at_ms, at_ms + step) for one pair. */
static void value_of(struct md_history *h, struct batch *b, const char *model, int64_t version,
                     const char *metric, int64_t at_ms)
{
    struct md_signal_query q = {.metric = metric,
                                .model = model,
                                .version = version,
                                .window_ms = h->cfg.step_ms,
                                .now_ms = at_ms + h->cfg.step_ms};
    struct md_signal_value v;
    struct md_err err;

    if (md_signals_value(h->signals, &q, &v, &err) == MD_OK)
        add_value(b, model, version, metric, at_ms, &v);
}

/* Every other signal's value over the step that starts at at_ms. */
static void step_values(struct md_history *h, struct batch *b, int64_t at_ms)
{
    struct pairs pairs = {.b = b};
    size_t n_info;
    const struct md_signal_info *info = md_signals_list(h->signals, &n_info);

    md_series_versions(h->series, take_version, &pairs);
    for (size_t i = 0; i < pairs.n; i++) {
        for (size_t k = 0; k < n_info; k++)
            if (info[k].arg == NULL && md_series_metric_find(info[k].name) < 0)
                value_of(h, b, pairs.v[i].model, pairs.v[i].version, info[k].name, at_ms);
        for (size_t k = 0; k < h->n_extra; k++)
            value_of(h, b, pairs.v[i].model, pairs.v[i].version, h->extra[k], at_ms);
    }
    free(pairs.v);
}

static int64_t floor_to(int64_t t, int64_t step)
{
    int64_t q = t / step;

    if (t % step != 0 && t < 0)
        q--;
    return q * step;
}

void md_history_tick(struct md_history *h, int64_t now_ms)
{
    int64_t boundary = floor_to(now_ms, h->cfg.step_ms);
    struct batch *b;

    if (!h->checked)
        check_extra(h);
    md_series_sample(h->series, now_ms);
    if (now_ms >= h->next_expire_ms) {
        int64_t every =
            h->cfg.step_ms * 60 < EXPIRE_EVERY_MS ? h->cfg.step_ms * 60 : EXPIRE_EVERY_MS;

        b = batch_new(h);
        b->expire_before = now_ms - h->cfg.retention_ms;
        submit(h, b);
        h->next_expire_ms = now_ms + every;
    }
    if (h->boundary_ms == boundary)
        return;
    b = batch_new(h);
    md_series_rollup(h->series, now_ms, h->cfg.step_ms, take_step, b);
    /* The first tick only starts a step: its values would cover the time
     * before the server ran. */
    if (h->boundary_ms != INT64_MIN)
        step_values(h, b, h->boundary_ms);
    h->boundary_ms = boundary;
    if (b->n_req + b->n_val == 0 && !b->failed) {
        batch_free(b);
        return;
    }
    submit(h, b);
}

void md_history_flush(struct md_history *h, int64_t now_ms)
{
    struct batch *b;

    if (h == NULL || h->boundary_ms == INT64_MIN)
        return;
    b = batch_new(h);
    md_series_sample(h->series, now_ms);
    /* As if the step had ended: every series rolls up what it counted since. */
    md_series_rollup(h->series, floor_to(now_ms, h->cfg.step_ms) + h->cfg.step_ms, h->cfg.step_ms,
                     take_step, b);
    if (b->n_req == 0) {
        batch_free(b);
        return;
    }
    submit(h, b);
}

/* ---- reading ----------------------------------------------------------- */

int md_history_points_init(struct md_history_points *p, int metric, int64_t since_ms,
                           int64_t until_ms, int64_t step_ms, struct md_err *err)
{
    int64_t start;
    int64_t n;

    memset(p, 0, sizeof(*p));
    if (step_ms <= 0)
        return md_err_set(err, MD_EINVAL, "step: must be above 0");
    if (since_ms < 0)
        return md_err_set(err, MD_EINVAL, "since: before 1970");
    if (until_ms <= since_ms)
        return md_err_set(err, MD_EINVAL, "since: must be before until");
    start = floor_to(since_ms, step_ms);
    /* (until - start) / step, rounded up, without overflowing near INT64_MAX. */
    n = (until_ms - start) / step_ms + ((until_ms - start) % step_ms != 0 ? 1 : 0);
    if (n > MD_HISTORY_POINTS_MAX)
        return md_err_set(err, MD_EINVAL,
                          "step: %lld ms gives %lld points from since to until; at most %d "
                          "(a larger step, or a shorter range)",
                          (long long)step_ms, (long long)n, MD_HISTORY_POINTS_MAX);
    p->metric = metric;
    p->since_ms = start;
    p->step_ms = step_ms;
    p->n = (size_t)n;
    p->rows = md_calloc(p->n, sizeof(*p->rows));
    if (metric >= 0) {
        p->counts = md_calloc(p->n, sizeof(*p->counts));
    } else {
        p->weighted = md_calloc(p->n, sizeof(*p->weighted));
        p->plain = md_calloc(p->n, sizeof(*p->plain));
        p->samples = md_calloc(p->n, sizeof(*p->samples));
    }
    if (p->rows == NULL || (metric >= 0 && p->counts == NULL) ||
        (metric < 0 && (p->weighted == NULL || p->plain == NULL || p->samples == NULL))) {
        md_history_points_release(p);
        return md_err_set(err, MD_ENOMEM, "out of memory for %zu points", (size_t)n);
    }
    return MD_OK;
}

void md_history_points_release(struct md_history_points *p)
{
    free(p->counts);
    free(p->weighted);
    free(p->plain);
    free(p->samples);
    free(p->rows);
    memset(p, 0, sizeof(*p));
}

/* The point a step starting at at_ms falls in, or -1. */
static long point_of(const struct md_history_points *p, int64_t at_ms)
{
    int64_t i;

    if (at_ms < p->since_ms)
        return -1;
    i = (at_ms - p->since_ms) / p->step_ms;
    return i < (int64_t)p->n ? (long)i : -1;
}

void md_history_points_add_requests(struct md_history_points *p,
                                    const struct md_store_history_requests *r)
{
    long i = point_of(p, r->at_ms);
    struct md_series_counts c;

    if (i < 0 || p->counts == NULL)
        return;
    c.requests = r->requests;
    c.success = r->success;
    c.errors = r->errors;
    c.rejected = r->rejected;
    c.rows = r->rows;
    c.latency_sum_ns = r->latency_sum_ns;
    memcpy(c.latency, r->latency, sizeof(c.latency));
    md_series_counts_add(&p->counts[i], &c);
    p->rows[i]++;
}

void md_history_points_add_value(struct md_history_points *p,
                                 const struct md_store_history_value *v)
{
    long i = point_of(p, v->at_ms);

    if (i < 0 || p->weighted == NULL || !isfinite(v->value))
        return;
    p->weighted[i] += v->value * (double)v->samples;
    p->plain[i] += v->value;
    p->samples[i] += v->samples;
    p->rows[i]++;
}

void md_history_points_value(const struct md_history_points *p, size_t i,
                             struct md_signal_value *out)
{
    out->value = NAN;
    out->samples = 0;
    if (i >= p->n)
        return;
    if (p->metric >= 0) {
        md_series_value((enum md_series_metric)p->metric, &p->counts[i], (double)p->step_ms / 1e3,
                        out);
        return;
    }
    if (p->rows[i] == 0)
        return;
    out->samples = p->samples[i];
    out->value = p->samples[i] > 0 ? p->weighted[i] / (double)p->samples[i]
                                   : p->plain[i] / (double)p->rows[i];
}
