/* SPDX-License-Identifier: MIT */
/*
 * triggers.h: when a training starts by itself. Each model's `triggers:`
 * (serve/improve.h) is judged about once a second by a control task: a
 * schedule (an interval, or a cron expression in UTC) come due, the
 * overall drift verdict "drift", a quality metric past its threshold over
 * its window, enough labels received since the last training. When one
 * fires, and no run of the model is queued or running, and the cooldown
 * since the last run was asked for (by any trigger, by hand too) or was
 * seen to end is over,
 * the task asks control's training runner for a run (control/training.h)
 * with what it measured, logs it and stores an event "training_triggered".
 *
 * The judgement is a pure function of the settings and of what was
 * measured (md_triggers_decide), tested alone with made-up measurements;
 * the task measures: drift and quality through the signals registry (the
 * drift report of the champion over the drift section's window, the
 * quality of the champion over the trigger's window), and labels through
 * a count in the store, run on the store thread (never on the tick) and
 * read back at the next tick.
 */
#ifndef MD_CONTROL_TRIGGERS_H
#define MD_CONTROL_TRIGGERS_H

#include "util/common.h"
#include "util/err.h"
#include "control/control.h"
#include "control/training.h"
#include "serve/improve.h"
#include "serve/repo.h"
#include "store/store.h"
#include "watch/signals.h"

/* What was measured of one model at one look. */
struct md_trigger_obs {
    int64_t now_ms;           /* wall clock, ms */
    bool busy;                /* a run of the model is queued or running */
    int64_t last_ms;          /* when its last run was asked for; 0: never */
    int64_t watched_ms;       /* since when its triggers are watched: the schedule's start
                                 when it never had a run */
    int64_t ended_ms;         /* when its last run was seen to end (in this daemon's life); 0: not
                                 seen */
    double drift_features;    /* features the drift report flags; NaN: no verdict (no
                                 reference, too few rows) */
    uint64_t drift_rows;      /* rows of the drift window */
    double quality;           /* the quality metric over its window; NaN: not measured */
    uint64_t quality_samples; /* labelled rows it stands on */
    int64_t labels;           /* labels received since last_ms (every one when the model never
                                 had a run); -1: not counted yet */
};

/* What the triggers say. */
struct md_trigger_decision {
    enum md_trigger_kind kind; /* the trigger that is due (the first of drift, quality,
                                  labels, schedule); 0: none */
    bool fire;                 /* kind is due and nothing holds it: ask for a run now */
    const char *held;          /* why a due trigger does not fire: "busy" (a run queued or
                                  running), "cooldown"; NULL */
    int64_t cooldown_until_ms; /* when the cooldown ends: cooldown after the later of last_ms
                                  and ended_ms; 0: none */
    int64_t schedule_due_ms;   /* when the schedule comes due next; 0: no schedule */
    char details[512];         /* a JSON object: what kind measured, and its threshold */
};

/*
 * When the schedule of t comes due, counted from anchor_ms (the last run
 * asked for, else the start of watching): anchor + every, or the cron
 * expression's first minute after anchor; 0 when t has no schedule or the
 * expression has no time left.
 */
int64_t md_triggers_schedule_due(const struct md_trigger_config *t, int64_t anchor_ms);

/* Judges t (present) on o into *out. Pure: no clock, no I/O. */
void md_triggers_decide(const struct md_trigger_config *t, const struct md_trigger_obs *o,
                        struct md_trigger_decision *out);

struct md_triggers;

/*
 * The triggers' state for the task: repo, store (NULL: no label counts),
 * signals, training and commands (where a fired trigger's request goes)
 * borrowed, each outliving md_triggers_free. Free it after the control
 * loop has stopped and the store has closed (a count may be running on the
 * store thread until then).
 */
struct md_triggers *md_triggers_new(struct md_repo *repo, struct md_store *store,
                                    const struct md_signals *signals, struct md_training *training,
                                    struct md_commands *commands);
void md_triggers_free(struct md_triggers *t); /* NULL ok */

/* The control task ("triggers", each second) that judges every model. */
void md_triggers_task(struct md_triggers *t, struct md_control_task *out);

/*
 * MD_COMMAND_TRIGGERED on control's worker: asks training (may be NULL:
 * MD_EUNAVAIL) for the run a trigger fired for (arg: its struct
 * md_triggered_change), then stores the event "training_triggered" (a
 * failure to store it is logged). *answer: {"training", "trigger",
 * "measured"}, malloc'd. md_training_request's errors.
 */
int md_triggers_apply(struct md_training *training, const char *model, void *arg, char **answer,
                      struct md_err *err) MD_MUST_CHECK;

#endif
