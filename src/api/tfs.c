/* SPDX-License-Identifier: MIT */
/*
 * tfs.c: the TensorFlow Serving REST API: model status, metadata (a
 * serving_default signature made from the model contract) and :predict in
 * both the row ("instances") and columnar ("inputs") formats. Bodies are read
 * with the strict parser in its NaN/Infinity mode, as TF Serving accepts those
 * tokens, and with packed numeric arrays: a row or column of plain numbers is
 * one node whose values were converted while parsing, so a large request
 * costs no node per number. Whatever is packed decodes exactly as it would
 * element by element: the same values, the same first error and message.
 * :predict is TF Serving's adapter of the prediction pipeline
 * (api/pipeline.h): its decode parses the body and checks what needs no
 * contract; its bind types the values with the resolved version's contract.
 */
#include "api/tfs.h"
#include "api/handlers.h"
#include "api/pipeline.h"
#include "serve/infer.h"
#include "util/fmt.h"
#include "util/jdom.h"
#include "util/mem.h"

#include <math.h>

#define MAX_COLUMNS 10000

/* Appends to resp->body; the first failure (body limit) stays in b (util/buf.h). */
#define PUT(s)    md_buf_puts(b, (s))
#define PUTSTR(s) md_buf_json_str(b, (s), strlen(s))

static const char *tf_state(enum md_version_state s)
{
    switch (s) {
    case MD_VS_READY:
        return "AVAILABLE";
    case MD_VS_UNAVAILABLE:
    default:
        return "END";
    }
}

struct status_ctx {
    const char *model;
    int64_t version; /* 0 = all */
    struct md_buf *b;
    int n;
    bool known;    /* the repository has the model */
    char why[256]; /* the model-level reason, when there is one */
};

static void status_row(void *vctx, const struct md_repo_row *row)
{
    struct status_ctx *ctx = vctx;
    struct md_buf *b = ctx->b;
    char num[24];

    if (strcmp(row->model, ctx->model) != 0)
        return;
    ctx->known = true;
    if (row->version == 0) {
        (void)snprintf(ctx->why, sizeof(ctx->why), "%s", row->reason); /* cut short if long */
        return;
    }
    if (ctx->version != 0 && row->version != ctx->version)
        return;
    (void)snprintf(num, sizeof(num), "%lld", (long long)row->version); /* fits */
    PUT(ctx->n++ ? ",{\"version\":" : "{\"version\":");
    PUTSTR(num);
    PUT(",\"state\":");
    PUTSTR(tf_state(row->state));
    PUT(",\"status\":{\"error_code\":");
    PUTSTR(row->state == MD_VS_READY ? "OK" : "UNKNOWN");
    PUT(",\"error_message\":");
    PUTSTR(row->state == MD_VS_READY ? "" : row->reason);
    PUT("}}");
}

/* The alias a label names, for label_version. */
struct label_ctx {
    const char *label;
    int64_t version;
};

static void find_label(void *ctx, const struct md_snapshot *s)
{
    struct label_ctx *l = ctx;

    l->version = md_snapshot_alias(s, l->label);
}

/* The version rt's label (an alias) names, into num; else the answer
 * written: 404 for an unknown model, 400 for an unknown label. */
static int label_version(struct md_api *api, const struct md_route *rt, char num[24],
                         struct md_api_resp *resp)
{
    struct label_ctx l = {rt->label, 0};
    struct md_err err;

    if (md_repo_with_snapshot(api->repo, rt->model, find_label, &l, &err) != MD_OK) {
        md_api_error(resp, &err);
        return err.code;
    }
    if (l.version == 0) {
        md_api_errorf(resp, MD_EINVAL, "Unrecognized servable version label: %s", rt->label);
        return MD_EINVAL;
    }
    (void)snprintf(num, 24, "%lld", (long long)l.version); /* fits */
    return MD_OK;
}

void md_tfs_status(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                   struct md_api_resp *resp)
{
    struct status_ctx ctx;
    char num[24];

    MD_UNUSED(req);
    if (rt->label != NULL && label_version(api, rt, num, resp) != MD_OK)
        return;
    ctx.model = rt->model;
    ctx.version = rt->label != NULL ? strtoll(num, NULL, 10)
                  : rt->version     ? strtoll(rt->version, NULL, 10)
                                    : 0;
    ctx.b = resp->body;
    ctx.n = 0;
    ctx.known = false;
    ctx.why[0] = '\0';
    md_buf_puts(resp->body, "{\"model_version_status\":[");
    md_repo_foreach(api->repo, status_row, &ctx);
    md_buf_puts(resp->body, "]}");
    if (ctx.n == 0) {
        /* The wording of md_repo_acquire, as on every other endpoint. */
        if (!ctx.known)
            md_api_errorf(resp, MD_ENOTFOUND, "unknown model '%s'", rt->model);
        else if (rt->version != NULL)
            md_api_errorf(resp, MD_ENOTFOUND, "model '%s' has no version '%s'", rt->model,
                          rt->version);
        else
            md_api_errorf(resp, MD_ENOTFOUND, "model '%s' has no versions%s%s", rt->model,
                          ctx.why[0] != '\0' ? ": " : "", ctx.why);
        return;
    }
    md_api_finish(resp, md_buf_error(resp->body));
}

static const char *tf_dtype(enum md_dtype dt)
{
    switch (dt) {
    case MD_DT_BOOL:
        return "DT_BOOL";
    case MD_DT_INT32:
        return "DT_INT32";
    case MD_DT_INT64:
        return "DT_INT64";
    case MD_DT_FP64:
        return "DT_DOUBLE";
    case MD_DT_BYTES:
        return "DT_STRING";
    case MD_DT_FP32:
    default:
        return "DT_FLOAT";
    }
}

static void put_tensor_info(struct md_buf *b, const char *name, enum md_dtype dt, size_t width)
{
    char w[24];

    (void)snprintf(w, sizeof(w), "%zu", width); /* any size_t fits */
    PUTSTR(name);
    PUT(":{\"dtype\":");
    PUTSTR(tf_dtype(dt));
    PUT(",\"tensor_shape\":{\"dim\":[{\"size\":\"-1\",\"name\":\"\"},{\"size\":\"");
    PUT(w);
    PUT("\",\"name\":\"\"}],\"unknown_rank\":false},\"name\":");
    PUTSTR(name);
    PUT("}");
}

/* md_api_acquire(), a label read as the alias it is. */
static int acquire(struct md_api *api, const struct md_route *rt, struct md_api_resp *resp,
                   struct md_version **v)
{
    struct md_route named;
    char num[24];

    if (rt->label == NULL)
        return md_api_acquire(api, rt, resp, v);
    if (label_version(api, rt, num, resp) != MD_OK)
        return MD_EINVAL;
    named = *rt;
    named.label = NULL;
    named.version = num;
    return md_api_acquire(api, &named, resp, v);
}

void md_tfs_metadata(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                     struct md_api_resp *resp)
{
    struct md_buf *b = resp->body;
    struct md_version *v;
    const struct md_contract *c;
    size_t i;

    MD_UNUSED(req);
    if (acquire(api, rt, resp, &v) != MD_OK)
        return;
    c = v->contract;
    PUT("{\"model_spec\":{\"name\":");
    PUTSTR(c->name);
    PUT(",\"signature_name\":\"\",\"version\":");
    PUTSTR(v->version_str);
    PUT("},\"metadata\":{\"signature_def\":{\"signature_def\":{\"serving_default\":{\"inputs\":{");
    for (i = 0; i < c->n_features; i++) {
        if (i > 0)
            PUT(",");
        put_tensor_info(b, c->features[i].name, c->features[i].dtype, 1);
    }
    PUT("},\"outputs\":{");
    for (i = 0; i < c->n_outputs; i++) {
        if (i > 0)
            PUT(",");
        put_tensor_info(b, c->outputs[i].name, c->outputs[i].dtype,
                        md_infer_output_width(v, c->outputs[i].kind));
    }
    PUT("},\"method_name\":\"tensorflow/serving/predict\"}}}");
    if (c->n_keys > 0) {
        /* modeld's entry beside signature_def: the fields read as keys (docs/api.md). */
        PUT(",\"keys\":");
        md_api_put_keys(b, c);
    }
    PUT("}}");
    md_version_unref(v);
    md_api_finish(resp, md_buf_error(b));
}

/* ---- predict --------------------------------------------------------- */

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Standard or URL-safe base64, padding optional. */
static int b64_decode(const char *s, size_t n, struct md_arena *a, struct md_bytes *out)
{
    char *dst = md_arena_alloc(a, n / 4 * 3 + 3);
    uint32_t acc = 0;
    size_t bits = 0;
    size_t len = 0;
    size_t i;

    if (dst == NULL)
        return MD_ETOOBIG;
    while (n > 0 && s[n - 1] == '=')
        n--;
    for (i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);

        if (v < 0)
            return MD_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[len++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (bits >= 6)
        return MD_EINVAL;
    out->p = dst;
    out->len = len;
    return MD_OK;
}

/*
 * Where a value sits in the body, for its message; made into text only when
 * a message needs it.
 */
struct where {
    enum { AT_CELL, AT_FEATURE, AT_COLUMN } kind;
    const char *what; /* AT_CELL, AT_FEATURE: "instances" or "inputs" (AT_FEATURE: NULL is
                         "instances") */
    const char *name; /* AT_FEATURE, AT_COLUMN: the feature */
    size_t i;         /* the row */
    size_t j;         /* AT_CELL: the column */
};

/*
 * "instances[i][j]", "instances[i] feature 'f'" (or "inputs[i] feature 'f'")
 * or "inputs 'f'[i]", in buf; for a message, so cut short when buf is too
 * small.
 */
static const char *where_str(const struct where *w, char *buf, size_t size)
{
    switch (w->kind) {
    case AT_CELL:
        (void)snprintf(buf, size, "%s[%zu][%zu]", w->what, w->i, w->j);
        break;
    case AT_FEATURE:
        (void)snprintf(buf, size, "%s[%zu] feature '%s'", w->what != NULL ? w->what : "instances",
                       w->i, w->name);
        break;
    default:
        (void)snprintf(buf, size, "inputs '%s'[%zu]", w->name, w->i);
        break;
    }
    return buf;
}

/* "<where>: <what>" as an MD_EINVAL. */
static int bad_value(const struct where *w, const char *what, struct md_err *err)
{
    char buf[200];

    return md_err_set(err, MD_EINVAL, "%s: %s", where_str(w, buf, sizeof(buf)), what);
}

/* Writes one JSON value into element i of t (dtype already set). */
static int put_value(struct md_tensor *t, size_t i, const struct md_jnode *n, struct md_arena *a,
                     const struct where *where, struct md_err *err)
{
    struct md_jnode one;
    const char *cursor = NULL;
    int64_t iv;

    if (n != NULL && n->type == MD_J_ARRAY && n->n == 1) {
        /* A one-element list per row: [v]; [number] is packed. */
        if (md_jdom_is_packed(n))
            n = md_jdom_packed_next(n, &cursor, &one) ? &one : NULL;
        else
            n = n->child;
    }
    if (n == NULL || n->type == MD_J_NULL) {
        if (t->missing == NULL) {
            t->missing = md_arena_calloc(a, t->count, 1);
            if (t->missing == NULL)
                return md_err_set(err, MD_ETOOBIG, "request too large");
        }
        t->missing[i] = 1;
        if (t->dtype == MD_DT_FP32)
            ((float *)t->data)[i] = NAN;
        else if (t->dtype == MD_DT_FP64)
            ((double *)t->data)[i] = NAN;
        return MD_OK;
    }
    switch (t->dtype) {
    case MD_DT_FP32:
        if (md_jdom_f32(n, &((float *)t->data)[i]) != MD_OK)
            return bad_value(where, "not of expected type: float", err);
        return MD_OK;
    case MD_DT_FP64:
        if (md_jdom_f64(n, &((double *)t->data)[i]) != MD_OK)
            return bad_value(where, "not of expected type: double", err);
        return MD_OK;
    case MD_DT_INT32:
        if (md_jdom_i64(n, &iv) != MD_OK || iv < INT32_MIN || iv > INT32_MAX)
            return bad_value(where, "not of expected type: int32", err);
        ((int32_t *)t->data)[i] = (int32_t)iv;
        return MD_OK;
    case MD_DT_INT64:
        if (md_jdom_i64(n, &((int64_t *)t->data)[i]) != MD_OK)
            return bad_value(where, "not of expected type: int64", err);
        return MD_OK;
    case MD_DT_BOOL:
        if (n->type != MD_J_TRUE && n->type != MD_J_FALSE)
            return bad_value(where, "not of expected type: bool", err);
        ((uint8_t *)t->data)[i] = n->type == MD_J_TRUE;
        return MD_OK;
    case MD_DT_BYTES: {
        struct md_bytes *bv = &((struct md_bytes *)t->data)[i];
        const struct md_jnode *b64 = n->type == MD_J_OBJECT ? md_jdom_get(n, "b64") : NULL;

        if (n->type == MD_J_STRING) {
            bv->p = n->p;
            bv->len = n->len;
            return MD_OK;
        }
        if (b64 != NULL && n->n == 1 && b64->type == MD_J_STRING) {
            int rc = b64_decode(b64->p, b64->len, a, bv);

            if (rc == MD_ETOOBIG)
                return md_err_set(err, MD_ETOOBIG, "request too large");
            if (rc != MD_OK)
                return bad_value(where, "Unable to base64 decode", err);
            return MD_OK;
        }
        return bad_value(where, "not of expected type: string", err);
    }
    default:
        return bad_value(where, "unsupported datatype", err);
    }
}

/*
 * The numbers of a packed array into t from element first on: FP32 and FP64
 * straight from the values converted while parsing; other types, or a
 * packed conversion that failed, element by element through put_value,
 * which gives the value or the message the unpacked array would have.
 * where->i (AT_COLUMN) or where->j (AT_CELL) counts the elements.
 */
static int put_packed(struct md_tensor *t, size_t first, const struct md_jnode *arr,
                      struct md_arena *a, struct where *where, struct md_err *err)
{
    size_t *k = where->kind == AT_CELL ? &where->j : &where->i;
    const char *cursor = NULL;
    struct md_jnode num;
    size_t bad;
    int rc;

    if (t->dtype == MD_DT_FP32 &&
        md_jdom_packed_f32(arr, (float *)t->data + first, NULL, &bad) == MD_OK)
        return MD_OK;
    if (t->dtype == MD_DT_FP64 &&
        md_jdom_packed_f64(arr, (double *)t->data + first, NULL, &bad) == MD_OK)
        return MD_OK;
    for (*k = 0; md_jdom_packed_next(arr, &cursor, &num); (*k)++) {
        rc = put_value(t, first + *k, &num, a, where, err);
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

/* The type of a non-empty array's first element (a packed array holds numbers). */
static enum md_jtype first_type(const struct md_jnode *arr)
{
    return md_jdom_is_packed(arr) ? MD_J_NUMBER : arr->child->type;
}

static int new_tensor(struct md_tensor *t, const char *name, enum md_dtype dt, size_t rows,
                      size_t cols, struct md_arena *a, struct md_err *err)
{
    size_t count;
    size_t size = dt == MD_DT_BYTES ? sizeof(struct md_bytes) : md_dtype_size(dt);

    memset(t, 0, sizeof(*t));
    if (!md_mul_ok(rows, cols, &count) || count > ((size_t)1 << 31))
        return md_err_set(err, MD_ETOOBIG, "request too large");
    t->name = name;
    t->dtype = dt;
    t->count = count;
    t->ndim = cols > 0 ? 2 : 1;
    t->shape[0] = (int64_t)rows;
    t->shape[1] = (int64_t)cols;
    if (cols == 0)
        t->count = rows;
    t->data = md_arena_calloc(a, t->count ? t->count : 1, size);
    if (t->data == NULL)
        return md_err_set(err, MD_ETOOBIG, "request too large");
    return MD_OK;
}

static enum md_dtype feature_dtype(const struct md_contract *c, const char *name)
{
    const struct md_feature *f = md_contract_feature(c, name);

    return f ? f->dtype : MD_DT_INVALID;
}

/* Rows as arrays in feature order: one 2-D tensor. */
static int rows_2d(const struct md_contract *c, const struct md_jnode *list, struct md_arena *a,
                   struct md_tensor *t, const char *what, struct md_err *err)
{
    const struct md_jnode *row;
    size_t width = list->child->n;
    size_t i = 0;
    size_t j;
    int rc;

    rc = new_tensor(t, c->input_tensor, MD_DT_FP64, list->n, width, a, err);
    if (rc != MD_OK)
        return rc;
    for (row = list->child; row != NULL; row = row->next, i++) {
        const struct md_jnode *v;
        struct where where = {AT_CELL, what, NULL, i, 0};

        if (row->type != MD_J_ARRAY || row->n != width)
            return md_err_set(err, MD_EINVAL,
                              "%s[%zu]: expected a list of %zu values like the first row", what, i,
                              width);
        if (md_jdom_is_packed(row)) {
            rc = put_packed(t, i * width, row, a, &where, err);
            if (rc != MD_OK)
                return rc;
            continue;
        }
        for (v = row->child, j = 0; v != NULL; v = v->next, j++) {
            if (v->type == MD_J_ARRAY)
                return md_err_set(err, MD_EINVAL, "%s[%zu][%zu]: expected a number", what, i, j);
            where.j = j;
            rc = put_value(t, i * width + j, v, a, &where, err);
            if (rc != MD_OK)
                return rc;
        }
    }
    return MD_OK;
}

/* "a, b, c" (the contract's features in order) into buf, "..." past about 120 bytes. */
static const char *feature_list(const struct md_contract *c, char *buf, size_t size)
{
    size_t o = 0;
    size_t j;

    buf[0] = '\0';
    for (j = 0; j < c->n_features && o < size; j++) {
        const char *name = c->features[j].name;

        if (o + strlen(name) + 2 > 120) {
            (void)snprintf(buf + o, size - o, ", ...");
            break;
        }
        o += (size_t)snprintf(buf + o, size - o, "%s%s", j > 0 ? ", " : "", name);
    }
    return buf;
}

/*
 * Rows as lists in the contract's feature order, for a model with a BYTES
 * feature (which no 2-D tensor carries): one tensor per feature, each value
 * read as its feature's datatype, as rows of named features are. A row that
 * is not a list of exactly one value per feature is refused, naming it.
 */
static int rows_positional(const struct md_contract *c, const struct md_jnode *list,
                           struct md_arena *a, const char *what, struct md_tensor **out,
                           size_t *n_out, struct md_err *err)
{
    const struct md_jnode *row;
    struct md_tensor *ts;
    char names[160];
    size_t i = 0;
    size_t j;
    int rc;

    ts = md_arena_calloc(a, c->n_features, sizeof(*ts));
    if (ts == NULL)
        return md_err_set(err, MD_ETOOBIG, "request too large");
    for (j = 0; j < c->n_features; j++) {
        rc = new_tensor(&ts[j], c->features[j].name, c->features[j].dtype, list->n, 0, a, err);
        if (rc != MD_OK)
            return rc;
    }
    for (row = list->child; row != NULL; row = row->next, i++) {
        const struct md_jnode *v;
        struct md_jnode num;
        const char *cursor = NULL;

        if (row->type != MD_J_ARRAY || row->n != c->n_features) {
            char got[48] = "something else";

            if (row->type == MD_J_ARRAY)
                (void)snprintf(got, sizeof(got), "%zu", row->n); /* fits */
            return md_err_set(err, MD_EINVAL,
                              "%s[%zu]: expected a list of %zu values in feature order (%s), "
                              "got %s",
                              what, i, c->n_features, feature_list(c, names, sizeof(names)), got);
        }
        if (md_jdom_is_packed(row))
            v = md_jdom_packed_next(row, &cursor, &num) ? &num : NULL;
        else
            v = row->child;
        for (j = 0; j < c->n_features && v != NULL; j++) {
            struct where where = {AT_FEATURE, what, c->features[j].name, i, 0};

            rc = put_value(&ts[j], i, v, a, &where, err);
            if (rc != MD_OK)
                return rc;
            if (md_jdom_is_packed(row))
                v = md_jdom_packed_next(row, &cursor, &num) ? &num : NULL;
            else
                v = v->next;
        }
    }
    *out = ts;
    *n_out = c->n_features;
    return MD_OK;
}

/* Rows as objects of named features: one tensor per feature named anywhere. */
static int rows_named(const struct md_contract *c, const struct md_jnode *list, struct md_arena *a,
                      struct md_tensor **out, size_t *n_out, struct md_err *err)
{
    const struct md_jnode *row;
    const struct md_jnode *m;
    struct md_tensor *ts;
    size_t n = 0;
    size_t i;
    size_t k;
    int rc;

    ts = md_arena_calloc(a, c->n_features + 1, sizeof(*ts));
    if (ts == NULL)
        return md_err_set(err, MD_ETOOBIG, "request too large");
    i = 0;
    for (row = list->child; row != NULL; row = row->next, i++) {
        if (row->type != MD_J_OBJECT)
            return md_err_set(
                err, MD_EINVAL,
                "instances[%zu]: expected an object of named features like the first row", i);
        for (m = row->child; m != NULL; m = m->next) {
            char *key = md_arena_strndup(a, m->key, m->key_len);

            if (key == NULL)
                return md_err_set(err, MD_ETOOBIG, "request too large");
            for (k = 0; k < n; k++)
                if (strcmp(ts[k].name, key) == 0)
                    break;
            if (k < n)
                continue;
            if (feature_dtype(c, key) == MD_DT_INVALID) {
                /* A key is read by serve/keys.c, never an input. */
                if (md_contract_key(c, m->key, m->key_len) != NULL)
                    continue;
                return md_err_set(err, MD_EINVAL, "instances[%zu]: unknown feature '%s'", i, key);
            }
            rc = new_tensor(&ts[n], key, feature_dtype(c, key), list->n, 0, a, err);
            if (rc != MD_OK)
                return rc;
            n++;
        }
    }
    for (k = 0; k < n; k++) {
        i = 0;
        for (row = list->child; row != NULL; row = row->next, i++) {
            struct where where = {AT_FEATURE, NULL, ts[k].name, i, 0};

            rc = put_value(&ts[k], i, md_jdom_get(row, ts[k].name), a, &where, err);
            if (rc != MD_OK)
                return rc;
        }
    }
    *out = ts;
    *n_out = n;
    return MD_OK;
}

/* A list of N scalars (or [v]) for one feature. */
static int column(const struct md_contract *c, const char *name, const struct md_jnode *list,
                  struct md_arena *a, struct md_tensor *t, struct md_err *err)
{
    const struct md_jnode *v;
    struct where where = {AT_COLUMN, NULL, name, 0, 0};
    int rc;

    if (list->type != MD_J_ARRAY)
        return md_err_set(err, MD_EINVAL, "inputs '%s': expected a list of values", name);
    rc = new_tensor(t, name, feature_dtype(c, name), list->n, 0, a, err);
    if (rc != MD_OK)
        return rc;
    if (md_jdom_is_packed(list))
        return put_packed(t, 0, list, a, &where, err);
    for (v = list->child; v != NULL; v = v->next, where.i++) {
        rc = put_value(t, where.i, v, a, &where, err);
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

/*
 * A :predict body as parsed, before any contract types its values: the
 * object with "instances" (rows) or "inputs" (columnar or rows), checked as
 * far as no contract is needed.
 */
struct tfs_body {
    const struct md_jnode *inst; /* "instances": a non-empty list; or NULL */
    const struct md_jnode *inp;  /* "inputs": a list, or an object of at most MAX_COLUMNS keys */
};

/* Parses body and checks what needs no contract, in the order TF Serving reports it. */
static int parse_predict(const char *body, size_t len, struct md_arena *a, struct tfs_body *out,
                         struct md_err *err)
{
    struct md_jnode *root;
    const struct md_jnode *sig;
    int rc;

    out->inst = NULL;
    out->inp = NULL;
    if (len == 0)
        return md_err_set(err, MD_EINVAL, "JSON Parse error: The document is empty");
    rc = md_jdom_parse(body, len, MD_JDOM_NANINF | MD_JDOM_PACKED, a, &root, err);
    if (rc != MD_OK)
        return rc;
    if (root->type != MD_J_OBJECT)
        return md_err_set(err, MD_EINVAL, "request body: expected a JSON object");
    sig = md_jdom_get(root, "signature_name");
    if (sig != NULL) {
        if (sig->type != MD_J_STRING)
            return md_err_set(err, MD_EINVAL, "'signature_name' key must be a string value.");
        if (sig->len != 0 && !(sig->len == 15 && memcmp(sig->p, "serving_default", 15) == 0))
            return md_err_set(err, MD_EINVAL,
                              "Serving signature name: \"%.*s\" not found in signature def",
                              (int)(sig->len > 64 ? 64 : sig->len), sig->p);
    }
    out->inst = md_jdom_get(root, "instances");
    out->inp = md_jdom_get(root, "inputs");
    if (out->inst != NULL && out->inp != NULL)
        return md_err_set(err, MD_EINVAL,
                          "JSON Value: expecting only one of 'inputs' or 'instances' keys");
    if (out->inst == NULL && out->inp == NULL)
        return md_err_set(err, MD_EINVAL, "Missing 'inputs' or 'instances' key");
    if (out->inst != NULL) {
        if (out->inst->type != MD_J_ARRAY)
            return md_err_set(err, MD_EINVAL, "'instances' must be a list");
        if (out->inst->n == 0)
            return md_err_set(err, MD_EINVAL, "No values in 'instances' array");
        return MD_OK;
    }
    if (out->inp->type == MD_J_ARRAY)
        return MD_OK;
    if (out->inp->type != MD_J_OBJECT)
        return md_err_set(err, MD_EINVAL, "'inputs' must be an object or a list");
    if (out->inp->n > MAX_COLUMNS)
        return md_err_set(err, MD_EINVAL, "inputs: too many keys");
    return MD_OK;
}

/* Rows in "instances": objects of named features, lists in feature order, or one feature's
 * values. */
static int bind_instances(const struct md_contract *c, const struct md_jnode *inst,
                          struct md_arena *a, struct md_tensor **out, size_t *n_out,
                          struct md_err *err)
{
    struct md_tensor *ts;
    int rc;

    if (first_type(inst) == MD_J_OBJECT)
        return rows_named(c, inst, a, out, n_out, err);
    if (first_type(inst) == MD_J_ARRAY && c->bytes_feature != NULL)
        return rows_positional(c, inst, a, "instances", out, n_out, err);
    ts = md_arena_calloc(a, 1, sizeof(*ts));
    if (ts == NULL)
        return md_err_set(err, MD_ETOOBIG, "request too large");
    if (first_type(inst) == MD_J_ARRAY)
        rc = rows_2d(c, inst, a, ts, "instances", err);
    else if (c->n_features == 1)
        rc = column(c, c->features[0].name, inst, a, ts, err);
    else
        return md_err_set(err, MD_EINVAL,
                          "instances: a model with %zu features takes "
                          "objects of named features or lists in feature order",
                          c->n_features);
    *out = ts;
    *n_out = 1;
    return rc;
}

/* "inputs": a list of rows or of one feature's values, or an object of columns. */
static int bind_inputs(const struct md_contract *c, const struct md_jnode *inp, struct md_arena *a,
                       struct md_tensor **out, size_t *n_out, struct md_err *err)
{
    struct md_tensor *ts;
    const struct md_jnode *m;
    size_t n = 0;
    int rc;

    if (inp->type == MD_J_ARRAY) {
        if (inp->n > 0 && first_type(inp) == MD_J_ARRAY && c->bytes_feature != NULL)
            return rows_positional(c, inp, a, "inputs", out, n_out, err);
        ts = md_arena_calloc(a, 1, sizeof(*ts));
        if (ts == NULL)
            return md_err_set(err, MD_ETOOBIG, "request too large");
        if (inp->n > 0 && first_type(inp) == MD_J_ARRAY)
            rc = rows_2d(c, inp, a, ts, "inputs", err);
        else if (c->n_features == 1)
            rc = column(c, c->features[0].name, inp, a, ts, err);
        else
            return md_err_set(err, MD_EINVAL,
                              "inputs: expected an object of named features or "
                              "a list of rows in feature order");
        *out = ts;
        *n_out = 1;
        return rc;
    }
    ts = md_arena_calloc(a, inp->n + 1, sizeof(*ts));
    if (ts == NULL)
        return md_err_set(err, MD_ETOOBIG, "request too large");
    for (m = inp->child; m != NULL; m = m->next) {
        char *key = md_arena_strndup(a, m->key, m->key_len);

        if (key == NULL)
            return md_err_set(err, MD_ETOOBIG, "request too large");
        if (strcmp(key, c->input_tensor) == 0 && m->type == MD_J_ARRAY && m->n > 0 &&
            first_type(m) == MD_J_ARRAY) {
            rc = rows_2d(c, m, a, &ts[n], "inputs", err);
        } else {
            if (feature_dtype(c, key) == MD_DT_INVALID) {
                if (md_contract_key(c, m->key, m->key_len) != NULL)
                    continue; /* a key: read by serve/keys.c, never an input */
                return md_err_set(err, MD_EINVAL, "inputs: unknown feature '%s'", key);
            }
            rc = column(c, key, m, a, &ts[n], err);
        }
        if (rc != MD_OK)
            return rc;
        n++;
    }
    *out = ts;
    *n_out = n;
    return MD_OK;
}

/* The parsed body's values as tensors, typed by contract c. */
static int bind_predict(const struct md_contract *c, const struct tfs_body *body,
                        struct md_arena *a, struct md_tensor **out, size_t *n_out,
                        struct md_err *err)
{
    if (body->inst != NULL)
        return bind_instances(c, body->inst, a, out, n_out, err);
    if (body->inp != NULL)
        return bind_inputs(c, body->inp, a, out, n_out, err);
    /* parse_predict has refused such a body already */
    return md_err_set(err, MD_EINVAL, "Missing 'inputs' or 'instances' key");
}

/* Where the parsed body keeps named fields: row objects, or columns by name. */
static void body_fields(const struct tfs_body *body, struct md_key_fields *f)
{
    f->shared = NULL;
    f->rows = body->inst;
    f->columns = body->inp != NULL && body->inp->type == MD_J_OBJECT ? body->inp : NULL;
}

int md_tfs_decode_predict(const struct md_contract *c, const char *body, size_t len,
                          struct md_arena *a, struct md_tensor **out, size_t *n_out, bool *rows,
                          struct md_key_fields *fields, struct md_err *err)
{
    struct tfs_body tb;
    int rc;

    *out = NULL;
    *n_out = 0;
    *rows = true;
    rc = parse_predict(body, len, a, &tb, err);
    *rows = tb.inst != NULL || tb.inp == NULL;
    if (fields != NULL)
        body_fields(&tb, fields);
    if (rc != MD_OK)
        return rc;
    return bind_predict(c, &tb, a, out, n_out, err);
}

/* One output's value for one row. */
static void put_cell(struct md_buf *b, const struct md_version *v, const struct md_prediction *p,
                     const struct md_output *o, size_t row)
{
    size_t width = md_infer_output_width(v, o->kind);
    const float *s = p->scores + row * p->per_row;
    size_t j;

    if (o->kind == MD_OUT_LABEL) {
        PUTSTR(v->contract->labels[md_infer_label(v, p, row)]);
        return;
    }
    if (width > 1)
        PUT("[");
    for (j = 0; j < width; j++) {
        if (j > 0)
            PUT(",");
        if (o->dtype == MD_DT_FP64)
            md_buf_f64(b, (double)s[j], "NaN");
        else
            md_buf_f32(b, s[j], "NaN");
    }
    if (width > 1)
        PUT("]");
}

/* The TF Serving adapter's state for one request (see api/pipeline.h). */
struct tfs_call {
    struct tfs_body body;
};

_Static_assert(sizeof(struct tfs_call) <= MD_API_PREDICT_STATE, "tfs_call fits the state");

/* md_predict's bind: the body's values typed by the version's contract. */
static int tfs_bind(void *ctx, struct md_predict *p, struct md_arena *a, struct md_err *err)
{
    const struct tfs_call *s = ctx;

    return bind_predict(p->v->contract, &s->body, a, &p->inputs, &p->n_inputs, err);
}

static int tfs_decode(void *state, struct md_predict *p, const struct md_api_req *req,
                      struct md_err *err)
{
    struct tfs_call *s = state;
    int rc;

    p->bind = tfs_bind;
    p->bind_ctx = s;
    rc = parse_predict(req->body, req->body_len, req->arena, &s->body, err);
    body_fields(&s->body, &p->fields);
    return rc;
}

/* {"predictions":[...]} for rows, {"outputs":...} for columns, then the version and request id. */
static int tfs_encode(void *state, const struct md_predict *p, const struct md_api_req *req,
                      struct md_api_resp *resp)
{
    const struct tfs_call *s = state;
    const struct md_version *v = p->v;
    const struct md_contract *c = v->contract;
    const struct md_prediction *pred = &p->pred;
    struct md_buf *b = resp->body;
    size_t i;
    size_t k;

    if (s->body.inst != NULL) {
        PUT("{\"predictions\":[");
        for (i = 0; i < pred->rows; i++) {
            if (i > 0)
                PUT(",");
            if (c->n_outputs == 1) {
                put_cell(b, v, pred, &c->outputs[0], i);
                continue;
            }
            PUT("{");
            for (k = 0; k < c->n_outputs; k++) {
                if (k > 0)
                    PUT(",");
                PUTSTR(c->outputs[k].name);
                PUT(":");
                put_cell(b, v, pred, &c->outputs[k], i);
            }
            PUT("}");
        }
        PUT("]");
    } else {
        PUT("{\"outputs\":");
        if (c->n_outputs > 1)
            PUT("{");
        for (k = 0; k < c->n_outputs; k++) {
            if (k > 0)
                PUT(",");
            if (c->n_outputs > 1) {
                PUTSTR(c->outputs[k].name);
                PUT(":");
            }
            PUT("[");
            for (i = 0; i < pred->rows; i++) {
                if (i > 0)
                    PUT(",");
                put_cell(b, v, pred, &c->outputs[k], i);
            }
            PUT("]");
        }
        if (c->n_outputs > 1)
            PUT("}");
    }
    PUT(",\"model_version\":");
    PUTSTR(v->version_str);
    PUT(",\"request_id\":");
    PUTSTR(req->request_id);
    PUT("}");
    return md_buf_error(b);
}

static const struct md_api_predictor tfs_predictor = {"tfs predict", tfs_decode, tfs_encode};

void md_tfs_predict(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                    struct md_api_resp *resp)
{
    md_api_predict(api, rt, req, resp, &tfs_predictor);
}
