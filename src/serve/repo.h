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
 * The scanner (this file's functions but the readers below) keeps what it
 * needs to decide on disk changes; what requests read is each model's
 * snapshot in the registry of serving versions (serve/registry.h), published
 * at the end of every model's update.
 *
 * Threads: scans and explicit load/unload are serialized by an internal mutex
 * and run engine loads with no lock; requests (md_repo_acquire) and listings
 * (md_repo_foreach, md_repo_ready_models) read the snapshots with no lock and
 * never wait for a scan.
 */
#ifndef MD_SERVE_REPO_H
#define MD_SERVE_REPO_H

#include "util/common.h"
#include "util/err.h"
#include "serve/model.h"
#include "serve/registry.h"
#include "store/store.h"

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

/* Opens the repository at dir (which must be a readable directory). Loads
 * nothing. No registry of versions, no traffic policies: every call that
 * names no version goes to the newest ready one (modeld --check, tests). */
int md_repo_open(const char *dir, struct md_repo **out, struct md_err *err) MD_MUST_CHECK;
/*
 * The same with the registry of versions and the traffic kept in store
 * (borrowed; it must outlive the repository): what the store holds is read
 * now, every version found in the directory is registered on first sight
 * and checked against its registration after, and each model gets a stored
 * traffic policy. Uploaded versions live in data_dir/versions.
 */
int md_repo_open_store(const char *dir, struct md_store *store, const char *data_dir,
                       struct md_repo **out, struct md_err *err) MD_MUST_CHECK;
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
 * md_version_unref. Lock-free (md_registry_acquire).
 */
int md_repo_acquire(struct md_repo *r, const char *model, const char *version,
                    struct md_version **out, struct md_err *err) MD_MUST_CHECK;
/* The version a prediction goes to, and its route: md_registry_route. */
int md_repo_route(struct md_repo *r, const char *model, const char *version, md_route_key_fn keyfn,
                  void *keyctx, uint64_t rnd, struct md_version **out, const char **route,
                  struct md_route_copies *copies, struct md_err *err) MD_MUST_CHECK;
/* Whether the registry has model (in any state). Lock-free. */
bool md_repo_has_model(struct md_repo *r, const char *model);

/* Calls fn for every row, models sorted by name, versions ascending, each
 * model's rows from one snapshot. fn runs inside a read section
 * (md_registry_foreach): it must not call back into the repository but
 * md_repo_acquire, md_repo_foreach and md_repo_ready_models, and should be
 * quick (a scan waits for it before freeing what it replaced). */
void md_repo_foreach(struct md_repo *r, void (*fn)(void *ctx, const struct md_repo_row *row),
                     void *ctx);

/* Calls fn for every entry the last scan passed over: the top level's first
 * (by name), then each model's, models by name. Under a mutex the scanner
 * takes to change these lists: fn must not call back into the repository. */
void md_repo_foreach_skipped(struct md_repo *r,
                             void (*fn)(void *ctx, const struct md_repo_skip *skip), void *ctx);

/* Models with at least one READY version. */
size_t md_repo_ready_models(struct md_repo *r);

/*
 * Calls fn with model's snapshot inside a read section (the rules of
 * md_registry_foreach). MD_ENOTFOUND "unknown model 'm'" when the registry
 * has no such model. Lock-free.
 */
int md_repo_with_snapshot(struct md_repo *r, const char *model,
                          void (*fn)(void *ctx, const struct md_snapshot *s), void *ctx,
                          struct md_err *err) MD_MUST_CHECK;

/* ---- changes an operator asks for: applied by control only ---- */

/*
 * Stores and applies a traffic policy (its JSON text, len bytes) for model:
 * parsed (md_policy_parse), aliases resolved, every version it names loaded
 * and serving, stored with its event (revision expect must be the one it
 * replaces when > 0: MD_ECONFLICT otherwise), then published. On a failure
 * nothing changes. *answer: the JSON of the policy now, malloc'd.
 */
int md_repo_set_policy(struct md_repo *r, const char *model, const char *json, size_t len,
                       int64_t expect, char **answer, struct md_err *err) MD_MUST_CHECK;
/*
 * Applies policy p for a rollout (control's): as md_repo_set_policy, with
 * no revision to match, and allowed while a rollout runs; champion > 0 also
 * moves alias "champion" there. why is the event's message.
 */
int md_repo_apply_policy(struct md_repo *r, const char *model, struct md_policy *p,
                         int64_t champion, const char *why, struct md_err *err) MD_MUST_CHECK;
/* Marks model's traffic as moved by rollout id (0: none): operators' policy
 * changes are refused meanwhile. */
int md_repo_set_rollout(struct md_repo *r, const char *model, int64_t rollout);
/* The registered, not archived version text names (a number or an alias);
 * errors name field ("candidate: model 'm' has no version 9"). */
int md_repo_pick_version(struct md_repo *r, const char *model, const char *text, const char *field,
                         int64_t *num, struct md_err *err) MD_MUST_CHECK;
/* The version alias champion names, else the newest ready one; 0 when none. */
int64_t md_repo_champion(struct md_repo *r, const char *model);

/*
 * Points alias at version (a number or another alias), or removes it
 * (version NULL), stored with its event, then applied. *answer: the JSON
 * {"model", "alias", "version"}, malloc'd.
 */
int md_repo_set_alias(struct md_repo *r, const char *model, const char *alias, const char *version,
                      char **answer, struct md_err *err) MD_MUST_CHECK;
/* Archives (unloads; keeps files and records) or restores a registered
 * version; MD_ECONFLICT when a policy or an alias names it. */
int md_repo_archive(struct md_repo *r, const char *model, int64_t version, bool archived,
                    struct md_err *err) MD_MUST_CHECK;
/* An upload, staged, for md_repo_register_upload. */
struct md_repo_upload {
    const char *path;   /* the artifact's temporary file, on the data directory's file system */
    const char *sha256; /* its hash, 64 lower-case hex */
    uint64_t size;
    const char *metadata;   /* a JSON object's text */
    const char *model_yaml; /* NULL: the model's own */
    size_t model_yaml_len;
    const char *profile; /* NULL or a JSON object's text */
    size_t profile_len;
    enum md_store_source source; /* 0: MD_SOURCE_UPLOAD; a training's or a snapshot's */
};
/*
 * Registers an uploaded version of model: its contract (model_yaml, or the
 * model's) must accept every request the champion's accepts, the artifact
 * must load with its engine; then the artifact goes to the artifact store,
 * the version gets the next number in the transaction that registers it,
 * with its event. It takes no traffic (register). On a failure nothing is
 * left (MD_EINVAL naming the part: "model.yaml: ...", "artifact: ...").
 * *answer: the JSON of the version, malloc'd.
 */
int md_repo_register_upload(struct md_repo *r, const char *model, const struct md_repo_upload *u,
                            char **answer, struct md_err *err) MD_MUST_CHECK;
/*
 * Creates model (or replaces its model.yaml) from model.yaml text, for a
 * model no directory of the repository defines (MD_ECONFLICT otherwise):
 * parsed, stored with its event, then served (versions come by upload).
 * *answer: {"model", "created"}, malloc'd.
 */
int md_repo_put_model(struct md_repo *r, const char *model, const char *yaml, size_t len,
                      char **answer, struct md_err *err) MD_MUST_CHECK;

/* What a training of model needs of the repository (repo_train.c). */
struct md_repo_source {
    char *yaml; /* the model's model.yaml now (a new version's contract), malloc'd */
    size_t yaml_len;
    char *version_yaml; /* the contract version was registered with, malloc'd */
    size_t version_yaml_len;
    char artifact[4096]; /* the path of version's artifact file */
};
/*
 * The sources of a training of model from version (its champion): the
 * model's model.yaml, the version's, and the path of its artifact (named
 * artifact in its directory). MD_ENOTFOUND for an unknown model, MD_EINVAL
 * when the model has no model.yaml to train a version with. Release with
 * md_repo_source_release.
 */
int md_repo_training_source(struct md_repo *r, const char *model, int64_t version,
                            const char *artifact, struct md_repo_source *out,
                            struct md_err *err) MD_MUST_CHECK;
void md_repo_source_release(struct md_repo_source *s);

#endif
