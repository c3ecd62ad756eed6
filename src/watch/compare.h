/* SPDX-License-Identifier: MIT */
/*
 * compare.h: how two versions of a model compare on the same requests. For
 * every pair (model, version a, version b) the registry keeps the requests
 * run on both sides, the rows whose outputs were compared, the rows that
 * agree (same label, for classification), the distribution of |difference|
 * between the two sides' outputs (a mergeable histogram on a log scale), and
 * each side's errors and latency. The shadow executor (serve/shadow.h)
 * feeds it; /metrics, GET /api/v1/models/{m}/comparison and the rollout
 * gates read it.
 *
 * Side a is the reference: the version that answered the caller when a
 * shadow got a copy, the champion when a canary's request was mirrored to
 * it; side b the other. What counts as a row's |difference|: for a
 * regression, |value a - value b|; for a classification, the largest
 * |difference| between the two sides' class probabilities (for two labels,
 * |P_a - P_b|).
 *
 * The comparison of a row's outputs is the caller's (it knows the versions'
 * outputs); this module keeps and exports the figures. Everything is under
 * one mutex: the writers are the shadow executor's few low-priority
 * threads, never a caller's request.
 */
#ifndef MD_WATCH_COMPARE_H
#define MD_WATCH_COMPARE_H

#include "util/common.h"
#include "util/buf.h"
#include "watch/metrics.h"

/* ---- the |difference| histogram ---------------------------------------- */

/*
 * Bins of |difference|: bin 0 holds exact zeros, bin 1 (0, 1e-9], then four
 * bins per decade up to 1e9 (bin 2 + j holds (10^(-9 + j/4), 10^(-9 + (j +
 * 1)/4)]), and the last bin everything above 1e9 (infinities and NaN
 * included). Decade bounds fall on bin bounds, so the decade buckets of
 * /metrics are exact sums of bins.
 */
#define MD_DIFF_DECADES 18 /* 1e-9 .. 1e9 */
#define MD_DIFF_PER_DEC 4
#define MD_DIFF_BINS    (2 + MD_DIFF_DECADES * MD_DIFF_PER_DEC + 1)
#define MD_DIFF_MIN_EXP (-9)

/* A plain value: build one locally, merge it into another (any thread owns its own). */
struct md_diff_hist {
    uint64_t bins[MD_DIFF_BINS];
    uint64_t count;
    uint64_t nonfinite; /* of count, NaN and infinities (in the last bin) */
    double sum;         /* of the finite differences */
    double max;         /* the largest finite difference; 0 when none */
};

/* Counts one |difference| (its sign is dropped). */
void md_diff_hist_add(struct md_diff_hist *h, double diff);
/* Adds h's counts into into. */
void md_diff_hist_merge(struct md_diff_hist *into, const struct md_diff_hist *h);
/*
 * The q-quantile (0 <= q <= 1) of the differences counted: 0 in the bin of
 * zeros, else interpolated on the log scale inside the bin that holds it,
 * never above the largest seen. NAN when nothing was counted.
 */
double md_diff_hist_quantile(const struct md_diff_hist *h, double q);
/* The mean of the finite differences; NAN when there is none. */
double md_diff_hist_mean(const struct md_diff_hist *h);
/* The upper bound of bin i (0 for bin 0, INFINITY for the last). */
double md_diff_hist_bound(size_t i);

/* ---- the registry -------------------------------------------------------- */

/* Pairs kept in all; a new pair past it drops the one updated longest ago. */
#define MD_COMPARE_PAIRS_MAX 256

/* One side of a pair. */
struct md_compare_side {
    uint64_t requests;                     /* copies this side was asked to answer */
    uint64_t errors;                       /* of them, those it failed (any failure) */
    uint64_t latency[MD_HIST_BUCKETS + 1]; /* successful answers' latency, buckets of
                                              md_hist_bounds_s (not cumulative) */
    uint64_t latency_sum_ns;
};

/* What a pair holds: a copy, for readers. */
struct md_compare_pair {
    char model[128];
    int64_t a, b;      /* the versions: a the reference, b the other */
    bool labels;       /* classification: agree counts rows with the same label */
    uint64_t requests; /* requests run on both sides (whatever the outcome) */
    uint64_t compared; /* of them, those both sides answered: their rows were compared */
    uint64_t rows;     /* rows compared */
    uint64_t agree;    /* of rows, those with the same label (labels only) */
    struct md_diff_hist diff;
    struct md_compare_side side[2]; /* [0] a, [1] b */
};

/* One request seen by both sides, as md_compare_record takes it. */
struct md_compare_sample {
    const char *model;
    int64_t a, b;
    bool labels;                     /* classification */
    int code_a, code_b;              /* MD_OK, or each side's failure */
    uint64_t ns_a, ns_b;             /* each side's latency (engine and queue time) */
    size_t rows;                     /* rows compared: 0 unless both sides are MD_OK */
    size_t agree;                    /* of rows, same label (labels only) */
    const struct md_diff_hist *diff; /* the rows' |difference|s, or NULL (no rows) */
};

struct md_compare;

struct md_compare *md_compare_new(void);
/* Frees the registry; no thread may use it any more. NULL ok. */
void md_compare_free(struct md_compare *c);

/* Records one request compared (the pair is made the first time). Thread-safe. */
void md_compare_record(struct md_compare *c, const struct md_compare_sample *s);

/*
 * Copies the pairs of model (NULL: every model) into out[0 .. max), by
 * model, then a, then b, and returns how many there are (more than max: the
 * rest was left out). Thread-safe.
 */
size_t md_compare_snapshot(struct md_compare *c, const char *model, struct md_compare_pair *out,
                           size_t max);

/*
 * out = after - before, count by count (before NULL: out = after): what a
 * pair saw between two snapshots, for a gate judged over a rollout step
 * (agreement: out.agree / out.rows; |difference| quantiles of out.diff).
 * out.diff.max stays after's (a maximum does not subtract). A count that
 * went back (the pair dropped and made again) gives after's own value.
 */
void md_compare_pair_delta(const struct md_compare_pair *after,
                           const struct md_compare_pair *before, struct md_compare_pair *out);

/*
 * Calls fn for every pair, by model, a, b, under the registry's mutex: fn
 * must not call the registry. For /metrics.
 */
void md_compare_foreach(struct md_compare *c,
                        void (*fn)(void *ctx, const struct md_compare_pair *p), void *ctx);

/*
 * Appends the JSON of model's pairs to b: {"model": M, "pairs": [...]}, each
 * pair {"a": "3", "b": "5", "requests", "compared", "rows", "agree",
 * "agreement" (agree / rows; null for a regression or with no rows),
 * "abs_diff": {"count", "mean", "p50", "p99", "max"} (null figures with no
 * rows), "sides": {"a": {...}, "b": {...}} each {"requests", "errors",
 * "error_rate", "latency_p50_s", "latency_p99_s"}}; null for a figure with
 * nothing to compute it from. Returns b's error (util/buf.h).
 */
int md_compare_json(struct md_compare *c, const char *model, struct md_buf *b);

#endif
