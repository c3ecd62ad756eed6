/* SPDX-License-Identifier: MIT */
/*
 * outcomes.h: quality statistics kept as feedback flows, per model, version
 * and route, by the prediction time of the rows: per-minute buckets for the
 * last hour and per-hour buckets for the last day, each holding only sums
 * (the confusion counts, the binary task's summed log loss and Brier score
 * and its score histograms by true class, the regression sums, rewards and
 * ratings, the predictions counted and the rows labelled). Sums merge by
 * addition, so the buckets of several replicas add up to the buckets of
 * the whole; figures are computed from a window's sums (watch/quality.h)
 * when asked. A replaced outcome is taken back (sign -1) and its successor
 * added, so every figure moves with it.
 *
 * The exact figures of a window come from the stored rows instead
 * (GET /api/v1/models/{m}/quality); these are for /metrics, the signals
 * registry (accuracy, f1, ... for alert rules, gates and the history) and
 * cost nothing per prediction: the predictions are counted from the store
 * by a periodic job, not on the request path.
 *
 * Threads: every function from any thread (one mutex; nothing slow under it).
 */
#ifndef MD_WATCH_OUTCOMES_H
#define MD_WATCH_OUTCOMES_H

#include "util/common.h"
#include "util/err.h"
#include "store/store.h"
#include "watch/quality.h"
#include "watch/signals.h"

#define MD_OUTCOMES_CLASSES   16 /* class names a model's statistics hold (others not counted) */
#define MD_OUTCOMES_MINUTES   60 /* per-minute buckets: windows up to an hour, to the minute */
#define MD_OUTCOMES_HOURS     24 /* per-hour buckets: longer windows, to the hour */
#define MD_OUTCOMES_CLASS_MAX 64 /* bytes of a class name kept */

struct md_outcomes;

struct md_outcomes *md_outcomes_new(void);
void md_outcomes_free(struct md_outcomes *o); /* NULL ok */

/*
 * Adds a change of outcome (store.h's md_store_outcome) at now_ms (wall ms;
 * rows older than a day are not counted). positive: the binary task's
 * positive class (labels[1]), or NULL when the model is not binary (no log
 * loss, Brier or AUC then).
 */
void md_outcomes_apply(struct md_outcomes *o, const struct md_store_outcome *c,
                       const char *positive, int64_t now_ms);

/*
 * Changes gathered while a store job runs (they count only once it is
 * committed): md_outcomes_batch_add is a md_store_outcome_fn (ctx the
 * batch) that copies each; md_outcomes_batch_apply adds them all to o,
 * asking positive(ctx, model, buf, n) for each model's positive class
 * (true and buf set when the model is binary), and empties the batch.
 */
struct md_outcomes_batch;
struct md_outcomes_batch *md_outcomes_batch_new(void);
void md_outcomes_batch_free(struct md_outcomes_batch *b); /* NULL ok */
void md_outcomes_batch_add(void *batch, const struct md_store_outcome *c);
/* Empties b without applying it (its job failed). */
void md_outcomes_batch_reset(struct md_outcomes_batch *b);
void md_outcomes_batch_apply(struct md_outcomes *o, struct md_outcomes_batch *b,
                             bool (*positive)(void *ctx, const char *model, char *buf, size_t n),
                             void *ctx, int64_t now_ms);

/* Counts n predictions of a series made in the minute starting at minute_ms. */
void md_outcomes_count(struct md_outcomes *o, const char *model, int64_t version, const char *route,
                       bool shadow, int64_t minute_ms, uint64_t n, int64_t now_ms);

/* Sets a model's feedback items waiting and orphaned (totals from the store). */
void md_outcomes_waiting(struct md_outcomes *o, const char *model, uint64_t pending,
                         uint64_t orphaned);

/* The sums of a window, and what follows from them. */
struct md_outcomes_sum {
    size_t k; /* classes seen */
    char classes[MD_OUTCOMES_CLASSES][MD_OUTCOMES_CLASS_MAX];
    uint64_t cm[MD_OUTCOMES_CLASSES * MD_OUTCOMES_CLASSES]; /* [true * MD_OUTCOMES_CLASSES +
                                                              predicted] */
    uint64_t predictions;                                   /* rows predicted */
    uint64_t labelled;                                      /* rows with a current label or value */
    uint64_t binary_n; /* rows of a binary task with a label and a score */
    double log_loss;   /* summed */
    double brier;      /* summed */
    uint64_t pos[MD_QUALITY_AUC_BINS];
    uint64_t neg[MD_QUALITY_AUC_BINS];
    struct md_quality_sums reg;
    uint64_t reward_n;
    double reward;
    uint64_t rating_n;
    double rating;
    uint64_t pending;  /* the model's items waiting for their rows (any window) */
    uint64_t orphaned; /* the model's items orphaned */
};

/*
 * Sums the buckets of model (version 0: every version; route NULL or "":
 * every route) over the last window_ms ending at now_ms (an hour or less:
 * by minute; more: by hour, a day at most). Shadows' rows count only when
 * a version is named or route is "shadow". False for an unknown model.
 */
bool md_outcomes_window(struct md_outcomes *o, const char *model, int64_t version,
                        const char *route, int64_t window_ms, int64_t now_ms,
                        struct md_outcomes_sum *out);

/*
 * The value of a quality signal from a window's sums: "accuracy",
 * "precision:<class>", "recall:<class>", "f1" (macro), "f1:<class>",
 * "log_loss", "roc_auc", "brier", "mae", "rmse", "r2", "mean_reward",
 * "mean_rating", "label_coverage", "feedback_orphaned". NaN and 0 samples
 * when there is nothing to measure. MD_EINVAL for an unknown name.
 */
int md_outcomes_metric(const struct md_outcomes_sum *s, const char *name, const char *arg,
                       struct md_signal_value *out, struct md_err *err) MD_MUST_CHECK;

/* Registers the quality signals above in s, answered from o. */
int md_outcomes_register(struct md_outcomes *o, struct md_signals *s,
                         struct md_err *err) MD_MUST_CHECK;

/* Every series (model, version, route, shadow), for /metrics. */
void md_outcomes_foreach(struct md_outcomes *o,
                         void (*fn)(void *ctx, const char *model, int64_t version,
                                    const char *route, bool shadow),
                         void *ctx);
/* Every model with statistics, for /metrics. */
void md_outcomes_models(struct md_outcomes *o, void (*fn)(void *ctx, const char *model), void *ctx);

#endif
