/* SPDX-License-Identifier: MIT */
/*
 * shadow.c: the shadow executor: the copy of an answered prediction, the
 * bounded queue that holds copies, and the workers that run them and record
 * the comparison. What the copies are for and how they are compared:
 * shadow.h; the figures kept: watch/compare.h.
 *
 * The queue is a bounded multi-producer, multi-consumer ring (D. Vyukov's):
 * each cell has a sequence number that says whether it is free for the
 * producer at position pos (seq == pos) or holds a copy for the consumer at
 * pos (seq == pos + 1). A producer claims a position with one compare and
 * swap and never waits: when the cell at the tail is still taken the queue
 * is full and the copy is dropped. A semaphore counts the copies published,
 * so an idle worker sleeps in sem_wait and an offer's sem_post wakes it
 * (an atomic add, and a futex wake only when a worker sleeps). No lock is
 * shared between the HTTP threads and the low-priority workers, so a worker
 * preempted at any point never holds up an offer.
 */
#include "serve/shadow.h"
#include "util/log.h"
#include "util/mem.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* The arena a worker prepares and runs one copy in (reset after each). */
#define WORK_ARENA_MAX ((size_t)1 << 30)

/* One copy: this header, then its tensors, the answer's scores and the inputs' bytes, in
 * one allocation. */
struct job {
    struct md_version *target;   /* a reference: the version the copy runs on */
    struct md_version *answered; /* a reference: the version that answered the caller */
    enum md_shadow_kind kind;
    int code;                 /* the answer's outcome: MD_OK or its failure */
    uint64_t latency_ns;      /* the caller's latency */
    const float *scores;      /* rows * per_row answer scores, or NULL (the answer failed) */
    size_t rows;              /* rows of scores */
    size_t per_row;           /* the answering engine's outputs per row */
    struct md_tensor *inputs; /* n_inputs, as decoded */
    size_t n_inputs;
    size_t bytes;           /* the allocation's size, counted against the byte bound */
    const char *request_id; /* the answered request's id, in the allocation */
};

struct cell {
    _Atomic size_t seq;
    struct job *job;
};

struct md_shadow {
    struct cell *cells;
    size_t cap;
    _Atomic size_t head; /* the next position to take */
    _Atomic size_t tail; /* the next position to fill */
    sem_t ready;         /* a post per copy published, and one per worker to stop */
    _Atomic bool stop;
    pthread_t threads[MD_SHADOW_THREADS_MAX];
    unsigned n_threads;
    int nice;
    unsigned delay_ms;
    struct md_predict_observer observer;
    size_t max_bytes;
    struct md_compare *cmp;
    _Atomic size_t bytes;   /* of the copies queued or running */
    _Atomic size_t pending; /* copies queued or running */
    _Atomic uint64_t submitted;
    _Atomic uint64_t dropped;
    _Atomic uint64_t run;
    _Atomic uint64_t failed;
};

void md_shadow_config_init(struct md_shadow_config *cfg)
{
    cfg->queue = MD_SHADOW_QUEUE_DEFAULT;
    cfg->threads = MD_SHADOW_THREADS_DEFAULT;
    cfg->nice = MD_SHADOW_NICE_DEFAULT;
    cfg->max_bytes = MD_SHADOW_BYTES_DEFAULT;
    cfg->delay_ms = 0;
    cfg->observer.told = NULL;
    cfg->observer.ctx = NULL;
}

/* ---- the queue ------------------------------------------------------------ */

/* Publishes j; false when the queue is full. */
static bool put(struct md_shadow *x, struct job *j)
{
    size_t pos = atomic_load_explicit(&x->tail, memory_order_relaxed);
    struct cell *c;

    for (;;) {
        size_t seq;

        c = &x->cells[pos % x->cap];
        seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (seq == pos) {
            if (atomic_compare_exchange_weak_explicit(&x->tail, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if ((ptrdiff_t)(seq - pos) < 0) {
            return false; /* the cell still holds the copy of a lap ago: full */
        } else {
            pos = atomic_load_explicit(&x->tail, memory_order_relaxed);
        }
    }
    c->job = j;
    atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
    return true;
}

/* The copy at the head, or NULL when none is published there yet. */
static struct job *take(struct md_shadow *x)
{
    size_t pos = atomic_load_explicit(&x->head, memory_order_relaxed);
    struct cell *c;
    struct job *j;

    for (;;) {
        size_t seq;

        c = &x->cells[pos % x->cap];
        seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (seq == pos + 1) {
            if (atomic_compare_exchange_weak_explicit(&x->head, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if ((ptrdiff_t)(seq - (pos + 1)) < 0) {
            return NULL;
        } else {
            pos = atomic_load_explicit(&x->head, memory_order_relaxed);
        }
    }
    j = c->job;
    atomic_store_explicit(&c->seq, pos + x->cap, memory_order_release);
    return j;
}

/* ---- the copy ------------------------------------------------------------- */

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* n += k, false on overflow. */
static bool add(size_t *n, size_t k)
{
    return !__builtin_add_overflow(*n, k, n);
}

/* Bytes of tensor t's data. */
static bool data_size(const struct md_tensor *t, size_t *n)
{
    const struct md_bytes *b = t->data;
    size_t i;

    if (t->dtype != MD_DT_BYTES)
        return md_mul_ok(t->count, md_dtype_size(t->dtype), n);
    if (!md_mul_ok(t->count, sizeof(struct md_bytes), n))
        return false;
    for (i = 0; b != NULL && i < t->count; i++)
        if (b[i].p != NULL && !add(n, b[i].len))
            return false;
    return true;
}

/* The size of the copy of s (answered: with its scores); 0 when it cannot be counted. */
static size_t copy_size(const struct md_predict_story *s, bool answered)
{
    size_t n = align8(sizeof(struct job));
    size_t k;
    size_t i;

    if (!add(&n, align8(strlen(s->request_id != NULL ? s->request_id : "") + 1)))
        return 0;
    if (!md_mul_ok(s->n_inputs, sizeof(struct md_tensor), &k) || !add(&n, k))
        return 0;
    if (answered && (!md_mul_ok(s->scores->rows, s->scores->per_row, &k) ||
                     !md_mul_ok(k, sizeof(float), &k) || !add(&n, align8(k))))
        return 0;
    for (i = 0; i < s->n_inputs; i++) {
        const struct md_tensor *t = &s->inputs[i];

        if (!add(&n, align8(strlen(t->name != NULL ? t->name : "") + 1)) || !data_size(t, &k) ||
            !add(&n, align8(k)) || (t->missing != NULL && !add(&n, align8(t->count))))
            return 0;
    }
    return n;
}

/* Copies the bytes of a BYTES tensor: its md_bytes array at *at, the values after it. */
static void copy_bytes(const struct md_tensor *t, char **at)
{
    const struct md_bytes *from = t->data;
    struct md_bytes *to = (struct md_bytes *)(void *)*at;
    char *p = *at + t->count * sizeof(struct md_bytes);
    size_t i;

    for (i = 0; i < t->count; i++) {
        to[i].len = from != NULL ? from[i].len : 0;
        to[i].p = NULL;
        if (from == NULL || from[i].p == NULL)
            continue;
        memcpy(p, from[i].p, from[i].len);
        to[i].p = p;
        p += from[i].len;
    }
    *at = (char *)to + align8((size_t)(p - (char *)to));
}

/* Writes the copy of s into j (size bytes, from copy_size). */
static void copy_story(struct job *j, size_t size, const struct md_predict_story *s, bool answered)
{
    char *at = (char *)j + align8(sizeof(*j));
    size_t i;

    j->bytes = size;
    {
        const char *id = s->request_id != NULL ? s->request_id : "";
        size_t k = strlen(id) + 1;

        memcpy(at, id, k);
        j->request_id = at;
        at += align8(k);
    }
    j->code = answered ? MD_OK : s->code;
    j->latency_ns = s->latency_ns;
    j->inputs = (struct md_tensor *)(void *)at;
    j->n_inputs = s->n_inputs;
    at += s->n_inputs * sizeof(struct md_tensor);
    j->scores = NULL;
    j->rows = answered ? s->scores->rows : 0;
    j->per_row = s->scores != NULL ? s->scores->per_row : 0;
    if (answered) {
        size_t k = j->rows * j->per_row * sizeof(float);

        memcpy(at, s->scores->scores, k);
        j->scores = (const float *)(void *)at;
        at += align8(k);
    }
    for (i = 0; i < s->n_inputs; i++) {
        const struct md_tensor *t = &s->inputs[i];
        struct md_tensor *c = &j->inputs[i];
        const char *name = t->name != NULL ? t->name : "";
        size_t k = strlen(name) + 1;

        *c = *t;
        memcpy(at, name, k);
        c->name = at;
        at += align8(k);
        c->data = at;
        if (t->dtype == MD_DT_BYTES) {
            copy_bytes(t, &at);
        } else {
            k = t->count * md_dtype_size(t->dtype);
            if (k > 0 && t->data != NULL)
                memcpy(at, t->data, k);
            at += align8(k);
        }
        if (t->missing != NULL) {
            memcpy(at, t->missing, t->count);
            c->missing = (uint8_t *)at;
            at += align8(t->count);
        }
    }
    assert((size_t)(at - (char *)j) == size);
}

/* ---- offering ------------------------------------------------------------- */

static void count_drop(struct md_shadow *x, struct md_version *target)
{
    atomic_fetch_add_explicit(&x->dropped, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&target->stats->shadow.dropped, 1, memory_order_relaxed);
}

/* Gives back what a copy held and counted. */
static void job_free(struct md_shadow *x, struct job *j)
{
    atomic_fetch_sub_explicit(&x->bytes, j->bytes, memory_order_relaxed);
    md_version_unref(j->target);
    md_version_unref(j->answered);
    free(j);
    atomic_fetch_sub_explicit(&x->pending, 1, memory_order_release);
}

int md_shadow_offer(struct md_shadow *x, const struct md_predict_story *s,
                    struct md_version *target, enum md_shadow_kind kind)
{
    bool answered;
    struct job *j;
    size_t size;

    if (s->version == NULL || s->inputs == NULL || s->n_inputs == 0)
        return MD_EINVAL;
    answered = s->stage == MD_PREDICT_DONE && s->code == MD_OK && s->scores != NULL &&
               s->scores->rows > 0 && s->scores->scores != NULL;
    if (!answered && s->stage != MD_PREDICT_INFER)
        return MD_EINVAL;
    /* A full queue is seen before anything is copied: under load, a drop costs little. */
    if (atomic_load_explicit(&x->tail, memory_order_relaxed) -
            atomic_load_explicit(&x->head, memory_order_relaxed) >=
        x->cap) {
        count_drop(x, target);
        return MD_EUNAVAIL;
    }
    size = copy_size(s, answered);
    if (size == 0 || size > x->max_bytes ||
        atomic_fetch_add_explicit(&x->bytes, size, memory_order_relaxed) + size > x->max_bytes) {
        if (size != 0 && size <= x->max_bytes)
            atomic_fetch_sub_explicit(&x->bytes, size, memory_order_relaxed);
        count_drop(x, target);
        return MD_EUNAVAIL;
    }
    j = md_malloc(size);
    if (j == NULL) {
        atomic_fetch_sub_explicit(&x->bytes, size, memory_order_relaxed);
        count_drop(x, target);
        return MD_EUNAVAIL;
    }
    copy_story(j, size, s, answered);
    j->kind = kind;
    j->target = target;
    /* The answering version is the story's, borrowed as const: the copy keeps it alive (a
     * reference count is the one field a reader may change). */
    j->answered = (struct md_version *)s->version;
    md_version_ref(j->target);
    md_version_ref(j->answered);
    atomic_fetch_add_explicit(&x->pending, 1, memory_order_relaxed);
    if (!put(x, j)) {
        job_free(x, j);
        count_drop(x, target);
        return MD_EUNAVAIL;
    }
    atomic_fetch_add_explicit(&x->submitted, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&target->stats->shadow.submitted, 1, memory_order_relaxed);
    sem_post(&x->ready);
    return MD_OK;
}

/* ---- running -------------------------------------------------------------- */

/* The largest |difference| between the two sides' outputs of one row. */
static double row_diff(const float *a, size_t na, const float *b, size_t nb)
{
    double d = 0;
    size_t k;

    if (na != nb)
        return fabs((double)a[0] - (double)b[0]);
    for (k = 0; k < na; k++) {
        double e = fabs((double)a[k] - (double)b[k]);

        if (e > d || isnan(e))
            d = e;
    }
    return d;
}

/* Records the pair of j: the answer (its outputs in pa) against the copy's run (pb, rc). */
static void compare(struct md_shadow *x, const struct job *j, const struct md_prediction *pb,
                    int rc, uint64_t run_ns)
{
    struct md_prediction pa = {.rows = j->rows, .scores = j->scores, .per_row = j->per_row};
    bool mirror = j->kind == MD_SHADOW_MIRROR;
    struct md_compare_sample s;
    struct md_diff_hist diff;
    size_t rows = 0;
    size_t agree = 0;
    size_t r;

    memset(&diff, 0, sizeof(diff));
    s.labels = j->answered->contract->task == MD_TASK_CLASSIFICATION &&
               j->target->contract->task == MD_TASK_CLASSIFICATION;
    if (j->code == MD_OK && rc == MD_OK) {
        rows = j->rows < pb->rows ? j->rows : pb->rows;
        for (r = 0; r < rows; r++) {
            const float *a = j->scores + r * j->per_row;
            const float *b = pb->scores + r * pb->per_row;

            md_diff_hist_add(&diff, row_diff(a, j->per_row, b, pb->per_row));
            if (s.labels && md_infer_label(j->answered, &pa, r) == md_infer_label(j->target, pb, r))
                agree++;
        }
    }
    /* Side a is the reference: the answering version for a shadow, the champion (the copy's
     * target) for a mirror. */
    s.model = j->answered->model;
    s.a = mirror ? j->target->number : j->answered->number;
    s.b = mirror ? j->answered->number : j->target->number;
    s.code_a = mirror ? rc : j->code;
    s.code_b = mirror ? j->code : rc;
    s.ns_a = mirror ? run_ns : j->latency_ns;
    s.ns_b = mirror ? j->latency_ns : run_ns;
    s.rows = rows;
    s.agree = agree;
    s.diff = rows > 0 ? &diff : NULL;
    md_compare_record(x->cmp, &s);
}

/* The HTTP status a copy's outcome would have had (api/'s table, for the codes a run
 * returns). */
static int status_of(int rc)
{
    switch (rc) {
    case MD_OK:
        return 200;
    case MD_EINVAL:
        return 400;
    case MD_ETOOBIG:
        return 413;
    case MD_EUNAVAIL:
        return 503;
    case MD_ETIMEDOUT:
        return 504;
    default:
        return 500;
    }
}

/* Tells the observer the story of the copy j run on its target. */
static void tell(struct md_shadow *x, const struct job *j, const float *in, size_t rows,
                 const struct md_prediction *pred, int rc, uint64_t run_ns)
{
    struct md_predict_story s;

    memset(&s, 0, sizeof(s));
    s.request_id = j->request_id;
    s.model = j->target->model;
    s.version = j->target;
    s.route = MD_SHADOW_ROUTE;
    s.route_name = j->kind == MD_SHADOW_MIRROR ? "mirror" : MD_SHADOW_ROUTE;
    s.status = status_of(rc);
    s.code = rc;
    s.stage = rc == MD_OK ? MD_PREDICT_DONE : in == NULL ? MD_PREDICT_VALIDATE : MD_PREDICT_INFER;
    s.error = "";
    s.inputs = j->inputs;
    s.n_inputs = j->n_inputs;
    s.prepared = in;
    s.rows = in != NULL ? rows : 0;
    s.scores = pred;
    s.latency_ns = run_ns;
    s.shadow = true;
    x->observer.told(x->observer.ctx, &s);
}

static void run(struct md_shadow *x, struct job *j, struct md_arena *a)
{
    struct md_version *v = j->target;
    struct md_infer_call *call = NULL;
    struct md_prediction pred;
    struct md_err err;
    uint64_t t0 = md_now_ns();
    size_t rows = 0;
    float *in = NULL;
    int rc;

    memset(&pred, 0, sizeof(pred));
    if (x->delay_ms > 0) {
        struct timespec ts = {.tv_sec = x->delay_ms / 1000,
                              .tv_nsec = (long)(x->delay_ms % 1000) * 1000000L};

        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    rc = md_infer_prepare(v, j->inputs, j->n_inputs, a, &in, &rows, &err);
    if (rc == MD_OK)
        rc = md_infer_submit(v, in, rows, md_infer_deadline(v, t0, 0), a, NULL, NULL, &pred, &call,
                             &err);
    md_infer_account(v, MD_SHADOW_ROUTE, &pred, rc, t0);
    atomic_fetch_add_explicit(&x->run, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&v->stats->shadow.run, 1, memory_order_relaxed);
    if (rc != MD_OK) {
        atomic_fetch_add_explicit(&x->failed, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&v->stats->shadow.failed, 1, memory_order_relaxed);
        md_log_kv(MD_LOG_DEBUG, "shadow copy failed", "model", v->model, "version", v->version_str,
                  "reason", err.msg, MD_KV_END);
    }
    compare(x, j, &pred, rc, md_now_ns() - t0);
    if (x->observer.told != NULL)
        tell(x, j, in, rows, &pred, rc, md_now_ns() - t0);
}

static void *worker(void *arg)
{
    struct md_shadow *x = arg;
    struct md_arena a;
    struct job *j;

    /* Lower priority for this thread only (Linux: nice is per thread). Raising one's own
     * nice value needs no privilege; should it fail, the copies still run. */
    if (x->nice != 0 && setpriority(PRIO_PROCESS, (id_t)gettid(), x->nice) != 0)
        md_log_kv(MD_LOG_WARN, "shadow worker keeps its priority", "reason", strerror(errno),
                  MD_KV_END);
    md_arena_init(&a, WORK_ARENA_MAX);
    for (;;) {
        while (sem_wait(&x->ready) != 0)
            ; /* EINTR */
        if (atomic_load_explicit(&x->stop, memory_order_acquire))
            break;
        /* A post follows each copy published; the head's may still be being written by a
         * producer that claimed it before the one that posted: it will be there at once. */
        while ((j = take(x)) == NULL)
            sched_yield();
        run(x, j, &a);
        md_arena_reset(&a);
        job_free(x, j);
    }
    md_arena_release(&a);
    return NULL;
}

/* ---- the executor --------------------------------------------------------- */

int md_shadow_new(const struct md_shadow_config *cfg, struct md_compare *cmp,
                  struct md_shadow **out, struct md_err *err)
{
    struct md_shadow *x;
    size_t i;
    int rc;

    *out = NULL;
    if (cfg->queue < 1 || cfg->queue > MD_SHADOW_QUEUE_MAX)
        return md_err_set(err, MD_EINVAL, "shadow queue: %zu is not from 1 to %d", cfg->queue,
                          MD_SHADOW_QUEUE_MAX);
    if (cfg->threads < 1 || cfg->threads > MD_SHADOW_THREADS_MAX)
        return md_err_set(err, MD_EINVAL, "shadow threads: %u is not from 1 to %d", cfg->threads,
                          MD_SHADOW_THREADS_MAX);
    if (cfg->nice < 0 || cfg->nice > 19)
        return md_err_set(err, MD_EINVAL, "shadow nice: %d is not from 0 to 19", cfg->nice);
    x = md_xcalloc(1, sizeof(*x));
    x->cap = cfg->queue;
    x->cells = md_xcalloc(x->cap, sizeof(*x->cells));
    for (i = 0; i < x->cap; i++)
        atomic_init(&x->cells[i].seq, i);
    x->nice = cfg->nice;
    x->delay_ms = cfg->delay_ms;
    x->observer = cfg->observer;
    x->max_bytes = cfg->max_bytes > 0 ? cfg->max_bytes : MD_SHADOW_BYTES_DEFAULT;
    x->cmp = cmp;
    if (sem_init(&x->ready, 0, 0) != 0) {
        free(x->cells);
        free(x);
        return md_err_set(err, MD_EINTERNAL, "shadow queue: %s", strerror(errno));
    }
    for (i = 0; i < cfg->threads; i++) {
        rc = pthread_create(&x->threads[i], NULL, worker, x);
        if (rc != 0) {
            md_shadow_free(x);
            return md_err_set(err, MD_EINTERNAL, "shadow worker: %s", strerror(rc));
        }
        x->n_threads++;
    }
    *out = x;
    return MD_OK;
}

void md_shadow_free(struct md_shadow *x)
{
    struct job *j;
    unsigned i;

    if (x == NULL)
        return;
    atomic_store_explicit(&x->stop, true, memory_order_release);
    for (i = 0; i < x->n_threads; i++)
        sem_post(&x->ready);
    for (i = 0; i < x->n_threads; i++)
        pthread_join(x->threads[i], NULL);
    while ((j = take(x)) != NULL) {
        count_drop(x, j->target);
        job_free(x, j);
    }
    sem_destroy(&x->ready);
    free(x->cells);
    free(x);
}

void md_shadow_counts(const struct md_shadow *x, struct md_shadow_counts *out)
{
    out->submitted = atomic_load_explicit(&x->submitted, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&x->dropped, memory_order_relaxed);
    out->run = atomic_load_explicit(&x->run, memory_order_relaxed);
    out->failed = atomic_load_explicit(&x->failed, memory_order_relaxed);
    out->depth = atomic_load_explicit(&x->pending, memory_order_relaxed);
    out->capacity = x->cap;
}

bool md_shadow_drain(struct md_shadow *x, unsigned timeout_ms)
{
    struct timespec ms = {.tv_sec = 0, .tv_nsec = 1000000L};
    unsigned waited;

    for (waited = 0;; waited++) {
        if (atomic_load_explicit(&x->pending, memory_order_acquire) == 0)
            return true;
        if (waited >= timeout_ms)
            return false;
        nanosleep(&ms, NULL);
    }
}
