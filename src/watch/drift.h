/* SPDX-License-Identifier: MIT */
/*
 * drift.h: live windows over a reference profile's bins, and the drift
 * report that compares them with it.
 *
 * A window belongs to one loaded version that has a profile. It is a ring of
 * MD_DRIFT_SLOTS count vectors, each covering window_s / MD_DRIFT_SLOTS
 * seconds of wall-clock time; a vector holds one counter per bin of the
 * profile (profile->width of them, at each feature's offset) and the rows
 * counted. A row costs one counter increment per feature (a relaxed atomic
 * add), so a window is a mergeable sketch: windows of several replicas are
 * summed bin by bin. The report sums the slots of the window asked for and
 * runs the statistics of watch/drift_stats.h per feature and for the
 * predictions; docs/monitoring.md ("Drift") describes the verdicts.
 *
 * Threads: md_drift_window_slot and md_drift_count from any thread (the hot
 * path: no lock but once per slot change, no allocation); the report from
 * any thread, concurrently with counting (it reads a moving window).
 */
#ifndef MD_WATCH_DRIFT_H
#define MD_WATCH_DRIFT_H

#include "util/common.h"
#include "util/err.h"
#include "util/buf.h"
#include "watch/profile.h"

#include <stdatomic.h>

#define MD_DRIFT_SLOTS         60    /* slots of a window's ring */
#define MD_DRIFT_WINDOW_MIN_S  60    /* drift.window_s, at least */
#define MD_DRIFT_WINDOW_MAX_S  86400 /* drift.window_s, at most: a day */
#define MD_DRIFT_SAMPLE_MAX    65536 /* drift.sample_rows, at most */
#define MD_DRIFT_PROM_FEATURES 100   /* per-feature series of one version in /metrics */

/* model.yaml's `drift:` section; md_drift_config_default gives the defaults. */
struct md_drift_config {
    int64_t window_s;     /* the window a report covers unless asked otherwise: 3600 */
    double psi_warn;      /* a feature is flagged only from this PSI on: 0.1 */
    double psi_alert;     /* from here a flagged feature is "major": 0.25 */
    double alpha;         /* family-wise significance level: 0.05 */
    bool bonferroni;      /* correction for the number of tests: Holm (false) or Bonferroni */
    uint64_t min_rows;    /* rows a window needs before any verdict: 200 */
    uint32_t sample_rows; /* rows of one request counted at most (evenly spaced): 256; 0: all */
};

void md_drift_config_default(struct md_drift_config *c);

struct md_drift_window;

/* A window over p's bins (takes a reference to p) with cfg's settings (copied). */
struct md_drift_window *md_drift_window_new(struct md_profile *p,
                                            const struct md_drift_config *cfg);
void md_drift_window_ref(struct md_drift_window *w);
void md_drift_window_unref(struct md_drift_window *w); /* NULL ok */

const struct md_profile *md_drift_window_profile(const struct md_drift_window *w);
const struct md_drift_config *md_drift_window_config(const struct md_drift_window *w);

/*
 * The count vector of the slot now_ms falls in (cleared first when it held an
 * older slot's counts): element 0 counts rows, element 1 + f->offset + bin a
 * feature's bin. Lock-free but once per slot change.
 */
_Atomic uint32_t *md_drift_window_slot(struct md_drift_window *w, int64_t now_ms);

static inline void md_drift_count(_Atomic uint32_t *slot, size_t i)
{
    atomic_fetch_add_explicit(&slot[i], 1, memory_order_relaxed);
}

/* One comparison: a feature's, or the predictions'. */
struct md_drift_result {
    const char *name;          /* the feature's name, or "labels", "scores" */
    enum md_profile_kind kind; /* NUMERIC: KS; CATEGORICAL: chi-squared */
    uint64_t rows;             /* live rows counted for it (missing included) */
    double missing_share;      /* of the live rows; NaN without rows */
    double ref_missing_share;  /* of the training rows */
    double psi, js;            /* over every bin, missing included; NaN without rows */
    double statistic;          /* KS D (missing left out) or chi-squared */
    double df;                 /* chi-squared's degrees of freedom; 0 for KS */
    double p_value;            /* NaN when the test cannot run */
    double p_adjusted;         /* after the correction (features); p_value (predictions) */
    bool drifted;              /* p_adjusted < alpha and psi >= psi_warn, with min_rows */
    bool major;                /* drifted and psi >= psi_alert */
    const uint64_t *live;      /* n_bins + 1 live counts (missing last), the report's: what
                                  every figure above is computed from */
};

struct md_drift_report {
    int64_t window_ms;                /* the window summed: whole slots */
    uint64_t rows;                    /* rows counted in it */
    bool enough;                      /* rows >= min_rows */
    struct md_drift_result *features; /* n_features, in the profile's order */
    size_t n_features;
    size_t tests;                  /* p-values the correction counts */
    struct md_drift_result labels; /* valid when has_labels */
    struct md_drift_result scores; /* valid when has_scores */
    bool has_labels, has_scores;
    double score;            /* drift_score: the largest feature PSI (NaN: none) */
    size_t drifted;          /* drift_features: features flagged */
    double prediction_psi;   /* the scores' PSI, else the labels'; NaN: none */
    bool prediction_drifted; /* the scores or labels flagged */
    const char *verdict;     /* "drift", "ok" or "insufficient_data" */
    uint64_t *sums;          /* private: the window's summed counts the results point into */
};

/*
 * Sums the slots of the last window_ms (0: the configured window; rounded
 * up to whole slots, at most the configured window) ending at now_ms and
 * compares them with the profile. rep's arrays are malloc'd: release with
 * md_drift_report_release. MD_ENOMEM.
 */
int md_drift_report(struct md_drift_window *w, int64_t window_ms, int64_t now_ms,
                    struct md_drift_report *rep, struct md_err *err) MD_MUST_CHECK;
void md_drift_report_release(struct md_drift_report *rep);

/* The result for feature name, or NULL. */
const struct md_drift_result *md_drift_report_feature(const struct md_drift_report *rep,
                                                      const char *name);

/* What md_drift_report_json adds beyond the figures. */
enum md_drift_json_flags {
    MD_DRIFT_JSON_HISTOGRAMS = 1 << 0 /* each result's "histogram": its bins, with the
                                         reference's and the window's counts and shares */
};

/* Appends the report's JSON members (no braces): "window_s", "rows", "verdict",
 * ..., "features": [...], "predictions": {...}; docs/api.md. flags: enum
 * md_drift_json_flags. */
int md_drift_report_json(const struct md_drift_window *w, const struct md_drift_report *rep,
                         unsigned flags, struct md_buf *b);

#endif
