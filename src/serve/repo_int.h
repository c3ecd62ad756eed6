/* SPDX-License-Identifier: MIT */
/*
 * repo_int.h: what the repository's two files share: the scanner's model
 * entries (repo.c) and the registry of versions and the traffic kept with
 * them (repo_traffic.c). Private to serve/repo*.c.
 */
#ifndef MD_SERVE_REPO_INT_H
#define MD_SERVE_REPO_INT_H

#include "serve/registry.h"
#include "serve/repo.h"
#include "store/store.h"

#include <pthread.h>

/* A registered version as the scanner keeps it. */
struct treg {
    struct md_version_info *info; /* owned; freed with its entry (snapshots borrow it) */
    bool archived;
};

/* What a file looked like when last read: a change in any field means reload. */
struct sig {
    int64_t mtime_ns;
    int64_t size;
    uint64_t ino;
};

/* An entry a scan passed over (struct md_repo_skip). */
struct skip {
    char *name;
    char reason[128];
    bool dir; /* a directory: likely a mistake, logged when it appears */
};

/* Entries passed over, sorted by name: built aside by a scan, swapped in
 * under skips_lock. */
struct skips {
    struct skip *v;
    size_t n;
};

struct vrec {
    int64_t number;
    enum md_version_state state;
    enum md_version_cause cause;
    bool failed; /* a load was tried and failed */
    char reason[256];
    struct sig sig;          /* of the artifact when loaded or tried */
    uint64_t yaml_gen;       /* model.yaml generation it was loaded or tried with */
    struct md_version *live; /* one reference, when READY */
    struct sig sha_sig;      /* of the artifact when sha256 was computed */
    char sha256[65];         /* of the artifact, "" when not computed */
};

/* A model as the scanner knows it; what requests see is its snapshot. */
struct mentry {
    char *name;
    struct vrec *recs; /* sorted by number; each live one holds its own reference */
    size_t n_recs;
    bool unloaded;               /* explicitly unloaded: scans leave it alone */
    bool seen;                   /* scratch for a full scan */
    char reason[256];            /* model-level problem, "" if none */
    enum md_version_cause cause; /* of reason */
    char logged[256];            /* the last model-level error logged, "" after a success */
    char *yaml;                  /* last good model.yaml text */
    size_t yaml_len;
    struct sig yaml_sig; /* of the file last read, good or not */
    bool yaml_bad;       /* the file last read (yaml_sig) was unusable */
    uint64_t yaml_gen;   /* bumped when the text changes */
    struct skips skips;  /* passed over in the model directory; changed under skips_lock */
    /* the registry of versions and the traffic (repo_traffic.c) */
    struct treg *regs; /* registered versions, by number */
    size_t n_regs;
    bool serve_new;          /* new_versions: serve (the last good model.yaml's) */
    bool has_policy;         /* a policy is stored */
    struct md_policy policy; /* when has_policy */
    int64_t policy_rev;      /* its revision */
    int64_t policy_ms;       /* when stored */
    int64_t rollout;         /* the id of the rollout moving the traffic, 0: none */
    bool api_model;          /* created through the API (its model.yaml in the store, e->yaml), not
                                by a directory of the repository */
    bool resettle; /* the policy moved during an update: update again, retiring what it no longer
                      names */
    struct md_alias *aliases; /* n_aliases, any order */
    size_t n_aliases;
    /* The policy md_repo_set_policy is checking, NULL otherwise: the
     * versions it names are loaded too. */
    const struct md_policy *trial;
};

struct md_repo {
    char *dir;
    struct md_store *store; /* borrowed, or NULL: no registry, no policies */
    char *versions_dir;     /* where uploaded versions live (<data>/versions), or NULL */
    struct mentry **seeds;  /* what the store holds of models not yet scanned, by name */
    size_t n_seeds;
    pthread_mutex_t scan_lock;  /* serializes scans, loads and unloads */
    pthread_mutex_t skips_lock; /* guards the skips and which entries models[] holds
                                   against md_repo_foreach_skipped; never on a request's path */
    struct mentry **models;     /* sorted by name: the scanner's, changed under skips_lock */
    size_t n_models;
    struct md_registry *reg;    /* owned: the snapshots requests read */
    struct md_metrics *metrics; /* owned: the versions' statistics */
    char dir_logged[256];       /* the last error reading dir logged, "" after a success */
    struct skips skips;         /* passed over at the top level; changed under skips_lock */
};

/* ---- repo.c for repo_traffic.c ---- */

/* Whether s can name a model: [A-Za-z0-9_.-], not starting with '.', at most 128. */
bool md_repo__valid_name(const char *s);
/* Publishes what requests see of model e (caller holds scan_lock). */
void md_repo__publish(struct md_repo *r, const struct mentry *e);
/* The entry of model name, or NULL (caller holds scan_lock). */
struct mentry *md_repo__find(struct md_repo *r, const char *name);
/* Adds an entry for model name (seeded from the store), published empty
 * (caller holds scan_lock). */
struct mentry *md_repo__add(struct md_repo *r, const char *name);
/* Brings model e up to date and publishes it (caller holds scan_lock). */
int md_repo__rescan(struct md_repo *r, struct mentry *e, struct md_err *err);

/* ---- repo_traffic.c for repo.c ---- */

/* Loads what the store holds (registered versions, aliases, policies) into
 * r->seeds; at open. */
int md_repo__load_store(struct md_repo *r, struct md_err *err);
/* Gives a new entry what the store held for it. */
void md_repo__seed(struct md_repo *r, struct mentry *e);
/* Frees an entry's traffic fields. */
void md_repo__free_traffic(struct mentry *e);
/* The registered version num of e, or NULL. */
struct treg *md_repo__reg(const struct mentry *e, int64_t num);
/* Whether version num of e must stay loaded: a policy route or shadow, or an alias names it. */
bool md_repo__pinned(const struct mentry *e, int64_t num);
/*
 * Checks version num of e against its registration, and (add) registers it
 * when it has none (artifact apath, whose signature is asig): MD_OK, or MD_ECONFLICT
 * with the reason when its artifact changed since (versions are immutable).
 * nr gets the artifact's sha256 (reused from old when unchanged); *fresh
 * says whether it was registered now. Caller
 * holds scan_lock; the entry's model.yaml is e->yaml.
 */
int md_repo__register(struct md_repo *r, struct mentry *e, const struct md_contract *c, int64_t num,
                      const char *apath, const struct sig *asig, const struct vrec *old,
                      struct vrec *nr, bool add, bool *fresh, char *msg, size_t msg_size);
/* After an update: stores the first policy, or moves it to a new version
 * (new_versions: serve). */
void md_repo__settle(struct md_repo *r, struct mentry *e, int64_t newest_registered);
/* Loads stored (uploaded) version num of e from its directory under
 * versions_dir; on a failure, msg says why. */
int md_repo__load_stored(struct md_repo *r, struct mentry *e, int64_t num, struct md_version **out,
                         char *msg, size_t msg_size);
/* Fills s's traffic fields from e. */
void md_repo__snapshot_traffic(const struct mentry *e, struct md_snapshot *s);

#endif
