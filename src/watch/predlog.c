/* SPDX-License-Identifier: MIT */
/*
 * predlog.c: the prediction log's ring, its writer thread, the retention
 * jobs and the keyed hash. What goes into an entry and how it becomes rows
 * is the producer's (serve/predrec.c); the SQL is the store's
 * (store/sqlite_log.c).
 *
 * The ring is a bounded multi-producer ring of entry pointers (D. Vyukov's,
 * as serve/shadow.c's): a producer claims a cell with one compare and swap
 * and never waits. The bound is in records, not entries: a producer first
 * adds its entry's rows to the count of records queued and drops the entry
 * when that would pass the capacity; since every entry holds at least one
 * record, the cells (as many as records) never run out first.
 *
 * The writer sleeps on a semaphore only after it has said so (sleeping)
 * and found the ring empty; a producer posts only when it sees the writer
 * asleep, so a busy writer costs producers no system call. Both sides
 * make their store (the claim of a cell; sleeping) and their look at the
 * other's (sleeping; the tail) sequentially consistent (the Dekker
 * pattern), so a put is never missed; the writer also wakes every 100 ms
 * whatever happens.
 */
#include "watch/predlog.h"
#include "util/log.h"
#include "watch/metrics.h"
#include "util/mem.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define DROP_SECONDS      3600 /* the drops the signal can look back on, by second */
#define MD_PREDLOG_NAP_MS 20   /* the writer's pause after a batch well short of full */

#define RETENTION_EVENT_MS 3600000 /* a retention event at most this often */

struct cell {
    _Atomic size_t seq;
    struct md_predlog_entry *e;
};

/* Records dropped in one wall-clock second. */
struct drop_second {
    _Atomic int64_t second; /* which second the count is of */
    _Atomic uint64_t n;
};

struct md_predlog {
    struct cell *cells;
    size_t cap;   /* cells, = the capacity in records */
    size_t batch; /* records per commit at most */
    int nice;     /* the writer's nice value */
    _Atomic size_t tail;
    size_t head;                   /* the writer's only */
    _Atomic size_t queued;         /* records in the ring */
    _Atomic uint64_t put;          /* records queued since start */
    _Atomic uint64_t done;         /* of those, records committed or failed */
    _Atomic bool sleeping;         /* the writer waits on wake */
    _Atomic unsigned flush_wanted; /* callers waiting in md_predlog_flush: no nap */
    _Atomic bool stop;
    sem_t wake;
    pthread_t thread;
    bool started;
    bool idle;                   /* the writer waits in the idle class while it keeps up */
    _Atomic bool in_idle;        /* it is in the idle class now */
    uint64_t tick_done;          /* the control task's: done at its last look */
    _Atomic uint64_t promotions; /* times the tick took the writer out of the idle class */
    struct md_store *store;
    struct md_store_obs *obs; /* the writer's connection */
    struct md_predlog_ops ops;
    struct md_arena arena;           /* the writer's: one batch's rows */
    struct md_store_prediction *out; /* the writer's: batch rows, out_cap of them */
    size_t out_cap;
    _Atomic uint64_t written;
    _Atomic uint64_t dropped;
    _Atomic uint64_t failed;
    _Atomic uint64_t batches;
    _Atomic uint64_t lag_ms;
    _Atomic uint64_t largest;
    _Atomic uint64_t retained;
    _Atomic uint64_t trimmed;
    _Atomic uint64_t feedback_expired;
    _Atomic uint64_t review_expired;
    struct drop_second drops[DROP_SECONDS];
    /* retention: one step at a time (control's tick submits, the store thread runs) */
    struct md_predlog_retention retain_args; /* written by retain while retain_running is
                                                false and it claims it; read by the writer */
    int64_t retain_now_ms;
    int64_t trim_cursor; /* the store thread's: the lowest id that may still have features */
    _Atomic bool retain_running; /* a step asked for and not yet done */
    _Atomic bool retain_wanted;  /* the writer is to run it */
    _Atomic bool retain_busy;
    /* What retention removed since its last event (the writer's, in retain_run). */
    int64_t ev_predictions, ev_trimmed, ev_feedback, ev_review;
    int64_t ev_last_ms; /* when the last retention event was written; 0: none yet */
};

void md_predlog_config_init(struct md_predlog_config *cfg)
{
    cfg->ring = MD_PREDLOG_RING_DEFAULT;
    cfg->batch = 0;
    cfg->nice = MD_PREDLOG_NICE;
    cfg->idle = false;
}

/* ---- the ring ------------------------------------------------------------- */

static bool ring_put(struct md_predlog *l, struct md_predlog_entry *e)
{
    size_t pos = atomic_load_explicit(&l->tail, memory_order_relaxed);
    struct cell *c;

    for (;;) {
        size_t seq;

        c = &l->cells[pos % l->cap];
        seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        if (seq == pos) {
            /* seq_cst: the claim is ordered before the producer's look at sleeping,
             * against the writer's store to sleeping and look at tail (free on x86,
             * where a compare and swap is a full barrier). */
            if (atomic_compare_exchange_weak_explicit(&l->tail, &pos, pos + 1, memory_order_seq_cst,
                                                      memory_order_relaxed))
                break;
        } else if ((ptrdiff_t)(seq - pos) < 0) {
            return false;
        } else {
            pos = atomic_load_explicit(&l->tail, memory_order_relaxed);
        }
    }
    c->e = e;
    atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
    return true;
}

/* The entry at the head, or NULL when none is published there (the writer only). */
static struct md_predlog_entry *ring_take(struct md_predlog *l)
{
    struct cell *c = &l->cells[l->head % l->cap];
    struct md_predlog_entry *e;

    if (atomic_load_explicit(&c->seq, memory_order_acquire) != l->head + 1)
        return NULL;
    e = c->e;
    atomic_store_explicit(&c->seq, l->head + l->cap, memory_order_release);
    l->head++;
    return e;
}

/* Whether a producer has claimed a cell it has not published yet, or one is waiting. */
static bool ring_pending(struct md_predlog *l)
{
    return atomic_load_explicit(&l->tail, memory_order_seq_cst) != l->head;
}

static int64_t wall_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

void md_predlog_count_dropped(struct md_predlog *l, size_t n)
{
    int64_t s = wall_s();
    struct drop_second *d = &l->drops[(uint64_t)s % DROP_SECONDS];
    int64_t was = atomic_load_explicit(&d->second, memory_order_relaxed);

    atomic_fetch_add_explicit(&l->dropped, n, memory_order_relaxed);
    /* A new second takes the slot over; two droppers racing for it may lose
     * a count of the slot, never of the total. */
    if (was != s && atomic_compare_exchange_strong_explicit(
                        &d->second, &was, s, memory_order_relaxed, memory_order_relaxed))
        atomic_store_explicit(&d->n, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->n, n, memory_order_relaxed);
}

uint64_t md_predlog_dropped_within(const struct md_predlog *l, int64_t window_ms)
{
    int64_t now = wall_s();
    int64_t secs = window_ms <= 0 ? 1 : (window_ms + 999) / 1000;
    uint64_t n = 0;
    size_t i;

    if (secs > DROP_SECONDS)
        secs = DROP_SECONDS;
    for (i = 0; i < DROP_SECONDS; i++) {
        int64_t s = atomic_load_explicit(&l->drops[i].second, memory_order_relaxed);

        if (s > now - secs && s <= now)
            n += atomic_load_explicit(&l->drops[i].n, memory_order_relaxed);
    }
    return n;
}

bool md_predlog_put(struct md_predlog *l, struct md_predlog_entry *e)
{
    size_t rows = e->rows;
    size_t was;

    if (atomic_load_explicit(&l->stop, memory_order_relaxed))
        goto drop;
    /* A full ring is seen before anything else: under load a drop costs one load. */
    was = atomic_load_explicit(&l->queued, memory_order_relaxed);
    if (rows > l->cap || was > l->cap - rows)
        goto drop;
    was = atomic_fetch_add_explicit(&l->queued, rows, memory_order_relaxed);
    if (was > l->cap - rows) {
        atomic_fetch_sub_explicit(&l->queued, rows, memory_order_relaxed);
        goto drop;
    }
    e->put_ns = md_now_ns();
    atomic_fetch_add_explicit(&l->put, rows, memory_order_relaxed);
    if (!ring_put(l, e)) { /* cannot happen: cells >= records */
        atomic_fetch_sub_explicit(&l->queued, rows, memory_order_relaxed);
        atomic_fetch_add_explicit(&l->done, rows, memory_order_relaxed);
        goto drop;
    }
    if (atomic_load_explicit(&l->sleeping, memory_order_seq_cst) &&
        atomic_exchange_explicit(&l->sleeping, false, memory_order_relaxed))
        sem_post(&l->wake);
    return true;
drop:
    md_predlog_count_dropped(l, rows);
    l->ops.release(l->ops.ctx, e);
    return false;
}

/* ---- the writer ----------------------------------------------------------- */

struct batch {
    const struct md_store_prediction *rows;
    size_t n;
};

static int add_rows(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    const struct batch *b = ctx;

    return md_store_tx_predictions_add(tx, b->rows, b->n, err);
}

/*
 * The writer's scheduling class: idle (SCHED_IDLE: it runs only on a CPU
 * nothing else wants, so a request never waits for it) or normal at its
 * nice value. Leaving the idle class for the normal one at the same nice
 * value needs no privilege (sched(7)). Either thread may call it.
 */
static void set_idle(struct md_predlog *l, pthread_t t, bool idle)
{
    struct sched_param sp;

    memset(&sp, 0, sizeof(sp));
    if (pthread_setschedparam(t, idle ? SCHED_IDLE : SCHED_OTHER, &sp) == 0)
        atomic_store_explicit(&l->in_idle, idle, memory_order_relaxed);
}

/* Waits for a put, at most 100 ms. */
static void writer_sleep(struct md_predlog *l)
{
    struct timespec ts;

    /* Caught up: back to the idle class (not once stopping: the rest is drained at once). */
    if (l->idle && !atomic_load_explicit(&l->in_idle, memory_order_relaxed) &&
        !atomic_load_explicit(&l->stop, memory_order_acquire))
        set_idle(l, pthread_self(), true);
    atomic_store_explicit(&l->sleeping, true, memory_order_seq_cst);
    if (ring_pending(l) || atomic_load_explicit(&l->stop, memory_order_acquire) ||
        atomic_load_explicit(&l->retain_wanted, memory_order_seq_cst)) {
        atomic_store_explicit(&l->sleeping, false, memory_order_relaxed);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (sem_timedwait(&l->wake, &ts) != 0 && errno == EINTR)
        ;
    atomic_store_explicit(&l->sleeping, false, memory_order_relaxed);
}

/* Commits the entries first..(n records) as one batch, then releases them. */
static void write_batch(struct md_predlog *l, struct md_predlog_entry *first, size_t records)
{
    struct batch b = {l->out, 0};
    struct md_predlog_entry *e;
    struct md_predlog_entry *next;
    uint64_t oldest = first->put_ns;
    struct md_err err;
    uint64_t now;
    int rc;

    if (records > l->out_cap) { /* an entry larger than a batch: room for its rows */
        free(l->out);
        l->out = md_xcalloc(records, sizeof(*l->out));
        l->out_cap = records;
        b.rows = l->out;
    }
    for (e = first; e != NULL; e = e->next) {
        size_t n = 0;

        l->ops.format(l->ops.ctx, e, &l->arena, l->out + b.n, &n);
        b.n += n < e->rows ? n : e->rows;
        if (e->put_ns < oldest)
            oldest = e->put_ns;
    }
    rc = b.n > 0 ? md_store_obs_call(l->obs, add_rows, &b, &err) : MD_OK;
    now = md_now_ns();
    if (rc == MD_OK) {
        atomic_fetch_add_explicit(&l->written, b.n, memory_order_relaxed);
        atomic_fetch_add_explicit(&l->batches, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&l->failed, b.n, memory_order_relaxed);
        md_log_kv(MD_LOG_WARN, "prediction log: a batch was not stored", "reason", err.msg,
                  MD_KV_END);
    }
    if (records > atomic_load_explicit(&l->largest, memory_order_relaxed))
        atomic_store_explicit(&l->largest, records, memory_order_relaxed);
    atomic_store_explicit(&l->lag_ms, now > oldest ? (now - oldest) / 1000000u : 0,
                          memory_order_relaxed);
    for (e = first; e != NULL; e = next) {
        next = e->next;
        l->ops.release(l->ops.ctx, e);
    }
    md_arena_reset(&l->arena);
    atomic_fetch_add_explicit(&l->done, records, memory_order_release);
}

static void retain_step(struct md_predlog *l);

static void *writer(void *arg)
{
    struct md_predlog *l = arg;
    const struct timespec nap = {.tv_sec = 0, .tv_nsec = MD_PREDLOG_NAP_MS * 1000000L};

    /* Logging gives way first under load (shared/DESIGN.md): this thread runs at nice 10,
     * as the shadow workers do; raising one's own nice value needs no privilege, and
     * should it fail the log still runs. */
    if (l->nice != 0 && setpriority(PRIO_PROCESS, (id_t)gettid(), l->nice) != 0)
        md_log_kv(MD_LOG_WARN, "prediction log writer keeps its priority", "reason",
                  strerror(errno), MD_KV_END);
    if (l->idle)
        set_idle(l, pthread_self(), true);
    for (;;) {
        struct md_predlog_entry *first = NULL;
        struct md_predlog_entry **link = &first;
        struct md_predlog_entry *e;
        size_t records = 0;

        /* Takes entries while the batch has room: the first always. */
        while (records < l->batch) {
            e = ring_take(l);
            if (e == NULL) {
                if (!ring_pending(l))
                    break;
                sched_yield(); /* claimed, not yet published: it comes at once */
                continue;
            }
            if (records > 0 && records + e->rows > l->batch) {
                /* It waits for the next batch: put back is not possible, so it leads it. */
                e->next = NULL;
                *link = NULL;
                atomic_fetch_sub_explicit(&l->queued, records, memory_order_relaxed);
                write_batch(l, first, records);
                first = e;
                link = &e->next;
                records = e->rows;
                continue;
            }
            e->next = NULL;
            *link = e;
            link = &e->next;
            records += e->rows;
        }
        if (records > 0) {
            atomic_fetch_sub_explicit(&l->queued, records, memory_order_relaxed);
            write_batch(l, first, records);
            retain_step(l);
            /* A batch well short of full: the writer naps before the next, so that
             * under a moderate load it runs some 50 times a second in batches of
             * hundreds, rather than once per put in batches of a few: each wake
             * takes a CPU from the requests on a small machine (and a producer's
             * sem_post), and each commit has a fixed cost. Full batches (a backlog)
             * go on at once. */
            if (records < l->batch / 4 && !atomic_load_explicit(&l->stop, memory_order_acquire) &&
                !atomic_load_explicit(&l->flush_wanted, memory_order_acquire))
                nanosleep(&nap, NULL);
            continue;
        }
        retain_step(l);
        if (atomic_load_explicit(&l->stop, memory_order_acquire) && !ring_pending(l))
            break;
        writer_sleep(l);
    }
    return NULL;
}

/* ---- the log -------------------------------------------------------------- */

int md_predlog_new(const struct md_predlog_config *cfg, struct md_store *store,
                   const struct md_predlog_ops *ops, struct md_predlog **out, struct md_err *err)
{
    struct md_predlog *l;
    size_t batch = cfg->batch;
    size_t i;
    int rc;

    *out = NULL;
    if (cfg->ring < 1 || cfg->ring > MD_PREDLOG_RING_MAX)
        return md_err_set(err, MD_EINVAL, "log ring: %zu is not from 1 to %d", cfg->ring,
                          MD_PREDLOG_RING_MAX);
    if (batch == 0)
        batch = cfg->ring < MD_PREDLOG_BATCH_DEFAULT ? cfg->ring : MD_PREDLOG_BATCH_DEFAULT;
    if (cfg->nice < 0 || cfg->nice > 19)
        return md_err_set(err, MD_EINVAL, "log nice: %d is not from 0 to 19", cfg->nice);
    if (batch > cfg->ring)
        return md_err_set(err, MD_EINVAL, "log batch: %zu is above the ring's %zu records", batch,
                          cfg->ring);
    l = md_xcalloc(1, sizeof(*l));
    l->cap = cfg->ring;
    l->batch = batch;
    l->nice = cfg->nice;
    l->idle = cfg->idle;
    l->store = store;
    l->ops = *ops;
    l->cells = md_xcalloc(l->cap, sizeof(*l->cells));
    for (i = 0; i < l->cap; i++)
        atomic_init(&l->cells[i].seq, i);
    /* Room for a batch; an entry larger than a batch, written alone, gets more. */
    l->out = md_xcalloc(batch, sizeof(*l->out));
    l->out_cap = batch;
    md_arena_init(&l->arena, (size_t)1 << 34);
    rc = md_store_obs_open(store, &l->obs, err);
    if (rc != MD_OK) {
        md_arena_release(&l->arena);
        free(l->out);
        free(l->cells);
        free(l);
        return rc;
    }
    if (sem_init(&l->wake, 0, 0) != 0) {
        rc = errno;
        md_store_obs_close(l->obs);
        md_arena_release(&l->arena);
        free(l->out);
        free(l->cells);
        free(l);
        return md_err_set(err, MD_EINTERNAL, "prediction log: %s", strerror(rc));
    }
    rc = pthread_create(&l->thread, NULL, writer, l);
    if (rc != 0) {
        md_predlog_free(l);
        return md_err_set(err, MD_EINTERNAL, "prediction log writer: %s", strerror(rc));
    }
    l->started = true;
    *out = l;
    return MD_OK;
}

void md_predlog_free(struct md_predlog *l)
{
    struct md_predlog_entry *e;

    if (l == NULL)
        return;
    atomic_store_explicit(&l->stop, true, memory_order_release);
    if (l->started) {
        /* What is left is written now, not when a CPU has nothing else to do: an idle-class
         * writer on a busy machine would hold the shutdown for as long as the load lasts. */
        if (l->idle)
            set_idle(l, l->thread, false);
        sem_post(&l->wake);
        pthread_join(l->thread, NULL);
    }
    while ((e = ring_take(l)) != NULL) /* only when the thread never ran */
        l->ops.release(l->ops.ctx, e);
    sem_destroy(&l->wake);
    md_store_obs_close(l->obs);
    md_arena_release(&l->arena);
    free(l->out);
    free(l->cells);
    free(l);
}

bool md_predlog_flush(struct md_predlog *l, unsigned timeout_ms)
{
    uint64_t target = atomic_load_explicit(&l->put, memory_order_acquire);
    struct timespec ms = {.tv_sec = 0, .tv_nsec = 1000000L};
    unsigned waited;
    bool ok;

    atomic_fetch_add_explicit(&l->flush_wanted, 1, memory_order_release);
    for (waited = 0;; waited++) {
        ok = atomic_load_explicit(&l->done, memory_order_acquire) >= target;
        if (ok || waited >= timeout_ms)
            break;
        nanosleep(&ms, NULL);
    }
    atomic_fetch_sub_explicit(&l->flush_wanted, 1, memory_order_release);
    return ok;
}

void md_predlog_counts(const struct md_predlog *l, struct md_predlog_counts *out)
{
    out->written = atomic_load_explicit(&l->written, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&l->dropped, memory_order_relaxed);
    out->failed = atomic_load_explicit(&l->failed, memory_order_relaxed);
    out->batches = atomic_load_explicit(&l->batches, memory_order_relaxed);
    out->depth = atomic_load_explicit(&l->queued, memory_order_relaxed);
    out->capacity = l->cap;
    out->lag_ms = atomic_load_explicit(&l->lag_ms, memory_order_relaxed);
    out->largest = atomic_load_explicit(&l->largest, memory_order_relaxed);
    out->retained = atomic_load_explicit(&l->retained, memory_order_relaxed);
    out->fb_expired = atomic_load_explicit(&l->feedback_expired, memory_order_relaxed);
    out->rv_expired = atomic_load_explicit(&l->review_expired, memory_order_relaxed);
    out->trimmed = atomic_load_explicit(&l->trimmed, memory_order_relaxed);
    out->promotions = atomic_load_explicit(&l->promotions, memory_order_relaxed);
    out->idle = atomic_load_explicit(&l->in_idle, memory_order_relaxed);
}

void md_predlog_tick(struct md_predlog *l)
{
    uint64_t done = atomic_load_explicit(&l->done, memory_order_acquire);

    /* Records wait and none was written since the last look: the idle class starves the
     * writer (every CPU busy), so it goes back to its nice value until it catches up. */
    if (l->idle && atomic_load_explicit(&l->in_idle, memory_order_relaxed) &&
        atomic_load_explicit(&l->queued, memory_order_relaxed) > 0 && done == l->tick_done) {
        set_idle(l, l->thread, false);
        atomic_fetch_add_explicit(&l->promotions, 1, memory_order_relaxed);
    }
    l->tick_done = done;
}

/* ---- the signal ----------------------------------------------------------- */

static int dropped_signal(void *ctx, const struct md_signal_query *q, struct md_signal_value *out,
                          struct md_err *err)
{
    const struct md_predlog *l = ctx;
    uint64_t n;

    MD_UNUSED(err);
    n = md_predlog_dropped_within(l, q->window_ms);
    out->value = (double)n;
    out->samples = n;
    return MD_OK;
}

int md_predlog_signals(struct md_predlog *l, struct md_signals *s, struct md_err *err)
{
    static const struct md_signal_info info = {
        "log_dropped", "count", NULL,
        "prediction records dropped because the log's ring was full (server-wide)"};

    return md_signals_add(s, &info, dropped_signal, l, err);
}

/* ---- retention ------------------------------------------------------------ */

/*
 * Writes the retention event, in the step's transaction, when something was removed since
 * the last one and the last is RETENTION_EVENT_MS old (the first at once): a record of what
 * retention removed without an event per step.
 */
static int retain_event(struct md_store_tx *tx, struct md_predlog *l, int64_t before_ms,
                        struct md_err *err)
{
    struct md_store_event ev;
    char details[320];
    int rc;

    if (l->ev_predictions + l->ev_trimmed + l->ev_feedback + l->ev_review == 0 ||
        (l->ev_last_ms != 0 && l->retain_now_ms - l->ev_last_ms < RETENTION_EVENT_MS))
        return MD_OK;
    (void)snprintf(details, sizeof(details),
                   "{\"predictions\":%lld,\"features_cleared\":%lld,\"feedback\":%lld,"
                   "\"review_items\":%lld,\"before_ms\":%lld,\"since_ms\":%lld}",
                   (long long)l->ev_predictions, (long long)l->ev_trimmed,
                   (long long)l->ev_feedback, (long long)l->ev_review, (long long)before_ms,
                   (long long)l->ev_last_ms);
    memset(&ev, 0, sizeof(ev));
    ev.at_ms = l->retain_now_ms;
    ev.model = "";
    ev.kind = "retention";
    ev.message = "retention removed prediction records, features, feedback or review items "
                 "past their age";
    ev.details = details;
    rc = md_store_tx_event_add(tx, &ev, NULL, err);
    if (rc == MD_OK) {
        l->ev_predictions = l->ev_trimmed = l->ev_feedback = l->ev_review = 0;
        l->ev_last_ms = l->retain_now_ms;
    }
    return rc;
}

static int retain_run(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct md_predlog *l = ctx;
    const struct md_predlog_retention *r = &l->retain_args;
    int64_t before_ms = l->retain_now_ms - r->horizon_ms;
    int64_t removed = 0;
    int64_t trimmed = 0;
    int64_t feedback = 0;
    int64_t review = 0;
    int rc;

    rc = md_store_tx_predictions_expire(tx, before_ms, r->chunk, &removed, err);
    if (rc == MD_OK && (r->features_ms > 0 || r->features_rows > 0))
        rc = md_store_tx_predictions_trim(
            tx, r->features_ms > 0 ? l->retain_now_ms - r->features_ms : 0, r->features_rows,
            r->chunk, &l->trim_cursor, &trimmed, err);
    /* Feedback and review items follow the records they are about: past the same horizon. */
    if (rc == MD_OK)
        rc = md_store_tx_feedback_expire(tx, before_ms, r->chunk, &feedback, &review, err);
    if (rc == MD_OK) {
        l->ev_predictions += removed;
        l->ev_trimmed += trimmed;
        l->ev_feedback += feedback;
        l->ev_review += review;
        rc = retain_event(tx, l, before_ms, err);
    }
    if (rc == MD_OK) {
        atomic_fetch_add_explicit(&l->retained, (uint64_t)removed, memory_order_relaxed);
        atomic_fetch_add_explicit(&l->trimmed, (uint64_t)trimmed, memory_order_relaxed);
        atomic_fetch_add_explicit(&l->feedback_expired, (uint64_t)feedback, memory_order_relaxed);
        atomic_fetch_add_explicit(&l->review_expired, (uint64_t)review, memory_order_relaxed);
        atomic_store_explicit(&l->retain_busy,
                              (size_t)removed >= r->chunk || (size_t)trimmed >= r->chunk ||
                                  (size_t)feedback >= r->chunk || (size_t)review >= r->chunk,
                              memory_order_relaxed);
    }
    return rc;
}

/* The writer: runs the retention step asked for, if any (between batches). */
static void retain_step(struct md_predlog *l)
{
    struct md_err err;

    if (!atomic_load_explicit(&l->retain_wanted, memory_order_acquire))
        return;
    if (md_store_obs_call(l->obs, retain_run, l, &err) != MD_OK)
        md_log_kv(MD_LOG_WARN, "prediction log: retention step failed", "reason", err.msg,
                  MD_KV_END);
    atomic_store_explicit(&l->retain_wanted, false, memory_order_relaxed);
    atomic_store_explicit(&l->retain_running, false, memory_order_release);
}

void md_predlog_retain(struct md_predlog *l, const struct md_predlog_retention *r, int64_t now_ms)
{
    bool idle = false;

    if (!atomic_compare_exchange_strong(&l->retain_running, &idle, true))
        return; /* the last step has not run yet */
    l->retain_args = *r;
    if (l->retain_args.chunk == 0)
        l->retain_args.chunk = 10000;
    l->retain_now_ms = now_ms;
    atomic_store_explicit(&l->retain_wanted, true, memory_order_seq_cst);
    if (atomic_exchange_explicit(&l->sleeping, false, memory_order_seq_cst))
        sem_post(&l->wake);
}

bool md_predlog_retain_busy(const struct md_predlog *l)
{
    return atomic_load_explicit(&l->retain_busy, memory_order_relaxed);
}

/* ---- keyed hashes --------------------------------------------------------- */

void md_predlog_hmac(const unsigned char *key, size_t klen, const void *p, size_t n, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    size_t i;

    if (HMAC(EVP_sha256(), key, (int)klen, p, n, mac, &len) == NULL || len != 32) {
        memset(out, '0', 64);
        out[64] = '\0';
        return;
    }
    for (i = 0; i < len; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[64] = '\0';
}

int md_predlog_key_read(const char *path, unsigned char *key, size_t *klen, struct md_err *err)
{
    FILE *f = fopen(path, "rb");
    size_t n;
    int c;

    *klen = 0;
    if (f == NULL)
        return md_err_set(err, MD_EIO, "pii key file '%s': %s", path, strerror(errno));
    n = fread(key, 1, MD_PREDLOG_KEY_MAX, f);
    c = fgetc(f);
    if (ferror(f)) {
        (void)fclose(f);
        return md_err_set(err, MD_EIO, "pii key file '%s': cannot be read", path);
    }
    (void)fclose(f);
    if (c != EOF)
        return md_err_set(err, MD_EINVAL, "pii key file '%s': longer than %d bytes", path,
                          MD_PREDLOG_KEY_MAX);
    if (n > 0 && key[n - 1] == '\n')
        n--;
    if (n > 0 && key[n - 1] == '\r')
        n--;
    if (n < 16)
        return md_err_set(err, MD_EINVAL, "pii key file '%s': %zu bytes; a key has at least 16",
                          path, n);
    *klen = n;
    return MD_OK;
}
