/* SPDX-License-Identifier: MIT */
/*
 * predlog.h: the prediction log's ring and writer. Whoever observes
 * predictions (serve/predrec.h, the only producer in the daemon) packs each
 * one into an entry — one allocation holding everything its records need,
 * nothing formatted yet — and puts it in a bounded ring that never blocks:
 * when the records queued would pass the ring's capacity the entry is
 * dropped and its records counted as dropped. One writer thread (in the
 * idle scheduling class while it keeps up, at nice 10 otherwise:
 * md_predlog_tick) takes every entry waiting, has the producer's format turn them into
 * store rows (the JSON text is written there, off the request's thread),
 * and commits them as one batch (md_store_tx_predictions_add) through a
 * connection of its own (md_store_obs_call), so that the inserts too run at
 * the writer's priority and give way to requests under load. While a batch
 * commits the next one gathers, so batches grow with the load and the
 * commits per second stay few.
 *
 * The log is observations, not control data: nothing waits for a record
 * to be stored, and a crash loses the records not yet committed. A clean
 * stop (md_predlog_free) writes every record queued before it returns.
 *
 * Also here, as they need no contract: the retention steps of the log's
 * table (horizon, feature age and count) run by a control task, the keyed
 * hash of values marked `pii: hash`, and the figures for /metrics and the
 * `log_dropped` signal.
 *
 * Threads: md_predlog_put and md_predlog_counts from any thread at once;
 * format and release run on the writer thread; the rest from the thread
 * that made the log.
 */
#ifndef MD_WATCH_PREDLOG_H
#define MD_WATCH_PREDLOG_H

#include "util/common.h"
#include "util/err.h"
#include "util/arena.h"
#include "store/store.h"
#include "watch/signals.h"

#include <stdatomic.h>

#define MD_PREDLOG_RING_DEFAULT  65536   /* records queued at most */
#define MD_PREDLOG_RING_MAX      4194304 /* the largest ring */
#define MD_PREDLOG_BATCH_DEFAULT 8192    /* records per commit at most */
#define MD_PREDLOG_HORIZON_DAYS  30      /* what feedback needs is kept this long */
#define MD_PREDLOG_NICE          10      /* the writer thread's nice value */

/* The head of an entry; the producer's data follows it in the same allocation. */
struct md_predlog_entry {
    struct md_predlog_entry *next; /* private */
    size_t rows;                   /* records the entry holds, >= 1 */
    uint64_t put_ns;               /* private: when it was put (md_now_ns) */
};

/* What the producer gives the writer. */
struct md_predlog_ops {
    /*
     * Writes the records of e into out (room for e->rows), strings and
     * texts in a (the batch's arena, reset after the commit); *n the rows
     * written (may be fewer, when some cannot be formatted). Writer thread.
     */
    void (*format)(void *ctx, const struct md_predlog_entry *e, struct md_arena *a,
                   struct md_store_prediction *out, size_t *n);
    /* Frees e (written, dropped or never taken). Any thread. */
    void (*release)(void *ctx, struct md_predlog_entry *e);
    void *ctx;
};

struct md_predlog_config {
    size_t ring;  /* records queued at most: 1 .. MD_PREDLOG_RING_MAX */
    size_t batch; /* records per commit at most: 1 .. ring; 0: MD_PREDLOG_BATCH_DEFAULT
                     (or ring, if smaller) */
    int nice;     /* the writer thread's nice value, 0 .. 19 (MD_PREDLOG_NICE) */
    bool idle;    /* the writer waits in the idle scheduling class (SCHED_IDLE) while it
                     keeps up, its nice value otherwise (md_predlog_tick); default false */
};

void md_predlog_config_init(struct md_predlog_config *cfg);

struct md_predlog;

/*
 * Starts a log that writes through store (borrowed: it must outlive the
 * log) with ops (copied). MD_EINVAL for a configuration out of range
 * (naming the field), MD_EINTERNAL when the thread cannot start.
 */
int md_predlog_new(const struct md_predlog_config *cfg, struct md_store *store,
                   const struct md_predlog_ops *ops, struct md_predlog **out,
                   struct md_err *err) MD_MUST_CHECK;

/*
 * Writes every record queued, stops the writer and frees the log. No put
 * may run during or after it. NULL ok.
 */
void md_predlog_free(struct md_predlog *l);

/*
 * Queues e (taken either way): true when queued; false when it was dropped
 * (the ring full, or the log stopping), its records counted as dropped and
 * e released. Never waits. Thread-safe.
 */
bool md_predlog_put(struct md_predlog *l, struct md_predlog_entry *e);

/* Counts n records dropped before they reached the ring (no memory for their entry). */
void md_predlog_count_dropped(struct md_predlog *l, size_t n);

/*
 * Waits until every record put before the call has been committed (or
 * failed), at most timeout_ms; true when it was. For a clean stop and tests.
 */
bool md_predlog_flush(struct md_predlog *l, unsigned timeout_ms);

/*
 * Called once a second (the control loop's task): when records wait and the
 * writer wrote none since the last call, a writer in the idle class gets
 * no CPU (every one is busy): it leaves the idle class for its nice value,
 * and goes back once the ring is empty. Nothing when cfg.idle was false.
 */
void md_predlog_tick(struct md_predlog *l);

/* The log's figures, read relaxed. */
struct md_predlog_counts {
    uint64_t written;    /* records committed */
    uint64_t dropped;    /* records dropped: the ring full (or no memory) */
    uint64_t failed;     /* records lost because their batch's commit failed */
    uint64_t batches;    /* commits */
    size_t depth;        /* records queued now */
    size_t capacity;     /* the ring's capacity in records */
    uint64_t lag_ms;     /* the last batch: from its oldest record's put to its commit */
    uint64_t largest;    /* the largest batch so far, in records */
    uint64_t retained;   /* records removed past the horizon */
    uint64_t trimmed;    /* records whose features were removed (age or count) */
    uint64_t fb_expired; /* feedback items removed past the horizon */
    uint64_t rv_expired; /* review items removed past the horizon */
    uint64_t promotions; /* times md_predlog_tick took the writer out of the idle class */
    bool idle;           /* the writer is in the idle class now */
};
void md_predlog_counts(const struct md_predlog *l, struct md_predlog_counts *out);

/*
 * Records dropped in the last window_ms milliseconds (at most an hour is
 * kept, by second), for the `log_dropped` signal.
 */
uint64_t md_predlog_dropped_within(const struct md_predlog *l, int64_t window_ms);

/*
 * Registers the signal `log_dropped` (records dropped, server-wide: the
 * ring is shared by every model) in s, answered by l.
 */
int md_predlog_signals(struct md_predlog *l, struct md_signals *s,
                       struct md_err *err) MD_MUST_CHECK;

/* ---- retention ------------------------------------------------------------ */

/* How long the log keeps what. */
struct md_predlog_retention {
    int64_t horizon_ms;    /* records older than this go (feedback's fields included), and
                              feedback and review items that arrived before it */
    int64_t features_ms;   /* features older than this go (0: kept to the horizon) */
    int64_t features_rows; /* only the newest this many records keep features (0: all) */
    size_t chunk;          /* rows a job changes at most (one transaction stays small) */
};

/*
 * Asks for one step of retention, from the control loop's task: the writer
 * thread, between batches and at its priority, removes at most chunk
 * records past the horizon, then clears the features of at most chunk
 * records past the feature age or count, then removes at most chunk
 * feedback items and chunk review items past the horizon, in one
 * transaction of its connection; what it removed is recorded as an event
 * of kind "retention" in the same transaction, at most one an hour (the
 * first at once), with the counts since the last. Returns at once; a
 * step asked for and not yet run is not doubled. now_ms: wall clock.
 */
void md_predlog_retain(struct md_predlog *l, const struct md_predlog_retention *r, int64_t now_ms);

/* Whether the last retention step had more to do than its chunk (tests). */
bool md_predlog_retain_busy(const struct md_predlog *l);

/* ---- keyed hashes --------------------------------------------------------- */

#define MD_PREDLOG_KEY_MAX 1024 /* bytes of a PII key */

/*
 * HMAC-SHA256 of p[0..n) under key (klen bytes), as 64 lower-case hex digits
 * and a NUL into out (65 bytes).
 */
void md_predlog_hmac(const unsigned char *key, size_t klen, const void *p, size_t n, char out[65]);

/*
 * Reads the PII key from path: its bytes, a final newline dropped; 16 to
 * MD_PREDLOG_KEY_MAX bytes. MD_EIO naming the path when it cannot be read,
 * MD_EINVAL when it is too short or too long. The key is never logged.
 */
int md_predlog_key_read(const char *path, unsigned char *key, size_t *klen,
                        struct md_err *err) MD_MUST_CHECK;

#endif
