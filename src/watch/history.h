/* SPDX-License-Identifier: MIT */
/*
 * history.h: the per-minute history of the named metrics, kept in the store
 * for a configurable time, so that trends are there without a Prometheus
 * server.
 *
 * The history's task (md_history_tick, on control's tick, once a second)
 * samples the request series (watch/series.h) and, each time a step (a
 * minute) ends, hands the store one batch (md_store_submit, never waited
 * for): the request counters of every (model, version, route) that had
 * requests in the step, with their latency buckets, so that any span of
 * steps, routes and versions sums exactly; and the value over the step of
 * every other signal of the registry that takes no argument (quality, data
 * quality, drift, ... whatever parts registered), plus the names with an
 * argument the configuration lists, per model and per version. Rows of a
 * step older than the retention go, at start and then every hour.
 *
 * The aggregation of stored rows into points of a coarser step is here too
 * (md_history_points), for the API.
 *
 * Threads: md_history_tick on the control thread; the store's done
 * callbacks on the store thread; md_history_points on any thread (one
 * struct per reader).
 */
#ifndef MD_WATCH_HISTORY_H
#define MD_WATCH_HISTORY_H

#include "util/common.h"
#include "util/err.h"
#include "store/store.h"
#include "watch/series.h"
#include "watch/signals.h"

#define MD_HISTORY_STEP_MS      60000 /* a rollup a minute */
#define MD_HISTORY_RETENTION_MS (30LL * 86400 * 1000)
#define MD_HISTORY_EXTRA_MAX    32     /* names with an argument the configuration may list */
#define MD_HISTORY_POINTS_MAX   5000   /* points one read may ask for */
#define MD_HISTORY_INFLIGHT_MAX 8      /* batches waiting for the store at most */
#define MD_HISTORY_ROWS_MAX     100000 /* rows of one batch at most */

/*
 * A duration: digits and a unit, ms, s, m, h or d ("90s", "15m", "30d"),
 * or digits alone for milliseconds. true with *out_ms set when it is well
 * formed, above 0 and at most max_ms.
 */
bool md_history_duration(const char *s, int64_t max_ms, int64_t *out_ms);

struct md_history_config {
    int64_t step_ms;      /* > 0: MD_HISTORY_STEP_MS, shorter in tests */
    int64_t retention_ms; /* > 0: steps older than this go */
    const char *extra;    /* NULL, or names with an argument, separated by commas */
};

struct md_history;

/*
 * A history writing to store (borrowed) the series of s and the signals of
 * sig (both borrowed; they, and the store, must outlive it; it must be
 * freed after md_store_close, which calls its last batches' done).
 * MD_EINVAL names a malformed extra list (more than MD_HISTORY_EXTRA_MAX
 * names, a name too long or without an argument); whether each extra name is registered is checked
 * at the first tick (after every part has registered its own), which logs
 * and skips one that is not.
 */
int md_history_new(const struct md_history_config *cfg, struct md_series *s, struct md_signals *sig,
                   struct md_store *store, struct md_history **out,
                   struct md_err *err) MD_MUST_CHECK;
void md_history_free(struct md_history *h); /* NULL ok */

/* The step of the rollups (ms). */
int64_t md_history_step_ms(const struct md_history *h);

/* The task: a sample of the series, and at a step's end its batch; the
 * retention now and then. now_ms: the wall clock (ms since the epoch). */
void md_history_tick(struct md_history *h, int64_t now_ms);

/*
 * At shutdown, once the control loop has stopped (so never beside a tick):
 * hands the store the request counts of the step running now, which would
 * be lost otherwise. Its row is labelled with the step's start like a full
 * one; a restart within the same step writes a second row for it, and the
 * two add up. The other signals are not written for a partial step.
 */
void md_history_flush(struct md_history *h, int64_t now_ms);

/* What the history did, for /metrics and tests. */
struct md_history_stats {
    uint64_t batches;   /* committed */
    uint64_t rows;      /* rows committed */
    uint64_t dropped;   /* rows dropped: too many batches waiting, a failed batch */
    uint64_t expired;   /* rows removed by the retention */
    uint64_t untracked; /* request series not sampled: past MD_SERIES_KEYS */
};
void md_history_get_stats(struct md_history *h, struct md_history_stats *out);

/* ---- reading: rows into points ---------------------------------------- */

/*
 * Points of step_ms from since_ms (rounded down to a multiple of step_ms)
 * up to until_ms (excluded), each summing the rows whose step starts in it.
 * For a request metric (metric >= 0, an enum md_series_metric), the counts
 * and buckets are summed and the value computed from the sums (rates per
 * second of the point's step); for another signal (metric -1), the value is
 * the mean of the rows' values weighted by their samples (a plain mean when
 * no row has samples), samples summed.
 */
struct md_history_points {
    int metric; /* enum md_series_metric, or -1: a stored value */
    int64_t since_ms;
    int64_t step_ms;
    size_t n;
    struct md_series_counts *counts; /* request metrics: n */
    double *weighted;                /* others: n sums of value x samples */
    double *plain;                   /* others: n sums of values */
    uint64_t *samples;               /* others: n */
    uint64_t *rows;                  /* n: rows summed into each point */
};

/* MD_EINVAL when the range holds more than MD_HISTORY_POINTS_MAX points
 * (or none), MD_ENOMEM. */
int md_history_points_init(struct md_history_points *p, int metric, int64_t since_ms,
                           int64_t until_ms, int64_t step_ms, struct md_err *err) MD_MUST_CHECK;
void md_history_points_release(struct md_history_points *p);
/* Adds a row (one outside the range is ignored). */
void md_history_points_add_requests(struct md_history_points *p,
                                    const struct md_store_history_requests *r);
void md_history_points_add_value(struct md_history_points *p,
                                 const struct md_store_history_value *v);
/* Point i's value: NaN (and samples 0) when it has nothing; counts are 0 then. */
void md_history_points_value(const struct md_history_points *p, size_t i,
                             struct md_signal_value *out);

#endif
