/* SPDX-License-Identifier: MIT */
/*
 * training.h: the training runs control starts and records, the only writer
 * of training state. A run is asked for (by hand through the API's retrain
 * command, or by a trigger: control/triggers.h), stored as queued, and
 * taken by the runner's thread, one run at a time per model: the training
 * set is built from the store (learn/dataset.h) and written to a run
 * directory; a child process trains (a fresh posix_spawn of modeld in its
 * training mode, or an external trainer named in the daemon's
 * configuration) at the lowest priority under time and memory limits; the
 * artifact is evaluated against the champion on the held-out rows, then
 * registered as a version with its lineage (through the same path as an
 * upload, on control's worker), and the model's training policy decides
 * what happens to it (an alias moved, or a rollout started). Serving never
 * waits on any of it. A failed, killed or timed-out run is stored as such
 * and changes nothing that serves.
 *
 * Threads: md_training_request and the readers from control's tick and
 * worker; the runner's own thread does the slow work.
 */
#ifndef MD_CONTROL_TRAINING_H
#define MD_CONTROL_TRAINING_H

#include "util/common.h"
#include "util/err.h"

#include "serve/command.h"
#include "serve/repo.h"
#include "store/store.h"

struct md_training;
struct md_rollouts;

/* An external trainer of the daemon's configuration file (`trainers:`). */
struct md_trainer {
    const char *name;
    const char *const *argv; /* the command and its arguments, NULL-terminated */
    size_t argc;
    uint64_t timeout_s; /* 0: the model's training.timeout */
    uint64_t memory_mb; /* 0: the model's training.memory_mb */
};

/* What the runner works with; every pointer borrowed for its life. */
struct md_training_setup {
    struct md_store *store;
    struct md_repo *repo;
    struct md_commands *commands; /* where the runner submits what it produced */
    const char *data_dir;         /* run directories go to <data_dir>/trainings/<id> */
    const char *exe;              /* the modeld binary, spawned as `modeld --train DIR` */
    const struct md_trainer *trainers;
    size_t n_trainers;
    unsigned threads; /* threads a native training may use (>= 1) */
};

/*
 * Reads back what the store holds (each model's last request; runs left
 * queued or running by a daemon that stopped are marked failed) and starts
 * the runner's thread. MD_EINTERNAL when the thread cannot start.
 */
int md_training_new(const struct md_training_setup *setup, struct md_training **out,
                    struct md_err *err) MD_MUST_CHECK;

/* Stops the runner: a running child is killed, the run marked failed, the
 * thread joined. Queued runs stay queued in the store (failed at the next
 * start). NULL ok. */
void md_training_free(struct md_training *t);

/* The trainer of that name, or NULL. */
const struct md_trainer *md_training_trainer(const struct md_training *t, const char *name);

/* MD_COMMAND_RETRAIN on control's worker: a manual run asked for; *answer
 * is its JSON ({"id", "model", "trigger", "state", ...}). */
int md_training_command(struct md_training *t, const char *model,
                        const struct md_retrain_change *ch, char **answer,
                        struct md_err *err) MD_MUST_CHECK;

/* MD_COMMAND_TRAINED on control's worker: registers what a run produced and
 * applies the model's policy (rollouts may be NULL: no rollout starts). */
int md_training_registered(struct md_training *t, struct md_rollouts *rollouts, const char *model,
                           void *arg, char **answer, struct md_err *err) MD_MUST_CHECK;
/* Frees a MD_COMMAND_TRAINED command's argument. */
void md_training_arg_free(void *arg);

/* What asked for a run. */
enum md_trigger_kind {
    MD_TRIGGER_MANUAL = 1, /* "manual": modelctl retrain, POST .../trainings */
    MD_TRIGGER_SCHEDULE,   /* "schedule": an interval or a cron expression came due */
    MD_TRIGGER_DRIFT,      /* "drift": the overall drift verdict */
    MD_TRIGGER_QUALITY,    /* "quality": a metric below its threshold over a window */
    MD_TRIGGER_LABELS      /* "labels": enough new labels since the last run */
};
/* "manual", "schedule", "drift", "quality", "labels"; _parse: 0 when unknown. */
const char *md_trigger_kind_name(enum md_trigger_kind k);
enum md_trigger_kind md_trigger_kind_parse(const char *name);

/*
 * Asks for a run of model, for the reason kind with its details (a JSON
 * object's text: what the trigger measured; NULL: "{}"); stored as queued
 * before this returns MD_OK with its id in *id (may be NULL). MD_ECONFLICT
 * when the model has a run queued or running ("model 'm' has training 7
 * running"), MD_ENOTFOUND for an unknown model, MD_EINVAL when the model
 * has no `training:` section. On control's worker or tick only.
 */
int md_training_request(struct md_training *t, const char *model, enum md_trigger_kind kind,
                        const char *details, int64_t *id, struct md_err *err) MD_MUST_CHECK;

/* Whether model has a run queued or running. */
bool md_training_busy(struct md_training *t, const char *model);

/*
 * Run id is over, whatever its outcome: its model may have another. Called
 * by the run as its end is stored (in the store's transaction, so that
 * whoever reads the end asks again without a conflict), and by the runner
 * after it; the second call does nothing. Thread-safe.
 */
void md_training_run_over(struct md_training *t, int64_t id);

/* When the model's last run was asked for (wall clock, ms), whatever its
 * outcome, or 0 when it never had one; read back from the store at start. */
int64_t md_training_last_requested_ms(struct md_training *t, const char *model);

#endif
