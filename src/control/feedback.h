/* SPDX-License-Identifier: MIT */
/*
 * feedback.h: the upkeep of feedback, a periodic task of the control loop:
 * once a second a store job attaches the pending feedback whose prediction
 * rows have been stored since, orphans what waited past the horizon, and
 * counts the predictions stored since the last round; what it finds goes
 * into the live quality sums (watch/outcomes.h) once committed. A round
 * still running when the next is due is not doubled.
 *
 * Threads: the task runs on the control tick; its job on the store thread.
 * md_feedback_upkeep_free after the store is closed (a job may be queued).
 */
#ifndef MD_CONTROL_FEEDBACK_H
#define MD_CONTROL_FEEDBACK_H

#include "util/common.h"
#include "control/control.h"
#include "serve/repo.h"
#include "store/store.h"
#include "watch/outcomes.h"

#define MD_FEEDBACK_UPKEEP_MS 1000 /* how often a round runs */

struct md_feedback_upkeep;

/* All borrowed, outliving the upkeep. horizon_ms > 0. */
struct md_feedback_upkeep *md_feedback_upkeep_new(struct md_store *store, struct md_repo *repo,
                                                  struct md_outcomes *outcomes, int64_t horizon_ms);
void md_feedback_upkeep_free(struct md_feedback_upkeep *u); /* NULL ok */

/* The control task that runs the rounds. */
void md_feedback_upkeep_task(struct md_feedback_upkeep *u, struct md_control_task *out);

/* Feedback items orphaned since start (for /metrics). */
uint64_t md_feedback_upkeep_orphaned(struct md_feedback_upkeep *u);

#endif
