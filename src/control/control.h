/* SPDX-License-Identifier: MIT */
/*
 * control.h: the control loop, the only place that joins the layers below
 * it, and the only writer of the state its tasks own (today: which versions
 * of the repository are loaded, after the start-up scan). It is a scheduler
 * (control/sched.h) with a few periodic tasks:
 *
 *   commands   takes the commands the API submitted (serve/command.h), as
 *              soon as one is submitted, and hands them to the worker, which
 *              applies them in order and completes each with its outcome
 *   signals    every 100 ms: a re-scan asked for (SIGHUP) becomes a scan job
 *   poll       every poll_s seconds, when poll_s > 0: a scan job, unless a
 *              scan is already waiting or running
 *
 * Scans and engine loads run on the worker, never on the tick, so a slow one
 * delays no task; two scans never run at once, and scans asked for while one
 * runs become one more scan after it. Other modules' periodic work (the
 * prediction log's retention, alert rules, the per-minute history) comes in
 * as struct md_control_task at start.
 */
#ifndef MD_CONTROL_CONTROL_H
#define MD_CONTROL_CONTROL_H

#include "util/common.h"
#include "util/err.h"
#include "serve/command.h"
#include "serve/repo.h"

struct md_control;
struct md_rollouts;
struct md_training;

/*
 * A periodic task of another module: fn(ctx, now_ms) every period_ms on the
 * tick thread (now_ms: the monotonic clock in ms). It must be quick (a
 * look at counters, a decision): work that waits on the disk goes to the
 * store thread (md_store_submit) or a thread of its own.
 */
struct md_control_task {
    const char *name; /* a literal */
    uint64_t period_ms;
    void (*fn)(void *ctx, uint64_t now_ms);
    void *ctx;
};

#define MD_CONTROL_TASKS 12 /* tasks of other modules at most */

/*
 * Starts the loop: applies the commands of q (borrowed; it must outlive
 * md_control_stop) to repo (borrowed). poll_s 0 = no polling (SIGHUP and
 * commands only). rollouts and training (borrowed, or NULL) are the
 * rollouts and training runs the commands act on. tasks: n_tasks (at most
 * MD_CONTROL_TASKS) periodic tasks of other modules (copied; each ctx must
 * outlive md_control_stop).
 * MD_EINTERNAL when a thread cannot start, MD_EINVAL for too many tasks; q
 * is then left as it was.
 */
int md_control_start(struct md_repo *repo, struct md_commands *q, unsigned poll_s,
                     struct md_rollouts *rollouts, struct md_training *training,
                     const struct md_control_task *tasks, size_t n_tasks, struct md_control **out,
                     struct md_err *err) MD_MUST_CHECK;

/* Asks for a repository re-scan, taken within 100 ms (async-signal-safe: it
 * only sets a flag). */
void md_control_request_scan(struct md_control *c);

/*
 * Stops the loop: closes the command queue (commands not yet applied are
 * completed with MD_EUNAVAIL "server shutting down"; later submits are
 * refused), lets the job that runs finish (a scan, a load), and joins every
 * thread. NULL ok.
 */
void md_control_stop(struct md_control *c);

#endif
