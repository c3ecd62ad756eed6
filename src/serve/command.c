/* SPDX-License-Identifier: MIT */
/*
 * command.c: the command record (refcounted, its outcome under its own lock)
 * and the FIFO queue between the layers that submit commands and `control`,
 * which takes and applies them. What a command does is control's business;
 * this file only carries it and its outcome.
 */
#include "serve/command.h"
#include "util/mem.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define SHUTTING_DOWN "server shutting down"

struct md_command {
    _Atomic int refs;
    enum md_command_kind kind;
    void (*wake)(void *ctx); /* the submitter's, or NULL */
    void *wake_ctx;
    struct md_command *next; /* in the queue; guarded by the queue's lock */
    pthread_mutex_t mu;      /* guards done and outcome */
    pthread_cond_t cv;       /* signalled when done */
    bool done;
    struct md_err outcome;
    void *arg;                   /* the applier's argument, or NULL */
    void (*arg_free)(void *arg); /* frees arg with the command, or NULL */
    char *result;                /* what a success answers with, or NULL */
    char model[];                /* NUL-terminated */
};

struct md_commands {
    pthread_mutex_t mu;        /* guards every field below */
    struct md_command *head;   /* oldest pending */
    struct md_command *tail;   /* newest pending */
    size_t n;                  /* pending */
    bool closed;               /* submits are refused */
    char why[128];             /* the refusal's message, when closed */
    void (*notify)(void *ctx); /* after each submit, or NULL */
    void *notify_ctx;
};

struct md_commands *md_commands_new(void)
{
    struct md_commands *q = md_xcalloc(1, sizeof(*q));

    pthread_mutex_init(&q->mu, NULL);
    return q;
}

void md_commands_free(struct md_commands *q)
{
    if (q == NULL)
        return;
    md_commands_close(q, NULL);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

void md_commands_set_notify(struct md_commands *q, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&q->mu);
    q->notify = fn;
    q->notify_ctx = ctx;
    pthread_mutex_unlock(&q->mu);
}

int md_commands_submit(struct md_commands *q, enum md_command_kind kind, const char *model,
                       void (*wake)(void *ctx), void *wake_ctx, struct md_command **out,
                       struct md_err *err)
{
    return md_commands_submit_arg(q, kind, model, NULL, NULL, wake, wake_ctx, out, err);
}

int md_commands_submit_arg(struct md_commands *q, enum md_command_kind kind, const char *model,
                           void *arg, void (*arg_free)(void *arg), void (*wake)(void *ctx),
                           void *wake_ctx, struct md_command **out, struct md_err *err)
{
    size_t len = strlen(model);
    struct md_command *c;

    *out = NULL;
    /* The name comes from a request path, bounded by the header limit. */
    c = md_malloc(sizeof(*c) + len + 1);
    if (c == NULL) {
        if (arg_free != NULL)
            arg_free(arg);
        return md_err_set(err, MD_ENOMEM, "out of memory for a command on model '%.64s'", model);
    }
    memset(c, 0, sizeof(*c));
    memcpy(c->model, model, len + 1);
    c->arg = arg;
    c->arg_free = arg_free;
    atomic_init(&c->refs, 2); /* the submitter's and the queue's */
    c->kind = kind;
    c->wake = wake;
    c->wake_ctx = wake_ctx;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    pthread_mutex_lock(&q->mu);
    if (q->closed) {
        int rc = md_err_set(err, MD_EUNAVAIL, "%s", q->why);

        pthread_mutex_unlock(&q->mu);
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        if (c->arg_free != NULL)
            c->arg_free(c->arg);
        free(c);
        return rc;
    }
    if (q->tail != NULL)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->n++;
    if (q->notify != NULL)
        q->notify(q->notify_ctx);
    pthread_mutex_unlock(&q->mu);
    *out = c;
    return MD_OK;
}

/* Unlinks the oldest pending command; caller holds q->mu. */
static struct md_command *pop(struct md_commands *q)
{
    struct md_command *c = q->head;

    if (c == NULL)
        return NULL;
    q->head = c->next;
    if (q->head == NULL)
        q->tail = NULL;
    c->next = NULL;
    q->n--;
    return c;
}

struct md_command *md_commands_take(struct md_commands *q)
{
    struct md_command *c;

    pthread_mutex_lock(&q->mu);
    c = pop(q);
    pthread_mutex_unlock(&q->mu);
    return c;
}

size_t md_commands_pending(struct md_commands *q)
{
    size_t n;

    pthread_mutex_lock(&q->mu);
    n = q->n;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void md_commands_close(struct md_commands *q, const char *why)
{
    struct md_command *list;
    struct md_command *c;
    struct md_err outcome;

    pthread_mutex_lock(&q->mu);
    if (!q->closed) {
        q->closed = true;
        /* Reasons are short; a long one is cut. */
        (void)snprintf(q->why, sizeof(q->why), "%s", why != NULL ? why : SHUTTING_DOWN);
    }
    (void)snprintf(outcome.msg, sizeof(outcome.msg), "%s", q->why);
    outcome.code = MD_EUNAVAIL;
    list = q->head;
    q->head = NULL;
    q->tail = NULL;
    q->n = 0;
    pthread_mutex_unlock(&q->mu);
    /* Completed outside the lock: a wake may take a while. */
    while (list != NULL) {
        c = list;
        list = c->next;
        c->next = NULL;
        md_command_complete(c, &outcome);
        md_command_unref(c);
    }
}

enum md_command_kind md_command_kind(const struct md_command *c)
{
    return c->kind;
}

const char *md_command_model(const struct md_command *c)
{
    return c->model;
}

void *md_command_arg(const struct md_command *c)
{
    return c->arg;
}

void md_command_set_result(struct md_command *c, const char *text)
{
    char *copy = md_xstrdup(text);

    pthread_mutex_lock(&c->mu);
    free(c->result);
    c->result = copy;
    pthread_mutex_unlock(&c->mu);
}

const char *md_command_result(struct md_command *c)
{
    const char *r;

    pthread_mutex_lock(&c->mu);
    r = c->done && c->outcome.code == MD_OK ? c->result : NULL;
    pthread_mutex_unlock(&c->mu);
    return r;
}

void md_command_complete(struct md_command *c, const struct md_err *outcome)
{
    void (*wake)(void *ctx);

    pthread_mutex_lock(&c->mu);
    if (c->done)
        MD_BUG("a command completed twice");
    c->done = true;
    if (outcome != NULL && outcome->code != MD_OK)
        c->outcome = *outcome;
    else
        md_err_clear(&c->outcome);
    wake = c->wake;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    /* The caller holds a reference, so c outlives the wake even when the
     * submitter drops its own at once. */
    if (wake != NULL)
        wake(c->wake_ctx);
}

bool md_command_done(struct md_command *c)
{
    bool done;

    pthread_mutex_lock(&c->mu);
    done = c->done;
    pthread_mutex_unlock(&c->mu);
    return done;
}

/* The outcome into out; caller holds c->mu and c is done. */
static int outcome_locked(const struct md_command *c, struct md_err *out)
{
    if (out != NULL)
        *out = c->outcome;
    return c->outcome.code;
}

int md_command_outcome(struct md_command *c, struct md_err *out)
{
    int rc;

    pthread_mutex_lock(&c->mu);
    if (c->done)
        rc = outcome_locked(c, out);
    else
        rc = md_err_set(out, MD_EPENDING, "command on model '%.64s' not done yet", c->model);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int md_command_wait(struct md_command *c, struct md_err *out)
{
    int rc;

    pthread_mutex_lock(&c->mu);
    while (!c->done)
        pthread_cond_wait(&c->cv, &c->mu);
    rc = outcome_locked(c, out);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void md_command_ref(struct md_command *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void md_command_unref(struct md_command *c)
{
    if (c == NULL)
        return;
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    assert(c->next == NULL);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    if (c->arg_free != NULL)
        c->arg_free(c->arg);
    free(c->result);
    free(c);
}

void md_traffic_change_free(void *arg)
{
    struct md_traffic_change *t = arg;

    if (t == NULL)
        return;
    free(t->json);
    free(t);
}

void md_alias_change_free(void *arg)
{
    struct md_alias_change *a = arg;

    if (a == NULL)
        return;
    free(a->alias);
    free(a->version);
    free(a);
}

void md_upload_change_free(void *arg)
{
    struct md_upload_change *u = arg;

    if (u == NULL)
        return;
    if (u->path != NULL)
        (void)unlink(u->path); /* moved into the artifact store, or not wanted */
    free(u->path);
    free(u->metadata);
    free(u->model_yaml);
    free(u->profile);
    free(u);
}

void md_rollout_change_free(void *arg)
{
    struct md_rollout_change *r = arg;

    if (r == NULL)
        return;
    free(r->body);
    free(r);
}

void md_retrain_change_free(void *arg)
{
    struct md_retrain_change *r = arg;

    if (r == NULL)
        return;
    free(r->details);
    free(r);
}

void md_triggered_change_free(void *arg)
{
    struct md_triggered_change *r = arg;

    if (r == NULL)
        return;
    free(r->details);
    free(r);
}
