/* SPDX-License-Identifier: MIT */
/*
 * review.c: the review queues' endpoints: GET /api/v1/review/next (a
 * reviewer takes the oldest waiting item of a model under a lease, with its
 * features, the prediction and the engine's explanation where it gives
 * one), POST /api/v1/review/{id} (a verdict, which becomes the row's
 * expert feedback), GET /api/v1/review (a listing with each model's queue
 * figures). Every store access runs as a store job the request parks on;
 * the explanation is computed in that job from the serving version of the
 * item's number, when it is loaded. The queue is store/sqlite_review.c's;
 * its figures watch/review.c's.
 */
#include "api/handlers.h"
#include "serve/registry.h"
#include "util/fmt.h"
#include "util/jdom.h"
#include "util/mem.h"
#include "watch/outcomes.h"
#include "watch/review.h"

#include <math.h>

#define REVIEWER_MAX     64   /* a reviewer's name, bytes */
#define COMMENT_MAX      1000 /* a verdict's comment, bytes */
#define EXPLAIN_TOP      50   /* contributions listed at most, largest first */
#define FEATURES_MAX_LEN ((size_t)1 << 20)

/* ---- writing an item ---------------------------------------------------------- */

static void put_str_or_null(struct md_buf *b, const char *s)
{
    if (s != NULL)
        (void)md_buf_json_str(b, s, strlen(s));
    else
        (void)md_buf_puts(b, "null");
}

/* The item's fields (without the closing brace). */
static void put_item(struct md_buf *b, const struct md_store_review_item *it, bool with_lease)
{
    (void)md_buf_printf(b, "{\"id\":%lld,\"model\":", (long long)it->id);
    put_str_or_null(b, it->model);
    (void)md_buf_printf(b, ",\"version\":\"%lld\",\"request_id\":", (long long)it->version);
    put_str_or_null(b, it->request_id);
    (void)md_buf_printf(b, ",\"row\":%lld,\"reason\":", (long long)it->row);
    put_str_or_null(b, it->reason);
    (void)md_buf_printf(b, ",\"created_ms\":%lld,\"state\":", (long long)it->created_ms);
    put_str_or_null(b, it->state);
    if (with_lease) {
        (void)md_buf_puts(b, ",\"lease\":");
        put_str_or_null(b, it->lease);
    }
    if (it->lease_until_ms > 0 && strcmp(it->state, "leased") == 0)
        (void)md_buf_printf(b, ",\"lease_until_ms\":%lld", (long long)it->lease_until_ms);
    (void)md_buf_puts(b, ",\"reviewer\":");
    put_str_or_null(b, it->reviewer);
    (void)md_buf_puts(b, ",\"features\":");
    (void)md_buf_puts(b, it->features != NULL ? it->features : "null");
    (void)md_buf_puts(b, ",\"prediction\":{\"label\":");
    put_str_or_null(b, it->predicted);
    (void)md_buf_puts(b, ",\"score\":");
    (void)md_buf_f32(b, (float)it->score, "null");
    (void)md_buf_puts(b, ",\"outputs\":");
    (void)md_buf_puts(b, it->outputs != NULL ? it->outputs : "null");
    (void)md_buf_putc(b, '}');
    if (strcmp(it->state, "done") == 0) {
        (void)md_buf_puts(b, ",\"verdict\":");
        put_str_or_null(b, it->verdict);
        (void)md_buf_puts(b, ",\"comment\":");
        put_str_or_null(b, it->comment);
        (void)md_buf_printf(b, ",\"answered_ms\":%lld,\"agrees\":%s", (long long)it->answered_ms,
                            it->agrees < 0 ? "null"
                            : it->agrees   ? "true"
                                           : "false");
    }
}

/* ---- the explanation ------------------------------------------------------------ */

/* Feature row `features` (a JSON object as the log keeps it) as one-row tensors of c. */
static int row_tensors(const struct md_contract *c, const char *features, struct md_arena *a,
                       struct md_tensor **out, size_t *n_out, struct md_err *err)
{
    struct md_jnode *root;
    struct md_tensor *t;
    size_t n = 0;
    int rc = md_jdom_parse(features, strlen(features), MD_JDOM_NANINF, a, &root, err);

    if (rc != MD_OK)
        return rc;
    if (root->type != MD_J_OBJECT)
        return md_err_set(err, MD_EINVAL, "the logged features are not an object");
    t = md_arena_calloc(a, c->n_features + 1, sizeof(*t));
    if (t == NULL)
        return md_err_set(err, MD_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->n_features; i++) {
        const struct md_feature *f = &c->features[i];
        const struct md_jnode *v = md_jdom_get(root, f->name);
        struct md_tensor *x = &t[n];

        if (v == NULL)
            continue; /* an optional feature not sent: missing */
        x->name = f->name;
        x->ndim = 1;
        x->shape[0] = 1;
        x->count = 1;
        x->missing = md_arena_calloc(a, 1, 1);
        if (x->missing == NULL)
            return md_err_set(err, MD_ENOMEM, "out of memory");
        if (f->dtype == MD_DT_BYTES) {
            struct md_bytes *s = md_arena_calloc(a, 1, sizeof(*s));

            if (s == NULL)
                return md_err_set(err, MD_ENOMEM, "out of memory");
            x->dtype = MD_DT_BYTES;
            x->data = s;
            if (v->type == MD_J_STRING) {
                s->p = v->p;
                s->len = v->len;
            } else {
                x->missing[0] = 1;
            }
        } else {
            double *d = md_arena_calloc(a, 1, sizeof(*d));

            if (d == NULL)
                return md_err_set(err, MD_ENOMEM, "out of memory");
            x->dtype = MD_DT_FP64;
            x->data = d;
            if (v->type == MD_J_NUMBER) {
                if (md_jdom_f64(v, d) != MD_OK)
                    return md_err_set(err, MD_EINVAL, "feature '%s': not a number", f->name);
            } else if (v->type == MD_J_TRUE || v->type == MD_J_FALSE) {
                *d = v->type == MD_J_TRUE;
            } else {
                *d = NAN;
                x->missing[0] = 1;
            }
            if (f->dtype == MD_DT_FP32) {
                float *g = md_arena_calloc(a, 1, sizeof(*g));

                if (g == NULL)
                    return md_err_set(err, MD_ENOMEM, "out of memory");
                *g = (float)*d;
                x->dtype = MD_DT_FP32;
                x->data = g;
            } else if (f->dtype != MD_DT_FP64) {
                /* Integral and boolean features are checked as their own type. */
                x->dtype = f->dtype;
                if (f->dtype == MD_DT_BOOL) {
                    uint8_t *u = md_arena_calloc(a, 1, 1);

                    if (u == NULL)
                        return md_err_set(err, MD_ENOMEM, "out of memory");
                    *u = *d != 0;
                    x->data = u;
                } else if (f->dtype == MD_DT_INT32) {
                    int32_t *k = md_arena_calloc(a, 1, sizeof(*k));

                    if (k == NULL)
                        return md_err_set(err, MD_ENOMEM, "out of memory");
                    *k = isfinite(*d) ? (int32_t)*d : 0;
                    x->data = k;
                } else {
                    int64_t *k = md_arena_calloc(a, 1, sizeof(*k));

                    if (k == NULL)
                        return md_err_set(err, MD_ENOMEM, "out of memory");
                    *k = isfinite(*d) ? (int64_t)*d : 0;
                    x->data = k;
                }
            }
        }
        n++;
    }
    *out = t;
    *n_out = n;
    return MD_OK;
}

struct contrib {
    const char *column;
    float value;
};

static int by_size(const void *a, const void *b)
{
    float x = fabsf(((const struct contrib *)a)->value);
    float y = fabsf(((const struct contrib *)b)->value);

    return x < y ? 1 : x > y ? -1 : 0;
}

/* The row's explanation into b as ,"explanation":{...} (null with a note when none). */
static void put_explanation(struct md_api *api, const struct md_store_review_item *it,
                            struct md_buf *b)
{
    char number[24];
    struct md_version *v = NULL;
    struct md_arena a;
    struct md_err err = {0};
    struct md_tensor *t = NULL;
    size_t n_t = 0;
    size_t rows = 0;
    size_t groups = 1;
    size_t group = 0;
    float *x = NULL;
    float *out;
    struct contrib *cs;
    size_t width;
    float bias;
    float margin = 0;

    (void)snprintf(number, sizeof(number), "%lld", (long long)it->version);
    if (md_repo_acquire(api->repo, it->model, number, &v, &err) != MD_OK) {
        (void)md_buf_printf(b, ",\"explanation\":null,\"explanation_note\":");
        (void)md_buf_json_str(b, err.msg, strlen(err.msg));
        return;
    }
    if (v->ops->explain == NULL || it->features == NULL) {
        const char *why = it->features == NULL ? "the row's features are no longer kept"
                                               : "the engine gives no explanation";

        (void)md_buf_puts(b, ",\"explanation\":null,\"explanation_note\":");
        (void)md_buf_json_str(b, why, strlen(why));
        md_version_unref(v);
        return;
    }
    md_arena_init(&a, (size_t)64 << 20);
    width = v->contract->width;
    if (v->desc.kind == MD_BACKEND_OUT_PROBABILITIES)
        groups = v->desc.n_outputs;
    if (groups > 1 && it->predicted != NULL)
        for (size_t k = 0; k < v->contract->n_labels; k++)
            if (strcmp(v->contract->labels[k], it->predicted) == 0)
                group = k;
    out = md_arena_calloc(&a, groups * (width + 1), sizeof(float));
    cs = md_arena_calloc(&a, width, sizeof(*cs));
    if (out == NULL || cs == NULL) {
        (void)md_err_set(&err, MD_ENOMEM, "out of memory");
        goto fail;
    }
    if (row_tensors(v->contract, it->features, &a, &t, &n_t, &err) != MD_OK ||
        md_contract_prepare(v->contract, t, n_t, &a, &x, &rows, &err) != MD_OK ||
        v->ops->explain(v->engine, x, 1, out, &err) != MD_OK)
        goto fail;
    out += group * (width + 1);
    for (size_t i = 0; i < width; i++) {
        cs[i].column = v->contract->column_names[i];
        cs[i].value = out[i];
        margin += out[i];
    }
    bias = out[width];
    margin += bias;
    qsort(cs, width, sizeof(*cs), by_size);
    (void)md_buf_puts(b, ",\"explanation\":{\"kind\":\"contributions\",\"class\":");
    if (groups > 1)
        put_str_or_null(b, v->contract->labels[group]);
    else
        (void)md_buf_puts(b, "null");
    (void)md_buf_puts(b, ",\"bias\":");
    (void)md_buf_f32(b, bias, "null");
    (void)md_buf_puts(b, ",\"margin\":");
    (void)md_buf_f32(b, margin, "null");
    (void)md_buf_puts(b, ",\"contributions\":[");
    for (size_t i = 0; i < width && i < EXPLAIN_TOP; i++) {
        (void)md_buf_puts(b, i > 0 ? ",{\"column\":" : "{\"column\":");
        (void)md_buf_json_str(b, cs[i].column, strlen(cs[i].column));
        (void)md_buf_puts(b, ",\"value\":");
        (void)md_buf_f32(b, cs[i].value, "null");
        (void)md_buf_putc(b, '}');
    }
    (void)md_buf_puts(b, "]}");
    md_arena_release(&a);
    md_version_unref(v);
    return;
fail:
    (void)md_buf_puts(b, ",\"explanation\":null,\"explanation_note\":");
    (void)md_buf_json_str(b, err.msg, strlen(err.msg));
    md_arena_release(&a);
    md_version_unref(v);
}

/* ---- GET /api/v1/review/next ------------------------------------------------------ */

struct next {
    struct md_api *api;
    char model[MD_STORE_NAME_MAX + 1];
    char reviewer[REVIEWER_MAX + 1];
    int64_t lease_ms;
    struct md_buf *out; /* the job's body while fn runs */
};

/* ,"task":..., "labels":[...] of the model's serving contract: what a verdict may be. */
static void put_task(struct md_api *api, const char *model, struct md_buf *b)
{
    struct md_version *v;
    struct md_err err;
    const struct md_contract *c;

    if (md_repo_acquire(api->repo, model, NULL, &v, &err) != MD_OK)
        return;
    c = v->contract;
    (void)md_buf_printf(b, ",\"task\":\"%s\",\"labels\":[",
                        c->task == MD_TASK_CLASSIFICATION ? "classification" : "regression");
    for (size_t k = 0; k < c->n_labels; k++) {
        if (k > 0)
            (void)md_buf_putc(b, ',');
        (void)md_buf_json_str(b, c->labels[k], strlen(c->labels[k]));
    }
    (void)md_buf_putc(b, ']');
    md_version_unref(v);
}

static void on_next(void *ctx, const struct md_store_review_item *it)
{
    struct next *p = ctx;

    put_item(p->out, it, true);
    put_task(p->api, it->model, p->out);
    put_explanation(p->api, it, p->out);
    (void)md_buf_putc(p->out, '}');
}

static int run_next(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct next *p = r->extra;
    bool found = false;
    int rc;

    p->out = &r->out;
    rc = md_store_tx_review_next(tx, p->model, p->reviewer, p->lease_ms, md_wall_ms(), on_next, p,
                                 &found, err);
    if (rc != MD_OK)
        return rc;
    return md_buf_error(&r->out);
}

/* The reviewer: ?reviewer=, the X-Reviewer header, the principal, or "anonymous". */
static int reviewer_of(const struct md_api_req *req, char *out, size_t n, struct md_err *err)
{
    const char *s = req->query != NULL ? req->query(req->conn, "reviewer") : NULL;

    if (s == NULL && req->header != NULL)
        s = req->header(req->conn, "X-Reviewer");
    if (s == NULL && req->principal != NULL)
        s = req->principal->name;
    if (s == NULL || s[0] == '\0')
        s = "anonymous";
    if (strlen(s) >= n)
        return md_err_set(err, MD_EINVAL, "reviewer: longer than %zu bytes", n - 1);
    for (const char *c = s; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20)
            return md_err_set(err, MD_EINVAL, "reviewer: a control character");
    (void)snprintf(out, n, "%s", s);
    return MD_OK;
}

/* The model of ?model=, checked: known, usable by the principal, with a review section;
 * its lease into *lease_ms. */
static int review_model(struct md_api *api, const struct md_api_req *req, const char *model,
                        int64_t *lease_ms, struct md_err *err)
{
    struct md_version *v;
    int rc;

    if (model == NULL || model[0] == '\0')
        return md_err_set(err, MD_EINVAL, "model: required (?model=NAME)");
    if (strlen(model) > MD_STORE_NAME_MAX)
        return md_err_set(err, MD_EINVAL, "model: longer than %d bytes", MD_STORE_NAME_MAX);
    if (req->principal != NULL && !md_auth_may_use(req->principal, model))
        return md_err_set(err, MD_EPERM, "model: '%s' may not be used by '%s'", model,
                          req->principal->name);
    rc = md_repo_acquire(api->repo, model, NULL, &v, err);
    if (rc != MD_OK)
        return rc;
    if (!v->contract->review.present)
        rc = md_err_set(err, MD_EINVAL, "model: '%s' has no review: section in its model.yaml",
                        model);
    if (lease_ms != NULL)
        *lease_ms = (int64_t)v->contract->review.lease_s * 1000;
    md_version_unref(v);
    return rc;
}

void md_review_api_next(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp)
{
    struct md_api_store_args args = {0};
    struct md_err err = {0};
    struct next *p;

    MD_UNUSED(rt);
    if (resp->resume == NULL) {
        const char *model = req->query != NULL ? req->query(req->conn, "model") : NULL;

        p = md_xcalloc(1, sizeof(*p));
        p->api = api;
        if (review_model(api, req, model, &p->lease_ms, &err) != MD_OK ||
            reviewer_of(req, p->reviewer, sizeof(p->reviewer), &err) != MD_OK) {
            free(p);
            md_api_error(resp, &err);
            return;
        }
        (void)snprintf(p->model, sizeof(p->model), "%s", model);
        args.extra = p;
        args.extra_free = free;
    }
    md_api_store_write(api, req, resp, run_next, &args, NULL, 200);
    if (resp->status == 200 && !resp->parked && resp->body->len == 0)
        resp->status = 204; /* nothing waits */
}

/* ---- POST /api/v1/review/{id} ------------------------------------------------------ */

struct answer {
    struct md_api *api;
    const struct md_principal *principal; /* the request's, or NULL */
    struct md_store_review_verdict v;
    char lease[64];
    char label[MD_CONTRACT_MAX_NAME + 1];
    char comment[COMMENT_MAX + 1];
    bool has_comment;
    bool number;                             /* the verdict was a number */
    char positive[MD_CONTRACT_MAX_NAME + 1]; /* a binary model's labels[1], or "" */
    char model[MD_STORE_NAME_MAX + 1];
    struct md_outcomes_batch *changes;
    struct md_buf *out;
};

static void answer_free(void *x)
{
    struct answer *p = x;

    md_outcomes_batch_free(p->changes);
    free(p);
}

static void on_model(void *ctx, const struct md_store_review_item *it)
{
    struct answer *p = ctx;

    if (it->id == p->v.id)
        (void)snprintf(p->model, sizeof(p->model), "%s", it->model);
}

static void on_outcome(void *ctx, const struct md_store_outcome *o)
{
    struct answer *p = ctx;

    md_outcomes_batch_add(p->changes, o);
}

static void on_answered(void *ctx, const struct md_store_review_item *it)
{
    struct answer *p = ctx;

    put_item(p->out, it, false);
    (void)md_buf_putc(p->out, '}');
}

/* The verdict checked against the model's contract: a class, or a number for regression. */
static int check_verdict(struct answer *p, struct md_err *err)
{
    struct md_version *v;
    const struct md_contract *c;
    int rc = MD_OK;

    if (p->principal != NULL && !md_auth_may_use(p->principal, p->model))
        return md_err_set(err, MD_EPERM, "review item %lld: model '%s' may not be used by '%s'",
                          (long long)p->v.id, p->model, p->principal->name);
    rc = md_repo_acquire(p->api->repo, p->model, NULL, &v, err);
    if (rc != MD_OK)
        return rc;
    c = v->contract;
    if (c->task == MD_TASK_CLASSIFICATION) {
        bool known = false;

        if (p->number)
            rc = md_err_set(err, MD_EINVAL,
                            "verdict: model '%s' is a classification: the verdict is a label",
                            p->model);
        for (size_t k = 0; rc == MD_OK && k < c->n_labels; k++)
            known = known || strcmp(c->labels[k], p->label) == 0;
        if (rc == MD_OK && !known)
            rc = md_err_set(err, MD_EINVAL, "verdict: '%.64s' is not a class of model '%s'",
                            p->label, p->model);
        p->v.kind = MD_FEEDBACK_LABEL;
        p->v.label = p->label;
        if (c->n_labels == 2)
            (void)snprintf(p->positive, sizeof(p->positive), "%s", c->labels[1]);
    } else {
        if (!p->number)
            rc = md_err_set(err, MD_EINVAL,
                            "verdict: model '%s' is a regression: the verdict is a number",
                            p->model);
        p->v.kind = MD_FEEDBACK_VALUE;
    }
    md_version_unref(v);
    return rc;
}

static int run_answer(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct answer *p = r->extra;
    int rc;

    p->out = &r->out;
    p->model[0] = '\0';
    p->v.now_ms = md_wall_ms();
    rc = md_store_tx_review_list(tx, NULL, NULL, p->v.now_ms, p->v.id - 1, 1, on_model, p, err);
    if (rc != MD_OK)
        return rc;
    if (p->model[0] == '\0')
        return md_err_set(err, MD_ENOTFOUND, "review item %lld: no such item", (long long)p->v.id);
    rc = check_verdict(p, err);
    if (rc != MD_OK)
        return rc;
    rc = md_store_tx_review_answer(tx, &p->v, on_outcome, p, on_answered, err);
    if (rc != MD_OK)
        return rc;
    return md_buf_error(&r->out);
}

static bool answer_positive(void *ctx, const char *model, char *buf, size_t n)
{
    const struct answer *p = ctx;

    if (p->positive[0] == '\0' || strcmp(model, p->model) != 0)
        return false;
    (void)snprintf(buf, n, "%s", p->positive);
    return true;
}

static void answer_committed(struct md_api_store_read *r)
{
    struct answer *p = r->extra;

    if (p->api->outcomes != NULL && md_outcomes_live(p->api->outcomes))
        md_outcomes_batch_apply(p->api->outcomes, p->changes, answer_positive, p, md_wall_ms());
}

static bool key_is(const struct md_jnode *n, const char *key)
{
    return n->key_len == strlen(key) && memcmp(n->key, key, n->key_len) == 0;
}

/* The body {"lease": "...", "verdict": "fraud" | 12.5, "comment": "..."} into p. */
static int parse_answer(const struct md_api_req *req, struct answer *p, struct md_err *err)
{
    const struct md_jnode *root;
    const struct md_jnode *n;
    struct md_jnode *doc;
    int rc = md_jdom_parse(req->body, req->body_len, 0, req->arena, &doc, err);

    if (rc != MD_OK)
        return rc;
    root = doc;
    if (root->type != MD_J_OBJECT)
        return md_err_set(err, MD_EINVAL, "the body is not a JSON object");
    for (n = root->child; n != NULL; n = n->next)
        if (!key_is(n, "lease") && !key_is(n, "verdict") && !key_is(n, "comment"))
            return md_err_set(err, MD_EINVAL,
                              "%.*s: unknown field (lease, verdict and comment are known)",
                              (int)(n->key_len > 64 ? 64 : n->key_len), n->key);
    n = md_jdom_get(root, "lease");
    if (n == NULL || n->type != MD_J_STRING || n->len == 0 || n->len >= sizeof(p->lease))
        return md_err_set(err, MD_EINVAL,
                          "lease: required, the text GET /api/v1/review/next gave with the item");
    memcpy(p->lease, n->p, n->len);
    p->v.lease = p->lease;
    n = md_jdom_get(root, "verdict");
    if (n == NULL || (n->type != MD_J_STRING && n->type != MD_J_NUMBER))
        return md_err_set(err, MD_EINVAL,
                          "verdict: required, a class of the model or a number for a regression");
    if (n->type == MD_J_STRING) {
        if (n->len == 0 || n->len >= sizeof(p->label) || memchr(n->p, '\0', n->len) != NULL)
            return md_err_set(err, MD_EINVAL, "verdict: not a class name");
        memcpy(p->label, n->p, n->len);
    } else {
        if (md_jdom_f64(n, &p->v.value) != MD_OK || !isfinite(p->v.value))
            return md_err_set(err, MD_EINVAL, "verdict: not a finite number");
        p->number = true;
    }
    n = md_jdom_get(root, "comment");
    if (n != NULL && n->type != MD_J_NULL) {
        if (n->type != MD_J_STRING || n->len > COMMENT_MAX || memchr(n->p, '\0', n->len) != NULL)
            return md_err_set(err, MD_EINVAL, "comment: a text of at most %d bytes", COMMENT_MAX);
        memcpy(p->comment, n->p, n->len);
        p->v.comment = p->comment;
    }
    return MD_OK;
}

void md_review_api_answer(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                          struct md_api_resp *resp)
{
    struct md_api_store_args args = {0};
    struct md_err err = {0};
    struct answer *p;

    if (resp->resume == NULL) {
        char *end = NULL;
        long long id = rt->id != NULL ? strtoll(rt->id, &end, 10) : 0;

        if (rt->id == NULL || end == rt->id || *end != '\0' || id <= 0) {
            md_api_errorf(resp, MD_EINVAL, "id: not a review item's number");
            return;
        }
        p = md_xcalloc(1, sizeof(*p));
        p->api = api;
        p->principal = req->principal;
        p->v.id = id;
        if (parse_answer(req, p, &err) != MD_OK) {
            free(p);
            md_api_error(resp, &err);
            return;
        }
        p->changes = md_outcomes_batch_new();
        args.extra = p;
        args.extra_free = answer_free;
    }
    md_api_store_write(api, req, resp, run_answer, &args, answer_committed, 200);
}

/* ---- GET /api/v1/review -------------------------------------------------------------- */

struct listing {
    struct md_api *api;
    const struct md_principal *principal;
    char model[MD_STORE_NAME_MAX + 1]; /* "" every model */
    char state[8];                     /* "" any */
    int64_t after_id;
    size_t limit;
    size_t n;
    struct md_buf *out;
};

static void on_listed(void *ctx, const struct md_store_review_item *it)
{
    struct listing *l = ctx;

    if (l->principal != NULL && !md_auth_may_use(l->principal, it->model))
        return;
    if (l->n++ > 0)
        (void)md_buf_putc(l->out, ',');
    put_item(l->out, it, false);
    (void)md_buf_putc(l->out, '}');
}

static void put_queue(struct md_buf *b, struct md_api *api, const char *model)
{
    struct md_review_figures f;
    int64_t now = md_wall_ms();

    if (api->review == NULL || !md_review_stats_get(api->review, model, &f))
        memset(&f, 0, sizeof(f));
    (void)md_buf_printf(b,
                        "{\"model\":\"%s\",\"length\":%llu,\"waiting\":%llu,\"leased\":%llu,"
                        "\"oldest_age_s\":%.3f,\"answered\":%llu,\"agreement\":",
                        model, (unsigned long long)f.waiting + f.leased,
                        (unsigned long long)f.waiting, (unsigned long long)f.leased,
                        f.oldest_ms > 0 && now > f.oldest_ms ? (double)(now - f.oldest_ms) / 1e3
                                                             : 0.0,
                        (unsigned long long)f.answered);
    if (f.judged > 0)
        (void)md_buf_printf(b, "%.6f", (double)f.agreed / (double)f.judged);
    else
        (void)md_buf_puts(b, "null");
    (void)md_buf_printf(b, ",\"counted_ms\":%lld}", (long long)f.at_ms);
}

static int run_list(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct listing *l = r->extra;
    int rc;

    l->out = &r->out;
    (void)md_buf_puts(&r->out, "{\"items\":[");
    rc = md_store_tx_review_list(tx, l->model[0] != '\0' ? l->model : NULL,
                                 l->state[0] != '\0' ? l->state : NULL, md_wall_ms(), l->after_id,
                                 l->limit, on_listed, l, err);
    if (rc != MD_OK)
        return rc;
    (void)md_buf_puts(&r->out, "]");
    if (l->model[0] != '\0') {
        (void)md_buf_puts(&r->out, ",\"queue\":");
        put_queue(&r->out, l->api, l->model);
    }
    (void)md_buf_putc(&r->out, '}');
    return md_buf_error(&r->out);
}

void md_review_api_list(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp)
{
    struct md_api_store_args args = {0};
    struct md_err err = {0};
    struct listing *l;

    MD_UNUSED(rt);
    if (resp->resume == NULL) {
        const char *model = req->query != NULL ? req->query(req->conn, "model") : NULL;
        const char *state = req->query != NULL ? req->query(req->conn, "state") : NULL;
        const char *after = req->query != NULL ? req->query(req->conn, "after") : NULL;
        const char *limit = req->query != NULL ? req->query(req->conn, "limit") : NULL;
        char *end = NULL;

        l = md_xcalloc(1, sizeof(*l));
        l->api = api;
        l->principal = req->principal;
        if (model != NULL && model[0] != '\0' &&
            review_model(api, req, model, NULL, &err) != MD_OK) {
            free(l);
            md_api_error(resp, &err);
            return;
        }
        if (model != NULL)
            (void)snprintf(l->model, sizeof(l->model), "%s", model);
        if (state != NULL && strcmp(state, "queued") != 0 && strcmp(state, "leased") != 0 &&
            strcmp(state, "done") != 0) {
            free(l);
            md_api_errorf(resp, MD_EINVAL, "state: '%.32s' is not queued, leased or done", state);
            return;
        }
        if (state != NULL)
            (void)snprintf(l->state, sizeof(l->state), "%s", state);
        if (after != NULL) {
            l->after_id = strtoll(after, &end, 10);
            if (end == after || *end != '\0' || l->after_id < 0) {
                free(l);
                md_api_errorf(resp, MD_EINVAL, "after: not an item number");
                return;
            }
        }
        if (limit != NULL) {
            long long k = strtoll(limit, &end, 10);

            if (end == limit || *end != '\0' || k < 1 || k > 1000) {
                free(l);
                md_api_errorf(resp, MD_EINVAL, "limit: not a number from 1 to 1000");
                return;
            }
            l->limit = (size_t)k;
        }
        args.extra = l;
        args.extra_free = free;
    }
    md_api_store_job(api, req, resp, run_list, &args, 200);
}
