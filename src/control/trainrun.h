/* SPDX-License-Identifier: MIT */
/*
 * trainrun.h: one training run, from the queue to its end, on the
 * runner's thread (control/training.c): the training set built and written
 * to the run's directory, the child that trains and evaluates, and the
 * command that has control's worker register what it produced. Private to
 * control/training*.c and control/trainrun.c.
 */
#ifndef MD_CONTROL_TRAINRUN_H
#define MD_CONTROL_TRAINRUN_H

#include "control/training.h"

#include <stdatomic.h>

struct md_trainrun;

/* A queued run (model copied). */
struct md_trainrun *md_trainrun_new(int64_t id, const char *model, enum md_trigger_kind kind,
                                    int64_t requested_ms);
void md_trainrun_free(struct md_trainrun *r);
int64_t md_trainrun_id(const struct md_trainrun *r);
/* The queue: the run after r; r appended at the end of *head. */
struct md_trainrun *md_trainrun_next(const struct md_trainrun *r);
void md_trainrun_append(struct md_trainrun **head, struct md_trainrun *r);

/*
 * Runs r to its end and stores how it ended: every outcome (succeeded,
 * refused, failed, timed_out, killed) is in the store when this returns. A
 * child is killed as soon as *cancel is true. t is what registration
 * commands name (md_training_registered).
 */
void md_trainrun_execute(struct md_trainrun *r, const struct md_training_setup *setup,
                         const _Atomic bool *cancel, struct md_training *t);

/* What md_training_registered does with a run's product (the command's
 * argument): registers the version, then applies the model's policy. */
int md_trainrun_register(struct md_training *t, struct md_rollouts *rollouts, const char *model,
                         void *arg, char **answer, struct md_err *err) MD_MUST_CHECK;

/* The repository the runner trains from. */
struct md_repo *md_training_repo(struct md_training *t);

#endif
