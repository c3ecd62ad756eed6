/* SPDX-License-Identifier: MIT */
/*
 * dataq_feed.c: the observer that turns a prediction's story into the
 * version's data-quality figures. Cost per request: one clock read (a
 * coarse one), a pass over the values as sent (a compare or two per value,
 * no allocation) and a few relaxed atomic additions; a refusal adds the
 * classification of its message.
 *
 * Which values are read: those of a request the contract checked (it was
 * answered, or the contract refused it for a value, a key or a type: the
 * values are there as decoded). A request refused for its shape, its size,
 * a body that did not decode or values its protocol could not type counts
 * as a refusal with no rows.
 */
#include "serve/dataq_feed.h"
#include "serve/infer.h"
#include "watch/dataq.h"

#include <math.h>

/*
 * Missing and out-of-range values of feature f in rows [0, rows) of t, index first + r *
 * stride. full: the request was refused, so any value may be anything; otherwise the
 * contract let no value out of its range and no required one go missing, and only nulls and
 * NaN are left to count.
 */
static void scan_feature(const struct md_dataq_update *u, const struct md_feature *f, size_t fi,
                         const struct md_tensor *t, size_t first, size_t stride, size_t rows,
                         bool full)
{
    bool numeric = t->data != NULL && t->dtype >= MD_DT_BOOL && t->dtype <= MD_DT_FP64 &&
                   t->dtype != MD_DT_FP16;
    bool fp = numeric && (t->dtype == MD_DT_FP32 || t->dtype == MD_DT_FP64);
    bool ranged = full && numeric && (f->has_min || f->has_max);
    uint64_t missing = 0;
    uint64_t out = 0;
    size_t r;

    if (!ranged && !fp && t->missing == NULL && first + (rows - 1) * stride < t->count)
        return; /* nothing to find: no nulls, no NaN, no range to check */
    for (r = 0; r < rows; r++) {
        size_t i = first + r * stride;
        double x;

        if (i >= t->count || (t->missing != NULL && t->missing[i])) {
            missing++;
            continue;
        }
        if (!ranged && !fp)
            continue;
        x = md_tensor_get_f64(t, i);
        if (isnan(x)) {
            missing += !f->allow_nan;
            continue;
        }
        if (ranged && ((f->has_min && x < f->min) || (f->has_max && x > f->max)))
            out++;
    }
    if (missing > 0)
        md_dataq_missing(u, fi, missing);
    if (out > 0)
        md_dataq_out_of_range(u, fi, out);
}

/* A NaN at index i of an accepted 2-D tensor: missing, unless null (counted) or allowed. */
static void nan_at(const struct md_dataq_update *u, const struct md_contract *c,
                   const struct md_tensor *t, size_t i)
{
    size_t f = i % c->n_features;

    if ((t->missing == NULL || !t->missing[i]) && !c->features[f].allow_nan)
        md_dataq_missing(u, f, 1);
}

/* An accepted request in the 2-D form: its nulls and NaN, in one pass over the values. */
static void scan_2d_accepted(const struct md_dataq_update *u, const struct md_contract *c,
                             const struct md_tensor *t, size_t rows)
{
    size_t n = c->n_features;
    size_t count = rows * n < t->count ? rows * n : t->count;
    size_t i;

    if (t->missing != NULL)
        for (i = 0; i < count; i++)
            if (t->missing[i])
                md_dataq_missing(u, i % n, 1);
    if (t->data == NULL)
        return;
    if (t->dtype == MD_DT_FP32) {
        const float *x = t->data;

        for (i = 0; i < count; i++)
            if (MD_UNLIKELY(isnan(x[i])))
                nan_at(u, c, t, i);
    } else if (t->dtype == MD_DT_FP64) {
        const double *x = t->data;

        for (i = 0; i < count; i++)
            if (MD_UNLIKELY(isnan(x[i])))
                nan_at(u, c, t, i);
    }
}

/* The values as sent of every feature of c in s, rows of them (full: as scan_feature). */
static void scan(const struct md_dataq_update *u, const struct md_contract *c,
                 const struct md_predict_story *s, size_t rows, bool full)
{
    uint64_t seen = 0;     /* bit f: tracked feature f was sent */
    size_t seen_other = 0; /* features past the tracked ones that were sent */
    size_t tracked = c->n_features < 64 ? c->n_features : 64;
    size_t i;

    _Static_assert(MD_DATAQ_FEATURES == 64, "one bit per tracked feature");
    /* The 2-D form: one tensor, a feature per column. */
    if (s->n_inputs == 1 && s->inputs[0].name != NULL &&
        strcmp(s->inputs[0].name, c->input_tensor) == 0) {
        const struct md_tensor *t = &s->inputs[0];

        if (t->ndim != 2 || t->shape[1] != (int64_t)c->n_features)
            return;
        if (!full) {
            scan_2d_accepted(u, c, t, rows);
            return;
        }
        for (i = 0; i < c->n_features; i++)
            scan_feature(u, &c->features[i], i, t, i, c->n_features, rows, true);
        return;
    }
    /* Columnar: a tensor per feature; a feature not sent is missing in every row. */
    for (i = 0; i < s->n_inputs; i++) {
        const struct md_tensor *t = &s->inputs[i];
        const struct md_feature *f = md_contract_feature(c, t->name != NULL ? t->name : "");
        size_t fi;

        if (f == NULL)
            continue;
        fi = (size_t)(f - c->features);
        if (fi < 64)
            seen |= (uint64_t)1 << fi;
        else
            seen_other++;
        scan_feature(u, f, fi, t, 0, 1, rows, full);
    }
    for (i = 0; i < tracked; i++)
        if (!(seen & ((uint64_t)1 << i)))
            md_dataq_missing(u, i, rows);
    if (c->n_features > 64 && c->n_features - 64 > seen_other)
        md_dataq_missing(u, 64, (c->n_features - 64 - seen_other) * rows);
}

/* The rows a request sent: its first input's first dimension. */
static size_t rows_sent(const struct md_predict_story *s)
{
    const struct md_tensor *t;

    if (s->inputs == NULL || s->n_inputs == 0)
        return 0;
    t = &s->inputs[0];
    /* Never more than the values there are: a shape is only what the body claims. */
    return t->ndim >= 1 && (uint64_t)t->shape[0] < t->count ? (size_t)t->shape[0] : t->count;
}

static void predicted(const struct md_dataq_update *u, const struct md_version *v,
                      const struct md_prediction *p)
{
    struct md_dataq_outputs o;
    size_t r;

    if (p->rows == 1) {
        if (v->contract->task == MD_TASK_REGRESSION)
            md_dataq_predicted_one(u, 0, p->scores[0]);
        else
            md_dataq_predicted_one(u, md_infer_label(v, p, 0),
                                   v->desc.kind == MD_BACKEND_OUT_PROBABILITY ? p->scores[0]
                                                                              : p->scores[1]);
        return;
    }
    md_dataq_outputs_clear(v->dq, &o);
    for (r = 0; r < p->rows; r++) {
        const float *sc = p->scores + r * p->per_row;
        size_t label = 0;
        double x;

        if (v->contract->task == MD_TASK_REGRESSION) {
            x = sc[0];
        } else {
            label = md_infer_label(v, p, r);
            x = v->desc.kind == MD_BACKEND_OUT_PROBABILITY ? sc[0] : sc[1];
        }
        md_dataq_outputs_add(v->dq, &o, label, x);
    }
    md_dataq_predicted(u, &o);
}

/*
 * Whether a refusal came from the contract's check of the values or the keys, so that the
 * inputs are there as typed: not from a protocol's typing of them (TF Serving's rows, bound
 * with the contract: "instances[0] feature 'x': ..."), which may have stopped half-way.
 */
static bool values_typed(const char *error)
{
    return strncmp(error, "feature '", 9) == 0 || strncmp(error, "key '", 5) == 0;
}

void md_dataq_feed_told(void *ctx, const struct md_predict_story *s)
{
    const struct md_version *v = s->version;
    struct md_dataq_update u;
    enum md_dataq_reason why = MD_DQ_OTHER;
    size_t feature = SIZE_MAX;
    size_t rows = 0;
    bool refused = s->stage == MD_PREDICT_DECODE || s->stage == MD_PREDICT_VALIDATE;

    MD_UNUSED(ctx);
    if (v == NULL || v->dq == NULL)
        return;
    md_dataq_begin(v->dq, &u);
    if (refused)
        why = md_dataq_classify(v->dq, s->error, s->stage == MD_PREDICT_DECODE, &feature);
    if (s->prepared != NULL)
        rows = s->rows;
    else if (s->stage == MD_PREDICT_VALIDATE && values_typed(s->error) &&
             (why == MD_DQ_MISSING || why == MD_DQ_OUT_OF_RANGE || why == MD_DQ_WRONG_TYPE ||
              why == MD_DQ_UNKNOWN_CATEGORY || why == MD_DQ_BAD_KEY))
        rows = rows_sent(s);
    md_dataq_request(&u, rows);
    if (rows > 0)
        scan(&u, v->contract, s, rows, refused);
    if (refused)
        md_dataq_rejected(&u, why, feature);
    if (s->scores != NULL && s->scores->rows > 0 && s->scores->scores != NULL)
        predicted(&u, v, s->scores);
}

static const struct md_predict_observer feed = {md_dataq_feed_told, NULL};

int md_dataq_feed_attach(struct md_err *err)
{
    return md_predict_attach(&feed, err);
}

void md_dataq_feed_detach(void)
{
    md_predict_detach(&feed);
}
