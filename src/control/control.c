/* SPDX-License-Identifier: MIT */
/*
 * control.c: control's tasks (commands, signals, poll) and the jobs they hand
 * the worker: a repository scan, and applying one command. The scan state
 * (waiting, running) is shared by the tick thread and the worker under mu;
 * the repository itself is written only by the worker's jobs.
 */
#include "control/control.h"
#include "control/rollouts.h"
#include "control/sched.h"
#include "control/training.h"
#include "control/triggers.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/sys.h"

#include <pthread.h>
#include <stdatomic.h>

#define SIGNALS_MS  100  /* how soon a SIGHUP's re-scan is taken */
#define ROLLOUTS_MS 1000 /* rollouts are judged once a second */
#define ROLLOUTS_MS 1000 /* rollouts are judged once a second */
#define COMMANDS_MS 1000 /* commands are kicked on submit; this is a backstop */

struct md_control {
    struct md_repo *repo;      /* borrowed */
    struct md_commands *queue; /* borrowed */
    struct md_sched *sched;
    int commands_task;            /* for md_sched_kick */
    _Atomic bool scan_asked;      /* a re-scan was asked for (SIGHUP) */
    pthread_mutex_t mu;           /* guards the two fields below */
    bool scan_waiting;            /* a scan job is handed and has not started */
    bool scan_running;            /* a scan job is running */
    bool rollouts_waiting;        /* a rollouts job is handed and has not started */
    struct md_rollouts *rollouts; /* borrowed, or NULL; the worker's only */
    struct md_training *training; /* borrowed, or NULL: no training runs */
};

/* A command and the control applying it: a worker job's argument. */
struct apply {
    struct md_control *c;
    struct md_command *cmd; /* the queue's reference */
};

static void run_scan(void *arg)
{
    struct md_control *c = arg;

    pthread_mutex_lock(&c->mu);
    c->scan_waiting = false;
    c->scan_running = true;
    pthread_mutex_unlock(&c->mu);
    md_repo_scan(c->repo);
    pthread_mutex_lock(&c->mu);
    c->scan_running = false;
    pthread_mutex_unlock(&c->mu);
}

static void cancel_scan(void *arg)
{
    struct md_control *c = arg;

    pthread_mutex_lock(&c->mu);
    c->scan_waiting = false;
    pthread_mutex_unlock(&c->mu);
}

/*
 * Hands the worker a scan unless one is waiting already (it will see every
 * change made until it starts). A running scan may have read the disk before
 * the change that prompted this: again asks for one more after it, a poll
 * does not.
 */
static void want_scan(struct md_control *c, bool again)
{
    bool post;

    pthread_mutex_lock(&c->mu);
    post = !c->scan_waiting && (again || !c->scan_running);
    if (post)
        c->scan_waiting = true;
    pthread_mutex_unlock(&c->mu);
    if (post)
        md_sched_post(c->sched, run_scan, cancel_scan, c);
}

/* {"model", "version", "archived"}: what archiving or restoring answers. */
static char *archive_answer(const char *model, int64_t version, bool archived)
{
    struct md_buf b;
    char *out = NULL;

    md_buf_init(&b, 4096);
    (void)md_buf_puts(&b, "{\"model\":");
    (void)md_buf_json_str(&b, model, strlen(model));
    (void)md_buf_printf(&b, ",\"version\":\"%lld\",\"archived\":%s}", (long long)version,
                        archived ? "true" : "false");
    if (md_buf_putc(&b, '\0') == MD_OK)
        out = md_buf_detach(&b, NULL);
    md_buf_release(&b);
    return out;
}

static void apply_command(void *arg)
{
    struct apply *a = arg;
    const char *model = md_command_model(a->cmd);
    char *answer = NULL;
    struct md_err err;
    int rc;

    md_err_clear(&err);
    switch (md_command_kind(a->cmd)) {
    case MD_COMMAND_LOAD:
        rc = md_repo_load_model(a->c->repo, model, &err);
        break;
    case MD_COMMAND_UNLOAD:
        rc = md_repo_unload_model(a->c->repo, model, &err);
        break;
    case MD_COMMAND_TRAFFIC: {
        const struct md_traffic_change *t = md_command_arg(a->cmd);

        rc = md_repo_set_policy(a->c->repo, model, t->json, t->len, t->expect, &answer, &err);
        break;
    }
    case MD_COMMAND_ALIAS: {
        const struct md_alias_change *al = md_command_arg(a->cmd);

        rc = md_repo_set_alias(a->c->repo, model, al->alias, al->version, &answer, &err);
        break;
    }
    case MD_COMMAND_UPLOAD: {
        const struct md_upload_change *up = md_command_arg(a->cmd);
        struct md_repo_upload u = {up->path,     up->sha256,      up->size,
                                   up->metadata, up->model_yaml,  up->model_yaml_len,
                                   up->profile,  up->profile_len, MD_SOURCE_UPLOAD};

        rc = md_repo_register_upload(a->c->repo, model, &u, &answer, &err);
        break;
    }
    case MD_COMMAND_SNAPSHOT: {
        /* online learning's snapshot: registered like an upload, its source said */
        const struct md_upload_change *up = md_command_arg(a->cmd);
        struct md_repo_upload u = {up->path, up->sha256, up->size, up->metadata,      NULL,
                                   0,        NULL,       0,        MD_SOURCE_SNAPSHOT};

        rc = md_repo_register_upload(a->c->repo, model, &u, &answer, &err);
        break;
    }
    case MD_COMMAND_MODEL: {
        const struct md_traffic_change *t = md_command_arg(a->cmd);

        rc = md_repo_put_model(a->c->repo, model, t->json, t->len, &answer, &err);
        break;
    }
    case MD_COMMAND_ROLLOUT: {
        const struct md_rollout_change *ch = md_command_arg(a->cmd);

        if (a->c->rollouts == NULL)
            rc = md_err_set(&err, MD_EUNAVAIL, "no store: rollouts need --data");
        else if (ch->cmd == 0)
            rc = md_rollouts_start(a->c->rollouts, model, ch->body, ch->len, &answer, &err);
        else
            rc = md_rollouts_command(a->c->rollouts, model, ch->id, (enum md_rollout_cmd)ch->cmd,
                                     ch->body, &answer, &err);
        break;
    }
    case MD_COMMAND_ARCHIVE: {
        const struct md_archive_change *ar = md_command_arg(a->cmd);

        rc = md_repo_archive(a->c->repo, model, ar->version, ar->archived, &err);
        if (rc == MD_OK)
            answer = archive_answer(model, ar->version, ar->archived);
        break;
    }
    case MD_COMMAND_RETRAIN:
        rc = md_training_command(a->c->training, model, md_command_arg(a->cmd), &answer, &err);
        break;
    case MD_COMMAND_TRAINED:
        rc = md_training_registered(a->c->training, a->c->rollouts, model, md_command_arg(a->cmd),
                                    &answer, &err);
        break;
    case MD_COMMAND_TRIGGERED:
        rc = md_triggers_apply(a->c->training, model, md_command_arg(a->cmd), &answer, &err);
        break;
    default:
        rc = md_err_set(&err, MD_EINTERNAL, "unknown command %d", (int)md_command_kind(a->cmd));
        break;
    }
    if (rc == MD_OK)
        md_err_clear(&err);
    if (answer != NULL)
        md_command_set_result(a->cmd, answer);
    free(answer);
    md_command_complete(a->cmd, &err);
    md_command_unref(a->cmd);
    free(a);
}

static void cancel_command(void *arg)
{
    struct apply *a = arg;
    struct md_err err;

    md_err_set(&err, MD_EUNAVAIL, "server shutting down");
    md_command_complete(a->cmd, &err);
    md_command_unref(a->cmd);
    free(a);
}

/* Task "commands": every command submitted goes to the worker, in order. */
static void task_commands(void *ctx, uint64_t now_ms)
{
    struct md_control *c = ctx;
    struct md_command *cmd;

    MD_UNUSED(now_ms);
    while ((cmd = md_commands_take(c->queue)) != NULL) {
        struct apply *a = md_xmalloc(sizeof(*a));

        a->c = c;
        a->cmd = cmd;
        md_sched_post(c->sched, apply_command, cancel_command, a);
    }
}

/* Task "signals": a re-scan asked for by SIGHUP. */
static void task_signals(void *ctx, uint64_t now_ms)
{
    struct md_control *c = ctx;

    MD_UNUSED(now_ms);
    if (atomic_exchange(&c->scan_asked, false)) {
        md_log(MD_LOG_INFO, "re-scanning the repository");
        want_scan(c, true);
    }
}

/* Task "poll": the --poll re-scan. */
static void task_poll(void *ctx, uint64_t now_ms)
{
    MD_UNUSED(now_ms);
    want_scan(ctx, false);
}

/* The worker's job: every active rollout judged. */
static void run_rollouts(void *arg)
{
    struct md_control *c = arg;

    pthread_mutex_lock(&c->mu);
    c->rollouts_waiting = false;
    pthread_mutex_unlock(&c->mu);
    md_rollouts_tick(c->rollouts, md_wall_ms());
}

static void cancel_rollouts(void *arg)
{
    struct md_control *c = arg;

    pthread_mutex_lock(&c->mu);
    c->rollouts_waiting = false;
    pthread_mutex_unlock(&c->mu);
}

/* Task "rollouts": once a second, the rollouts are judged on the worker
 * (stores and loads wait there, never on the tick). */
static void task_rollouts(void *ctx, uint64_t now_ms)
{
    struct md_control *c = ctx;
    bool post;

    MD_UNUSED(now_ms);
    if (md_rollouts_active(c->rollouts) == 0)
        return;
    pthread_mutex_lock(&c->mu);
    post = !c->rollouts_waiting;
    c->rollouts_waiting = true;
    pthread_mutex_unlock(&c->mu);
    if (post)
        md_sched_post(c->sched, run_rollouts, cancel_rollouts, c);
}

/* The queue's notify hook: a command was submitted. */
static void notify_commands(void *ctx)
{
    struct md_control *c = ctx;

    md_sched_kick(c->sched, c->commands_task);
}

_Static_assert(4 + MD_CONTROL_TASKS <= MD_SCHED_TASKS, "control's tasks fit the scheduler");

int md_control_start(struct md_repo *repo, struct md_commands *q, unsigned poll_s,
                     struct md_rollouts *rollouts, struct md_training *training,
                     const struct md_control_task *tasks, size_t n_tasks, struct md_control **out,
                     struct md_err *err)
{
    struct md_control *c;
    int rc;

    *out = NULL;
    if (n_tasks > MD_CONTROL_TASKS)
        return md_err_set(err, MD_EINVAL, "%zu control tasks; at most %d", n_tasks,
                          MD_CONTROL_TASKS);
    c = md_xcalloc(1, sizeof(*c));
    c->repo = repo;
    c->queue = q;
    c->rollouts = rollouts;
    c->training = training;
    atomic_init(&c->scan_asked, false);
    pthread_mutex_init(&c->mu, NULL);
    c->sched = md_sched_new();
    /* Four tasks and MD_CONTROL_TASKS more fit the table: md_sched_add cannot fail here. */
    c->commands_task = md_sched_add(c->sched, "commands", COMMANDS_MS, task_commands, c);
    (void)md_sched_add(c->sched, "signals", SIGNALS_MS, task_signals, c);
    (void)md_sched_add(c->sched, "rollouts", ROLLOUTS_MS, task_rollouts, c);
    if (poll_s > 0)
        (void)md_sched_add(c->sched, "poll", (uint64_t)poll_s * 1000, task_poll, c);
    for (size_t i = 0; i < n_tasks; i++)
        (void)md_sched_add(c->sched, tasks[i].name, tasks[i].period_ms, tasks[i].fn, tasks[i].ctx);
    rc = md_sched_start(c->sched, err);
    if (rc != MD_OK) {
        md_sched_free(c->sched);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return rc;
    }
    md_commands_set_notify(q, notify_commands, c);
    /* Commands submitted before the loop started (during the start-up scan). */
    md_sched_kick(c->sched, c->commands_task);
    *out = c;
    return MD_OK;
}

void md_control_request_scan(struct md_control *c)
{
    atomic_store(&c->scan_asked, true);
}

void md_control_stop(struct md_control *c)
{
    if (c == NULL)
        return;
    md_commands_set_notify(c->queue, NULL, NULL);
    /* No job starts from here on, so every command not yet running is
     * answered "server shutting down": by the queue's close, or by the
     * worker's cancel when the tick had already handed it on. */
    md_sched_halt(c->sched);
    md_commands_close(c->queue, NULL);
    md_sched_free(c->sched);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
