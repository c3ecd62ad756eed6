/* SPDX-License-Identifier: MIT */
/*
 * series.h: the request signals over windows. Once a second (control's
 * tick) md_series_sample copies the cumulative request counters and latency
 * buckets of every (model, version, route) of the metrics registry into two
 * bounded rings per series: one sample a second for the last
 * MD_SERIES_SECONDS seconds, and one a minute for the last
 * MD_SERIES_MINUTES minutes. A window is the difference of two samples (the
 * newest, and the last one at or before the window's start), so every
 * answer costs the same whatever the window, and windows of several series
 * (the routes of a version, the versions of a model) are sums: counters and
 * histogram buckets merge by addition. Latency quantiles come from the
 * window's bucket differences, interpolated inside a bucket.
 *
 * The signals it registers (md_series_register): requests, errors,
 * requests_per_second, error_rate, success_rate, latency_p50_ms,
 * latency_p90_ms, latency_p99_ms, latency_mean_ms, rows_per_second.
 * "errors" are the server's failures (5xx: an engine that failed, a full
 * queue, a deadline passed); refusals of bad input (4xx) count among the
 * requests and in neither errors nor successes. A query without a route
 * sums every route but "shadow" (shadow copies are not the callers'
 * traffic); route "shadow" asks for them.
 *
 * It also hands the control loop's history the per-step differences of each
 * series (md_series_rollup): what the store keeps per minute.
 *
 * Threads: md_series_sample and md_series_rollup on the control thread;
 * md_series_window and the signal providers from any thread. One mutex
 * guards the rings; the metrics registry's mutex is taken inside it (by
 * md_metrics_foreach), never the other way round.
 */
#ifndef MD_WATCH_SERIES_H
#define MD_WATCH_SERIES_H

#include "util/common.h"
#include "util/err.h"
#include "watch/metrics.h"
#include "watch/signals.h"

#define MD_SERIES_SECONDS 900 /* one sample a second: the last 15 minutes */
#define MD_SERIES_MINUTES 240 /* one sample a minute: the last 4 hours */
#define MD_SERIES_KEYS    256 /* (model, version, route) series kept at most */

/* Request counters of one series, cumulative in a sample, or over a window. */
struct md_series_counts {
    uint64_t requests; /* every request, whatever its outcome */
    uint64_t success;  /* answered 200 */
    uint64_t errors;   /* failed on the server's side (5xx) */
    uint64_t rejected; /* refused for bad input (4xx) */
    uint64_t rows;     /* rows predicted */
    uint64_t latency_sum_ns;
    uint64_t latency[MD_HIST_BUCKETS + 1]; /* successful requests, per bucket of
                                              md_hist_bounds_s (not cumulative; last +Inf) */
};

/* out += in. */
void md_series_counts_add(struct md_series_counts *out, const struct md_series_counts *in);

/* The request signals, in the order registered. */
enum md_series_metric {
    MD_SERIES_REQUESTS = 0,
    MD_SERIES_ERRORS,
    MD_SERIES_RPS,
    MD_SERIES_ERROR_RATE,
    MD_SERIES_SUCCESS_RATE,
    MD_SERIES_P50,
    MD_SERIES_P90,
    MD_SERIES_P99,
    MD_SERIES_MEAN,
    MD_SERIES_ROWS_PS,
    MD_SERIES_METRICS
};

/* The signal info of each request metric (name, unit, help), by enum md_series_metric. */
extern const struct md_signal_info md_series_infos[MD_SERIES_METRICS];

/* The request metric called name (no argument), or -1. */
int md_series_metric_find(const char *name);

/*
 * The value of metric over counts c that span seconds (> 0) of time:
 * counts as they are, rates per second, ratios of the counts, quantiles
 * from the buckets (ms). value NaN when there is nothing to measure (no
 * request for a ratio, no success for a latency); samples: the requests
 * (the successes for latencies).
 */
void md_series_value(enum md_series_metric metric, const struct md_series_counts *c, double seconds,
                     struct md_signal_value *out);

struct md_series;

/* A new, empty set of rings over metrics m (borrowed; it must outlive the set). */
struct md_series *md_series_new(struct md_metrics *m);
void md_series_free(struct md_series *s); /* NULL ok */

/*
 * Takes one sample of every series of the registry at wall-clock time
 * now_ms (ms since the epoch; later than the previous call's): into the
 * seconds ring, and into the minutes ring when the minute changed since its
 * last sample. A series not seen for MD_SERIES_MINUTES minutes is dropped;
 * a new one past MD_SERIES_KEYS is not kept (counted: md_series_untracked).
 */
void md_series_sample(struct md_series *s, int64_t now_ms);

/* Series the registry had that did not fit (each counted once). */
uint64_t md_series_untracked(struct md_series *s);

/* Which series a window sums. */
struct md_series_filter {
    const char *model; /* required */
    int64_t version;   /* 0: every version */
    const char *route; /* NULL or "": every route but "shadow" */
};

/*
 * The counts of the series f selects over the window_ms (> 0) milliseconds
 * before now_ms, into *out, and the seconds they span into *seconds (what
 * rates divide by). Returns how many series it summed (0: none matched;
 * *out zeroed). Each series counts from its newest sample at or before the
 * window's start: within the seconds ring that is the start to the second;
 * further back it is the minute's sample before it (the span grows by up to
 * a minute); past the minutes ring, its oldest sample (the span is then
 * shorter than asked: MD_SERIES_MINUTES minutes at most). A series that
 * began inside the window counts from zero and spans the window. The end is
 * the newest sample at or before now_ms, so requests of the last second may
 * not show yet. The span of several series is the longest.
 */
size_t md_series_window(struct md_series *s, const struct md_series_filter *f, int64_t window_ms,
                        int64_t now_ms, struct md_series_counts *out, double *seconds);

/* Registers the request signals in sig (answered from s, which must outlive sig's use). */
int md_series_register(struct md_series *s, struct md_signals *sig,
                       struct md_err *err) MD_MUST_CHECK;

/* One step of one series, for the history. Strings are the series set's,
 * valid during the callback. */
struct md_series_step {
    const char *model;
    int64_t version;
    const char *route;
    int64_t at_ms; /* the start of the step */
    struct md_series_counts counts;
};

/*
 * For every series whose last rolled-up step ended before now_ms's step
 * (now_ms rounded down to step_ms) began: the counts since that step's
 * start, through fn, when any request came (a quiet series gives nothing);
 * the series then counts its next step from the newest sample. The first
 * step of a series starts at the step its first sample fell in, from zero.
 * fn runs under the set's mutex: it must not call the set.
 */
void md_series_rollup(struct md_series *s, int64_t now_ms, int64_t step_ms,
                      void (*fn)(void *ctx, const struct md_series_step *st), void *ctx);

#endif
