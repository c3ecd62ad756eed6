/* SPDX-License-Identifier: MIT */
/*
 * infer.h: one prediction from validated inputs to engine scores, with the
 * version's statistics kept, and the per-row views the protocol encoders
 * need (probabilities, label, value).
 */
#ifndef MD_SERVE_INFER_H
#define MD_SERVE_INFER_H

#include "util/common.h"
#include "util/err.h"
#include "util/arena.h"
#include "serve/model.h"

struct md_prediction {
    size_t rows;         /* examples predicted */
    const float *scores; /* rows * per_row engine outputs, arena memory */
    size_t per_row;      /* the engine's n_outputs */
    uint64_t engine_ns;  /* time inside the engine (of the whole batch, when batched) */
    uint64_t queue_ns;   /* time in the batch queue */
    bool batched;        /* went through the version's batcher */
};

/* A prediction that waits in a batch queue, in the caller's arena. */
struct md_infer_call;

/*
 * Validates inputs against v's contract, prepares the matrix and runs the
 * engine: inline on the calling thread, or through v's batcher when the
 * contract asks for dynamic_batching. deadline_ns (md_now_ns clock, 0 =
 * none) is when the rows must have reached the engine: see
 * md_infer_deadline. wake NULL: a batched call blocks until its batch has
 * run. Otherwise, for callers that must not block (an HTTP event loop), when
 * v batches and its rows are queued it returns MD_EPENDING with *call set
 * and calls wake(wake_ctx) once, from another thread, when the batch has
 * run; then md_infer_finish gives the outcome. The caller must keep v
 * referenced and the arena alive until then. Errors, each with a message:
 * MD_EINVAL or MD_ETOOBIG (bad input, counted as rejected), MD_EUNAVAIL (the
 * batch queue is full), MD_ETIMEDOUT (the deadline passed first),
 * MD_EINTERNAL (engine failure, counted as a backend failure). Engine
 * statistics are recorded here, once per engine call.
 */
int md_infer_start(struct md_version *v, const struct md_tensor *inputs, size_t n_inputs,
                   uint64_t deadline_ns, struct md_arena *a, void (*wake)(void *ctx),
                   void *wake_ctx, struct md_prediction *out, struct md_infer_call **call,
                   struct md_err *err) MD_MUST_CHECK;

/*
 * md_infer_start in two halves, for a caller that keeps the prepared matrix
 * (the prediction pipeline, serve/predict.h). md_infer_prepare validates
 * inputs against v's contract and writes the engine matrix (*x: *rows rows of
 * the contract's width, arena memory); a version that batches is told first
 * that a request is on its way, so that a batch being gathered waits for it.
 * Errors as md_infer_start's for bad input; the announcement is then taken
 * back. After MD_OK, md_infer_submit must follow exactly once: it runs the
 * rows (x borrowed until it returns, or until md_infer_finish when pending)
 * and returns as md_infer_start does.
 */
int md_infer_prepare(struct md_version *v, const struct md_tensor *inputs, size_t n_inputs,
                     struct md_arena *a, float **x, size_t *rows, struct md_err *err) MD_MUST_CHECK;
int md_infer_submit(struct md_version *v, const float *x, size_t rows, uint64_t deadline_ns,
                    struct md_arena *a, void (*wake)(void *ctx), void *wake_ctx,
                    struct md_prediction *out, struct md_infer_call **call,
                    struct md_err *err) MD_MUST_CHECK;

/* The outcome of a call that md_infer_start or md_infer_submit left pending,
 * after its wake: fills out and returns as a blocking call would have. */
int md_infer_finish(struct md_infer_call *call, struct md_prediction *out,
                    struct md_err *err) MD_MUST_CHECK;

/*
 * The deadline of a request that arrived at start_ns: start_ns + timeout_us
 * when the request names a timeout (> 0), else start_ns + the contract's
 * timeout_us, else 0 (none).
 */
uint64_t md_infer_deadline(const struct md_version *v, uint64_t start_ns, int64_t timeout_us);

/*
 * Records a request that began at start_ns (md_now_ns) and has just
 * finished in v's statistics, under the route it took (a traffic policy's
 * route name, "direct", "shadow"; NULL: "default"; see watch/metrics.h): rc
 * MD_OK is a success, MD_EINTERNAL a backend failure, MD_EUNAVAIL a refusal
 * for overload, MD_ETIMEDOUT a timeout, anything else a rejected request.
 * route is read during the call only.
 */
void md_infer_account(struct md_version *v, const char *route, const struct md_prediction *p,
                      int rc, uint64_t start_ns);

/* The predicted class index of a row (classification). */
size_t md_infer_label(const struct md_version *v, const struct md_prediction *p, size_t row);

/* Columns of an output of this kind for this version: C for multi-class
 * probabilities, else 1. */
size_t md_infer_output_width(const struct md_version *v, enum md_output_kind kind);

/* The contract output called name, or NULL. */
const struct md_output *md_infer_find_output(const struct md_version *v, const char *name);

#endif
