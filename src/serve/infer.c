/* SPDX-License-Identifier: MIT */
/*
 * infer.c: contract check, engine call (inline or through the version's
 * batcher) and accounting for one prediction.
 */
#include "serve/infer.h"
#include "serve/batcher.h"
#include "util/mem.h"

/* The engine on the calling thread, with its statistics. */
static int run_inline(struct md_version *v, const float *x, size_t rows, float *scores,
                      uint64_t deadline_ns, struct md_prediction *out, struct md_err *err)
{
    struct md_version_stats *s = v->stats;
    uint64_t t0 = md_now_ns();
    int rc;

    if (deadline_ns != 0 && t0 > deadline_ns)
        return md_err_set(err, MD_ETIMEDOUT, "model '%s': deadline passed before the request ran",
                          v->model);
    rc = v->ops->predict(v->engine, x, rows, scores, err);
    out->engine_ns = md_now_ns() - t0;
    atomic_fetch_add_explicit(&s->exec_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->compute_ns, out->engine_ns, memory_order_relaxed);
    md_histogram_observe(&s->engine, out->engine_ns);
    return rc == MD_OK ? MD_OK : MD_EINTERNAL;
}

struct md_infer_call {
    struct md_batch_job job;   /* in the batcher's queue until done */
    struct md_version *v;      /* borrowed: the caller holds a reference */
    struct md_prediction pred; /* rows, scores, per_row */
};

/*
 * An engine's failure: its message gets the engine's name, and its code is
 * the one returned (MD_EINTERNAL, a 500), whatever code the engine set.
 */
static int engine_failed(const struct md_version *v, struct md_err *err)
{
    if (err != NULL) {
        md_err_prefix(err, "engine '%s': ", v->ops->name);
        err->code = MD_EINTERNAL;
    }
    return MD_EINTERNAL;
}

/* The rows' outcome from the batcher into out; the engine's message gets its context. */
static int batched(struct md_version *v, int rc, const struct md_batch_info *info,
                   struct md_prediction *out, struct md_err *err)
{
    out->batched = true;
    out->queue_ns = info->queue_ns;
    out->engine_ns = info->engine_ns;
    if (rc == MD_EINTERNAL)
        return engine_failed(v, err);
    return rc;
}

int md_infer_prepare(struct md_version *v, const struct md_tensor *inputs, size_t n_inputs,
                     struct md_arena *a, float **x, size_t *rows, struct md_err *err)
{
    int rc;

    /* Announced before the (possibly long) preparation, so that a batch
     * being gathered waits for this request. */
    if (v->batcher != NULL)
        md_batcher_announce(v->batcher);
    rc = md_contract_prepare(v->contract, inputs, n_inputs, a, x, rows, err);
    if (rc != MD_OK && v->batcher != NULL)
        md_batcher_withdraw(v->batcher);
    return rc;
}

int md_infer_submit(struct md_version *v, const float *x, size_t rows, uint64_t deadline_ns,
                    struct md_arena *a, void (*wake)(void *ctx), void *wake_ctx,
                    struct md_prediction *out, struct md_infer_call **call, struct md_err *err)
{
    struct md_batch_info info;
    struct md_infer_call *c = NULL;
    float *scores;
    size_t n;
    int rc = MD_OK;

    memset(out, 0, sizeof(*out));
    *call = NULL;
    if (!md_mul_ok(rows, v->desc.n_outputs, &n) || !md_mul_ok(n, sizeof(float), &n))
        rc = md_err_set(err, MD_ETOOBIG, "request of %zu rows is too large", rows);
    scores = rc == MD_OK ? md_arena_alloc(a, n) : NULL;
    if (rc == MD_OK && scores == NULL)
        rc = md_err_set(err, MD_ETOOBIG, "request of %zu rows is too large", rows);
    if (rc == MD_OK && v->batcher != NULL && wake != NULL && rows > 0) {
        c = md_arena_alloc(a, sizeof(*c));
        if (c == NULL)
            rc = md_err_set(err, MD_ETOOBIG, "request of %zu rows is too large", rows);
    }
    if (rc != MD_OK || rows == 0) {
        if (v->batcher != NULL)
            md_batcher_withdraw(v->batcher);
        if (rc == MD_OK) {
            out->per_row = v->desc.n_outputs;
            out->scores = scores;
        }
        return rc;
    }
    out->rows = rows;
    out->per_row = v->desc.n_outputs;
    out->scores = scores;
    if (c != NULL) {
        c->v = v;
        c->pred = *out;
        rc = md_batcher_submit(v->batcher, &c->job, x, rows, scores, deadline_ns, true, wake,
                               wake_ctx, err);
        if (rc == MD_EPENDING) {
            *call = c;
            return rc;
        }
        if (rc != MD_OK)
            return rc; /* refused: the rows never queued */
        rc = md_batch_job_result(&c->job, &info, err);
        return batched(v, rc, &info, out, err);
    }
    if (v->batcher != NULL) {
        rc = md_batcher_run(v->batcher, x, rows, scores, deadline_ns, true, &info, err);
        return batched(v, rc, &info, out, err);
    }
    rc = run_inline(v, x, rows, scores, deadline_ns, out, err);
    if (rc == MD_EINTERNAL)
        return engine_failed(v, err);
    return rc;
}

int md_infer_start(struct md_version *v, const struct md_tensor *inputs, size_t n_inputs,
                   uint64_t deadline_ns, struct md_arena *a, void (*wake)(void *ctx),
                   void *wake_ctx, struct md_prediction *out, struct md_infer_call **call,
                   struct md_err *err)
{
    float *x = NULL;
    size_t rows = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    *call = NULL;
    rc = md_infer_prepare(v, inputs, n_inputs, a, &x, &rows, err);
    if (rc != MD_OK)
        return rc;
    return md_infer_submit(v, x, rows, deadline_ns, a, wake, wake_ctx, out, call, err);
}

int md_infer_finish(struct md_infer_call *call, struct md_prediction *out, struct md_err *err)
{
    struct md_batch_info info;
    int rc = md_batch_job_result(&call->job, &info, err);

    *out = call->pred;
    return batched(call->v, rc, &info, out, err);
}

uint64_t md_infer_deadline(const struct md_version *v, uint64_t start_ns, int64_t timeout_us)
{
    uint64_t us = timeout_us > 0 ? (uint64_t)timeout_us : v->contract->timeout_us;

    if (us == 0)
        return 0;
    if (us > UINT64_MAX / 1000u - start_ns / 1000u)
        return UINT64_MAX;
    return start_ns + us * 1000u;
}

void md_infer_account(struct md_version *v, const char *route, const struct md_prediction *p,
                      int rc, uint64_t start_ns)
{
    struct md_route_stats *s = md_route_stats(v->stats, route);
    uint64_t now = md_now_ns();
    uint64_t request_ns = now > start_ns ? now - start_ns : 0;
    _Atomic uint64_t *fail;

    if (rc == MD_OK) {
        atomic_fetch_add_explicit(&s->success, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->inference_count, p->rows, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->request_ns, request_ns, memory_order_relaxed);
        atomic_store_explicit(&s->last_inference, now, memory_order_relaxed);
        md_histogram_observe(&s->request, request_ns);
        if (p->batched) {
            atomic_fetch_add_explicit(&s->queue_ns, p->queue_ns, memory_order_relaxed);
            md_histogram_observe(&s->queue, p->queue_ns);
        }
        return;
    }
    switch (rc) {
    case MD_EINTERNAL:
        fail = &s->fail_backend;
        break;
    case MD_EUNAVAIL:
        fail = &s->fail_overload;
        break;
    case MD_ETIMEDOUT:
        fail = &s->fail_timeout;
        break;
    default:
        fail = &s->fail_rejected;
        break;
    }
    atomic_fetch_add_explicit(fail, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->fail_ns, request_ns, memory_order_relaxed);
}

size_t md_infer_label(const struct md_version *v, const struct md_prediction *p, size_t row)
{
    const float *s = p->scores + row * p->per_row;
    size_t best = 0;
    size_t i;

    if (v->desc.kind == MD_BACKEND_OUT_PROBABILITY)
        return s[0] >= v->contract->threshold ? 1 : 0;
    for (i = 1; i < p->per_row; i++)
        if (s[i] > s[best])
            best = i;
    return best;
}

size_t md_infer_output_width(const struct md_version *v, enum md_output_kind kind)
{
    if (kind == MD_OUT_PROBABILITY && v->desc.kind == MD_BACKEND_OUT_PROBABILITIES)
        return v->desc.n_outputs;
    return 1;
}

const struct md_output *md_infer_find_output(const struct md_version *v, const char *name)
{
    size_t i;

    for (i = 0; i < v->contract->n_outputs; i++)
        if (strcmp(v->contract->outputs[i].name, name) == 0)
            return &v->contract->outputs[i];
    return NULL;
}
