/* SPDX-License-Identifier: MIT */
/*
 * signals.h: named metrics, one registry for every reader that judges a
 * model by a number: alert rules, the per-minute history, rollout gates,
 * the dashboard. A provider (request figures, quality from feedback, data
 * quality, drift, A/B statistics, the prediction log) registers the names
 * it answers at start-up; a reader asks for a name's value over a window
 * for a model, optionally narrowed to a version and a route.
 *
 * A name is [a-z][a-z0-9_]* ("error_rate", "latency_p99_ms", "accuracy"),
 * optionally followed by ':' and an argument the provider reads (a feature
 * for "missing_rate:age" or "drift_psi:age", a class for "f1:fraud"). The
 * registry looks the provider up by the part before ':'.
 *
 * Threads: md_signals_add before the registry is shared (at start-up, on one
 * thread); md_signals_value and the listing from any thread, concurrently
 * (the table is read-only by then; a provider's fn must be thread-safe).
 */
#ifndef MD_WATCH_SIGNALS_H
#define MD_WATCH_SIGNALS_H

#include "util/common.h"
#include "util/err.h"

#define MD_SIGNALS_MAX     64 /* names a registry holds */
#define MD_SIGNAL_NAME_MAX 64 /* a name with its argument, NUL included */

/* What a reader asks for. */
struct md_signal_query {
    const char *metric; /* the name, with its argument if any */
    const char *arg;    /* set by the registry: the part after ':', or NULL */
    const char *model;  /* required */
    int64_t version;    /* 0: every version of the model */
    const char *route;  /* NULL or "": every route */
    int64_t window_ms;  /* > 0: the last window_ms milliseconds, ending at now_ms */
    int64_t now_ms;     /* wall clock, ms since the epoch; 0: now */
};

/* A value and what it stands on. */
struct md_signal_value {
    double value;     /* NaN when nothing was measured in the window */
    uint64_t samples; /* what the value counts (requests, labelled rows, ...) */
};

/*
 * A provider's answer for q: MD_OK with *out set (value NaN and samples 0
 * when there is nothing to measure), MD_ENOTFOUND for an unknown model or
 * argument ("model 'm' has no feature 'x'"), MD_EINVAL for an argument the
 * name does not take or lacks. err names what is wrong.
 */
typedef int (*md_signal_fn)(void *ctx, const struct md_signal_query *q, struct md_signal_value *out,
                            struct md_err *err);

/* What a provider may do while it answers (md_signals_add_flags). */
enum md_signal_flags {
    /* It may wait on the store (md_store_call: the A/B signals): evaluated
     * by control or on a thread of its own, never on an HTTP thread (whose
     * request parks instead: api/history.c) nor inside a store job. */
    MD_SIGNAL_WAITS = 1 << 0
};

/* How a signal is described (GET /api/v1/signals, docs). */
struct md_signal_info {
    const char *name; /* the name without argument, a literal */
    const char *unit; /* "ratio", "ms", "per_second", "count", "score" */
    const char *arg;  /* what the argument is ("feature", "class"), or NULL: none; ending
                         in '?' ("class?"): optional, the name alone is a metric too ("f1"
                         beside "f1:<class>") */
    const char *help; /* one line */
};

struct md_signals;

struct md_signals *md_signals_new(void);
void md_signals_free(struct md_signals *s); /* NULL ok */

/* Registers info->name (borrowed, with info's strings) answered by fn(ctx).
 * MD_ECONFLICT for a name taken, MD_EINVAL for a malformed one or a full table. */
int md_signals_add(struct md_signals *s, const struct md_signal_info *info, md_signal_fn fn,
                   void *ctx, struct md_err *err) MD_MUST_CHECK;
/* md_signals_add for a provider that does what flags (enum md_signal_flags) say. */
int md_signals_add_flags(struct md_signals *s, const struct md_signal_info *info, unsigned flags,
                         md_signal_fn fn, void *ctx, struct md_err *err) MD_MUST_CHECK;

/*
 * The value of q->metric. MD_ENOTFOUND "unknown metric 'x'" when no provider
 * has the name; the provider's error otherwise. q->arg is filled in on a
 * copy (q is not written).
 */
int md_signals_value(const struct md_signals *s, const struct md_signal_query *q,
                     struct md_signal_value *out, struct md_err *err) MD_MUST_CHECK;

/* Whether metric names a registered signal with an argument if and only if
 * it takes one (how a rule or a gate is checked when it is written);
 * MD_EINVAL names what is wrong. */
int md_signals_check(const struct md_signals *s, const char *metric,
                     struct md_err *err) MD_MUST_CHECK;

/* Whether metric names a signal whose provider may wait on the store
 * (MD_SIGNAL_WAITS); false for a name the registry lacks. */
bool md_signals_waits(const struct md_signals *s, const char *metric);

/* Holds every evaluation of a signal that may wait (MD_SIGNAL_WAITS) ms
 * milliseconds before its provider runs: a slow store, for tests
 * (MODELD_SIGNALS_DELAY_MS). Before the registry is shared. */
void md_signals_set_delay(struct md_signals *s, unsigned ms);

/* The registered signals, in the order added: n_out set; the array is the registry's. */
const struct md_signal_info *md_signals_list(const struct md_signals *s, size_t *n_out);

#endif
