/* SPDX-License-Identifier: MIT */
/*
 * metrics.c: histogram updates, the registry of version statistics, and
 * clocks. The registry is a sorted array under one mutex, taken when a
 * version loads or is freed and when /metrics reads it, never per request.
 */
#include "watch/metrics.h"
#include "util/mem.h"
#include "watch/dataq.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <time.h>

const double md_hist_bounds_s[MD_HIST_BUCKETS] = {
    0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01,     0.025,   0.05,     0.1,     0.25,   0.5,     1.0,    2.5,   5.0,    10.0,
};

/* The same bounds in nanoseconds, for a compare loop without floating point. */
static const uint64_t bounds_ns[MD_HIST_BUCKETS] = {
    5000,      10000,     25000,      50000,      100000,     250000,      500000,
    1000000,   2500000,   5000000,    10000000,   25000000,   50000000,    100000000,
    250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};

void md_histogram_observe(struct md_histogram *h, uint64_t ns)
{
    size_t i = 0;

    while (i < MD_HIST_BUCKETS && ns > bounds_ns[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

void md_rows_histogram_observe(struct md_rows_histogram *h, uint64_t rows)
{
    size_t i = 0;

    while (i < MD_ROWS_BUCKETS && rows > ((uint64_t)1 << i))
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, rows, memory_order_relaxed);
}

/* ---- routes ------------------------------------------------------------- */

/* Taken to give a route slot its name: once per (version, new name). */
static pthread_mutex_t routes_lock = PTHREAD_MUTEX_INITIALIZER;

struct md_route_stats *md_route_stats_slow(struct md_version_stats *s, const char *name)
{
    struct md_route_stats *other = &s->routes[MD_ROUTES_PER_VERSION];
    struct md_route_stats *r;
    size_t len = strlen(name);
    uint32_t n;
    uint32_t i;

    if (len >= MD_ROUTE_NAME_MAX)
        return other;
    /* Seen through another pointer: found by its text, the pointer kept as the hint. */
    n = atomic_load_explicit(&s->n_routes, memory_order_acquire);
    for (i = 0; i < n; i++) {
        r = &s->routes[i];
        if (strcmp(r->name, name) == 0) {
            atomic_store_explicit(&r->key, name, memory_order_relaxed);
            return r;
        }
    }
    if (n == MD_ROUTES_PER_VERSION)
        return other;
    pthread_mutex_lock(&routes_lock);
    /* Another thread may have added it, or others, meanwhile. */
    n = atomic_load_explicit(&s->n_routes, memory_order_relaxed);
    for (i = 0; i < n; i++)
        if (strcmp(s->routes[i].name, name) == 0)
            break;
    if (i == n && n < MD_ROUTES_PER_VERSION) {
        memcpy(s->routes[n].name, name, len + 1);
        atomic_store_explicit(&s->routes[n].key, name, memory_order_relaxed);
        atomic_store_explicit(&s->n_routes, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&routes_lock);
    return i < MD_ROUTES_PER_VERSION ? &s->routes[i] : other;
}

const char *md_route_stats_name(const struct md_version_stats *s, const struct md_route_stats *r)
{
    return r == &s->routes[MD_ROUTES_PER_VERSION] ? MD_ROUTE_OTHER : r->name;
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void add_route(const struct md_route_stats *r, struct md_request_totals *t)
{
    uint64_t last = LOAD(r->last_inference);

    t->success += LOAD(r->success);
    t->fail_rejected += LOAD(r->fail_rejected);
    t->fail_backend += LOAD(r->fail_backend);
    t->fail_overload += LOAD(r->fail_overload);
    t->fail_timeout += LOAD(r->fail_timeout);
    t->inference_count += LOAD(r->inference_count);
    t->request_ns += LOAD(r->request_ns);
    t->fail_ns += LOAD(r->fail_ns);
    t->queue_ns += LOAD(r->queue_ns);
    if (last > t->last_inference)
        t->last_inference = last;
}

void md_request_totals(const struct md_version_stats *s, const struct md_route_stats *r,
                       struct md_request_totals *out)
{
    uint32_t n;
    uint32_t i;

    memset(out, 0, sizeof(*out));
    if (r != NULL) {
        add_route(r, out);
        return;
    }
    n = atomic_load_explicit(&s->n_routes, memory_order_acquire);
    for (i = 0; i < n; i++)
        add_route(&s->routes[i], out);
    add_route(&s->routes[MD_ROUTES_PER_VERSION], out);
}

/* Whether a slot counted any request. */
static bool route_used(const struct md_route_stats *r)
{
    return LOAD(r->success) + LOAD(r->fail_rejected) + LOAD(r->fail_backend) +
               LOAD(r->fail_overload) + LOAD(r->fail_timeout) !=
           0;
}

void md_version_stats_routes(const struct md_version_stats *s,
                             void (*fn)(void *ctx, const char *route,
                                        const struct md_route_stats *r),
                             void *ctx)
{
    uint32_t n = atomic_load_explicit(&s->n_routes, memory_order_acquire);
    uint32_t i;

    for (i = 0; i < n; i++)
        fn(ctx, s->routes[i].name, &s->routes[i]);
    if (route_used(&s->routes[MD_ROUTES_PER_VERSION]))
        fn(ctx, MD_ROUTE_OTHER, &s->routes[MD_ROUTES_PER_VERSION]);
}

/* One version's statistics in the registry; stats first, so a stats pointer is the series'. */
struct series {
    struct md_version_stats stats;
    char *model;
    int64_t number;
    char version[24];     /* number as text */
    unsigned attached;    /* loaded instances using stats; 0 = retired */
    uint64_t retired_seq; /* when it was last retired: a lower one was retired longer ago */
    bool batching;        /* an instance with a batch queue used it */
};

struct md_metrics {
    pthread_mutex_t lock;   /* guards everything below but scan_errors */
    struct series **series; /* sorted by model name, then number */
    size_t n;
    uint64_t seq; /* last retired_seq given */
    _Atomic uint64_t scan_errors;
    struct md_dataq *dataq; /* data quality of the same versions: its own lock */
};

struct md_metrics *md_metrics_new(void)
{
    struct md_metrics *m = md_xcalloc(1, sizeof(*m));

    pthread_mutex_init(&m->lock, NULL);
    atomic_init(&m->scan_errors, 0);
    m->dataq = md_dataq_new();
    return m;
}

static void series_free(struct series *s)
{
    free(s->model);
    free(s);
}

void md_metrics_free(struct md_metrics *m)
{
    size_t i;

    if (m == NULL)
        return;
    for (i = 0; i < m->n; i++)
        series_free(m->series[i]);
    free(m->series);
    md_dataq_free(m->dataq);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static int cmp_key(const struct series *s, const char *model, int64_t number)
{
    int c = strcmp(s->model, model);

    if (c != 0)
        return c;
    return s->number < number ? -1 : s->number > number ? 1 : 0;
}

/* Where (model, number) is or would go. */
static size_t lower_bound(const struct md_metrics *m, const char *model, int64_t number)
{
    size_t lo = 0;
    size_t hi = m->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (cmp_key(m->series[mid], model, number) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct md_version_stats *md_metrics_attach(struct md_metrics *m, const char *model, int64_t number,
                                           bool batching)
{
    struct series *s;
    size_t pos;

    pthread_mutex_lock(&m->lock);
    pos = lower_bound(m, model, number);
    if (pos < m->n && cmp_key(m->series[pos], model, number) == 0) {
        s = m->series[pos];
    } else {
        s = md_xcalloc(1, sizeof(*s));
        s->model = md_xstrdup(model);
        s->number = number;
        (void)snprintf(s->version, sizeof(s->version), "%lld", (long long)number); /* fits */
        m->series = md_xrealloc(m->series, (m->n + 1) * sizeof(struct series *));
        memmove(m->series + pos + 1, m->series + pos, (m->n - pos) * sizeof(struct series *));
        m->series[pos] = s;
        m->n++;
    }
    s->attached++;
    s->batching |= batching;
    pthread_mutex_unlock(&m->lock);
    return &s->stats;
}

/* The retired series longest retired, of model (NULL: of any model); m->n when none. */
static size_t oldest_retired(const struct md_metrics *m, const char *model, size_t *count)
{
    size_t best = m->n;
    size_t i;

    *count = 0;
    for (i = 0; i < m->n; i++) {
        const struct series *s = m->series[i];

        if (s->attached > 0 || (model != NULL && strcmp(s->model, model) != 0))
            continue;
        (*count)++;
        if (best == m->n || s->retired_seq < m->series[best]->retired_seq)
            best = i;
    }
    return best;
}

static void remove_at(struct md_metrics *m, size_t i)
{
    series_free(m->series[i]);
    memmove(m->series + i, m->series + i + 1, (m->n - i - 1) * sizeof(struct series *));
    m->n--;
}

void md_metrics_detach(struct md_metrics *m, struct md_version_stats *stats)
{
    struct series *s = (struct series *)stats;
    char *model;
    size_t count;
    size_t i;

    pthread_mutex_lock(&m->lock);
    assert(s->attached > 0);
    if (--s->attached == 0) {
        s->retired_seq = ++m->seq;
        /* s may go below: keep its model's name for the second pass. */
        model = md_xstrdup(s->model);
        for (i = oldest_retired(m, model, &count); count > MD_METRICS_RETIRED_PER_MODEL;
             i = oldest_retired(m, model, &count))
            remove_at(m, i);
        for (i = oldest_retired(m, NULL, &count); count > MD_METRICS_RETIRED_MAX;
             i = oldest_retired(m, NULL, &count))
            remove_at(m, i);
        free(model);
    }
    pthread_mutex_unlock(&m->lock);
}

void md_metrics_foreach(struct md_metrics *m,
                        void (*fn)(void *ctx, const struct md_metrics_row *row), void *ctx)
{
    struct md_metrics_row row;
    size_t i;

    pthread_mutex_lock(&m->lock);
    for (i = 0; i < m->n; i++) {
        const struct series *s = m->series[i];

        row.model = s->model;
        row.version = s->version;
        row.stats = &s->stats;
        row.live = s->attached > 0;
        row.batching = s->batching;
        fn(ctx, &row);
    }
    pthread_mutex_unlock(&m->lock);
}

/* ---- snapshots ---------------------------------------------------------- */

struct snap_ctx {
    struct md_route_snapshot *out;
    size_t max;
    size_t n;
    int64_t version;
    bool live;
};

static void snap_route(void *vctx, const char *route, const struct md_route_stats *r)
{
    struct snap_ctx *c = vctx;
    struct md_route_snapshot *o;
    size_t i;

    if (c->n++ >= c->max)
        return;
    o = &c->out[c->n - 1];
    o->version = c->version;
    (void)snprintf(o->route, sizeof(o->route), "%s", route); /* fits: the same bound */
    o->live = c->live;
    o->success = LOAD(r->success);
    o->errors = LOAD(r->fail_backend) + LOAD(r->fail_overload) + LOAD(r->fail_timeout);
    o->rejected = LOAD(r->fail_rejected);
    o->requests = o->success + o->errors + o->rejected;
    o->rows = LOAD(r->inference_count);
    for (i = 0; i <= MD_HIST_BUCKETS; i++)
        o->latency[i] = LOAD(r->request.buckets[i]);
    o->latency_sum_ns = LOAD(r->request.sum_ns);
}

size_t md_metrics_snapshot(struct md_metrics *m, const char *model, struct md_route_snapshot *out,
                           size_t max)
{
    struct snap_ctx c = {.out = out, .max = max, .n = 0};
    size_t i;

    pthread_mutex_lock(&m->lock);
    for (i = lower_bound(m, model, 0); i < m->n && strcmp(m->series[i]->model, model) == 0; i++) {
        c.version = m->series[i]->number;
        c.live = m->series[i]->attached > 0;
        md_version_stats_routes(&m->series[i]->stats, snap_route, &c);
    }
    pthread_mutex_unlock(&m->lock);
    return c.n;
}

const struct md_route_snapshot *md_route_snapshot_find(const struct md_route_snapshot *s, size_t n,
                                                       int64_t version, const char *route)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i].version == version && strcmp(s[i].route, route) == 0)
            return &s[i];
    return NULL;
}

/* a - b, or a when the counter went back. */
static uint64_t since(uint64_t a, uint64_t b)
{
    return a >= b ? a - b : a;
}

void md_route_snapshot_delta(const struct md_route_snapshot *after,
                             const struct md_route_snapshot *before, struct md_route_snapshot *out)
{
    struct md_route_snapshot d = *after;
    size_t i;

    if (before != NULL) {
        d.requests = since(after->requests, before->requests);
        d.success = since(after->success, before->success);
        d.errors = since(after->errors, before->errors);
        d.rejected = since(after->rejected, before->rejected);
        d.rows = since(after->rows, before->rows);
        for (i = 0; i <= MD_HIST_BUCKETS; i++)
            d.latency[i] = since(after->latency[i], before->latency[i]);
        d.latency_sum_ns = since(after->latency_sum_ns, before->latency_sum_ns);
    }
    *out = d;
}

double md_hist_quantile(const uint64_t buckets[MD_HIST_BUCKETS + 1], double q)
{
    uint64_t total = 0;
    double rank;
    double cum = 0;
    size_t i;

    for (i = 0; i <= MD_HIST_BUCKETS; i++)
        total += buckets[i];
    if (total == 0 || !(q >= 0 && q <= 1))
        return NAN;
    rank = q * (double)total;
    for (i = 0; i < MD_HIST_BUCKETS; i++) {
        double lo = i == 0 ? 0 : md_hist_bounds_s[i - 1];

        if (buckets[i] > 0 && cum + (double)buckets[i] >= rank)
            return lo + (md_hist_bounds_s[i] - lo) * ((rank - cum) / (double)buckets[i]);
        cum += (double)buckets[i];
    }
    return md_hist_bounds_s[MD_HIST_BUCKETS - 1];
}

struct md_dataq *md_metrics_dataq(struct md_metrics *m)
{
    return m->dataq;
}

void md_metrics_scan_error(struct md_metrics *m)
{
    atomic_fetch_add_explicit(&m->scan_errors, 1, memory_order_relaxed);
}

uint64_t md_metrics_scan_errors(const struct md_metrics *m)
{
    return atomic_load_explicit(&m->scan_errors, memory_order_relaxed);
}

uint64_t md_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t md_mono_to_wall_ms(uint64_t mono_ns)
{
    uint64_t now;
    int64_t wall;

    if (mono_ns == 0)
        return 0;
    wall = md_wall_ms();
    now = md_now_ns();
    return mono_ns >= now ? wall : wall - (int64_t)((now - mono_ns) / 1000000u);
}

int64_t md_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
