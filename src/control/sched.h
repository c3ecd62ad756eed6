/* SPDX-License-Identifier: MIT */
/*
 * sched.h: control's scheduler: a small table of periodic tasks, each with
 * its own period, run by one tick thread; and one worker thread that runs
 * the long work those tasks hand it (a repository scan, an engine load), in
 * the order handed, one job at a time. A task only looks and hands work on,
 * so a slow job never delays a task's next run.
 *
 * Threads: md_sched_add before md_sched_start; md_sched_kick and
 * md_sched_post from any thread; tasks run on the tick thread, jobs on the
 * worker, never two of either at once.
 */
#ifndef MD_CONTROL_SCHED_H
#define MD_CONTROL_SCHED_H

#include "util/common.h"
#include "util/err.h"

#define MD_SCHED_TASKS 16 /* tasks a scheduler holds */

struct md_sched;

/* A new scheduler with no task, no thread started. */
struct md_sched *md_sched_new(void);

/*
 * Adds a task: fn(ctx, now_ms) runs period_ms after the first step, then
 * every period_ms after its previous planned run (a run that comes more than
 * a period late is not made up for: the plan restarts from it), and also
 * whenever kicked; period_ms 0: only when kicked. A kicked run leaves the
 * plan as it was. name is borrowed (a literal). Before md_sched_start only.
 * Returns the task's number for md_sched_kick; -1 when the table is full.
 */
int md_sched_add(struct md_sched *s, const char *name, uint64_t period_ms,
                 void (*fn)(void *ctx, uint64_t now_ms), void *ctx);

/*
 * Runs, on the calling thread, each task due at now_ms (its planned time
 * reached, or kicked), in the order added; returns the milliseconds until
 * the next one is due. The tick thread calls this with the monotonic clock;
 * a test may call it with any clock of its own instead of starting the
 * thread (never both).
 */
uint64_t md_sched_step(struct md_sched *s, uint64_t now_ms);

/* Times task has run. */
uint64_t md_sched_runs(struct md_sched *s, int task);

/* Starts the tick thread and the worker. MD_EINTERNAL when a thread cannot start. */
int md_sched_start(struct md_sched *s, struct md_err *err) MD_MUST_CHECK;

/* Makes task due now and wakes the tick thread. Quick; any thread, not from
 * a signal handler. */
void md_sched_kick(struct md_sched *s, int task);

/*
 * Hands a job to the worker: run(arg) on the worker thread, after the jobs
 * handed before it. When the scheduler stops first, cancel(arg) runs instead
 * (on the stopping thread), so arg is always released; cancel may be NULL.
 * A job handed after md_sched_stop has begun is cancelled at once.
 */
void md_sched_post(struct md_sched *s, void (*run)(void *arg), void (*cancel)(void *arg),
                   void *arg);

/* Jobs handed and not yet finished (the running one included). */
size_t md_sched_jobs(struct md_sched *s);

/*
 * Begins the stop and returns at once: the tick thread begins no new step
 * (one under way finishes its tasks), no job starts (a running one goes on),
 * and jobs handed from now on are cancelled at once. Any thread;
 * md_sched_stop does the rest.
 */
void md_sched_halt(struct md_sched *s);

/*
 * Stops: halts (md_sched_halt), joins the tick thread (a running task
 * finishes first), lets the running job finish and joins the worker, then
 * cancels the jobs that never started. Safe on a scheduler never started.
 */
void md_sched_stop(struct md_sched *s);

/* Stops if needed and frees. NULL ok. */
void md_sched_free(struct md_sched *s);

#endif
