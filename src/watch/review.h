/* SPDX-License-Identifier: MIT */
/*
 * review.h: the review queues' figures: each model's queue length, the age
 * of its oldest waiting item, its leases and how often reviewers agree with
 * the model, as a store job counted them last (once a second, from the
 * control loop's task md_review_stats_tick). They answer the named metrics
 * review_queue_length, review_queue_age_s and review_agreement (so an alert
 * rule can watch them) and /metrics. The items themselves are the store's
 * (store/sqlite_review.c); which rows go to review is serve/predrec.c's.
 *
 * Threads: the tick on control's thread, its job on the store's; readers
 * (signals, /metrics) on any thread. A mutex guards the table; it is never
 * held across a store call.
 */
#ifndef MD_WATCH_REVIEW_H
#define MD_WATCH_REVIEW_H

#include "util/common.h"
#include "util/err.h"
#include "util/buf.h"
#include "store/store.h"
#include "watch/signals.h"

#define MD_REVIEW_STATS_MS 1000 /* how often the tick counts the queues */

struct md_review_stats;

/* Figures of store (borrowed, outliving them; NULL: they stay empty). */
struct md_review_stats *md_review_stats_new(struct md_store *store);
/* After the store is closed (a job may be queued). NULL ok. */
void md_review_stats_free(struct md_review_stats *s);

/* The control task's function: a counting job, unless one is queued or running. */
void md_review_stats_tick(void *ctx, uint64_t now_ms);

/* One model's figures, as last counted: false when it has no item. */
struct md_review_figures {
    uint64_t waiting;  /* queued, and leases run out */
    uint64_t leased;   /* leases holding */
    int64_t oldest_ms; /* created_ms of the oldest item not answered; 0: none */
    uint64_t answered;
    uint64_t judged; /* answered with an agreement known (classification) */
    uint64_t agreed;
    int64_t at_ms; /* when counted */
};
bool md_review_stats_get(struct md_review_stats *s, const char *model,
                         struct md_review_figures *out);

/* Sets a model's figures (the counting job's; tests). */
void md_review_stats_set(struct md_review_stats *s, const char *model,
                         const struct md_review_figures *f);

/* Registers review_queue_length, review_queue_age_s and review_agreement. */
int md_review_stats_signals(struct md_review_stats *s, struct md_signals *sig,
                            struct md_err *err) MD_MUST_CHECK;

/* The modeld_review_* families of /metrics. */
void md_review_stats_prom(struct md_review_stats *s, struct md_buf *b);

#endif
