/* SPDX-License-Identifier: MIT */
/*
 * infer.c: contract check, engine call and accounting for one prediction.
 */
#include "serve/infer.h"
#include "util/mem.h"

int md_infer_run(struct md_version *v, const struct md_tensor *inputs, size_t n_inputs,
                 struct md_arena *a, struct md_prediction *out, struct md_err *err)
{
    float *x = NULL;
    float *scores;
    size_t rows = 0;
    size_t n;
    uint64_t t0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = md_contract_prepare(v->contract, inputs, n_inputs, a, &x, &rows, err);
    if (rc != MD_OK)
        return rc;
    if (!md_mul_ok(rows, v->desc.n_outputs, &n) || !md_mul_ok(n, sizeof(float), &n))
        return md_err_set(err, MD_ETOOBIG, "request of %zu rows is too large", rows);
    scores = md_arena_alloc(a, n);
    if (scores == NULL)
        return md_err_set(err, MD_ETOOBIG, "request of %zu rows is too large", rows);
    out->rows = rows;
    out->per_row = v->desc.n_outputs;
    out->scores = scores;
    if (rows == 0)
        return MD_OK;
    t0 = md_now_ns();
    rc = v->ops->predict(v->engine, x, rows, scores, err);
    out->engine_ns = md_now_ns() - t0;
    if (rc != MD_OK) {
        md_err_prefix(err, "engine '%s': ", v->ops->name);
        return MD_EINTERNAL;
    }
    return MD_OK;
}

void md_infer_account(struct md_version *v, const struct md_prediction *p, int rc,
                      uint64_t request_ns)
{
    struct md_version_stats *s = &v->stats;

    if (p != NULL && p->engine_ns > 0) {
        atomic_fetch_add_explicit(&s->exec_count, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->compute_ns, p->engine_ns, memory_order_relaxed);
        md_histogram_observe(&s->engine, p->engine_ns);
    }
    if (rc == MD_OK) {
        atomic_fetch_add_explicit(&s->success, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->inference_count, p->rows, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->request_ns, request_ns, memory_order_relaxed);
        atomic_store_explicit(&s->last_inference_ms, md_wall_ms(), memory_order_relaxed);
        md_histogram_observe(&s->request, request_ns);
    } else {
        atomic_fetch_add_explicit(rc == MD_EINTERNAL ? &s->fail_backend : &s->fail_rejected, 1,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&s->fail_ns, request_ns, memory_order_relaxed);
    }
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
