/* SPDX-License-Identifier: MIT */
/*
 * batcher.h: dynamic batching for one model version (model.yaml's
 * dynamic_batching): a bounded queue of prepared requests and `instances`
 * worker threads that gather them into one engine call, then hand each
 * request its own rows of the output.
 *
 * A request thread calls md_batcher_run with its prepared matrix and blocks
 * until its rows are predicted, refused (full queue) or expired (deadline);
 * or it calls md_batcher_submit, which returns at once and has a callback
 * tell when the rows are done, so that an event-loop thread serves other
 * connections meanwhile.
 * A worker takes the queued requests in arrival order up to max_batch_size
 * rows (a request of more rows runs alone), waiting at most
 * max_queue_delay_us after the first of them for more to arrive. It stops
 * waiting early when the rows reach a preferred size or max_batch_size, or
 * when no request is on its way (see md_batcher_announce): waiting then
 * would only add latency. A caller of md_batcher_run that finds the engine
 * idle, the queue empty, no other request on its way and no request queued
 * in the last millisecond runs its rows itself on its own thread, so a lone
 * client pays no hand-off; under load requests gather in the queue while
 * the engine is busy.
 *
 * Threads: everything is thread-safe. The queue is guarded by the batcher's
 * mutex, never held across an engine call. The batcher belongs to its
 * version: md_version_load creates it, the version's last unref frees it.
 * Every queued request holds a reference to the version, so by then the
 * queue is empty; md_batcher_free still drains whatever is queued before it
 * stops the workers.
 */
#ifndef MD_SERVE_BATCHER_H
#define MD_SERVE_BATCHER_H

#include "util/common.h"
#include "util/err.h"
#include "serve/model.h"

#include <stdatomic.h>

/* What one request's trip through the batcher cost. */
struct md_batch_info {
    uint64_t queue_ns;  /* from enqueue to its batch's start; 0 when it ran itself */
    uint64_t engine_ns; /* the engine call its rows were part of */
    size_t batch_rows;  /* rows in that engine call */
};

/* Per batch size: Triton's batch_stats (gather, engine and scatter time). */
struct md_batch_size_stats {
    _Atomic uint64_t count;     /* engine calls of this many rows */
    _Atomic uint64_t input_ns;  /* copying requests' rows into the batch */
    _Atomic uint64_t infer_ns;  /* the engine call */
    _Atomic uint64_t output_ns; /* copying the outputs back to each request */
};

struct md_batcher;

/* One request's rows in the queue: caller memory, valid until the job is
 * done. Every field is private to the batcher; read the outcome with
 * md_batch_job_result. */
struct md_batch_job {
    const float *x; /* rows * width floats */
    float *out;     /* rows * n_outputs floats */
    size_t rows;
    uint64_t deadline_ns;      /* 0: none */
    uint64_t enq_ns;           /* when it was queued */
    struct md_batch_job *prev; /* queue links, under the batcher's mutex */
    struct md_batch_job *next;
    _Atomic uint32_t state;    /* queued, taken, done; a waiter flag */
    int rc;                    /* final once done */
    struct md_batch_info info; /* final once done */
    struct md_err err;         /* final once done, when rc is not MD_OK */
    void (*done)(void *ctx);   /* NULL: the caller waits in md_batcher_run */
    void *done_ctx;
};

/*
 * Creates the batcher of v from v->contract's batching settings and starts
 * its instances workers. v must have its engine, desc, model and stats set;
 * it is borrowed for the batcher's life. MD_EINTERNAL when a thread cannot
 * start.
 */
int md_batcher_new(struct md_version *v, struct md_batcher **out, struct md_err *err) MD_MUST_CHECK;

/* Drains the queue, stops and joins the workers, frees b. NULL ok. Must not
 * run on a worker (a worker holds no version reference, so it never does). */
void md_batcher_free(struct md_batcher *b);

/*
 * Announces a request that will soon call md_batcher_run with announced true
 * (or md_batcher_withdraw): while requests are announced, a gathering worker
 * waits for them (up to max_queue_delay_us) instead of sending a partial
 * batch. Lock-free.
 */
void md_batcher_announce(struct md_batcher *b);
/* Takes back an announcement whose request will not run (bad input). */
void md_batcher_withdraw(struct md_batcher *b);

/*
 * Predicts rows rows of x (rows * the engine's n_features floats) into out
 * (rows * n_outputs floats) as part of a batch; blocks until done. Both
 * buffers are borrowed until it returns. deadline_ns: CLOCK_MONOTONIC
 * nanoseconds (md_now_ns) by which the rows must have reached the engine, 0
 * for none. announced: this call ends an md_batcher_announce. info (may be
 * NULL) gets the costs. Returns MD_OK; MD_EUNAVAIL when the queue is full
 * ("model 'm' queue is full ..."); MD_ETIMEDOUT when the deadline passed
 * before the rows ran; MD_EINTERNAL with the engine's message when the
 * engine call failed.
 */
int md_batcher_run(struct md_batcher *b, const float *x, size_t rows, float *out,
                   uint64_t deadline_ns, bool announced, struct md_batch_info *info,
                   struct md_err *err) MD_MUST_CHECK;

/*
 * Like md_batcher_run without blocking: j (caller memory, e.g. the request's
 * arena) is filled and queued, and done(done_ctx) is called once, from a
 * worker thread, when the job is done; the batcher no longer touches j after
 * that call begins. The rows always go through the queue (the caller chose
 * not to spend its thread on them). Returns MD_EPENDING when queued, or
 * MD_EUNAVAIL with a message when refused (no callback then). Read the
 * outcome with md_batch_job_result.
 */
int md_batcher_submit(struct md_batcher *b, struct md_batch_job *j, const float *x, size_t rows,
                      float *out, uint64_t deadline_ns, bool announced, void (*done)(void *ctx),
                      void *done_ctx, struct md_err *err) MD_MUST_CHECK;

/* The outcome of a done job (see md_batcher_run's return codes); info and
 * err (each may be NULL) get its costs and message. */
int md_batch_job_result(const struct md_batch_job *j, struct md_batch_info *info,
                        struct md_err *err) MD_MUST_CHECK;

/* Requests waiting in the queue now. */
size_t md_batcher_depth(struct md_batcher *b);

/*
 * Calls fn for every batch size from 1 to max_batch_size that has run at
 * least once, ascending, with its statistics (read them with atomic loads).
 * A request larger than max_batch_size runs alone and shows only in the
 * version's execution count and batch-size histogram.
 */
void md_batcher_foreach_size(const struct md_batcher *b,
                             void (*fn)(void *ctx, size_t size,
                                        const struct md_batch_size_stats *s),
                             void *ctx);

#endif
