/* SPDX-License-Identifier: MIT */
/*
 * repo.h: the model repository on disk and the set of versions it serves.
 *
 * Layout: DIR/<model>/model.yaml and DIR/<model>/<version>/<artifact>, with
 * versions positive integers. A scan reads each model's contract, picks the
 * versions its policy wants (the newest N that load, all, or a list), loads
 * what is new or changed, and only then retires what is no longer wanted. A
 * version that fails to load is reported with its reason and never replaces
 * one that serves; a failed version is not retried until its files or the
 * model.yaml change, or an explicit load asks for it.
 *
 * Threads: scans and explicit load/unload are serialized by an internal mutex
 * and run engine loads with no lock readers wait on; requests find versions
 * under a read lock held only for the lookup.
 */
#ifndef MD_SERVE_REPO_H
#define MD_SERVE_REPO_H

#include "util/common.h"
#include "util/err.h"
#include "serve/model.h"

enum md_version_state {
    MD_VS_READY = 0,
    MD_VS_UNAVAILABLE = 1,
    MD_VS_LOADING = 2,
    MD_VS_UNLOADING = 3
};

/* "READY", "UNAVAILABLE", ... */
const char *md_version_state_name(enum md_version_state s);

/* Why a row has a reason: a few values, for labels (md_version_cause_name). */
enum md_version_cause {
    MD_CAUSE_NONE = 0,      /* READY, nothing to say */
    MD_CAUSE_WARNING = 1,   /* READY, with a warning (an artifact without feature names) */
    MD_CAUSE_RELOAD_FAILED, /* READY on its previous files: the changed ones failed to load */
    MD_CAUSE_POLICY,        /* not selected by the version policy */
    MD_CAUSE_LOAD_FAILED,   /* a load was tried and failed */
    MD_CAUSE_MISSING,       /* listed by the version policy, no such directory */
    MD_CAUSE_UNLOADED,      /* unloaded by an operator */
    MD_CAUSE_MODEL_CONFIG,  /* the model's model.yaml is missing or invalid */
    MD_CAUSE_NO_VERSIONS    /* the model has no version directory */
};

/* "", "warning", "reload_failed", "policy", "load_failed", "missing", "unloaded",
 * "model_config", "no_versions". */
const char *md_version_cause_name(enum md_version_cause c);

struct md_repo;

/* One row of md_repo_foreach: a version of a model, or (version 0) a model
 * that has no version to show, e.g. because its model.yaml is broken. */
struct md_repo_row {
    const char *model;
    int64_t version; /* 0: a model-level row */
    enum md_version_state state;
    enum md_version_cause cause; /* what reason is about; MD_CAUSE_NONE when reason is "" */
    const char *reason;          /* "" when READY, unless a warning or a failed reload */
    struct md_version *live;     /* the serving version when READY, else NULL;
                                    valid during the callback only */
    bool fault;                  /* not READY because of what is on disk: a version
                                    that failed to load, one the policy lists with
                                    no directory, a broken or missing model.yaml, a
                                    model with no versions; false when READY, not
                                    selected by the version policy, or unloaded */
};

/* One row of md_repo_foreach_skipped: an entry of the repository that the
 * last scan passed over, and why. Hidden entries (".name") and model.yaml
 * files are not listed. */
struct md_repo_skip {
    const char *model;  /* the model directory it is in; NULL at the top level */
    const char *name;   /* the file or directory name */
    const char *reason; /* "not a directory", "not a version number: ..." */
};

/* Opens the repository at dir (which must be a readable directory). Loads nothing. */
int md_repo_open(const char *dir, struct md_repo **out, struct md_err *err) MD_MUST_CHECK;
/* Drops every version and the metrics registry; no request may still hold a version. NULL ok. */
void md_repo_free(struct md_repo *r);

/* The registry of the versions' statistics (owned by the repository). */
struct md_metrics *md_repo_metrics(struct md_repo *r);

/*
 * Scans the whole directory; returns the number of models that failed
 * (model.yaml unusable, or no version loads). Problems are logged once per
 * change, not on every scan: a model.yaml error when its text differs from
 * the last one logged for the model, a failed version when it was tried
 * (files changed), an ignored directory (a model name or version number that
 * is not one) when it appears. Each logged error counts in the registry's
 * scan errors.
 */
int md_repo_scan(struct md_repo *r);

/*
 * Explicit load of one model: re-reads it from disk, retrying failed versions,
 * and lifts an earlier explicit unload. MD_ENOTFOUND when DIR/<name> does not
 * exist; MD_EINVAL when its model.yaml is invalid or no version loads.
 */
int md_repo_load_model(struct md_repo *r, const char *name, struct md_err *err) MD_MUST_CHECK;

/* Unloads every version of a model until an explicit load; MD_ENOTFOUND if unknown. */
int md_repo_unload_model(struct md_repo *r, const char *name, struct md_err *err) MD_MUST_CHECK;

/*
 * Takes a reference to a serving version: `version` NULL or "" for the newest
 * ready one. MD_ENOTFOUND for an unknown model or version ("unknown model
 * 'x'", "model 'x' has no version '7'"), MD_EUNAVAIL when the model or that
 * version exists but is not ready (with its reason; for a model unloaded by
 * an operator, saying so and how to load it again). Release with
 * md_version_unref.
 */
int md_repo_acquire(struct md_repo *r, const char *model, const char *version,
                    struct md_version **out, struct md_err *err) MD_MUST_CHECK;

/* Calls fn for every row, models sorted by name, versions ascending. fn runs
 * under the read lock: it must not call back into the repository. */
void md_repo_foreach(struct md_repo *r, void (*fn)(void *ctx, const struct md_repo_row *row),
                     void *ctx);

/* Calls fn for every entry the last scan passed over: the top level's first
 * (by name), then each model's, models by name. Same locking as
 * md_repo_foreach. */
void md_repo_foreach_skipped(struct md_repo *r,
                             void (*fn)(void *ctx, const struct md_repo_skip *skip), void *ctx);

/* Models with at least one READY version. */
size_t md_repo_ready_models(struct md_repo *r);

#endif
