/* SPDX-License-Identifier: MIT */
/*
 * predict.h: the one way a prediction goes through the server, whatever the
 * protocol that asked for it, and the hook that is told how it went.
 *
 *   decode    the protocol's adapter (api/v2.c, api/tfs.c) turns the body
 *             into the neutral request below; nothing in it depends on a
 *             version (a form that needs a contract to be typed, as TF
 *             Serving's rows do, leaves that to bind)
 *   resolve   md_predict_resolve picks the version from the decoded request
 *   validate  bind types the inputs with that version's contract (when the
 *             protocol needs it), md_keys_check checks the contract's keys
 *             (never inputs), then md_contract_prepare checks every value
 *             and writes the engine's matrix
 *   infer     the engine runs, inline or through the version's batcher,
 *             parking the request when the caller can be woken
 *   account   the version's statistics
 *   encode    the adapter writes the answer from the neutral result
 *   tell      after the answer is on its way, the observers attached with
 *             md_predict_attach get the story of the prediction
 *
 * The errors keep the order the protocols have always had: a version that
 * cannot be resolved is answered before a body that could not be decoded,
 * which is answered before an input the contract refuses.
 *
 * Threads: a struct md_predict belongs to one request and is used by its
 * HTTP thread only; while parked it is left alone (the batch worker touches
 * the md_infer_call, not this) until the call after the wake, or the drop
 * of a client that left. Observers are called on the request's HTTP
 * thread, from many threads at once: they must be thread-safe and quick
 * (they run before the connection takes its next request).
 */
#ifndef MD_SERVE_PREDICT_H
#define MD_SERVE_PREDICT_H

#include "util/common.h"
#include "util/err.h"
#include "util/arena.h"
#include "serve/infer.h"
#include "serve/keys.h"
#include "serve/repo.h"

#include <stdatomic.h>

/* Where a prediction stopped. */
enum md_predict_stage {
    MD_PREDICT_DONE = 0, /* it did not: answered */
    MD_PREDICT_DECODE,   /* the body is malformed for its protocol */
    MD_PREDICT_RESOLVE,  /* no version answers (unknown, not ready, a label) */
    MD_PREDICT_VALIDATE, /* the inputs break the version's contract (or the outputs asked for) */
    MD_PREDICT_INFER,    /* queue full, deadline passed, engine failure */
    MD_PREDICT_ENCODE    /* the answer could not be written */
};

/*
 * One prediction. The adapter fills the request part, md_predict_init the
 * rest; the memory it points to (inputs, names) is the request's arena or
 * body, alive until the request's answer has been sent.
 */
struct md_predict {
    /* the decoded request: set by the adapter */
    const char *model;      /* the model the path names */
    const char *version;    /* the version the path names, or NULL */
    const char *label;      /* a version label (TF Serving), or NULL */
    const char *route;      /* the endpoint that took it: "v2 infer", "tfs predict" */
    const char *request_id; /* the request's id */
    uint64_t start_ns;      /* when the request arrived (md_now_ns) */
    int64_t timeout_us;     /* the request's own timeout; 0: the contract's */
    const char *(*header)(void *conn, const char *name); /* the request's headers, or NULL */
    void *conn;                                          /* for header() */
    struct md_tensor *inputs;                            /* n_inputs inputs as decoded */
    size_t n_inputs;
    struct md_key_fields fields; /* where the body keeps named fields (keys among them); all
                                    NULL: nowhere */
    /* Types the inputs with the resolved version's contract (p->v is set),
     * for a protocol whose values need it; may set inputs and n_inputs. NULL:
     * decode typed them. An error is a validation failure. */
    int (*bind)(void *ctx, struct md_predict *p, struct md_arena *a, struct md_err *err);
    void *bind_ctx;
    struct md_route_copies copies; /* set by the resolver: the versions a copy of the
                                      answer goes to (shadows, the mirror); references */
    bool to_champion; /* the retry of a candidate's failure: the champion answers, route
                         "retry", whatever the path and the policy say */

    /* the outcome: set by the pipeline, read-only for others */
    struct md_version *v;             /* the version resolved (a reference), or NULL */
    const char *route_name;           /* the route it took: a policy route's name, "direct",
                                         "default" or "retry"; a literal or interned (alive
                                         until exit) */
    const float *x;                   /* the prepared matrix: rows * contract width, or NULL */
    size_t rows;                      /* rows of x */
    const struct md_key_values *keys; /* n_keys keys checked, in the contract's order */
    size_t n_keys;                    /* 0 until checked, or when the contract has none */
    bool keys_checked;                /* the keys passed md_keys_check */
    struct md_prediction pred;        /* the engine's scores (rows 0 until it ran) */
    struct md_infer_call *call;       /* private: the batched call while parked */
    enum md_predict_stage stage;      /* where it failed, or MD_PREDICT_DONE */
    int code;                         /* MD_OK or the failure's code */
    struct md_err err;                /* the failure's message */
};

/* Clears p's outcome (the request part is left as it is). */
static inline void md_predict_init(struct md_predict *p)
{
    p->v = NULL;
    p->route_name = MD_ROUTE_DIRECT;
    p->copies.n_shadows = 0;
    p->copies.mirror = NULL;
    p->x = NULL;
    p->rows = 0;
    p->keys = NULL;
    p->n_keys = 0;
    p->keys_checked = false;
    memset(&p->pred, 0, sizeof(p->pred));
    p->call = NULL;
    p->stage = MD_PREDICT_DONE;
    p->code = MD_OK;
    p->err.code = MD_OK;
    p->err.msg[0] = '\0';
}

/*
 * The resolver: the version that answers p, with a reference the caller
 * drops, and the route it took (p->route_name). The version or alias the
 * request names (route "direct"; a TF Serving label is an alias, and an
 * unknown one is a 400 "Unrecognized servable version label"), else the
 * one the model's traffic policy picks: by the routing key (a header or a
 * key field) when the policy is sticky, at random by weight otherwise. The
 * only place a request meets the repository (p is decoded by then; a body
 * that failed to decode still reaches here, as its failure is answered
 * after the resolver's). Errors as md_repo_route's (MD_ENOTFOUND,
 * MD_EUNAVAIL) and MD_EINVAL for a label.
 */
int md_predict_resolve(struct md_repo *repo, struct md_predict *p, struct md_version **v,
                       struct md_err *err) MD_MUST_CHECK;

/*
 * Runs p from its decoded request: resolve, bind, prepare, infer. decoded is
 * what the adapter's decode returned (its message in p->err). Returns MD_OK
 * with p->pred; MD_EPENDING when the rows wait in the version's batch queue
 * (only when wake is set: wake(wake_ctx) is called once from another thread
 * when they have run; then md_predict_finish); or the failure's code, with
 * p->stage, p->code and p->err saying which. p->v is set whenever the
 * version was resolved, failure or not: md_predict_account, then
 * md_predict_release, drop it. The arena must outlive the prediction.
 */
int md_predict_run(struct md_predict *p, struct md_repo *repo, int decoded, struct md_arena *a,
                   void (*wake)(void *ctx), void *wake_ctx) MD_MUST_CHECK;

/* The outcome of a run that returned MD_EPENDING, after its wake. */
int md_predict_finish(struct md_predict *p) MD_MUST_CHECK;

/*
 * The value of key `name` in row `row` of p, into *len (not NUL-terminated;
 * an int64 key in plain decimal), or NULL when p has none there. Once the
 * keys are checked (p->keys_checked: validation got past them), only the
 * version's contract's keys have values, each from the body or, when the
 * body has none, from the header the key names. Before, as in the resolver,
 * the value is the raw field of that name in the body (md_key_fields_find:
 * a string's bytes, a number's text as sent), and a key the body lacks is
 * not looked for in a header, as no contract says which: the resolver of a
 * model whose contract it knows uses md_predict_key_from. A value given
 * once (V2 parameters, a header) is the value of every row.
 */
const char *md_predict_key(const struct md_predict *p, const char *name, size_t row, size_t *len);

/*
 * The raw value of key k (a contract's declaration) in row `row` of p,
 * before any check: the body's field k->name, else header k->header when
 * the key names one (the header's text is valid while the request runs).
 * NULL when neither has it.
 */
const char *md_predict_key_from(const struct md_predict *p, const struct md_key *k, size_t row,
                                size_t *len);

/*
 * Records the prediction in its version's statistics (nothing when no
 * version was resolved). rc is the request's outcome: p->code, or the
 * encoder's failure after a success (then MD_PREDICT_ENCODE in p->stage).
 */
static inline void md_predict_account(struct md_predict *p, int rc)
{
    if (rc != MD_OK && p->code == MD_OK) {
        p->stage = MD_PREDICT_ENCODE;
        p->code = rc;
    }
    if (p->v != NULL)
        md_infer_account(p->v, p->route_name, &p->pred, rc, p->start_ns);
}

/* Drops the references to the versions of p's copies. */
void md_predict_release_copies(struct md_predict *p);

/* Drops the version reference (and the copies' ones). */
static inline void md_predict_release(struct md_predict *p)
{
    md_version_unref(p->v);
    p->v = NULL;
    if (MD_UNLIKELY(p->copies.n_shadows > 0 || p->copies.mirror != NULL))
        md_predict_release_copies(p);
}

/* ---- the completion hook ---------------------------------------------- */

/*
 * The story of one prediction, told once it was answered. Everything is
 * borrowed for the observer's call only: copy what must outlive it.
 * Validation stops at the first failure, so a refused request carries one
 * reason (stage MD_PREDICT_VALIDATE, its message naming the feature, the row
 * and the reason).
 */
struct md_predict_story {
    const char *request_id;
    const char *model;                /* as the request named it */
    const struct md_version *version; /* the version that answered, or NULL (not resolved) */
    const char *route;                /* the endpoint: "v2 infer", "tfs predict" */
    const char *route_name;           /* the traffic route it took (md_predict.route_name) */
    int status;                       /* HTTP status answered; 0: the client left first */
    int code;                         /* MD_OK or the failure's code */
    enum md_predict_stage stage;      /* where it failed, or MD_PREDICT_DONE */
    const char *error;                /* "" or the failure's message */
    const struct md_tensor *inputs;   /* n_inputs as decoded, before defaults and encoding */
    size_t n_inputs;
    const float *prepared;              /* rows * contract width, or NULL (not prepared) */
    size_t rows;                        /* rows of prepared */
    const struct md_prediction *scores; /* the engine's outputs (rows 0: it did not run) */
    const struct md_key_values *keys;   /* n_keys keys in the order of the version's contract;
                                           NULL: none, or not checked (the request stopped
                                           before, or at, its keys) */
    size_t n_keys;
    uint64_t latency_ns; /* from arrival to the answer queued */
    bool shadow;         /* a shadow's or mirror's answer (serve/shadow.h), told only to the
                            observer the executor was given; false for every other story */
};

struct md_predict_observer {
    /* Called for every prediction answered while attached; thread-safe. */
    void (*told)(void *ctx, const struct md_predict_story *story);
    void *ctx;
};

#define MD_PREDICT_MAX_OBSERVERS 16

/* private: the observers attached now, or NULL; read through md_predict_observed() */
extern _Atomic(const void *) md_predict__observers;

/*
 * Attaches o (copied): every prediction answered from now on is told to
 * o->told. MD_EINVAL past MD_PREDICT_MAX_OBSERVERS. Thread-safe.
 */
int md_predict_attach(const struct md_predict_observer *o, struct md_err *err) MD_MUST_CHECK;

/*
 * Detaches the observer attached with the same told and ctx (nothing when
 * none is). A request that loaded the list before may still call it: the
 * lists a change replaces stay allocated until md_predict_detach_all.
 */
void md_predict_detach(const struct md_predict_observer *o);

/* Detaches every observer and frees every list made so far: only when no
 * request runs (at exit, or between unit tests). */
void md_predict_detach_all(void);

/* Whether any observer is attached: one relaxed load, for the hot path's
 * branch (a request that sees none builds no story). */
static inline bool md_predict_observed(void)
{
    return atomic_load_explicit(&md_predict__observers, memory_order_relaxed) != NULL;
}

/*
 * Tells the observers attached now the story of p, answered with HTTP
 * status (0: the client left before its answer). Nothing when none is.
 */
void md_predict_tell(const struct md_predict *p, int status);
/* The story of p answered with status (what md_predict_tell tells). */
void md_predict_story_of(const struct md_predict *p, int status, struct md_predict_story *out);

/* Stories told since start (each told to every observer attached then). */
uint64_t md_predict_told(void);

/*
 * The story's view of contract feature `feature` in row `row` as the request
 * sent it: the tensor that holds it (*t) and the element's index (*index;
 * (*t)->missing[*index] set when the value was null). False when the
 * request did not send the feature (an absent optional feature), the row or
 * feature is out of range, or no version was resolved.
 */
bool md_predict_story_input(const struct md_predict_story *s, size_t feature, size_t row,
                            const struct md_tensor **t, size_t *index);

/*
 * The prepared columns of contract feature `feature` in row `row` (the
 * feature's width of them, from its first column), or NULL when nothing was
 * prepared or either is out of range.
 */
const float *md_predict_story_prepared(const struct md_predict_story *s, size_t feature,
                                       size_t row);

/*
 * The value of the version's contract's key number `key` (an index of
 * s->version->contract->keys) in row `row`, into *len: a string's bytes or
 * an int64 in plain decimal, not NUL-terminated. NULL when the request had
 * none (an optional key not sent), the keys were not checked, or either
 * index is out of range. A value given once is the value of every row.
 */
const char *md_predict_story_key(const struct md_predict_story *s, size_t key, size_t row,
                                 size_t *len);

#endif
