/* SPDX-License-Identifier: MIT */
/*
 * ab.h: A/B comparisons of the routes of one model (sticky A/B arms, a
 * canary against stable) on outcomes from feedback: a conversion (the share
 * of rows whose label is the positive one), the mean reward, or the mean of
 * a value. Each route is an arm; one arm is the control (the route "stable",
 * or the one the design names), and every other arm is compared with it.
 *
 * The unit of analysis is the unit that was randomised. When the traffic
 * policy assigned routes by a `keys:` field (sticky by key), each key's
 * rows are one unit: the key's outcome (its conversion rate, its mean) is
 * computed first, then arms are compared over keys, with a t interval and
 * Welch's t-test. Otherwise each row is a unit: a conversion gets Wilson's
 * interval and the two-proportion z-test, a mean the t interval and
 * Welch's test. The sample size per arm still needed for a minimum
 * detectable effect (alpha 0.05, power 0.8) comes with each comparison,
 * and a verdict once both arms have it: a winner (p < 0.05) or no
 * difference; before that, keep running. docs/monitoring.md ("A/B
 * statistics") has the formulas; watch/abstat.h computes them.
 *
 * The analysis reads the store (md_store_tx_ab_groups: sums per route and
 * unit, so memory stays per arm whatever the number of keys). This module
 * also answers the signals ab_conversion, ab_lift and ab_p_value
 * (watch/signals.h) for alert rules and rollout gates: those read the store
 * with md_store_call, so they are for control's thread and the like, never
 * an HTTP thread or the store's.
 */
#ifndef MD_WATCH_AB_H
#define MD_WATCH_AB_H

#include "util/common.h"
#include "util/err.h"
#include "util/buf.h"
#include "store/store.h"
#include "watch/abstat.h"
#include "watch/signals.h"

#define MD_AB_ARMS     8    /* arms an analysis keeps (a policy holds 8 routes) */
#define MD_AB_NAME_MAX 64   /* a route's or a key's name, NUL included */
#define MD_AB_CACHE    8    /* analyses the signals keep for the queries that follow */
#define MD_AB_REUSE_MS 5000 /* how far a kept analysis's window may be from a query's */

enum md_ab_metric {
    MD_AB_CONVERSION = 1, /* "conversion": label feedback, 1 for the positive label */
    MD_AB_REWARD,         /* "reward": the mean of reward feedback */
    MD_AB_VALUE           /* "value": the mean of value feedback */
};
/* "conversion", "reward", "value"; md_ab_metric_parse returns 0 for another name. */
const char *md_ab_metric_name(enum md_ab_metric m);
enum md_ab_metric md_ab_metric_parse(const char *name);

enum md_ab_verdict {
    MD_AB_KEEP_RUNNING = 1, /* "keep_running": the needed sample size is not reached */
    MD_AB_WINNER,           /* "winner": reached, p < 0.05 */
    MD_AB_NO_DIFFERENCE     /* "no_difference": reached, p >= 0.05 */
};
const char *md_ab_verdict_name(enum md_ab_verdict v);

/* How the test was designed: what the model's traffic policy says (the caller reads it). */
struct md_ab_design {
    char control[MD_AB_NAME_MAX];  /* the route the others are compared with; "": "stable"
                                      when an arm has that name, else the first by name */
    char unit_key[MD_AB_NAME_MAX]; /* the `keys:` field the routes were sticky by; "": none */
    char header[MD_AB_NAME_MAX];   /* sticky by this request header instead (not logged:
                                      the analysis is per row); "": none */
};

/* One arm. */
struct md_ab_arm {
    char route[MD_AB_NAME_MAX];
    int64_t version_min; /* the versions that answered on the route */
    int64_t version_max;
    uint64_t units;         /* n: keys (per key) or rows */
    uint64_t rows;          /* prediction rows with an outcome */
    double sum;             /* of the rows' outcomes (conversions, per row) */
    double outcome;         /* the mean over units; NaN when there is none */
    double sd;              /* of the units' outcomes (n - 1); NaN below 2 units */
    struct md_abstat_ci ci; /* 95% */
    double m2;              /* private: Welford's sum of squares */
};

/* One arm against the control. */
struct md_ab_comparison {
    size_t arm;              /* index into arms */
    double difference;       /* arm's outcome - control's */
    double lift;             /* difference / control's outcome; NaN when that is 0 */
    const char *test;        /* "z" or "welch" */
    struct md_abstat_test t; /* statistic, df, p-value of (arm - control) */
    double min_effect;       /* the absolute difference the sample size is for */
    double needed;           /* units per arm for min_effect; NaN when unknown */
    double still_needed;     /* needed - the smaller arm's units, at least 0; NaN */
    enum md_ab_verdict verdict;
    size_t winner; /* index of the better arm (the higher outcome) when WINNER */
};

struct md_ab_result {
    enum md_ab_metric metric;
    bool per_key; /* units are keys */
    size_t n_arms;
    struct md_ab_arm arms[MD_AB_ARMS]; /* by route name */
    uint64_t skipped;                  /* groups left out: routes past MD_AB_ARMS */
    size_t control;                    /* index into arms; n_arms when there is no arm */
    size_t n_cmp;                      /* n_arms - 1, or 0 */
    struct md_ab_comparison cmp[MD_AB_ARMS];
};

/* An empty result. */
void md_ab_result_init(struct md_ab_result *r, enum md_ab_metric metric, bool per_key);

/* Adds one group of rows (a unit) to its route's arm. Routes that are not
 * arms ("direct": calls that named a version; "shadow", "mirror", "retry",
 * "") are left out, and so are routes past MD_AB_ARMS (counted). */
void md_ab_add(struct md_ab_result *r, const struct md_store_ab_group *g);

/* Outcomes, intervals, comparisons with control (d's, or the default) and
 * verdicts; min_effect > 0 the absolute effect to detect, NaN: 10% of the
 * control's outcome. */
void md_ab_finish(struct md_ab_result *r, const struct md_ab_design *d, double min_effect);

/* What an analysis reads. */
struct md_ab_params {
    const char *model;
    enum md_ab_metric metric;
    const char *positive; /* MD_AB_CONVERSION: the positive label */
    double min_effect;    /* as md_ab_finish */
    int64_t since_ms;     /* prediction time: [since_ms, until_ms); 0: no bound */
    int64_t until_ms;
    struct md_ab_design design;
};

/* The whole analysis, inside a store job (on the store's thread). MD_EINVAL
 * for a conversion without positive; the store's errors. */
int md_ab_run(struct md_store_tx *tx, const struct md_ab_params *p, struct md_ab_result *out,
              struct md_err *err) MD_MUST_CHECK;

/* Appends the result's JSON (docs/api.md) to b: metric, unit, arms,
 * comparisons; NaN as null. Returns b's error. */
int md_ab_format(const struct md_ab_result *r, struct md_buf *b) MD_MUST_CHECK;

/* ---- signals ----------------------------------------------------------- */

/* A model's design for the signals: filled from its traffic policy by the
 * daemon (a model without one: all zero). */
typedef int (*md_ab_design_fn)(void *ctx, const char *model, struct md_ab_design *out,
                               struct md_err *err);

struct md_ab_signals;

/*
 * Registers ab_conversion:<label>, ab_lift:<outcome> and ab_p_value:<outcome>
 * (an outcome is "reward", "value", or "conversion=<label>") in s, answered
 * from store with design(ctx) giving each model's design; *out is theirs to
 * keep until after the registry is no longer read (md_ab_signals_free).
 *
 * One analysis answers every signal of its model and outcome: the last
 * MD_AB_CACHE analyses are kept, and a query whose window starts and ends
 * within MD_AB_REUSE_MS of a kept one's (same model, outcome and design) is
 * answered from it. So a rollout's tick, which asks for the candidate's and
 * the champion's side of each gate over the same stage, reads the store once
 * per outcome, and at most once per MD_AB_REUSE_MS while the stage lasts;
 * a value is then at most that much older than the query. Thread-safe.
 */
int md_ab_signals_add(struct md_signals *s, struct md_store *store, md_ab_design_fn design,
                      void *ctx, struct md_ab_signals **out, struct md_err *err) MD_MUST_CHECK;
void md_ab_signals_free(struct md_ab_signals *a); /* NULL ok */

/* How many analyses the signals have run on the store (for tests). */
uint64_t md_ab_signals_runs(struct md_ab_signals *a);

/*
 * Which arm a signal query stands for: q->route when set; else, when
 * q->version is set, the control if it has that version, or the first
 * other arm that does; else the first arm that is not the control. n_arms
 * when none.
 */
size_t md_ab_arm_for(const struct md_ab_result *r, const char *route, int64_t version);

#endif
