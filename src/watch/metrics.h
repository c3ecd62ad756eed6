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

/* Per model version: what Triton reports plus real histograms. */
struct md_version_stats {
    _Atomic uint64_t success;         /* requests answered 200 */
    _Atomic uint64_t fail_rejected;   /* requests refused for bad input (4xx) */
    _Atomic uint64_t fail_backend;    /* requests whose engine call failed (5xx) */
    _Atomic uint64_t fail_overload;   /* requests refused because the queue was full (503) */
    _Atomic uint64_t fail_timeout;    /* requests whose deadline passed before they ran (504) */
    _Atomic uint64_t inference_count; /* rows predicted */
    _Atomic uint64_t exec_count;      /* engine calls */
    _Atomic uint64_t request_ns;      /* total time of successful requests */
    _Atomic uint64_t compute_ns;      /* total engine time */
    _Atomic uint64_t fail_ns;         /* total time of failed requests */
    _Atomic uint64_t queue_ns;        /* total queue time of successful batched requests */
    _Atomic int64_t queue_depth;      /* requests waiting in the batch queue now */
    _Atomic uint64_t last_inference;  /* md_now_ns() of the last success; 0 = never */
    struct md_histogram request;      /* whole request, successful ones */
    struct md_histogram engine;       /* engine call */
    struct md_histogram queue;        /* batch queue wait, successful batched requests */
    struct md_rows_histogram batch;   /* rows per engine call of a batching version */
};

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
