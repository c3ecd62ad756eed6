/* SPDX-License-Identifier: MIT */
/*
 * registry.h: the registry of serving versions: for each model, one immutable
 * snapshot of its serving state, published through one atomic pointer, that
 * requests read with no lock.
 *
 * A snapshot holds a model's version rows (each version's state, the cause
 * and reason of that state, and a reference to the version when it is
 * READY), its model-level reason and whether an operator unloaded it. The
 * set of models is itself an immutable sorted table behind one atomic
 * pointer. A writer builds a new snapshot aside, publishes it (the table is
 * copied when a model comes or goes), waits for a grace period (util/epoch.h)
 * and only then frees the snapshot it replaced, dropping its references. So
 * a reader that found a version in a snapshot finds it alive, and a request
 * that took a reference (md_version_ref) keeps it to its end.
 *
 * Threads: readers (requests, listings) may run on any thread at any time,
 * and never wait; they call nothing here from inside an md_registry_foreach
 * callback but what the callback's comment allows. Writers (the scanner in
 * repo.c) publish and remove; publishing one model's snapshot may run in
 * several threads at once for different models; one internal mutex, held
 * for pointer swaps only, orders them. md_registry_free needs all readers
 * gone.
 */
#ifndef MD_SERVE_REGISTRY_H
#define MD_SERVE_REGISTRY_H

#include "util/common.h"
#include "util/err.h"
#include "serve/model.h"
#include "serve/policy.h"

enum md_version_state {
    MD_VS_READY = 0,      /* serving */
    MD_VS_UNAVAILABLE = 1 /* not serving: the row's cause and reason say why */
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
    MD_CAUSE_NO_VERSIONS,   /* the model has no version directory */
    MD_CAUSE_ARCHIVED,      /* archived: kept on record, never loaded */
    MD_CAUSE_CHANGED        /* its artifact changed after it was registered */
};

/* "", "warning", "reload_failed", "policy", "load_failed", "missing", "unloaded",
 * "model_config", "no_versions", "archived", "changed". */
const char *md_version_cause_name(enum md_version_cause c);

/*
 * A version number as written in a directory name or a request: digits only,
 * no leading zero, at most 18 digits. -1 when s is not one.
 */
int64_t md_version_number(const char *s);

/* The reason of a model an operator unloaded, and of each of its versions. */
#define MD_REGISTRY_UNLOADED "unloaded by an operator"

/*
 * A registered version's record as the registry of versions keeps it
 * (store/store.h has the durable one): immutable once made, owned by the
 * repository for its whole life, so snapshots borrow it.
 */
struct md_version_info {
    int64_t version;
    char sha256[65]; /* of the artifact */
    int64_t size;    /* of the artifact */
    int64_t created_ms;
    int source;      /* enum md_store_source */
    char engine[32]; /* the backend it was registered with */
    char artifact[256];
    char contract_sha256[65];
    char *metadata; /* a JSON object */
};

/* An alias of a model: a name that stands for a version. */
struct md_alias {
    char name[MD_POLICY_NAME_MAX];
    int64_t version;
};

/* The route a request that names a version or an alias takes, and one with no policy. */
#define MD_ROUTE_DIRECT  "direct"
#define MD_ROUTE_DEFAULT "default"
/* The route of a request the champion answered after a candidate failed it. */
#define MD_ROUTE_RETRY "retry"

/* One version of a model in a snapshot. */
struct md_snapshot_row {
    int64_t version;                    /* >= 1 */
    const struct md_version_info *info; /* its registration, or NULL (no store) */
    bool archived;                      /* archived: never loaded, kept on record */
    enum md_version_state state;
    enum md_version_cause cause; /* what reason is about; MD_CAUSE_NONE when reason is "" */
    struct md_version *live;     /* one reference when READY, else NULL */
    char reason[256];            /* "" when READY, unless a warning or a failed reload */
};

/*
 * A model's serving state. Filled by the writer between md_snapshot_new and
 * md_registry_publish, immutable after: readers see only published ones.
 */
struct md_snapshot {
    char *model;                  /* read-only: owned */
    bool unloaded;                /* an operator unloaded the model */
    enum md_version_cause cause;  /* of reason */
    char reason[256];             /* the model-level problem, "" if none */
    size_t n_rows;                /* read-only */
    struct md_snapshot_row *rows; /* n_rows, by version ascending: filled by the writer */
    size_t n_ready;               /* set by md_registry_publish */
    struct md_version **ready;    /* the READY versions, ascending: borrowed from rows */
    /* the traffic: filled by the writer */
    bool has_policy;         /* a policy is stored for the model */
    struct md_policy policy; /* when has_policy */
    int64_t policy_revision; /* its revision, 0 when none */
    int64_t policy_ms;       /* when it was stored */
    size_t n_aliases;
    struct md_alias *aliases; /* n_aliases, sorted by name: owned (md_snapshot_set_aliases) */
    int64_t champion;         /* the version alias "champion" names, 0 if none */
    /* set by md_registry_publish: the READY version of each policy route, or
     * NULL when it does not serve (borrowed from rows) */
    struct md_version *route_live[MD_POLICY_ROUTES];
    const char *route_names[MD_POLICY_ROUTES]; /* the routes' names, interned (util/intern.h) */
};

struct md_registry;

/* An empty registry. */
struct md_registry *md_registry_new(void);
/* Frees every snapshot (dropping its references); no reader may remain. NULL ok. */
void md_registry_free(struct md_registry *g);

/* A snapshot of model with n_rows zeroed rows for the writer to fill; the
 * references it puts in the rows' live become the snapshot's. */
struct md_snapshot *md_snapshot_new(const char *model, size_t n_rows);
/* Gives s a copy of n aliases (sorted here) and sets its champion. */
void md_snapshot_set_aliases(struct md_snapshot *s, const struct md_alias *aliases, size_t n);
/* The version alias name stands for in s, or 0. */
int64_t md_snapshot_alias(const struct md_snapshot *s, const char *name);
/* Drops the rows' references and frees s; s must not be published. NULL ok. */
void md_snapshot_free(struct md_snapshot *s);

/*
 * Publishes s as its model's snapshot, adding the model when the registry
 * does not have it, and takes ownership of s. Returns when no reader can
 * still see the snapshot it replaced, which is then freed. A snapshot that
 * says just what the published one says is freed at once and the published
 * one stays: nothing is swapped. Writer side: may wait (never inside a read
 * section).
 */
void md_registry_publish(struct md_registry *g, struct md_snapshot *s);

/* Removes model name and frees its snapshot after a grace period; false when
 * the registry does not have it. Writer side. */
bool md_registry_remove(struct md_registry *g, const char *name);

/*
 * Finds a request's routing key for a sticky policy: the value of header or
 * key field name (kind says which), len bytes, or NULL when the request has
 * none. Called inside the read section: quick, no call back in here.
 */
typedef const char *(*md_route_key_fn)(void *ctx, enum md_policy_sticky kind, const char *name,
                                       size_t *len);

/* The copies a request's answer is to be compared on: versions with a
 * reference each (the caller drops them), filled by md_registry_route. */
struct md_route_copies {
    size_t n_shadows;
    struct md_version *shadows[MD_POLICY_SHADOWS]; /* the policy's shadows this request samples */
    struct md_version *mirror; /* the champion, when a request on another route is mirrored */
};

/*
 * The version a prediction is answered by, with a reference: `version` a
 * number or an alias (route "direct"), or NULL for the model's policy,
 * which picks a route by the request's key (keyfn, may be NULL) when it is
 * sticky and the request has one, else by rnd, a uniform random number
 * (without a policy: as md_registry_acquire, route "default"). The route's
 * name (a literal or interned: alive until exit) into *route. Errors as md_registry_acquire's, and
 * MD_EUNAVAIL when the route's version does not serve. Lock-free: any
 * thread, any time.
 */
int md_registry_route(struct md_registry *g, const char *model, const char *version,
                      md_route_key_fn keyfn, void *keyctx, uint64_t rnd, struct md_version **out,
                      const char **route, struct md_route_copies *copies,
                      struct md_err *err) MD_MUST_CHECK;

/*
 * Takes a reference to a serving version: `version` a number or an alias,
 * or NULL or "" for the champion (the version alias "champion" names) when
 * it serves, else the newest ready one. MD_ENOTFOUND for an unknown model or version ("unknown
 * model 'x'", "model 'x' has no version '7'"), MD_EUNAVAIL when the model or
 * that version exists but is not ready (with its reason; for a model
 * unloaded by an operator, saying so and how to load it again). Release with
 * md_version_unref. Lock-free: any thread, any time.
 */
int md_registry_acquire(struct md_registry *g, const char *model, const char *version,
                        struct md_version **out, struct md_err *err) MD_MUST_CHECK;

/*
 * Calls fn for each model's snapshot, models sorted by name, inside one read
 * section: what fn sees (and the versions' fields) stays valid during the
 * call only; fn must not publish, remove or wait, and should be quick.
 */
void md_registry_foreach(struct md_registry *g, void (*fn)(void *ctx, const struct md_snapshot *s),
                         void *ctx);

/* Models with at least one READY version. */
size_t md_registry_ready_models(struct md_registry *g);
/* Calls fn with model's snapshot inside a read section (as md_registry_foreach);
 * false when the registry has no such model. */
bool md_registry_with(struct md_registry *g, const char *model,
                      void (*fn)(void *ctx, const struct md_snapshot *s), void *ctx);
/* Whether the registry has model. */
bool md_registry_has(struct md_registry *g, const char *model);

#endif
