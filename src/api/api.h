/* SPDX-License-Identifier: MIT */
/*
 * api.h: what every protocol adapter shares: the server state handlers read,
 * the request and response the HTTP layer hands them, the parsed route, and
 * the one table that maps error codes to HTTP statuses.
 */
#ifndef MD_API_API_H
#define MD_API_API_H

#include "util/common.h"
#include "util/err.h"
#include "api/auth.h"
#include "util/arena.h"
#include "util/buf.h"
#include "serve/command.h"
#include "serve/repo.h"
#include "store/store.h"
#include "serve/shadow.h"
#include "watch/accesslog.h"
#include "watch/compare.h"
#include "watch/history.h"
#include "watch/alerts.h"
#include "watch/notify.h"
#include "watch/predlog.h"
#include "watch/signals.h"
#include "watch/outcomes.h"

#include <stdatomic.h>

/* The families of /metrics' modeld_http_requests_total. */
enum md_api_family {
    MD_API_V2 = 0,
    MD_API_V1,
    MD_API_REPOSITORY,
    MD_API_METRICS,
    MD_API_MANAGEMENT, /* /api/v1/ */
    MD_API_UI,         /* the dashboard: / and /ui/ (api/ui.c) */
    MD_API_OTHER,
    MD_API_FAMILIES
};

/* Status codes counted one by one; others land in the last slot. */
#define MD_API_CODES 14
extern const int md_api_codes[MD_API_CODES];

struct md_config;
struct md_subject_key;

struct md_api {
    struct md_repo *repo;   /* borrowed */
    struct md_store *store; /* borrowed, or NULL: events and the store's state */
    const char *name;       /* "modeld" */
    const char *version;    /* build version */
    _Atomic bool ready;     /* the first repository scan has finished */
    _Atomic bool draining;  /* shutting down: ready is false */
    int64_t started_ms;     /* wall clock at start */
    _Atomic uint64_t http[MD_API_FAMILIES][MD_API_CODES + 1]; /* requests by family and code */
    /* Set by the HTTP server while it runs (before its first request, cleared
     * after its last): connections open and requests in flight now, for /metrics. */
    void (*http_gauges)(void *http_ctx, long *connections, long *in_flight);
    void *http_ctx;
    struct md_access_log *access_log; /* borrowed, or NULL: for its dropped lines */
    /* Borrowed: the daemon's settings and their sources, read-only while serving; or NULL. */
    const struct md_config *config;

    /* Borrowed: load and unload are submitted here, for control to apply. */
    struct md_commands *commands;
    /* Borrowed, or NULL: how pairs of versions compare on the same requests
     * (/metrics, GET /api/v1/models/{m}/comparison), and the shadow executor
     * that feeds it (its queue's figures in /metrics). */
    struct md_compare *compare;
    struct md_shadow *shadow;
    /* Borrowed, or NULL: the prediction log (its figures in /metrics). */
    struct md_predlog *predlog;
    /* Borrowed, or NULL (no store): the key of subject hashes, for erasure
     * (api/subjects.c). */
    const struct md_subject_key *subject_key;
    /* Borrowed, or NULL: the named metrics (watch/signals.h) alert rules,
     * the history and gates read; GET /api/v1/signals lists them. */
    struct md_signals *signals;
    /* Evaluations of signals that wait on the store, running now on threads
     * of their own for parked requests (api/history.c). */
    _Atomic int signal_evals;
    /* Borrowed, or NULL: the per-minute history (watch/history.h), whose
     * rows GET /api/v1/models/{m}/history reads from the store. */
    struct md_history *history;
    /* Borrowed, or NULL: the alert rules in force with their states, and the
     * notifier's counters (api/alerts.c; /metrics). */
    struct md_alerts *alerts;
    struct md_notify *notify;
    /* Borrowed, or NULL: the quality statistics kept as feedback flows
     * (watch/outcomes.h), which POST /api/v1/feedback adds to. */
    struct md_outcomes *outcomes;
    /* Borrowed, or NULL: the review queues' figures (watch/review.h), for
     * GET /api/v1/review and /metrics. */
    struct md_review_stats *review;
    /* Where an upload's artifact is written while it arrives (api/upload.h),
     * made by md_upload_dir_prepare before serving; NULL: uploads are refused. */
    const char *upload_dir;
    /* Who may do what (api/auth.h): set before the HTTP server starts (main:
     * --auth and the tokens; net/http.c: the listener's address), read-only
     * afterwards but for its published token table; zeroed, nothing is
     * refused. */
    struct md_auth auth;
    /* The store's audit chain is on (--audit-key-file): every call that
     * changes state is recorded before its answer (api/audit.h). Set before
     * serving. */
    bool audit;
};

/* What the HTTP layer hands a handler. Memory is the request's arena. */
struct md_api_req {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* percent-decoded path, no query */
    const char *body;   /* NUL-terminated; body_len bytes */
    size_t body_len;
    struct md_arena *arena;                              /* dropped after the response is sent */
    const char *request_id;                              /* this request's id */
    uint64_t start_ns;                                   /* when the request arrived */
    const char *(*header)(void *conn, const char *name); /* a request header or NULL */
    const char *(*query)(void *conn, const char *name);  /* a query argument or NULL; may
                                                            be NULL itself */
    void *conn;                                          /* private: for header() */
    void (*wake)(void *wake_ctx); /* NULL, or the HTTP layer can park this request: see
                                     md_api_park */
    void *wake_ctx;               /* private: for wake() */
    /* Sets wake where the HTTP layer left it NULL though it could park the
     * request (the only connection, where batching gains nothing), for work
     * that is long whatever else is connected (an engine load); wake stays
     * NULL once the server is stopping. NULL when there is no such layer. */
    void (*want_wake)(struct md_api_req *req);
    /* Who sent it: set by the router before the handler runs; a handler
     * filtering a listing or checking a body's models passes it to
     * md_auth_may_use. */
    const struct md_principal *principal;
    /* Who a refused request came from (a known token lacking the
     * permission or the model: 403), for the audit log; NULL otherwise. */
    const struct md_principal *refused;
    /* A streaming route's sink state (struct md_api_sink's open made it);
     * NULL for every other route, whose body is in body. */
    void *sink;
    /* Writes the client's address (an IP address, or "" when unknown) into
     * out (n bytes); may be NULL (no HTTP layer). For the audit log. */
    void (*peer)(void *conn, char *out, size_t n);
};

/* Headers a handler may add to an answer (md_api_header). */
#define MD_API_RESP_HEADERS 12

struct md_api_resp {
    int status;                     /* HTTP status; 200 by default */
    struct md_buf *body;            /* owned by the connection; reset before the call */
    const char *content_type;       /* default application/json */
    char retry_after[16];           /* "" or seconds for Retry-After */
    const char *allow;              /* Allow header for a 405, or NULL */
    enum md_api_family family;      /* for the request counters */
    size_t json_len;                /* 0; or the body is json_len bytes of JSON followed by
                                       binary tensor data, sent with the header
                                       Inference-Header-Content-Length: json_len */
    void *resume;                   /* NULL on a request's first call; after a park, the
                                       state the handler parked with */
    void (*drop)(void *state);      /* set by md_api_park */
    bool parked;                    /* set by md_api_park: no answer yet */
    const char *model;              /* NULL, or the model the path names (request memory) */
    char version[24];               /* "" or the version that answered (md_api_acquire) */
    char route[MD_POLICY_NAME_MAX]; /* "" or the traffic route a prediction took: with
                                       version, sent as X-Model-Route and X-Model-Version */
    /* NULL, or what must run once the answer is on its way: whoever called
     * the handler calls after(after_ctx, status) once, after queueing the
     * answer (the request's arena and body still alive), and never for a
     * parked call (the answering call may set it). */
    void (*after)(void *ctx, int status);
    void *after_ctx;
    /* Headers of the handler's own beyond those above (md_api_header): names
     * and values static or in the request's arena. */
    const char *headers[MD_API_RESP_HEADERS][2];
    unsigned n_headers;
};

/* The names a route's pattern matched in the path: {model}, {version}, {label}, {setting},
 * {alias}. */
struct md_route {
    const char *model;   /* NULL when the path has none; arena memory */
    const char *version; /* NULL when absent */
    const char *label;   /* TF Serving version label, or NULL */
    const char *setting; /* /api/v1/settings/{setting}, or NULL */
    const char *alias;   /* /api/v1/models/{model}/aliases/{alias}, or NULL */
    const char *id;      /* a rollout's {id} (digits), or NULL */
    const char *name;    /* a strategy's {name}, or NULL */
};

/*
 * Where the body of a route that streams goes (the route table's sink):
 * instead of gathering the body in the connection's buffer, up to
 * --max-body-bytes, the HTTP layer opens the sink once the request's head
 * has arrived and passed the route's permission check, hands it the body as
 * it arrives, up to --max-upload-bytes, and then runs the handler, which
 * finds the sink's state in req->sink. Every call is on the request's HTTP
 * thread.
 */
struct md_api_sink {
    /* At the head, before any of the body: MD_OK with *state set, or an
     * error answered at once (the body is not read; the connection closes). */
    int (*open)(struct md_api *api, const struct md_route *rt, struct md_api_req *req, void **state,
                struct md_err *err);
    /* The next n > 0 bytes of the body. A failure is the sink's to keep
     * (and to clean up after) until the handler asks. */
    void (*write)(void *state, const char *p, size_t n);
    /* The request has ended, answered or not (the client left, the body
     * passed the limit): releases whatever state holds, files included. */
    void (*close)(void *state);
};

/*
 * The one table from error code to HTTP status: every status modeld
 * answers comes from it, the HTTP layer's own refusals (net/) included.
 * Every code from MD_ECODE_MIN to MD_OK has a row; anything else is a 500.
 * A protocol that answers differently for the same failure uses a
 * different code, never a status of its own: TF Serving's malformed path is
 * MD_EINVAL (400) where an unknown V2 path is MD_ENOTFOUND (404), and a
 * repository load that fails is MD_EINVAL whatever the cause (Triton: 400).
 * Only the message is protocol-specific.
 */
int md_api_status(int code);

/*
 * Writes {"error": msg} with the status for code, and Retry-After: 1 when the
 * table says a retry may succeed (MD_EUNAVAIL). resp->body is reset first.
 */
void md_api_error_msg(struct md_api_resp *resp, int code, const char *msg);
/* Same from err (code and message). */
void md_api_error(struct md_api_resp *resp, const struct md_err *err);
/* Same from a code and a formatted message (cut at sizeof(struct md_err.msg)). */
void md_api_errorf(struct md_api_resp *resp, int code, const char *fmt, ...) MD_PRINTF(3, 4);

/*
 * Adds the header name: value to the answer; name and value must live
 * until it is sent (static, or the request's arena). Past
 * MD_API_RESP_HEADERS the header is left out (an assertion in debug
 * builds): the callers are a fixed few.
 */
void md_api_header(struct md_api_resp *resp, const char *name, const char *value);

/*
 * The query arguments the listings share (events, the audit log, the
 * prediction log), each MD_OK when the argument is absent (out left as it
 * was) or read, else MD_EINVAL naming it:
 *   md_api_query_time:  milliseconds since 1970 or a UTC time (util/buf.h's
 *                       md_time_parse_ms), into *out_ms;
 *   md_api_query_text:  a text of fewer than n bytes copied into buf, *at
 *                       set to buf ("NAME: longer than N bytes");
 *   md_api_query_limit: a whole number from 1 to max into *out;
 *   md_api_query_bool:  true, false, 1 or 0 into *out.
 */
int md_api_query_time(struct md_api_req *req, const char *name, int64_t *out_ms,
                      struct md_err *err) MD_MUST_CHECK;
int md_api_query_text(struct md_api_req *req, const char *name, char *buf, size_t n,
                      const char **at, struct md_err *err) MD_MUST_CHECK;
int md_api_query_limit(struct md_api_req *req, size_t max, size_t *out,
                       struct md_err *err) MD_MUST_CHECK;
int md_api_query_bool(struct md_api_req *req, const char *name, bool *out,
                      struct md_err *err) MD_MUST_CHECK;

/*
 * Ends an answer written into resp->body by appends not checked one by one
 * (util/buf.h): code is the first error of the buffers it was written with,
 * md_buf_error(resp->body) for most. On an error the answer becomes
 * MD_EINTERNAL "response too large" (500: an answer the server could not
 * build is its own failure, not the client's). Returns code.
 */
int md_api_finish(struct md_api_resp *resp, int code);

/*
 * The version rt names, for a model handler: MD_OK with a reference the
 * caller drops (md_version_unref), or the error answer written into resp
 * (404 unknown, 503 not ready) and its code returned.
 */
int md_api_acquire(struct md_api *api, const struct md_route *rt, struct md_api_resp *resp,
                   struct md_version **v) MD_MUST_CHECK;

/*
 * Parks a request instead of blocking the HTTP thread on it: the handler has
 * handed its work to another thread, which will call req->wake(req->wake_ctx)
 * exactly once when it is done, and returns without an answer. The HTTP
 * layer serves other connections meanwhile; after the wake it calls the same
 * handler again with the same request (same arena, body and id) and
 * resp->resume == state, and that call answers. When the client goes away
 * first, the layer calls drop(state) after the wake instead, to release
 * what the state holds. Only when req->wake is set.
 */
void md_api_park(struct md_api_resp *resp, void *state, void (*drop)(void *state));

/*
 * Appends c's keys (model.yaml `keys:`) to b as a JSON list, for the
 * protocols' model metadata: [{"name", "type" ("string" or "int64"),
 * "required", "max_length" (bytes of a value), "header" (when one may
 * carry it), "description" (when given)}, ...]. A failed write stays in b.
 */
void md_api_put_keys(struct md_buf *b, const struct md_contract *c);

/* Counts a finished request (family, status). */
void md_api_count(struct md_api *api, enum md_api_family family, int status);

/*
 * Has control apply a command (serve/command.h) on model, with its argument
 * (taken: freed with arg_free whatever happens): submits it and parks the
 * request until control has applied it (or waits, when the request cannot
 * park); on the call after the wake, answers with the command's result and
 * ok_status, or its error. A handler calls it on both calls, with arg only
 * on the first (resp->resume NULL).
 */
void md_api_command(struct md_api *api, enum md_command_kind kind, const char *model, void *arg,
                    void (*arg_free)(void *arg), int ok_status, struct md_api_req *req,
                    struct md_api_resp *resp);

/* A request's read or write of the store, done on the store's thread
 * (md_api_store_job): run writes the answer's body into out. */
struct md_api_store_read {
    struct md_store_job job; /* private */
    int (*run)(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err);
    struct md_buf out; /* the answer's body */
    const char *model; /* request memory, or NULL */
    const char *name;  /* request memory, or NULL */
    int64_t id;
    char *text; /* owned, or NULL */
    bool remove;
    void *extra; /* the handler's own, freed with extra_free (may be NULL) */
    void (*extra_free)(void *extra);
    /* NULL, or called on the store thread once the job's writes are
     * committed (not when the job failed), before the request is woken. */
    void (*committed)(struct md_api_store_read *r);
    int code;                /* private: the job's outcome */
    struct md_err err;       /* private */
    void (*wake)(void *ctx); /* private */
    void *wake_ctx;          /* private */
};

/* What a handler gives md_api_store_job (text and extra are taken). */
struct md_api_store_args {
    const char *model;
    const char *name;
    int64_t id;
    char *text;
    bool remove;
    void *extra;
    void (*extra_free)(void *extra);
};

/*
 * Runs fn as a store job for this request: parks it until the store's
 * thread has run it (and committed, for a write), then answers on the call
 * after the wake with status ok_status and the body fn wrote, or fn's error;
 * answers at once when the request cannot park. A handler calls it on both
 * calls; args is read on the first only (resp->resume NULL).
 */
void md_api_store_job(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp,
                      int (*fn)(struct md_store_tx *tx, struct md_api_store_read *r,
                                struct md_err *err),
                      const struct md_api_store_args *args, int ok_status);

/* md_api_store_job, and committed(r) on the store thread once the job's
 * writes are committed (never when it failed), before the request is
 * answered: for what must count only once stored (live statistics). */
void md_api_store_write(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp,
                        int (*fn)(struct md_store_tx *tx, struct md_api_store_read *r,
                                  struct md_err *err),
                        const struct md_api_store_args *args,
                        void (*committed)(struct md_api_store_read *r), int ok_status);

#endif
