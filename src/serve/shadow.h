/* SPDX-License-Identifier: MIT */
/*
 * shadow.h: the shadow executor. A copy of a prediction that has been
 * answered (its inputs as decoded, the answering version's outputs) runs
 * through another version — a shadow named by the traffic policy, or the
 * champion a canary's request is mirrored to — and the two outputs are
 * compared (watch/compare.h). Nothing it does reaches the caller: the copy
 * is offered after the answer is on its way, and a copy that cannot be
 * queued at once is dropped and counted.
 *
 *   offer    on the HTTP thread, from a completion observer (serve/
 *            predict.h): the story's inputs and outputs copied compactly
 *            into one allocation, a reference taken on each version, the
 *            copy put in a bounded lock-free queue. Never waits: a full
 *            queue (or more bytes queued than the executor's bound) drops
 *            the copy and counts it.
 *   run      on one of the executor's worker threads: the shadow version's
 *            own contract validates and prepares the inputs, its engine runs
 *            them (inline, or through its batcher, the worker waiting for
 *            the batch: it has nothing else to do), the request is recorded
 *            in its statistics under route "shadow", and the pair (answering
 *            version, shadow) is recorded in the comparisons.
 *
 * Priority: the workers are few (one by default) and run at a lower
 * priority (nice 10 by default, set per thread with setpriority on the
 * thread's id). Nice rather than SCHED_IDLE: an idle-class thread gets no
 * CPU at all while the HTTP threads saturate the machine, so every copy
 * would be dropped under load; at nice 10 a worker gets about a tenth of a
 * busy core's time against each HTTP thread, so callers keep most of their
 * throughput and shadows keep running, slower, with drops counted when they
 * fall behind.
 *
 * Threads: md_shadow_offer from any number of threads at once; the rest
 * from the thread that made the executor.
 */
#ifndef MD_SERVE_SHADOW_H
#define MD_SERVE_SHADOW_H

#include "util/common.h"
#include "util/err.h"
#include "serve/predict.h"
#include "watch/compare.h"

#define MD_SHADOW_QUEUE_DEFAULT   1024
#define MD_SHADOW_QUEUE_MAX       1000000
#define MD_SHADOW_THREADS_DEFAULT 1
#define MD_SHADOW_THREADS_MAX     8
#define MD_SHADOW_NICE_DEFAULT    10
#define MD_SHADOW_BYTES_DEFAULT   ((size_t)64 << 20) /* copies queued, in all */
#define MD_SHADOW_ROUTE           "shadow"           /* the route the copies count under */

struct md_shadow_config {
    size_t queue;      /* copies waiting at most: 1 .. MD_SHADOW_QUEUE_MAX */
    unsigned threads;  /* worker threads: 1 .. MD_SHADOW_THREADS_MAX */
    int nice;          /* the workers' nice value: 0 .. 19 */
    size_t max_bytes;  /* bytes of the copies waiting, at most; 0: MD_SHADOW_BYTES_DEFAULT */
    unsigned delay_ms; /* tests only: each copy waits this long on its worker before it runs
                          (a slow shadow without a slow engine); 0 in service */
    /* Told the story of every copy run (its shadow flag set, route_name "shadow" or
     * "mirror", status 200 or the failure's), on the worker; told NULL: none. The
     * prediction log's recorder (serve/predrec.h). */
    struct md_predict_observer observer;
};

/* The defaults above. */
void md_shadow_config_init(struct md_shadow_config *cfg);

/* How a copy relates to the version that answered. */
enum md_shadow_kind {
    MD_SHADOW_COPY = 0, /* a shadow: the pair is (answering version, shadow) */
    MD_SHADOW_MIRROR    /* a canary's request mirrored to the champion: the pair is
                           (champion, answering canary) */
};

struct md_shadow;

/*
 * Starts an executor whose copies are compared into cmp (borrowed: it must
 * outlive the executor). MD_EINVAL for a configuration out of range (naming
 * the field), MD_EINTERNAL when a thread cannot be started.
 */
int md_shadow_new(const struct md_shadow_config *cfg, struct md_compare *cmp,
                  struct md_shadow **out, struct md_err *err) MD_MUST_CHECK;

/*
 * Stops the workers (a copy being run finishes first) and frees the
 * executor; copies still queued are dropped, counted as dropped, and their
 * references released. No offer may run during or after it. NULL ok.
 */
void md_shadow_free(struct md_shadow *x);

/*
 * Offers a copy of the prediction s to version target (the caller keeps its
 * own reference; the copy takes one). Only a prediction that reached its
 * engine is copied: s->stage MD_PREDICT_DONE with s->code MD_OK, or
 * MD_PREDICT_INFER (the answer failed in the engine, its queue or its
 * deadline: the pair records the answering side's error). Returns MD_OK
 * when queued; MD_EUNAVAIL when dropped (the queue full, or the bytes queued
 * over the bound), counted in the executor and in target's statistics
 * (md_shadow_stats); MD_EINVAL when s has nothing to copy (no version, not
 * run, or no inputs), counted nowhere. Never waits for a lock or a worker;
 * allocates the copy (one malloc). Thread-safe. s is read during the call
 * only.
 */
int md_shadow_offer(struct md_shadow *x, const struct md_predict_story *s,
                    struct md_version *target, enum md_shadow_kind kind);

/* The executor's figures (every target together), read relaxed. */
struct md_shadow_counts {
    uint64_t submitted; /* copies queued */
    uint64_t dropped;   /* copies dropped (queue full, bytes over the bound, out of memory,
                           or still queued at md_shadow_free) */
    uint64_t run;       /* copies run */
    uint64_t failed;    /* of those, the ones the shadow failed */
    size_t depth;       /* copies waiting or running now */
    size_t capacity;    /* the queue's size */
};

void md_shadow_counts(const struct md_shadow *x, struct md_shadow_counts *out);

/*
 * Waits until no copy waits or runs, at most timeout_ms milliseconds,
 * looking every millisecond; true when that happened. For tests and for a
 * clean stop.
 */
bool md_shadow_drain(struct md_shadow *x, unsigned timeout_ms);

#endif
