/* SPDX-License-Identifier: MIT */
/*
 * auth.h: who sent a request and what it may do. Every request that matches
 * a route passes md_router_admit before its handler (net/router.c): the
 * principal is read from the request (md_auth_principal), then checked
 * against the permission its route declares (md_auth_check) and the model
 * its path names (md_auth_may_use); the handlers of a listing or of a body
 * with several models filter with md_auth_may_use too.
 *
 * With authentication off (the default; modeld refuses it on a non-loopback
 * address without --insecure) the principal is "anonymous" with every
 * permission and every model. With it on (--auth), a request carries
 * "Authorization: Bearer <secret>" of a token (api/token.h): the token's
 * name, role, model scope and rate limit make the principal. A Bearer value
 * with a JSON Web Token's shape (two dots) goes to the JWT verifier
 * (api/jwt.h) instead, when one is published: the token's subject, roles
 * and models make the principal (no rate limit). The health
 * endpoints and /metrics may be left open (--auth-health, --auth-metrics).
 *
 * The tokens a request is checked against are an immutable table published
 * by pointer (md_auth_tokens_publish) and read in an epoch section
 * (util/epoch.h): a request takes no lock, does no store I/O and no
 * malloc; its principal is copied into the request's arena.
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

/* Who sent a request: request memory (its arena), or static. */
struct md_principal {
    const char *name;          /* "anonymous", or the token's name */
    unsigned perms;            /* enum md_perm bits it holds */
    bool all_models;           /* it may use every model; else only models[] */
    const char *const *models; /* n_models names, when !all_models */
    size_t n_models;
    int64_t token_id;  /* the token's id in the store; 0: anonymous */
    enum md_role role; /* 0: anonymous */
    /* The dashboard session (api/session.h) a cookie request came by, in
     * request memory; NULL for a bearer header or anonymous. */
    const struct md_session_view *session;
};

/* The token table (api/auth.c): immutable once published. */
struct md_token_table;

/*
 * The server's rules for credentials. Zeroed, authentication is off and
 * nothing is refused (unit tests and benchmarks dispatch without a server).
 * Set before the server starts; tokens is swapped by md_auth_tokens_publish.
 */
struct md_auth {
    bool enabled;       /* requests need a token (--auth) */
    bool open_health;   /* with enabled: the health endpoints need none (--auth-health=false) */
    bool open_metrics;  /* with enabled: /metrics needs none (--auth-metrics=false) */
    const char *listen; /* the listener's address, for messages (borrowed) */
    bool loopback;      /* the listener's address is a loopback one (net/http.c) */
    _Atomic(struct md_token_table *) tokens; /* the published table, or NULL: no token */
    /* JSON Web Tokens (api/jwt.h): the verifier published by md_auth_jwt_publish, or
       NULL: none are taken */
    _Atomic(struct md_jwt *) jwt;
    /* The dashboard's sessions (api/session.h), or NULL: a Cookie header is
     * not read. Set before the server starts, with enabled. */
    struct md_sessions *sessions;
    bool tls; /* the listener speaks TLS (net/http.c): session cookies are Secure */
};

struct md_api_req;
struct md_store_tx;
struct md_jwt;
struct md_sessions;
struct md_session_view;

/* Sets a's listener address, kept for messages; it must outlive a. */
void md_auth_init(struct md_auth *a, const char *listen);

/*
 * The principal who sent req, into *out (static or req's arena; never
 * NULL on MD_OK). open: the route may be called without a token (an open
 * health or metrics endpoint): a request without an Authorization header
 * is then anonymous with the status and read permissions. A request
 * without an Authorization header to any other route is authenticated by
 * its dashboard session cookie, when it has one (api/session.h): as the
 * credential the session holds, by md_auth_credential; a method other than
 * GET or HEAD then needs the session's X-CSRF-Token and, when it sends an
 * Origin, one naming the Host (else MD_EPERM naming the header); an
 * unknown or expired session is MD_EAUTH. Only that path takes a lock (the
 * session table's). charge: count
 * the request against its token's rate limit (false on a parked request's
 * second call). MD_EAUTH for a missing, malformed, unknown, expired or
 * revoked token (the message never holds the secret); MD_ETOOMANY past the
 * token's rate, with retry_after set to the seconds to wait. Thread-safe,
 * lock-free.
 */
int md_auth_principal(const struct md_auth *a, const struct md_api_req *req, bool open, bool charge,
                      const struct md_principal **out, char retry_after[16],
                      struct md_err *err) MD_MUST_CHECK;

/*
 * The principal of a credential (n bytes): a token's secret, or a JSON Web
 * Token, as it would follow "Bearer " in an Authorization header; checked
 * by the same code (revocation, expiry, role, models, rate limit when
 * charge). Into *out in req's arena. MD_EAUTH, MD_ETOOMANY as
 * md_auth_principal (the message never holds the credential). Thread-safe,
 * lock-free.
 */
int md_auth_credential(const struct md_auth *a, const struct md_api_req *req, const char *cred,
                       size_t n, bool charge, const struct md_principal **out, char retry_after[16],
                       struct md_err *err) MD_MUST_CHECK;

/*
 * MD_OK when p holds perm (one enum md_perm bit), else MD_EPERM with a
 * message naming the principal, its role and the permission. Thread-safe.
 */
int md_auth_check(const struct md_auth *a, const struct md_principal *p, unsigned perm,
                  struct md_err *err) MD_MUST_CHECK;

/* Whether p may use model: the scope check of a path's model, and a listing's filter. */
bool md_auth_may_use(const struct md_principal *p, const char *model);

/*
 * Reads every token of the store into a new table (*out; free it with
 * md_auth_tokens_free unless published). Inside a store job's run.
 */
int md_auth_tokens_read(struct md_store_tx *tx, struct md_token_table **out,
                        struct md_err *err) MD_MUST_CHECK;

struct md_store_token;

/* The same from n rows in memory (tests, benchmarks): MD_ECORRUPT for a bad hash or models. */
int md_auth_tokens_make(const struct md_store_token *rows, size_t n, struct md_token_table **out,
                        struct md_err *err) MD_MUST_CHECK;

/*
 * Publishes t (taken) as a's table: each token's rate-limit state and last
 * use carry over from the table it replaces, which is freed once no request
 * can still read it (md_epoch_wait: never inside an epoch section).
 * Writers are serialized by a lock of their own. NULL t: no token.
 */
void md_auth_tokens_publish(struct md_auth *a, struct md_token_table *t);

/* Frees a table that was not published. NULL ok. */
void md_auth_tokens_free(struct md_token_table *t);

/*
 * Publishes j (taken) as a's verifier of JSON Web Tokens, in place of the
 * one before (its cache goes with it), which is freed once no request can
 * still read it (md_epoch_wait: never inside an epoch section). NULL j:
 * none are taken. One writer at a time (start, SIGHUP, stop).
 */
void md_auth_jwt_publish(struct md_auth *a, struct md_jwt *j);

/* Tokens in a's table (revoked and expired ones included). */
size_t md_auth_tokens_count(struct md_auth *a);

/*
 * The last uses not yet written to the store: for each token used since
 * the previous call, fn(ctx, id, last_used_ms). Called by one thread at a
 * time (the writer of last uses: a periodic task and the shutdown).
 */
void md_auth_tokens_used(struct md_auth *a, void (*fn)(void *ctx, int64_t id, int64_t at_ms),
                         void *ctx);

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
