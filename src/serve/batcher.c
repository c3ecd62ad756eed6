/* SPDX-License-Identifier: MIT */
/*
 * batcher.c: the queue, the workers that gather batches, and the hand-back
 * of each request's rows. Callers sleep on a futex in their own job (no
 * shared condition variable to stampede on); workers sleep on condition
 * variables of the batcher's mutex.
 */
#include "serve/batcher.h"
#include "util/mem.h"
#include "watch/metrics.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/*
 * A waiting caller (md_batcher_run) runs its rows itself only when no job has
 * queued for this long: under load some request finds the engine busy and
 * queues, and from then on everyone queues and batches; a lone client never
 * queues. Without this, callers that each find the engine idle in turn
 * would run one by one and never batch.
 */
#define QUIET_NS 1000000u

/* job.state: the low bits are the stage; WAITER says the caller sleeps. */
enum {
    JOB_QUEUED = 0, /* in the queue; the caller may take it out on timeout */
    JOB_TAKEN = 1,  /* a worker has it; the caller must wait for DONE */
    JOB_DONE = 2,   /* rc, info and out are final; the worker no longer touches the job */
    JOB_STAGE = 3,
    JOB_WAITER = 4
};

struct worker {
    struct md_batcher *b;
    pthread_t thread;
    float *x;     /* gathered rows; grown as needed, private to the worker */
    size_t x_cap; /* bytes */
    float *out;
    size_t out_cap;
};

struct md_batcher {
    pthread_mutex_t mu;
    pthread_cond_t work;              /* idle workers: a job arrived, an engine slot freed, stop */
    pthread_cond_t more;              /* the gathering worker: the batch may go now */
    struct md_batch_job *head, *tail; /* mu: FIFO of JOB_QUEUED jobs */
    size_t n_jobs;                    /* mu: jobs queued */
    size_t rows;                      /* mu: rows queued */
    unsigned busy;                    /* mu: engine calls running (workers and callers) */
    unsigned idle;                    /* mu: workers waiting on `work` */
    bool gathering;                   /* mu: a worker waits on `more` for the head's batch */
    bool stopping;                    /* mu: md_batcher_free has begun */
    uint64_t last_queued_ns;          /* mu: when a job was last queued */
    _Atomic long announced;           /* requests on their way (a hint, see the header) */

    /* read-only after md_batcher_new */
    struct md_version *v;    /* borrowed: engine, model name, stats */
    size_t max_rows;         /* max_batch_size */
    size_t max_jobs;         /* max_queue_size */
    uint64_t delay_ns;       /* max_queue_delay_us in ns */
    const size_t *preferred; /* ascending; the contract's */
    size_t n_preferred;
    unsigned instances;                /* engine calls at once */
    size_t width;                      /* floats per input row */
    size_t n_outputs;                  /* floats per output row */
    struct md_batch_size_stats *sizes; /* max_rows + 1; [0] unused */
    struct worker *workers;
    unsigned n_workers; /* started */
};

/* ------------------------------------------------------------------ futex */

static void to_timespec(uint64_t ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
}

static void futex_wake(_Atomic uint32_t *addr)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Sleeps while *addr == val, until a wake or the absolute monotonic
 * deadline (0: none). Returns 0 or an errno (ETIMEDOUT, EAGAIN, EINTR). */
static int futex_wait(_Atomic uint32_t *addr, uint32_t val, uint64_t deadline_ns)
{
    struct timespec ts;
    long r;

    if (deadline_ns != 0)
        to_timespec(deadline_ns, &ts);
    /* WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, so no drift over retries. */
    r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET_PRIVATE, val,
                deadline_ns != 0 ? &ts : NULL, NULL, FUTEX_BITSET_MATCH_ANY);
    return r == 0 ? 0 : errno;
}

/* ------------------------------------------------------------------ queue */

static void unlink_job(struct md_batcher *b, struct md_batch_job *j)
{
    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        b->head = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    else
        b->tail = j->prev;
    j->prev = j->next = NULL;
    b->n_jobs--;
    b->rows -= j->rows;
    atomic_store_explicit(&b->v->stats->queue_depth, (int64_t)b->n_jobs, memory_order_relaxed);
}

static void push_job(struct md_batcher *b, struct md_batch_job *j)
{
    j->next = NULL;
    j->prev = b->tail;
    if (b->tail != NULL)
        b->tail->next = j;
    else
        b->head = j;
    b->tail = j;
    b->n_jobs++;
    b->rows += j->rows;
    b->last_queued_ns = j->enq_ns;
    atomic_store_explicit(&b->v->stats->queue_depth, (int64_t)b->n_jobs, memory_order_relaxed);
}

/* Whether the head's batch should go now rather than wait for more (mu held). */
static bool batch_ready(const struct md_batcher *b, uint64_t now)
{
    if (b->head == NULL || b->stopping || b->head->rows >= b->max_rows || b->rows >= b->max_rows)
        return true;
    if (b->n_preferred > 0 && b->rows >= b->preferred[0])
        return true;
    if (atomic_load_explicit(&b->announced, memory_order_relaxed) <= 0)
        return true;
    return now >= b->head->enq_ns + b->delay_ns;
}

/*
 * Takes the head's batch out of the queue (mu held, head set): jobs in
 * arrival order while they fit the target, the first one always. The target
 * is max_batch_size, or the largest preferred size the queue can fill.
 */
static struct md_batch_job *take_batch(struct md_batcher *b)
{
    size_t target = b->max_rows;
    size_t taken = 0;
    struct md_batch_job *first = b->head;
    struct md_batch_job *last = NULL;
    size_t i;

    if (b->rows < b->max_rows && b->n_preferred > 0 && b->rows >= b->preferred[0]) {
        for (i = b->n_preferred; i-- > 0;) {
            if (b->preferred[i] <= b->rows) {
                target = b->preferred[i];
                break;
            }
        }
    }
    for (;;) {
        struct md_batch_job *j = b->head;

        if (j == NULL || (last != NULL && taken + j->rows > target))
            break;
        taken += j->rows;
        unlink_job(b, j);
        atomic_fetch_or_explicit(&j->state, JOB_TAKEN, memory_order_relaxed);
        if (last != NULL)
            last->next = j;
        else
            first = j;
        last = j;
    }
    return first;
}

/* ----------------------------------------------------------------- engine */

/* Hands a finished job back to its caller; the job may vanish right after. */
static void complete(struct md_batch_job *j, int rc)
{
    void (*done)(void *) = j->done;
    void *ctx = j->done_ctx;
    uint32_t old;

    j->rc = rc;
    old = atomic_exchange_explicit(&j->state, JOB_DONE, memory_order_acq_rel);
    if (done != NULL)
        done(ctx);
    else if (old & JOB_WAITER)
        futex_wake(&j->state);
}

/* The 504 of a queued job: how long it waited in the queue (since enq_ns). */
static void expire(struct md_batcher *b, struct md_batch_job *j, uint64_t now)
{
    md_err_set(&j->err, MD_ETIMEDOUT,
               "model '%s': deadline passed before the request ran (%llu us in the queue)",
               b->v->model, (unsigned long long)((now - j->enq_ns) / 1000u));
}

static void record_batch(struct md_batcher *b, size_t rows, uint64_t in_ns, uint64_t infer_ns,
                         uint64_t out_ns)
{
    struct md_version_stats *s = b->v->stats;

    atomic_fetch_add_explicit(&s->exec_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->compute_ns, infer_ns, memory_order_relaxed);
    md_histogram_observe(&s->engine, infer_ns);
    md_rows_histogram_observe(&s->batch, rows);
    if (rows <= b->max_rows) {
        struct md_batch_size_stats *z = &b->sizes[rows];

        atomic_fetch_add_explicit(&z->count, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&z->input_ns, in_ns, memory_order_relaxed);
        atomic_fetch_add_explicit(&z->infer_ns, infer_ns, memory_order_relaxed);
        atomic_fetch_add_explicit(&z->output_ns, out_ns, memory_order_relaxed);
    }
}

/* One job straight from and into its own buffers. */
static void run_alone(struct md_batcher *b, struct md_batch_job *j, uint64_t start_ns)
{
    struct md_err err;
    uint64_t t;
    int rc;

    md_err_clear(&err);
    rc = b->v->ops->predict(b->v->engine, j->x, j->rows, j->out, &err);
    t = md_now_ns() - start_ns;
    record_batch(b, j->rows, 0, t, 0);
    j->info.engine_ns = t;
    j->info.batch_rows = j->rows;
    if (rc != MD_OK)
        j->err = err;
    complete(j, rc == MD_OK ? MD_OK : MD_EINTERNAL);
}

/* Grows *p to at least n bytes, *cap its size; false when memory is short (*p kept). */
static bool grow(float **p, size_t *cap, size_t n)
{
    float *q;

    if (n <= *cap)
        return true;
    q = realloc(*p, n);
    if (q == NULL)
        return false;
    *p = q;
    *cap = n;
    return true;
}

/* Makes room for rows rows of gathered input and output; false when memory is short. */
static bool reserve(struct worker *w, size_t rows)
{
    struct md_batcher *b = w->b;
    size_t nx;
    size_t no;

    if (!md_mul_ok(rows, b->width, &nx) || !md_mul_ok(rows, b->n_outputs, &no) ||
        !md_mul_ok(nx, sizeof(float), &nx) || !md_mul_ok(no, sizeof(float), &no))
        return false;
    return grow(&w->x, &w->x_cap, nx) && grow(&w->out, &w->out_cap, no);
}

/* Runs a batch taken from the queue (no lock held). */
static void run_batch(struct worker *w, struct md_batch_job *batch)
{
    struct md_batcher *b = w->b;
    uint64_t now = md_now_ns();
    struct md_batch_job *live = NULL;
    struct md_batch_job **tail = &live;
    struct md_batch_job *j;
    struct md_batch_job *next;
    size_t rows = 0;
    size_t n = 0;
    size_t off;
    uint64_t t0;
    uint64_t t1;
    uint64_t t2;
    uint64_t t3;
    struct md_err err;
    int rc;

    /* Jobs past their deadline go back unrun; the rest run. */
    for (j = batch; j != NULL; j = next) {
        next = j->next;
        j->next = NULL;
        j->info.queue_ns = now - j->enq_ns;
        if (j->deadline_ns != 0 && now > j->deadline_ns) {
            expire(b, j, now);
            complete(j, MD_ETIMEDOUT);
            continue;
        }
        *tail = j;
        tail = &j->next;
        rows += j->rows;
        n++;
    }
    if (n == 0)
        return;
    if (n == 1 || !reserve(w, rows)) {
        /* One job, or no memory to gather: each runs from its own buffers. */
        for (j = live; j != NULL; j = next) {
            next = j->next;
            run_alone(b, j, md_now_ns());
        }
        return;
    }
    t0 = md_now_ns();
    off = 0;
    for (j = live; j != NULL; j = j->next) {
        memcpy(w->x + off * b->width, j->x, j->rows * b->width * sizeof(float));
        off += j->rows;
    }
    t1 = md_now_ns();
    md_err_clear(&err);
    rc = b->v->ops->predict(b->v->engine, w->x, rows, w->out, &err);
    t2 = md_now_ns();
    off = 0;
    for (j = live; j != NULL; j = next) {
        next = j->next;
        if (rc == MD_OK)
            memcpy(j->out, w->out + off * b->n_outputs, j->rows * b->n_outputs * sizeof(float));
        else
            j->err = err;
        off += j->rows;
        j->info.engine_ns = t2 - t1;
        j->info.batch_rows = rows;
        if (next == NULL) {
            /* The stats before the last hand-back: a caller that returns sees its batch counted. */
            t3 = md_now_ns();
            record_batch(b, rows, t1 - t0, t2 - t1, t3 - t2);
        }
        complete(j, rc == MD_OK ? MD_OK : MD_EINTERNAL);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct md_batcher *b = w->b;
    struct timespec ts;
    struct md_batch_job *batch;

    pthread_mutex_lock(&b->mu);
    for (;;) {
        if (b->head == NULL && b->stopping)
            break;
        if (b->head == NULL || b->busy >= b->instances || b->gathering) {
            b->idle++;
            pthread_cond_wait(&b->work, &b->mu);
            b->idle--;
            continue;
        }
        b->gathering = true;
        while (b->head != NULL && !batch_ready(b, md_now_ns())) {
            to_timespec(b->head->enq_ns + b->delay_ns, &ts);
            pthread_cond_timedwait(&b->more, &b->mu, &ts);
        }
        b->gathering = false;
        if (b->head == NULL)
            continue;
        batch = take_batch(b);
        b->busy++;
        /* Another worker may gather the rest while this one runs. */
        if (b->head != NULL && b->idle > 0 && b->busy < b->instances)
            pthread_cond_signal(&b->work);
        pthread_mutex_unlock(&b->mu);
        run_batch(w, batch);
        pthread_mutex_lock(&b->mu);
        b->busy--;
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ------------------------------------------------------------------- API */

int md_batcher_new(struct md_version *v, struct md_batcher **out, struct md_err *err)
{
    const struct md_batching *cfg = &v->contract->batching;
    struct md_batcher *b;
    pthread_condattr_t ca;
    unsigned i;
    int rc;

    *out = NULL;
    b = md_xcalloc(1, sizeof(*b));
    b->v = v;
    b->max_rows = cfg->max_batch_size > 0 ? cfg->max_batch_size : 1;
    b->max_jobs = cfg->max_queue_size > 0 ? cfg->max_queue_size : 1;
    b->delay_ns = cfg->max_queue_delay_us * 1000u;
    b->preferred = cfg->preferred;
    b->n_preferred = cfg->n_preferred;
    b->instances = v->contract->instances > 0 ? v->contract->instances : 1;
    b->width = v->desc.n_features;
    b->n_outputs = v->desc.n_outputs;
    b->sizes = md_xcalloc(b->max_rows + 1, sizeof(*b->sizes));
    atomic_init(&b->announced, 0);
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->work, &ca);
    pthread_cond_init(&b->more, &ca);
    pthread_condattr_destroy(&ca);
    b->workers = md_xcalloc(b->instances, sizeof(*b->workers));
    for (i = 0; i < b->instances; i++) {
        b->workers[i].b = b;
        rc = pthread_create(&b->workers[i].thread, NULL, worker_main, &b->workers[i]);
        if (rc != 0) {
            md_batcher_free(b);
            return md_err_set(err, MD_EINTERNAL, "model '%s': cannot start batch worker %u: %s",
                              v->model, i + 1, strerror(rc));
        }
        b->n_workers++;
    }
    *out = b;
    return MD_OK;
}

void md_batcher_free(struct md_batcher *b)
{
    unsigned i;

    if (b == NULL)
        return;
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_cond_broadcast(&b->work);
    pthread_cond_broadcast(&b->more);
    pthread_mutex_unlock(&b->mu);
    for (i = 0; i < b->n_workers; i++)
        pthread_join(b->workers[i].thread, NULL);
    for (i = 0; i < b->instances; i++) {
        free(b->workers[i].x);
        free(b->workers[i].out);
    }
    pthread_cond_destroy(&b->work);
    pthread_cond_destroy(&b->more);
    pthread_mutex_destroy(&b->mu);
    free(b->workers);
    free(b->sizes);
    free(b);
}

void md_batcher_announce(struct md_batcher *b)
{
    atomic_fetch_add_explicit(&b->announced, 1, memory_order_relaxed);
}

void md_batcher_withdraw(struct md_batcher *b)
{
    pthread_mutex_lock(&b->mu);
    atomic_fetch_sub_explicit(&b->announced, 1, memory_order_relaxed);
    if (b->gathering && b->head != NULL && batch_ready(b, md_now_ns()))
        pthread_cond_signal(&b->more);
    pthread_mutex_unlock(&b->mu);
}

/* The caller's own engine call: the engine was idle and nobody else was coming. */
static int run_here(struct md_batcher *b, struct md_batch_job *j)
{
    uint64_t now = md_now_ns();
    void (*done)(void *) = j->done;

    /* The caller has its answer on return: no callback. */
    j->done = NULL;
    j->info.queue_ns = 0;
    if (j->deadline_ns != 0 && now > j->deadline_ns) {
        /* Never queued (enq_ns is 0): no time in the queue to report. */
        md_err_set(&j->err, MD_ETIMEDOUT, "model '%s': deadline passed before the request ran",
                   b->v->model);
        j->rc = MD_ETIMEDOUT;
    } else {
        run_alone(b, j, now);
    }
    pthread_mutex_lock(&b->mu);
    b->busy--;
    /* Requests that queued meanwhile: a worker takes them now. */
    if (b->head != NULL && b->idle > 0)
        pthread_cond_signal(&b->work);
    pthread_mutex_unlock(&b->mu);
    j->done = done;
    return j->rc;
}

/* Waits for DONE; on the deadline takes the job back if no worker has it yet. */
static int wait_done(struct md_batcher *b, struct md_batch_job *j)
{
    uint64_t deadline = j->deadline_ns;
    uint32_t s;

    for (;;) {
        s = atomic_load_explicit(&j->state, memory_order_acquire);
        if ((s & JOB_STAGE) == JOB_DONE)
            return j->rc;
        if (!(s & JOB_WAITER)) {
            atomic_compare_exchange_weak_explicit(&j->state, &s, s | JOB_WAITER,
                                                  memory_order_acq_rel, memory_order_acquire);
            continue;
        }
        if (futex_wait(&j->state, s, deadline) != ETIMEDOUT)
            continue;
        pthread_mutex_lock(&b->mu);
        if ((atomic_load_explicit(&j->state, memory_order_relaxed) & JOB_STAGE) == JOB_QUEUED) {
            uint64_t now = md_now_ns();

            unlink_job(b, j);
            pthread_mutex_unlock(&b->mu);
            expire(b, j, now);
            j->info.queue_ns = now - j->enq_ns;
            return MD_ETIMEDOUT;
        }
        pthread_mutex_unlock(&b->mu);
        deadline = 0; /* a worker has it: it answers soon, and checked the deadline itself */
    }
}

/* Fills j for the queue. */
static void job_init(struct md_batch_job *j, const float *x, size_t rows, float *out,
                     uint64_t deadline_ns, void (*done)(void *), void *done_ctx)
{
    memset(j, 0, sizeof(*j));
    j->x = x;
    j->out = out;
    j->rows = rows;
    j->deadline_ns = deadline_ns;
    j->done = done;
    j->done_ctx = done_ctx;
    atomic_init(&j->state, JOB_QUEUED);
}

/*
 * Runs j here when the engine is idle and nobody else is coming (MD_OK or
 * the job's error, j final), refuses it when the queue is full (MD_EUNAVAIL,
 * j->err set), else queues it (MD_EPENDING).
 */
static int enqueue(struct md_batcher *b, struct md_batch_job *j, bool announced)
{
    long coming;
    size_t waiting;
    uint64_t now;

    pthread_mutex_lock(&b->mu);
    coming = announced ? atomic_fetch_sub_explicit(&b->announced, 1, memory_order_relaxed) - 1
                       : atomic_load_explicit(&b->announced, memory_order_relaxed);
    now = md_now_ns();
    if (j->done == NULL && b->head == NULL && b->busy < b->instances && coming <= 0 &&
        !b->stopping && now - b->last_queued_ns > QUIET_NS) {
        b->busy++;
        pthread_mutex_unlock(&b->mu);
        return run_here(b, j);
    }
    if (b->n_jobs >= b->max_jobs || b->stopping) {
        waiting = b->n_jobs;
        /* This request was awaited: the gathering batch need not wait for it. */
        if (b->gathering && b->head != NULL && batch_ready(b, now))
            pthread_cond_signal(&b->more);
        pthread_mutex_unlock(&b->mu);
        if (b->stopping)
            return md_err_set(&j->err, MD_EUNAVAIL, "model '%s' is unloading", b->v->model);
        return md_err_set(&j->err, MD_EUNAVAIL, "model '%s' queue is full (%zu requests waiting)",
                          b->v->model, waiting);
    }
    j->enq_ns = now;
    push_job(b, j);
    if (b->gathering) {
        if (batch_ready(b, j->enq_ns))
            pthread_cond_signal(&b->more);
    } else if (b->idle > 0 && b->busy < b->instances) {
        pthread_cond_signal(&b->work);
    }
    pthread_mutex_unlock(&b->mu);
    return MD_EPENDING;
}

int md_batcher_run(struct md_batcher *b, const float *x, size_t rows, float *out,
                   uint64_t deadline_ns, bool announced, struct md_batch_info *info,
                   struct md_err *err)
{
    struct md_batch_job j;
    int rc;

    job_init(&j, x, rows, out, deadline_ns, NULL, NULL);
    rc = enqueue(b, &j, announced);
    if (rc == MD_EPENDING)
        rc = wait_done(b, &j);
    if (info != NULL)
        *info = j.info;
    if (rc != MD_OK && err != NULL)
        *err = j.err;
    return rc;
}

int md_batcher_submit(struct md_batcher *b, struct md_batch_job *j, const float *x, size_t rows,
                      float *out, uint64_t deadline_ns, bool announced, void (*done)(void *ctx),
                      void *done_ctx, struct md_err *err)
{
    int rc;

    job_init(j, x, rows, out, deadline_ns, done, done_ctx);
    rc = enqueue(b, j, announced);
    if (rc != MD_EPENDING)
        j->rc = rc; /* refused or ran here: final now */
    if (rc != MD_OK && rc != MD_EPENDING && err != NULL)
        *err = j->err;
    return rc;
}

int md_batch_job_result(const struct md_batch_job *j, struct md_batch_info *info,
                        struct md_err *err)
{
    if (info != NULL)
        *info = j->info;
    if (j->rc != MD_OK && err != NULL)
        *err = j->err;
    return j->rc;
}

size_t md_batcher_depth(struct md_batcher *b)
{
    size_t n;

    pthread_mutex_lock(&b->mu);
    n = b->n_jobs;
    pthread_mutex_unlock(&b->mu);
    return n;
}

void md_batcher_foreach_size(const struct md_batcher *b,
                             void (*fn)(void *ctx, size_t size,
                                        const struct md_batch_size_stats *s),
                             void *ctx)
{
    size_t i;

    for (i = 1; i <= b->max_rows; i++)
        if (atomic_load_explicit(&b->sizes[i].count, memory_order_relaxed) > 0)
            fn(ctx, i, &b->sizes[i]);
}
