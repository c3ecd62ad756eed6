/* SPDX-License-Identifier: MIT */
/*
 * metrics.h: lock-free counters and latency histograms that the hot path
 * updates and /metrics reads. Every field is a relaxed atomic: readers may see
 * a request counted in one field and not yet in another, never a torn value.
 *
 * The registry (struct md_metrics) owns the statistics of each model version,
 * keyed by model name and version number, apart from the loaded version that
 * updates them: a version reloaded from changed files counts on where it left
 * off, and a retired version's counters stay exported (counters never go
 * back), up to MD_METRICS_RETIRED_PER_MODEL retired versions per model and
 * MD_METRICS_RETIRED_MAX in all; past that the longest retired are dropped.
 */
#ifndef MD_WATCH_METRICS_H
#define MD_WATCH_METRICS_H

#include "util/common.h"

#include <stdatomic.h>

/* Upper bounds of the latency buckets, in seconds (then +Inf). */
#define MD_HIST_BUCKETS 20
extern const double md_hist_bounds_s[MD_HIST_BUCKETS];

struct md_histogram {
    _Atomic uint64_t buckets[MD_HIST_BUCKETS + 1]; /* non-cumulative; last is +Inf */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
};

/* Records one observation of ns nanoseconds. Thread-safe. */
void md_histogram_observe(struct md_histogram *h, uint64_t ns);

/* Batch sizes in rows: buckets of upper bounds 1, 2, 4, ..., 1024, then +Inf. */
#define MD_ROWS_BUCKETS 11

struct md_rows_histogram {
    _Atomic uint64_t buckets[MD_ROWS_BUCKETS + 1]; /* non-cumulative; last is +Inf */
    _Atomic uint64_t count;
    _Atomic uint64_t sum; /* rows */
};

/* Records one batch of rows rows. Thread-safe. */
void md_rows_histogram_observe(struct md_rows_histogram *h, uint64_t rows);

/*
 * Routes: every request-level figure is kept per route, the traffic
 * policy's name for the way a request reached the version ("stable",
 * "canary", an A/B arm, "shadow", "direct" for a request that named the
 * version, "default" before a policy chooses). A version holds at most
 * MD_ROUTES_PER_VERSION names; requests by any further name count under
 * "other" (MD_ROUTE_OTHER).
 */
#define MD_ROUTES_PER_VERSION 16
#define MD_ROUTE_NAME_MAX     64 /* bytes of a route's name with its NUL; a longer one is "other" */
#define MD_ROUTE_DEFAULT      "default"
#define MD_ROUTE_OTHER        "other"

/* One route's requests to one version: what a gate judges. */
struct md_route_stats {
    _Atomic uint64_t success;         /* requests answered 200 */
    _Atomic uint64_t fail_rejected;   /* requests refused for bad input (4xx) */
    _Atomic uint64_t fail_backend;    /* requests whose engine call failed (5xx) */
    _Atomic uint64_t fail_overload;   /* requests refused because the queue was full (503) */
    _Atomic uint64_t fail_timeout;    /* requests whose deadline passed before they ran (504) */
    _Atomic uint64_t inference_count; /* rows predicted */
    _Atomic uint64_t request_ns;      /* total time of successful requests */
    _Atomic uint64_t fail_ns;         /* total time of failed requests */
    _Atomic uint64_t queue_ns;        /* total queue time of successful batched requests */
    _Atomic uint64_t last_inference;  /* md_now_ns() of the last success; 0 = never */
    struct md_histogram request;      /* whole request, successful ones */
    struct md_histogram queue;        /* batch queue wait, successful batched requests */
    /* A hint: the last name pointer that found this slot, so that the next
     * request with the same pointer compares one pointer and one short
     * string; never trusted alone (a freed name's address may come back
     * holding another name). */
    _Atomic(const char *) key;
    char name[MD_ROUTE_NAME_MAX]; /* written once, before n_routes counts the slot */
};

/* A version as the target of shadow copies (and mirrored requests): serve/shadow.h. */
struct md_shadow_stats {
    _Atomic uint64_t submitted; /* copies queued for it */
    _Atomic uint64_t dropped;   /* copies dropped: queue full, or over the queue's bytes */
    _Atomic uint64_t run;       /* copies it ran (their requests count under route "shadow") */
    _Atomic uint64_t failed;    /* of those, the ones it failed (any failure) */
};

/* Per model version: what Triton reports plus real histograms. */
struct md_version_stats {
    _Atomic uint64_t exec_count;    /* engine calls */
    _Atomic uint64_t compute_ns;    /* total engine time */
    _Atomic int64_t queue_depth;    /* requests waiting in the batch queue now */
    struct md_histogram engine;     /* engine call */
    struct md_rows_histogram batch; /* rows per engine call of a batching version */
    struct md_shadow_stats shadow;  /* copies sent to this version */
    /* The routes seen so far: routes[0 .. n_routes) in the order they came,
     * then routes[MD_ROUTES_PER_VERSION], "other". A slot, once counted, keeps
     * its name; it is added under a lock, rarely (a new route name). */
    _Atomic uint32_t n_routes;
    struct md_route_stats routes[MD_ROUTES_PER_VERSION + 1];
};

/*
 * The statistics of route `name` in s (NULL: MD_ROUTE_DEFAULT), its slot
 * made the first time the name is seen; past MD_ROUTES_PER_VERSION names,
 * or for a name of MD_ROUTE_NAME_MAX bytes or more, the "other" slot.
 * Thread-safe. The common case (a name pointer seen before on this version)
 * compares pointers and one short string, with no lock; a name seen through
 * a new pointer is found by its text; a new name takes a process-wide
 * mutex once.
 */
struct md_route_stats *md_route_stats_slow(struct md_version_stats *s, const char *name);

static inline struct md_route_stats *md_route_stats(struct md_version_stats *s, const char *name)
{
    uint32_t n = atomic_load_explicit(&s->n_routes, memory_order_acquire);
    uint32_t i;

    if (name == NULL)
        name = MD_ROUTE_DEFAULT;
    for (i = 0; i < n; i++) {
        struct md_route_stats *r = &s->routes[i];

        if (atomic_load_explicit(&r->key, memory_order_relaxed) == name &&
            strcmp(r->name, name) == 0)
            return r;
    }
    return md_route_stats_slow(s, name);
}

/* The name of a route slot of s (its text, or MD_ROUTE_OTHER for the last). */
const char *md_route_stats_name(const struct md_version_stats *s, const struct md_route_stats *r);

/* A version's request figures summed over its routes (plain numbers, read relaxed). */
struct md_request_totals {
    uint64_t success;
    uint64_t fail_rejected;
    uint64_t fail_backend;
    uint64_t fail_overload;
    uint64_t fail_timeout;
    uint64_t inference_count;
    uint64_t request_ns;
    uint64_t fail_ns;
    uint64_t queue_ns;
    uint64_t last_inference; /* the latest of the routes' */
};

/* Sums route r's figures (NULL: every route of s) into out (overwritten). */
void md_request_totals(const struct md_version_stats *s, const struct md_route_stats *r,
                       struct md_request_totals *out);

/*
 * Calls fn for every route slot of s that has a name (in the order the
 * names came) and for "other" when it counted anything. Lock-free.
 */
void md_version_stats_routes(const struct md_version_stats *s,
                             void (*fn)(void *ctx, const char *route,
                                        const struct md_route_stats *r),
                             void *ctx);

/*
 * How many retired versions (no loaded instance uses their statistics) the
 * registry keeps per model, and in all.
 */
#define MD_METRICS_RETIRED_PER_MODEL 4
#define MD_METRICS_RETIRED_MAX       256

struct md_metrics;

/* A new, empty registry. */
struct md_metrics *md_metrics_new(void);
/* Frees the registry and every series; no version may still be attached. NULL ok. */
void md_metrics_free(struct md_metrics *m);

/*
 * The statistics of version `number` of `model`, created zeroed the first
 * time, for a loaded instance of that version: the registry keeps them alive
 * (and exported as live) until the matching md_metrics_detach. batching: the
 * instance has a batch queue (its queue and batch-size series are exported
 * from now on). Thread-safe; takes the registry's mutex (not for the hot path).
 */
struct md_version_stats *md_metrics_attach(struct md_metrics *m, const char *model, int64_t number,
                                           bool batching);
/*
 * The instance that attached s is gone. When no instance uses s any more the
 * version is retired: its series are kept, within the bounds above.
 */
void md_metrics_detach(struct md_metrics *m, struct md_version_stats *s);

/* One series set of md_metrics_foreach. */
struct md_metrics_row {
    const char *model;
    const char *version; /* the number as text */
    const struct md_version_stats *stats;
    bool live;     /* a loaded instance uses it; false once retired */
    bool batching; /* some instance that used it had a batch queue */
};

/* Calls fn for every kept series set, by model name, then version number.
 * fn runs under the registry's mutex: it must not call the registry. */
void md_metrics_foreach(struct md_metrics *m,
                        void (*fn)(void *ctx, const struct md_metrics_row *row), void *ctx);

/*
 * What control reads to judge a rollout step: the counters of each (version,
 * route) of a model at one moment. Two snapshots taken a step apart give the
 * step's figures by md_route_snapshot_delta; quantiles come from the delta's
 * latency buckets, so they describe the step alone.
 */
struct md_route_snapshot {
    int64_t version;
    char route[MD_ROUTE_NAME_MAX];
    bool live;         /* a loaded instance of the version counts into it */
    uint64_t requests; /* requests that reached the version by this route, whatever the outcome */
    uint64_t success;  /* answered 200 */
    uint64_t errors; /* failed for the server's side (5xx): engine failure, queue full, deadline */
    uint64_t rejected;                     /* refused for bad input (4xx) */
    uint64_t rows;                         /* rows predicted */
    uint64_t latency[MD_HIST_BUCKETS + 1]; /* successful requests' latency, per bucket of
                                              md_hist_bounds_s (not cumulative; last +Inf) */
    uint64_t latency_sum_ns;
};

/*
 * Writes the snapshot of every (version, route) of model into out[0 ..
 * max), versions ascending, each version's routes in the order they came
 * ("other" last), and returns how many there are (more than max: the rest
 * was left out; call again with room for them). Retired versions kept by
 * the registry are included (live false). Takes the registry's mutex
 * briefly; the counters themselves are read without a lock, so a request
 * may show in one figure and not yet in another.
 */
size_t md_metrics_snapshot(struct md_metrics *m, const char *model, struct md_route_snapshot *out,
                           size_t max);

/* The snapshot of (version, route) among s[0 .. n), or NULL. */
const struct md_route_snapshot *md_route_snapshot_find(const struct md_route_snapshot *s, size_t n,
                                                       int64_t version, const char *route);

/*
 * out = after - before, field by field (before NULL: out = after): what
 * happened between the two snapshots of the same (version, route). A
 * counter that went back (a series dropped and made again) gives after's
 * own value rather than a wrapped difference.
 */
void md_route_snapshot_delta(const struct md_route_snapshot *after,
                             const struct md_route_snapshot *before, struct md_route_snapshot *out);

/*
 * The q-quantile (0 <= q <= 1) in seconds of a latency histogram given as
 * MD_HIST_BUCKETS + 1 non-cumulative bucket counts, interpolated linearly
 * inside the bucket that holds it, as Prometheus' histogram_quantile does
 * (the +Inf bucket answers the last finite bound). NAN when it is empty.
 */
double md_hist_quantile(const uint64_t buckets[MD_HIST_BUCKETS + 1], double q);

/*
 * The data-quality figures of the registry's versions (watch/dataq.h): made
 * and freed with the registry, attached by each version as it loads.
 */
struct md_dataq *md_metrics_dataq(struct md_metrics *m);

/* Counts one error met reading the repository (one logged line). Thread-safe. */
void md_metrics_scan_error(struct md_metrics *m);
/* Errors counted by md_metrics_scan_error. */
uint64_t md_metrics_scan_errors(const struct md_metrics *m);

/*
 * Milliseconds since the epoch of a moment md_now_ns() read (0 stays 0):
 * the hot path keeps one clock, this converts when a reader asks.
 */
int64_t md_mono_to_wall_ms(uint64_t mono_ns);

/* Monotonic nanoseconds, for durations. */
uint64_t md_now_ns(void);
/* Wall-clock milliseconds since the epoch. */
int64_t md_wall_ms(void);

#endif
