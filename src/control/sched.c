/* SPDX-License-Identifier: MIT */
/*
 * sched.c: the periodic tasks of control and the worker that runs their long
 * work. One mutex guards the kick flags, the job list and the stop flags; a
 * task's fn and a job's run are called with it released. Task plans
 * (next_ms, runs) belong to whichever thread steps the table.
 */
#include "control/sched.h"
#include "util/mem.h"
#include "watch/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define NEVER        UINT64_MAX
#define MAX_SLEEP_MS 1000 /* the tick thread looks at the clock at least this often */

struct task {
    const char *name;
    uint64_t period_ms; /* 0: only when kicked */
    void (*fn)(void *ctx, uint64_t now_ms);
    void *ctx;
    uint64_t next_ms; /* the planned run; NEVER for a task run only when kicked */
    bool planned;     /* next_ms is set: the table has been stepped */
    _Atomic uint64_t runs;
    bool kicked; /* guarded by mu */
};

struct job {
    void (*run)(void *arg);
    void (*cancel)(void *arg);
    void *arg;
    struct job *next;
};

struct md_sched {
    pthread_mutex_t mu;
    pthread_cond_t tick_cv; /* a kick or the stop, for the tick thread */
    pthread_cond_t work_cv; /* a job or the stop, for the worker */
    struct task tasks[MD_SCHED_TASKS];
    size_t n_tasks;
    struct job *head; /* jobs not started, oldest first; guarded by mu */
    struct job *tail;
    size_t n_jobs;     /* handed and not finished; guarded by mu */
    bool stop_tick;    /* guarded by mu */
    bool stop_work;    /* guarded by mu: no job starts, posts are cancelled */
    bool tick_started; /* written before the threads start or after they end */
    bool work_started;
    pthread_t tick;
    pthread_t worker;
};

static uint64_t now_ms(void)
{
    return md_now_ns() / 1000000u;
}

struct md_sched *md_sched_new(void)
{
    struct md_sched *s = md_xcalloc(1, sizeof(*s));
    pthread_condattr_t ca;

    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->tick_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&s->work_cv, NULL);
    return s;
}

int md_sched_add(struct md_sched *s, const char *name, uint64_t period_ms,
                 void (*fn)(void *ctx, uint64_t now_ms), void *ctx)
{
    struct task *t;

    if (s->n_tasks == MD_SCHED_TASKS)
        return -1;
    t = &s->tasks[s->n_tasks];
    t->name = name;
    t->period_ms = period_ms;
    t->fn = fn;
    t->ctx = ctx;
    t->next_ms = NEVER;
    t->planned = false;
    atomic_init(&t->runs, 0);
    t->kicked = false;
    return (int)s->n_tasks++;
}

/* The plan after a run planned for t->next_ms: one period on, or one period
 * from now when the run came more than a period late. */
static void plan_next(struct task *t, uint64_t now)
{
    if (t->period_ms == 0) {
        t->next_ms = NEVER;
        return;
    }
    t->next_ms += t->period_ms;
    if (t->next_ms <= now)
        t->next_ms = now + t->period_ms;
}

uint64_t md_sched_step(struct md_sched *s, uint64_t now)
{
    bool due[MD_SCHED_TASKS] = {false};
    uint64_t wait = NEVER;
    size_t i;

    pthread_mutex_lock(&s->mu);
    for (i = 0; i < s->n_tasks; i++) {
        struct task *t = &s->tasks[i];

        if (!t->planned) { /* the first step: one period from now */
            t->next_ms = t->period_ms > 0 ? now + t->period_ms : NEVER;
            t->planned = true;
        }
        due[i] = t->kicked || now >= t->next_ms;
        t->kicked = false;
    }
    pthread_mutex_unlock(&s->mu);
    for (i = 0; i < s->n_tasks; i++) {
        struct task *t = &s->tasks[i];

        if (!due[i])
            continue;
        t->fn(t->ctx, now);
        atomic_fetch_add_explicit(&t->runs, 1, memory_order_relaxed);
        if (t->next_ms != NEVER && now >= t->next_ms)
            plan_next(t, now);
    }
    pthread_mutex_lock(&s->mu);
    for (i = 0; i < s->n_tasks; i++) {
        const struct task *t = &s->tasks[i];
        uint64_t w = t->next_ms > now ? t->next_ms - now : 0;

        if (t->next_ms == NEVER)
            w = NEVER;
        if (t->kicked)
            w = 0;
        if (w < wait)
            wait = w;
    }
    pthread_mutex_unlock(&s->mu);
    return wait;
}

uint64_t md_sched_runs(struct md_sched *s, int task)
{
    return atomic_load_explicit(&s->tasks[task].runs, memory_order_relaxed);
}

static bool any_kicked(const struct md_sched *s)
{
    size_t i;

    for (i = 0; i < s->n_tasks; i++)
        if (s->tasks[i].kicked)
            return true;
    return false;
}

static void *tick_main(void *arg)
{
    struct md_sched *s = arg;

    pthread_mutex_lock(&s->mu);
    while (!s->stop_tick) {
        uint64_t wait;

        pthread_mutex_unlock(&s->mu);
        wait = md_sched_step(s, now_ms());
        if (wait > MAX_SLEEP_MS)
            wait = MAX_SLEEP_MS;
        pthread_mutex_lock(&s->mu);
        if (wait > 0 && !s->stop_tick && !any_kicked(s)) {
            struct timespec ts;

            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += (time_t)(wait / 1000);
            ts.tv_nsec += (long)(wait % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            /* A timeout, a kick or a spurious wake: step again either way. */
            (void)pthread_cond_timedwait(&s->tick_cv, &s->mu, &ts);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void *work_main(void *arg)
{
    struct md_sched *s = arg;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        struct job *j;

        while (s->head == NULL && !s->stop_work)
            pthread_cond_wait(&s->work_cv, &s->mu);
        if (s->stop_work)
            break;
        j = s->head;
        s->head = j->next;
        if (s->head == NULL)
            s->tail = NULL;
        pthread_mutex_unlock(&s->mu);
        j->run(j->arg);
        free(j);
        pthread_mutex_lock(&s->mu);
        s->n_jobs--;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int md_sched_start(struct md_sched *s, struct md_err *err)
{
    int rc = pthread_create(&s->worker, NULL, work_main, s);

    if (rc != 0)
        return md_err_set(err, MD_EINTERNAL, "cannot start the control worker: %s", strerror(rc));
    s->work_started = true;
    rc = pthread_create(&s->tick, NULL, tick_main, s);
    if (rc != 0) {
        md_sched_stop(s);
        return md_err_set(err, MD_EINTERNAL, "cannot start the control thread: %s", strerror(rc));
    }
    s->tick_started = true;
    return MD_OK;
}

void md_sched_kick(struct md_sched *s, int task)
{
    pthread_mutex_lock(&s->mu);
    if (task >= 0 && (size_t)task < s->n_tasks)
        s->tasks[task].kicked = true;
    pthread_cond_signal(&s->tick_cv);
    pthread_mutex_unlock(&s->mu);
}

void md_sched_post(struct md_sched *s, void (*run)(void *arg), void (*cancel)(void *arg), void *arg)
{
    struct job *j;

    pthread_mutex_lock(&s->mu);
    if (s->stop_work) {
        pthread_mutex_unlock(&s->mu);
        if (cancel != NULL)
            cancel(arg);
        return;
    }
    j = md_xmalloc(sizeof(*j));
    j->run = run;
    j->cancel = cancel;
    j->arg = arg;
    j->next = NULL;
    if (s->tail != NULL)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    s->n_jobs++;
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
}

size_t md_sched_jobs(struct md_sched *s)
{
    size_t n;

    pthread_mutex_lock(&s->mu);
    n = s->n_jobs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void md_sched_halt(struct md_sched *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop_tick = true;
    s->stop_work = true;
    pthread_cond_signal(&s->tick_cv);
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
}

void md_sched_stop(struct md_sched *s)
{
    struct job *list;

    md_sched_halt(s);
    if (s->tick_started) {
        pthread_join(s->tick, NULL);
        s->tick_started = false;
    }
    if (s->work_started) {
        pthread_join(s->worker, NULL);
        s->work_started = false;
    }
    pthread_mutex_lock(&s->mu);
    list = s->head;
    s->head = NULL;
    s->tail = NULL;
    pthread_mutex_unlock(&s->mu);
    while (list != NULL) {
        struct job *j = list;

        list = j->next;
        if (j->cancel != NULL)
            j->cancel(j->arg);
        free(j);
        pthread_mutex_lock(&s->mu);
        s->n_jobs--;
        pthread_mutex_unlock(&s->mu);
    }
}

void md_sched_free(struct md_sched *s)
{
    if (s == NULL)
        return;
    md_sched_stop(s);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->tick_cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
