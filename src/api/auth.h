/* SPDX-License-Identifier: MIT */
/*
 * auth.h: who sent a request and what it may do. Every request that matches
 * a route passes md_auth_check before its handler (net/router.c), even while
 * no authentication exists: the principal is then "anonymous". The
 * permissions and scopes here are what each route declares in the route
 * table; the principal is what the handlers of a listing or of a body with
 * several models filter with (md_auth_may_use).
 *
 * Until tokens exist, the anonymous principal may do everything on a
 * loopback listener, or anywhere with --insecure; on any other listener it
 * may read, predict and give feedback but not change the server's state
 * (MD_PERM_DEPLOY, MD_PERM_ADMIN, MD_PERM_DATA), so that whoever can reach the port cannot unload
 * every model.
 */
#ifndef MD_API_AUTH_H
#define MD_API_AUTH_H

#include "util/common.h"
#include "util/err.h"

/*
 * The permission a route needs: bits, so that a principal holds a set. A
 * role is a set of them (md_role_perms); docs/security.md is the matrix.
 */
enum md_perm {
    MD_PERM_STATUS = 1 << 0,   /* health, server and model metadata, readiness: what a client
                                  of the inference protocols reads */
    MD_PERM_READ = 1 << 1,     /* statistics, metrics, listings, quality, drift, events,
                                  settings, rollouts, trainings: read-only, no records */
    MD_PERM_PREDICT = 1 << 2,  /* inference: a POST that changes nothing on the server */
    MD_PERM_FEEDBACK = 1 << 3, /* ground truth for predictions */
    MD_PERM_REVIEW = 1 << 4,   /* review queues: take an item (a lease), answer it */
    MD_PERM_DATA = 1 << 5,     /* stored records: the prediction log, training-set exports */
    MD_PERM_DEPLOY = 1 << 6,   /* versions, aliases, traffic, rollouts, strategies, retraining,
                                  datasets, alert rules, load and unload */
    MD_PERM_ADMIN = 1 << 7     /* settings, tokens, audit, keys, erasure */
};
#define MD_PERM_ALL 0xffu

/* The roles a token may hold, each a fixed set of permissions. */
enum md_role {
    MD_ROLE_VIEWER = 1, /* 0 is no role */
    MD_ROLE_PREDICTOR,
    MD_ROLE_REVIEWER,
    MD_ROLE_DEPLOYER,
    MD_ROLE_ADMIN
};
#define MD_ROLE_COUNT 5

/*
 * Where a route's model scope comes from: which models a request touches,
 * for a principal limited to some. 0 is no value, so that a table entry
 * that forgets to say is caught (tests/unit/test_router.c).
 */
enum md_scope {
    MD_SCOPE_NONE = 1,   /* no model: health, settings, server-wide metrics */
    MD_SCOPE_PATH_MODEL, /* the path's {model}, checked by the router before the handler */
    MD_SCOPE_BODY_ITEMS, /* each item of the body names a model: the handler checks each */
    MD_SCOPE_LISTING     /* a listing of models: the handler leaves out those the
                            principal may not use */
};

/* Who sent a request. Borrowed from the struct md_auth that made it. */
struct md_principal {
    const char *name; /* "anonymous" */
    unsigned perms;   /* enum md_perm bits it holds */
    bool all_models;  /* it may use every model (the only kind there is yet) */
};

/*
 * The server's rules for requests without credentials. Zeroed, nothing is
 * refused (unit tests and benchmarks dispatch without a server); the server
 * sets it with md_auth_init before it starts, read-only afterwards.
 */
struct md_auth {
    bool read_only;     /* anonymous requests may not change the server's state */
    const char *listen; /* the listener's address, for the 403 message (borrowed) */
};

struct md_api_req;

/*
 * Sets a's rules: anonymous requests may do everything on a loopback
 * listener or with insecure, else status, read, predict and feedback. listen is the
 * address as given (--listen), kept for messages; it must outlive a.
 */
void md_auth_init(struct md_auth *a, bool loopback, bool insecure, const char *listen);

/*
 * The principal who sent req: the anonymous one until there are tokens
 * (then read from req's headers). Static memory; never NULL.
 */
const struct md_principal *md_auth_principal(const struct md_auth *a, const struct md_api_req *req);

/*
 * MD_OK when p holds perm (one enum md_perm bit), else MD_EPERM with a
 * message saying why and what would allow it (--insecure). Thread-safe.
 */
int md_auth_check(const struct md_auth *a, const struct md_principal *p, unsigned perm,
                  struct md_err *err) MD_MUST_CHECK;

/* Whether p may use model: the scope check of a path's model, and a listing's filter. */
bool md_auth_may_use(const struct md_principal *p, const char *model);

/* "status", "read", "predict", "feedback", "review", "data", "deploy", "admin" for one
 * bit; "?" otherwise. */
const char *md_perm_name(unsigned perm);

/* The permissions of role; 0 for no role. */
unsigned md_role_perms(enum md_role role);

/* "viewer", "predictor", "reviewer", "deployer", "admin"; "?" otherwise. */
const char *md_role_name(enum md_role role);

/* The role named name, or 0. */
enum md_role md_role_parse(const char *name);

/* "none", "path-model", "body-items", "listing"; "?" otherwise. */
const char *md_scope_name(enum md_scope scope);

#endif
