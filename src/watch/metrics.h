/* SPDX-License-Identifier: MIT */
/*
 * metrics.h: lock-free counters and latency histograms that the hot path
 * updates and /metrics reads. Every field is a relaxed atomic: readers may see
 * a request counted in one field and not yet in another, never a torn value.
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
 * Milliseconds since the epoch of a moment md_now_ns() read (0 stays 0):
 * the hot path keeps one clock, this converts when a reader asks.
 */
int64_t md_mono_to_wall_ms(uint64_t mono_ns);

/* Monotonic nanoseconds, for durations. */
uint64_t md_now_ns(void);
/* Wall-clock milliseconds since the epoch. */
int64_t md_wall_ms(void);

#endif
