/* SPDX-License-Identifier: MIT */
/*
 * model.h: a loaded model version: its contract, its engine instance and its
 * statistics, shared by every request that uses it.
 *
 * A version is refcounted: the repository holds one reference while the
 * version serves, each request holds one while it runs. Unloading drops the
 * repository's reference; the engine is freed when the last request ends, so
 * a reload or unload never pulls an engine from under a running request.
 * Everything but what `stats` points to and the refcount is immutable after
 * md_version_load. The statistics belong to the metrics registry, keyed by
 * model and version number, so they outlive the instance (see watch/metrics.h).
 *
 * A version whose contract asks for dynamic_batching owns a batcher (see
 * serve/batcher.h) with its worker threads; the last unref stops them.
 */
#ifndef MD_SERVE_MODEL_H
#define MD_SERVE_MODEL_H

#include "util/common.h"
#include "util/err.h"
#include "serve/contract.h"
#include "backend/backend.h"
#include "watch/metrics.h"

struct md_dataq_version;

struct md_batcher;
struct md_drift_feed;

struct md_version {
    _Atomic long refs;                /* private */
    char *model;                      /* read-only: the model's name */
    int64_t number;                   /* read-only: >= 1 */
    char version_str[24];             /* read-only: number as text */
    struct md_contract *contract;     /* read-only: owned */
    const struct md_backend_ops *ops; /* read-only */
    void *engine;                     /* read-only: the engine instance */
    struct md_backend_desc desc;      /* read-only: what the engine said of itself */
    char platform[48];                /* read-only: "modeld_<backend>" */
    struct md_batcher *batcher;       /* read-only: owned; NULL without dynamic_batching */
    struct md_version_stats *stats;   /* read-only pointer, updated by requests atomically:
                                         the registry's series, or owned when metrics is NULL */
    struct md_metrics *metrics;       /* read-only: borrowed registry, or NULL */
    struct md_dataq_version *dq;      /* read-only pointer: data quality's figures of the
                                         version (watch/dataq.h), or NULL without metrics */
    char warning[200];                /* read-only: "" or what the load found doubtful */
    struct md_drift_feed *drift;      /* read-only: owned; its reference profile and live
                                         window (serve/drift_feed.h), or NULL */
    char drift_note[256];             /* read-only: why drift is NULL ("" when it is not) */
};

/*
 * Loads version `number` of model `contract->name` from dir (the version
 * directory): the contract's backend loads dir/<artifact>, then the engine is
 * checked against the contract. Takes ownership of contract_copy (a contract
 * this version keeps; freed on failure too). The statistics are metrics'
 * series for the version (NULL: the version's own, starting at zero). On
 * success *out has one reference, and (*out)->warning says what loaded but
 * could not be checked (an artifact that records no feature names).
 */
int md_version_load(const char *dir, int64_t number, struct md_contract *contract_copy,
                    struct md_metrics *metrics, struct md_version **out,
                    struct md_err *err) MD_MUST_CHECK;

void md_version_ref(struct md_version *v);
/* Drops a reference; at the last one stops the batcher (its queue is empty:
 * every queued request holds a reference) and frees the engine and contract.
 * NULL ok. */
void md_version_unref(struct md_version *v);

#endif
