/* SPDX-License-Identifier: MIT */
/*
 * series.c: rings of cumulative request counters per (model, version,
 * route), windows as differences of two samples, and the request signals
 * answered from them. The metrics registry (watch/metrics.c) owns the
 * counters; this file only copies them, once a second.
 */
#include "watch/series.h"

#include "util/mem.h"

#include <math.h>
#include <pthread.h>

const struct md_signal_info md_series_infos[MD_SERIES_METRICS] = {
    {"requests", "count", NULL, "requests in the window, whatever their outcome"},
    {"errors", "count", NULL,
     "requests that failed on the server's side (5xx: engine failure, queue full, deadline)"},
    {"requests_per_second", "per_second", NULL, "requests per second over the window"},
    {"error_rate", "ratio", NULL,
     "errors / requests over the window (bad-input refusals count among the requests only)"},
    {"success_rate", "ratio", NULL, "requests answered 200 / requests over the window"},
    {"latency_p50_ms", "ms", NULL, "median latency of successful requests over the window"},
    {"latency_p90_ms", "ms", NULL, "90th percentile latency of successful requests"},
    {"latency_p99_ms", "ms", NULL, "99th percentile latency of successful requests"},
    {"latency_mean_ms", "ms", NULL, "mean latency of successful requests over the window"},
    {"rows_per_second", "per_second", NULL, "rows predicted per second over the window"},
};

/* One sample: the cumulative counts at t_ms. */
struct sample {
    int64_t t_ms;
    struct md_series_counts c;
};

/* A ring of samples in time order: the oldest at (head - n) mod cap. */
struct ring {
    struct sample *v;
    size_t cap;
    size_t n;
    size_t head; /* where the next sample goes */
};

struct key {
    char *model;
    int64_t version;
    char route[MD_ROUTE_NAME_MAX];
    int64_t first_ms; /* the first sample's time */
    int64_t seen_ms;  /* the last sample's time */
    struct ring sec;
    struct ring min;
    /* The history: the cumulative counts at the start of the step not yet
     * rolled up, and that step's start. */
    struct md_series_counts rolled;
    int64_t rolled_at_ms;
};

/* A signal's context: which metric, answered from which set. */
struct provider {
    struct md_series *s;
    enum md_series_metric metric;
};

struct md_series {
    struct md_metrics *metrics;                   /* borrowed */
    struct provider providers[MD_SERIES_METRICS]; /* read-only after md_series_new */
    pthread_mutex_t lock;                         /* guards everything below */
    struct key *keys[MD_SERIES_KEYS];
    size_t n;
    uint64_t untracked;
    int64_t now_ms; /* the sample being taken (md_series_sample) */
};

/* ---- counts ------------------------------------------------------------- */

void md_series_counts_add(struct md_series_counts *out, const struct md_series_counts *in)
{
    out->requests += in->requests;
    out->success += in->success;
    out->errors += in->errors;
    out->rejected += in->rejected;
    out->rows += in->rows;
    out->latency_sum_ns += in->latency_sum_ns;
    for (size_t i = 0; i <= MD_HIST_BUCKETS; i++)
        out->latency[i] += in->latency[i];
}

/* a - b, or a when the counter went back (a series dropped and made again). */
static uint64_t since(uint64_t a, uint64_t b)
{
    return a >= b ? a - b : a;
}

static void counts_delta(const struct md_series_counts *after,
                         const struct md_series_counts *before, struct md_series_counts *out)
{
    out->requests = since(after->requests, before->requests);
    out->success = since(after->success, before->success);
    out->errors = since(after->errors, before->errors);
    out->rejected = since(after->rejected, before->rejected);
    out->rows = since(after->rows, before->rows);
    out->latency_sum_ns = since(after->latency_sum_ns, before->latency_sum_ns);
    for (size_t i = 0; i <= MD_HIST_BUCKETS; i++)
        out->latency[i] = since(after->latency[i], before->latency[i]);
}

int md_series_metric_find(const char *name)
{
    for (int i = 0; i < MD_SERIES_METRICS; i++)
        if (strcmp(md_series_infos[i].name, name) == 0)
            return i;
    return -1;
}

static double ratio(uint64_t a, uint64_t b)
{
    return b > 0 ? (double)a / (double)b : NAN;
}

void md_series_value(enum md_series_metric metric, const struct md_series_counts *c, double seconds,
                     struct md_signal_value *out)
{
    out->samples = c->requests;
    out->value = NAN;
    switch (metric) {
    case MD_SERIES_REQUESTS:
        out->value = (double)c->requests;
        break;
    case MD_SERIES_ERRORS:
        out->value = (double)c->errors;
        break;
    case MD_SERIES_RPS:
        out->value = seconds > 0 ? (double)c->requests / seconds : NAN;
        break;
    case MD_SERIES_ERROR_RATE:
        out->value = ratio(c->errors, c->requests);
        break;
    case MD_SERIES_SUCCESS_RATE:
        out->value = ratio(c->success, c->requests);
        break;
    case MD_SERIES_P50:
    case MD_SERIES_P90:
    case MD_SERIES_P99: {
        static const double qs[] = {0.5, 0.9, 0.99};

        out->samples = c->success;
        out->value = md_hist_quantile(c->latency, qs[metric - MD_SERIES_P50]) * 1e3;
        break;
    }
    case MD_SERIES_MEAN:
        out->samples = c->success;
        out->value = c->success > 0 ? (double)c->latency_sum_ns / (double)c->success / 1e6 : NAN;
        break;
    case MD_SERIES_ROWS_PS:
        out->value = seconds > 0 ? (double)c->rows / seconds : NAN;
        break;
    case MD_SERIES_METRICS:
        break;
    }
}

/* ---- rings -------------------------------------------------------------- */

static void ring_init(struct ring *r, size_t cap)
{
    r->v = md_xcalloc(cap, sizeof(*r->v));
    r->cap = cap;
    r->n = 0;
    r->head = 0;
}

/* The i-th oldest sample (i < r->n). */
static const struct sample *ring_at(const struct ring *r, size_t i)
{
    return &r->v[(r->head + r->cap - r->n + i) % r->cap];
}

static const struct sample *ring_newest(const struct ring *r)
{
    return r->n > 0 ? ring_at(r, r->n - 1) : NULL;
}

static void ring_push(struct ring *r, const struct sample *smp)
{
    r->v[r->head] = *smp;
    r->head = (r->head + 1) % r->cap;
    if (r->n < r->cap)
        r->n++;
}

/* The newest sample at or before t_ms, or NULL when every one is later. */
static const struct sample *ring_find(const struct ring *r, int64_t t_ms)
{
    size_t lo = 0;
    size_t hi = r->n; /* the first sample later than t_ms is in [lo, hi] */

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (ring_at(r, mid)->t_ms <= t_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 ? ring_at(r, lo - 1) : NULL;
}

/* ---- the set ------------------------------------------------------------ */

struct md_series *md_series_new(struct md_metrics *m)
{
    struct md_series *s = md_xcalloc(1, sizeof(*s));

    s->metrics = m;
    for (int i = 0; i < MD_SERIES_METRICS; i++) {
        s->providers[i].s = s;
        s->providers[i].metric = (enum md_series_metric)i;
    }
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

static void key_free(struct key *k)
{
    free(k->model);
    free(k->sec.v);
    free(k->min.v);
    free(k);
}

void md_series_free(struct md_series *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        key_free(s->keys[i]);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

uint64_t md_series_untracked(struct md_series *s)
{
    uint64_t n;

    pthread_mutex_lock(&s->lock);
    n = s->untracked;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static struct key *key_find(struct md_series *s, const char *model, int64_t version,
                            const char *route)
{
    for (size_t i = 0; i < s->n; i++) {
        struct key *k = s->keys[i];

        if (k->version == version && strcmp(k->route, route) == 0 && strcmp(k->model, model) == 0)
            return k;
    }
    return NULL;
}

static struct key *key_add(struct md_series *s, const char *model, int64_t version,
                           const char *route)
{
    struct key *k;

    if (s->n == MD_SERIES_KEYS) {
        s->untracked++;
        return NULL;
    }
    k = md_xcalloc(1, sizeof(*k));
    k->model = md_xstrdup(model);
    k->version = version;
    (void)snprintf(k->route, sizeof(k->route), "%s", route); /* the registry's bound */
    ring_init(&k->sec, MD_SERIES_SECONDS);
    ring_init(&k->min, MD_SERIES_MINUTES);
    k->first_ms = s->now_ms;
    k->rolled_at_ms = INT64_MIN; /* set by the first rollup */
    s->keys[s->n++] = k;
    return k;
}

struct sample_ctx {
    struct md_series *s;
    const char *model;
    int64_t version;
};

static void sample_route(void *vctx, const char *route, const struct md_route_stats *r)
{
    struct sample_ctx *c = vctx;
    struct md_series *s = c->s;
    struct key *k = key_find(s, c->model, c->version, route);
    struct sample smp;
    const struct sample *last_min;

    if (k == NULL) {
        /* A series met again after it was dropped would count from the
         * start of its counters; untracked ones are counted once each. */
        k = key_add(s, c->model, c->version, route);
        if (k == NULL)
            return;
    }
    smp.t_ms = s->now_ms;
    smp.c.success = atomic_load_explicit(&r->success, memory_order_relaxed);
    smp.c.errors = atomic_load_explicit(&r->fail_backend, memory_order_relaxed) +
                   atomic_load_explicit(&r->fail_overload, memory_order_relaxed) +
                   atomic_load_explicit(&r->fail_timeout, memory_order_relaxed);
    smp.c.rejected = atomic_load_explicit(&r->fail_rejected, memory_order_relaxed);
    smp.c.requests = smp.c.success + smp.c.errors + smp.c.rejected;
    smp.c.rows = atomic_load_explicit(&r->inference_count, memory_order_relaxed);
    smp.c.latency_sum_ns = atomic_load_explicit(&r->request.sum_ns, memory_order_relaxed);
    for (size_t i = 0; i <= MD_HIST_BUCKETS; i++)
        smp.c.latency[i] = atomic_load_explicit(&r->request.buckets[i], memory_order_relaxed);
    ring_push(&k->sec, &smp);
    last_min = ring_newest(&k->min);
    if (last_min == NULL || last_min->t_ms / 60000 != smp.t_ms / 60000)
        ring_push(&k->min, &smp);
    k->seen_ms = s->now_ms;
}

static void sample_version(void *vctx, const struct md_metrics_row *row)
{
    struct sample_ctx *c = vctx;
    char *end;
    long long v = strtoll(row->version, &end, 10);

    if (*end != '\0')
        return;
    c->model = row->model;
    c->version = (int64_t)v;
    md_version_stats_routes(row->stats, sample_route, c);
}

void md_series_sample(struct md_series *s, int64_t now_ms)
{
    struct sample_ctx c = {.s = s};
    size_t i;
    size_t kept = 0;

    pthread_mutex_lock(&s->lock);
    s->now_ms = now_ms;
    md_metrics_foreach(s->metrics, sample_version, &c);
    /* Series gone from the registry leave once their minutes ring is past. */
    for (i = 0; i < s->n; i++) {
        struct key *k = s->keys[i];

        if (now_ms - k->seen_ms > (int64_t)MD_SERIES_MINUTES * 60000)
            key_free(k);
        else
            s->keys[kept++] = k;
    }
    s->n = kept;
    pthread_mutex_unlock(&s->lock);
}

/* ---- windows ------------------------------------------------------------ */

static bool matches(const struct key *k, const struct md_series_filter *f)
{
    if (strcmp(k->model, f->model) != 0)
        return false;
    if (f->version != 0 && k->version != f->version)
        return false;
    if (f->route == NULL || f->route[0] == '\0')
        return strcmp(k->route, "shadow") != 0;
    return strcmp(k->route, f->route) == 0;
}

/*
 * The sample a window starting at t_ms counts from: the newest at or before
 * it; none (NULL, counts from zero) when the series began after it; the
 * oldest kept when the rings do not reach back that far.
 */
static const struct sample *window_start(const struct key *k, int64_t t_ms)
{
    const struct sample *smp;

    if (t_ms < k->first_ms)
        return NULL;
    smp = ring_find(&k->sec, t_ms);
    if (smp != NULL)
        return smp;
    smp = ring_find(&k->min, t_ms);
    if (smp != NULL)
        return smp;
    return k->min.n > 0 ? ring_at(&k->min, 0) : ring_at(&k->sec, 0);
}

size_t md_series_window(struct md_series *s, const struct md_series_filter *f, int64_t window_ms,
                        int64_t now_ms, struct md_series_counts *out, double *seconds)
{
    size_t summed = 0;
    int64_t covered_ms = 0;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++) {
        const struct key *k = s->keys[i];
        const struct sample *end;
        const struct sample *start;
        struct md_series_counts d;
        int64_t span_ms;

        if (!matches(k, f))
            continue;
        end = ring_find(&k->sec, now_ms);
        if (end == NULL)
            end = ring_find(&k->min, now_ms);
        if (end == NULL)
            continue;
        start = window_start(k, now_ms - window_ms);
        if (start == NULL) {
            static const struct md_series_counts zero;

            /* Nothing came before the series began: the window as asked. */
            counts_delta(&end->c, &zero, &d);
            span_ms = window_ms;
        } else {
            /* The time the difference spans: a start found in the minutes
             * ring may lie up to a minute before the window's. */
            counts_delta(&end->c, &start->c, &d);
            span_ms = end->t_ms - start->t_ms;
        }
        md_series_counts_add(out, &d);
        if (span_ms > covered_ms)
            covered_ms = span_ms;
        summed++;
    }
    pthread_mutex_unlock(&s->lock);
    *seconds = (double)(covered_ms > 0 ? covered_ms : window_ms) / 1e3;
    return summed;
}

/* ---- steps for the history --------------------------------------------- */

static int64_t floor_to(int64_t t, int64_t step)
{
    int64_t q = t / step;

    if (t % step != 0 && t < 0)
        q--;
    return q * step;
}

void md_series_rollup(struct md_series *s, int64_t now_ms, int64_t step_ms,
                      void (*fn)(void *ctx, const struct md_series_step *st), void *ctx)
{
    int64_t boundary = floor_to(now_ms, step_ms);

    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++) {
        struct key *k = s->keys[i];
        const struct sample *newest = ring_newest(&k->sec);
        struct md_series_step st;

        if (newest == NULL)
            continue;
        if (k->rolled_at_ms == INT64_MIN) {
            memset(&k->rolled, 0, sizeof(k->rolled));
            k->rolled_at_ms = floor_to(k->first_ms, step_ms);
        }
        if (k->rolled_at_ms >= boundary)
            continue;
        counts_delta(&newest->c, &k->rolled, &st.counts);
        if (st.counts.requests > 0) {
            st.model = k->model;
            st.version = k->version;
            st.route = k->route;
            st.at_ms = k->rolled_at_ms;
            fn(ctx, &st);
        }
        k->rolled = newest->c;
        k->rolled_at_ms = boundary;
    }
    pthread_mutex_unlock(&s->lock);
}

/* ---- signals ------------------------------------------------------------ */

static int answer(void *ctx, const struct md_signal_query *q, struct md_signal_value *out,
                  struct md_err *err)
{
    const struct provider *p = ctx;
    struct md_series_filter f = {q->model, q->version, q->route};
    struct md_series_counts c;
    double seconds;

    MD_UNUSED(err);
    if (md_series_window(p->s, &f, q->window_ms, q->now_ms, &c, &seconds) == 0) {
        /* Nothing of the model seen: no request, so counts and rates are 0. */
        memset(&c, 0, sizeof(c));
        seconds = (double)q->window_ms / 1e3;
    }
    md_series_value(p->metric, &c, seconds, out);
    return MD_OK;
}

int md_series_register(struct md_series *s, struct md_signals *sig, struct md_err *err)
{
    for (int i = 0; i < MD_SERIES_METRICS; i++) {
        int rc = md_signals_add(sig, &md_series_infos[i], answer, &s->providers[i], err);

        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}
