/* SPDX-License-Identifier: MIT */
/*
 * v2.c: the Open Inference Protocol (KServe V2) over REST: health, server and
 * model metadata, model configuration, statistics and inference. Inference
 * is the V2 adapter of the prediction pipeline (api/pipeline.h): request
 * bodies are decoded by v2_request.c, in the form the headers name (JSON,
 * JSON and binary tensor data, raw binary: the last decoded once the version
 * is known, as its input is the model's); this file picks the form and
 * encodes the answer, binary outputs after the JSON.
 */
#include "api/handlers.h"
#include "api/pipeline.h"
#include "api/v2_request.h"
#include "serve/batcher.h"
#include "util/fmt.h"

#include <math.h>
#include <stdlib.h>

/* Appends to resp->body; the first failure (body limit) stays in b (util/buf.h). */
#define PUT(s)     md_buf_puts(b, (s))
#define PUTN(p, n) md_buf_append(b, (p), (n))
#define PUTSTR(s)  md_buf_json_str(b, (s), strlen(s))
#define PUTI(v)    md_buf_i64(b, (v))

static void finish(struct md_api_resp *resp, int rc)
{
    md_api_finish(resp, rc);
}

void md_v2_server_metadata(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp)
{
    struct md_buf *b = resp->body;

    MD_UNUSED(req);
    PUT("{\"name\":");
    PUTSTR(api->name);
    PUT(",\"version\":");
    PUTSTR(api->version);
    PUT(",\"extensions\":[\"model_repository\",\"model_configuration\",\"statistics\","
        "\"classification\",\"binary_tensor_data\"]}");
    finish(resp, md_buf_error(b));
}

void md_v2_live(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp)
{
    MD_UNUSED(api);
    MD_UNUSED(req);
    md_buf_puts(resp->body, "{\"live\":true}");
    finish(resp, md_buf_error(resp->body));
}

/* Readiness answers 503 without Retry-After: a probe polls anyway (docs/api.md). */
static void not_ready(struct md_api_resp *resp, const char *msg)
{
    md_api_error_msg(resp, MD_EUNAVAIL, msg);
    resp->retry_after[0] = '\0';
}

void md_v2_ready(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp)
{
    MD_UNUSED(req);
    if (atomic_load(&api->draining)) {
        not_ready(resp, "server is shutting down");
        return;
    }
    if (!atomic_load(&api->ready)) {
        not_ready(resp, "server is not ready: the repository is loading");
        return;
    }
    md_buf_puts(resp->body, "{\"ready\":true}");
    finish(resp, md_buf_error(resp->body));
}

/*
 * The prologue of the handlers that answer with an object about one model:
 * md_api_acquire() and, on success, the answer's opening {"name":"<model>" in
 * resp->body (a failed write stays in it, as PUT's do).
 */
static int open_model(struct md_api *api, const struct md_route *rt, struct md_api_resp *resp,
                      struct md_version **v)
{
    struct md_buf *b = resp->body;
    int st = md_api_acquire(api, rt, resp, v);

    if (st != MD_OK)
        return st;
    PUT("{\"name\":");
    PUTSTR(rt->model);
    return MD_OK;
}

/* Collects the ready version numbers of one model, for metadata. */
struct versions_ctx {
    const char *model;
    struct md_buf *b;
    int n;
};

static void collect_ready(void *vctx, const struct md_repo_row *row)
{
    struct versions_ctx *ctx = vctx;
    char num[24];

    if (strcmp(row->model, ctx->model) != 0 || row->live == NULL)
        return;
    (void)snprintf(num, sizeof(num), "%lld", (long long)row->version); /* fits */
    if (ctx->n++ > 0)
        md_buf_putc(ctx->b, ',');
    md_buf_json_str(ctx->b, num, strlen(num));
}

static void put_output_shape(struct md_buf *b, const struct md_version *v,
                             const struct md_output *o)
{
    PUT("[-1,");
    PUTI((int64_t)md_infer_output_width(v, o->kind));
    PUT("]");
}

/*
 * A contract number (min, max, default) as the shortest JSON text that reads
 * back as the same double: a whole number in plain digits, else "%.*g" with
 * the fewest digits that round-trip.
 */
static void put_number(struct md_buf *b, double v)
{
    char text[40];
    int prec;

    if (v == trunc(v) && fabs(v) < 1e15) {
        PUTI((int64_t)v);
        return;
    }
    for (prec = 1; prec <= 17; prec++) {
        (void)snprintf(text, sizeof(text), "%.*g", prec, v); /* fits: at most 24 bytes */
        if (strtod(text, NULL) == v)
            break;
    }
    PUT(text);
}

/* A category of f (an INT feature's categories are decimal text): a JSON string or number. */
static void put_category(struct md_buf *b, const struct md_feature *f, size_t k)
{
    if (f->dtype == MD_DT_BYTES)
        md_buf_json_str(b, f->categories[k], f->cat_len[k]);
    else
        PUT(f->categories[k]);
}

/*
 * modeld's extension of an input's metadata: the feature's rules from the
 * contract, so that a client can check a request before sending it.
 * "required" always; "missing" (nan or default) for an optional feature,
 * with "default" when it is default; "min" and "max" when set; "allow_nan"
 * for FP32 and FP64; "categories" and "encoding" for a categorical feature.
 */
static void put_feature_params(struct md_buf *b, const struct md_feature *f)
{
    size_t k;

    PUT(",\"parameters\":{\"required\":");
    PUT(f->required ? "true" : "false");
    if (f->missing != MD_MISSING_REJECT) {
        PUT(f->missing == MD_MISSING_NAN ? ",\"missing\":\"nan\"" : ",\"missing\":\"default\"");
        if (f->missing == MD_MISSING_DEFAULT) {
            PUT(",\"default\":");
            if (f->categories != NULL)
                put_category(b, f, f->default_category);
            else if (f->dtype == MD_DT_BOOL)
                PUT(f->default_number != 0 ? "true" : "false");
            else
                put_number(b, f->default_number);
        }
    }
    if (f->has_min) {
        PUT(",\"min\":");
        put_number(b, f->min);
    }
    if (f->has_max) {
        PUT(",\"max\":");
        put_number(b, f->max);
    }
    if (f->dtype == MD_DT_FP32 || f->dtype == MD_DT_FP64)
        PUT(f->allow_nan ? ",\"allow_nan\":true" : ",\"allow_nan\":false");
    if (f->categories != NULL) {
        PUT(",\"categories\":[");
        for (k = 0; k < f->n_categories; k++) {
            if (k > 0)
                PUT(",");
            put_category(b, f, k);
        }
        PUT(f->encoding == MD_ENC_ORDINAL ? "],\"encoding\":\"ordinal\""
                                          : "],\"encoding\":\"onehot\"");
    }
    PUT("}");
}

void md_v2_model_metadata(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                          struct md_api_resp *resp)
{
    struct md_buf *b = resp->body;
    struct md_version *v;
    struct versions_ctx vc;
    const struct md_contract *c;
    size_t i;

    MD_UNUSED(req);
    if (open_model(api, rt, resp, &v) != MD_OK)
        return;
    c = v->contract;
    PUT(",\"versions\":[");
    vc.model = c->name;
    vc.b = b;
    vc.n = 0;
    if (rt->version != NULL)
        PUTSTR(v->version_str);
    else
        md_repo_foreach(api->repo, collect_ready, &vc);
    PUT("],\"platform\":");
    PUTSTR(v->platform);
    PUT(",\"inputs\":[");
    for (i = 0; i < c->n_features; i++) {
        PUT(i ? ",{\"name\":" : "{\"name\":");
        PUTSTR(c->features[i].name);
        PUT(",\"datatype\":");
        PUTSTR(md_dtype_name(c->features[i].dtype));
        PUT(",\"shape\":[-1,1]");
        put_feature_params(b, &c->features[i]);
        PUT("}");
    }
    PUT("],\"outputs\":[");
    for (i = 0; i < c->n_outputs; i++) {
        PUT(i ? ",{\"name\":" : "{\"name\":");
        PUTSTR(c->outputs[i].name);
        PUT(",\"datatype\":");
        PUTSTR(md_dtype_name(c->outputs[i].dtype));
        PUT(",\"shape\":");
        put_output_shape(b, v, &c->outputs[i]);
        PUT("}");
    }
    PUT("]");
    if (c->n_keys > 0) {
        /* modeld's extension: the request fields read as keys, never inputs (docs/api.md). */
        PUT(",\"parameters\":{\"keys\":");
        md_api_put_keys(b, c);
        PUT("}");
    }
    PUT("}");
    md_version_unref(v);
    finish(resp, md_buf_error(b));
}

void md_v2_model_ready(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                       struct md_api_resp *resp)
{
    struct md_buf *b = resp->body;
    struct md_version *v;

    MD_UNUSED(req);
    /* Like the server's readiness: a load balancer probing a model stops too. */
    if (atomic_load(&api->draining)) {
        not_ready(resp, "server is shutting down");
        return;
    }
    if (open_model(api, rt, resp, &v) != MD_OK)
        return;
    if (rt->version != NULL) {
        PUT(",\"version\":");
        PUTSTR(v->version_str);
    }
    PUT(",\"ready\":true}");
    md_version_unref(v);
    finish(resp, md_buf_error(b));
}

static const char *triton_type(enum md_dtype dt)
{
    switch (dt) {
    case MD_DT_BOOL:
        return "TYPE_BOOL";
    case MD_DT_INT32:
        return "TYPE_INT32";
    case MD_DT_INT64:
        return "TYPE_INT64";
    case MD_DT_FP32:
        return "TYPE_FP32";
    case MD_DT_FP64:
        return "TYPE_FP64";
    case MD_DT_BYTES:
        return "TYPE_STRING";
    default:
        return "TYPE_INVALID";
    }
}

/*
 * A tensor's dims. Triton leaves the batch dimension out of dims when
 * max_batch_size is above 0 (a client prepends it), so a batched model's
 * rows are [width], an unbatched one's [-1,width].
 */
static void put_dims(struct md_buf *b, bool batched, size_t width)
{
    PUT(batched ? "[" : "[-1,");
    PUTI((int64_t)width);
    PUT("]");
}

/*
 * Triton's dynamic_batching and instance_group objects, for a model whose
 * contract has dynamic_batching: the preferred sizes, the queue delay, the
 * queue's bound (Triton's default_queue_policy.max_queue_size) and the
 * number of batch workers as one CPU instance group.
 */
static void put_batching(struct md_buf *b, const struct md_contract *c)
{
    size_t i;

    PUT(",\"dynamic_batching\":{\"preferred_batch_size\":[");
    for (i = 0; i < c->batching.n_preferred; i++) {
        if (i > 0)
            PUT(",");
        PUTI((int64_t)c->batching.preferred[i]);
    }
    PUT("],\"max_queue_delay_microseconds\":");
    PUTI((int64_t)c->batching.max_queue_delay_us);
    PUT(",\"default_queue_policy\":{\"max_queue_size\":");
    PUTI((int64_t)c->batching.max_queue_size);
    PUT("}},\"instance_group\":[{\"kind\":\"KIND_CPU\",\"count\":");
    PUTI((int64_t)c->instances);
    PUT("}]");
}

void md_v2_model_config(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp)
{
    struct md_buf *b = resp->body;
    struct md_version *v;
    const struct md_contract *c;
    bool batched;
    size_t i;

    MD_UNUSED(req);
    if (open_model(api, rt, resp, &v) != MD_OK)
        return;
    c = v->contract;
    batched = c->batching.enabled;
    PUT(",\"platform\":");
    PUTSTR(v->platform);
    PUT(",\"backend\":");
    PUTSTR(c->backend);
    PUT(",\"max_batch_size\":");
    PUTI(batched ? (int64_t)c->batching.max_batch_size : 0);
    PUT(",\"task\":");
    PUTSTR(c->task == MD_TASK_CLASSIFICATION ? "classification" : "regression");
    if (c->task == MD_TASK_CLASSIFICATION) {
        PUT(",\"labels\":[");
        for (i = 0; i < c->n_labels; i++) {
            if (i > 0)
                PUT(",");
            PUTSTR(c->labels[i]);
        }
        PUT("]");
    }
    PUT(",\"input\":[");
    for (i = 0; i < c->n_features; i++) {
        const struct md_feature *f = &c->features[i];

        PUT(i ? ",{\"name\":" : "{\"name\":");
        PUTSTR(f->name);
        PUT(",\"data_type\":");
        PUTSTR(triton_type(f->dtype));
        PUT(",\"dims\":");
        put_dims(b, batched, 1);
        PUT(",\"optional\":");
        PUT(f->required ? "false" : "true");
        PUT("}");
    }
    PUT("],\"output\":[");
    for (i = 0; i < c->n_outputs; i++) {
        PUT(i ? ",{\"name\":" : "{\"name\":");
        PUTSTR(c->outputs[i].name);
        PUT(",\"data_type\":");
        PUTSTR(triton_type(c->outputs[i].dtype));
        PUT(",\"dims\":");
        put_dims(b, batched, md_infer_output_width(v, c->outputs[i].kind));
        PUT("}");
    }
    PUT("]");
    if (batched)
        put_batching(b, c);
    PUT(",\"parameters\":{\"input_tensor\":{\"string_value\":");
    PUTSTR(c->input_tensor);
    PUT("},\"prepared_columns\":{\"string_value\":\"");
    {
        char w[24];

        (void)snprintf(w, sizeof(w), "%zu", c->width); /* any size_t fits */
        PUT(w);
    }
    PUT("\"}}}");
    md_version_unref(v);
    finish(resp, md_buf_error(b));
}

/* Statistics: every version of one model (or all models). */
struct stats_ctx {
    const char *model;              /* NULL: all */
    const char *version;            /* NULL: all */
    const struct md_principal *who; /* a model it may not use is left out */
    struct md_buf *b;
    int n;
    int n_sizes; /* batch_stats entries written for the current row */
};

static void put_duration(struct md_buf *b, const char *name, uint64_t count, uint64_t ns)
{
    PUT("\"");
    PUT(name);
    PUT("\":{\"count\":");
    PUTI((int64_t)count);
    PUT(",\"ns\":");
    PUTI((int64_t)ns);
    PUT("}");
}

/* One batch_stats entry: Triton's per-batch-size durations. */
static void stats_batch_size(void *vctx, size_t size, const struct md_batch_size_stats *z)
{
    struct stats_ctx *ctx = vctx;
    struct md_buf *b = ctx->b;
    uint64_t n = atomic_load_explicit(&z->count, memory_order_relaxed);

    PUT(ctx->n_sizes++ ? ",{\"batch_size\":" : "{\"batch_size\":");
    PUTI((int64_t)size);
    PUT(",");
    put_duration(b, "compute_input", n, atomic_load_explicit(&z->input_ns, memory_order_relaxed));
    PUT(",");
    put_duration(b, "compute_infer", n, atomic_load_explicit(&z->infer_ns, memory_order_relaxed));
    PUT(",");
    put_duration(b, "compute_output", n, atomic_load_explicit(&z->output_ns, memory_order_relaxed));
    PUT("}");
}

static void stats_row(void *vctx, const struct md_repo_row *row)
{
    struct stats_ctx *ctx = vctx;
    struct md_buf *b = ctx->b;
    const struct md_version_stats *s;
    struct md_request_totals t;
    uint64_t fail;

    if (row->live == NULL)
        return;
    if (ctx->model != NULL && strcmp(row->model, ctx->model) != 0)
        return;
    if (ctx->version != NULL && strcmp(row->live->version_str, ctx->version) != 0)
        return;
    if (!md_auth_may_use(ctx->who, row->model))
        return;
    s = row->live->stats;
    md_request_totals(s, NULL, &t);
    fail = t.fail_rejected + t.fail_backend + t.fail_overload + t.fail_timeout;
    PUT(ctx->n++ ? ",{\"name\":" : "{\"name\":");
    PUTSTR(row->model);
    PUT(",\"version\":");
    PUTSTR(row->live->version_str);
    PUT(",\"last_inference\":");
    PUTI(md_mono_to_wall_ms(t.last_inference));
    PUT(",\"inference_count\":");
    PUTI((int64_t)t.inference_count);
    PUT(",\"execution_count\":");
    PUTI((int64_t)atomic_load_explicit(&s->exec_count, memory_order_relaxed));
    PUT(",\"inference_stats\":{");
    put_duration(b, "success", t.success, t.request_ns);
    PUT(",");
    put_duration(b, "fail", fail, t.fail_ns);
    PUT(",");
    put_duration(b, "queue", t.success, t.queue_ns);
    PUT(",");
    put_duration(b, "compute_infer", atomic_load(&s->exec_count), atomic_load(&s->compute_ns));
    PUT("},\"batch_stats\":[");
    ctx->n_sizes = 0;
    if (row->live->batcher != NULL)
        md_batcher_foreach_size(row->live->batcher, stats_batch_size, ctx);
    PUT("]}");
}

void md_v2_model_stats(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                       struct md_api_resp *resp)
{
    struct stats_ctx ctx;
    struct md_version *v;

    if (rt->model != NULL) {
        /* Unknown model or version: 404, as for metadata. */
        if (md_api_acquire(api, rt, resp, &v) != MD_OK)
            return;
        md_version_unref(v);
    }
    ctx.model = rt->model;
    ctx.version = rt->version;
    ctx.who = req->principal;
    ctx.b = resp->body;
    md_buf_puts(resp->body, "{\"model_stats\":[");
    ctx.n = 0;
    md_repo_foreach(api->repo, stats_row, &ctx);
    md_buf_puts(resp->body, "]}");
    finish(resp, md_buf_error(resp->body));
}

/* ---- inference ------------------------------------------------------- */

#define HDR_JSON_LEN "Inference-Header-Content-Length"
#define BIN_MAX      ((size_t)1 << 31)

struct cls_item {
    float value;
    size_t index;
};

static int cmp_cls(const void *a, const void *b)
{
    const struct cls_item *x = a;
    const struct cls_item *y = b;

    if (x->value != y->value)
        return x->value < y->value ? 1 : -1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Appends v as 4 little-endian bytes. */
static int put_le32(struct md_buf *bin, uint32_t v)
{
    unsigned char q[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};

    return md_buf_append(bin, q, sizeof(q));
}

/* Appends n floats as little-endian FP32, or as FP64 when wide. */
static int put_floats(struct md_buf *bin, const float *s, size_t n, bool wide)
{
    uint32_t u;
    uint64_t w;
    double d;
    size_t i;
    int rc = MD_OK;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (!wide)
        return md_buf_append(bin, s, n * sizeof(*s));
#endif
    for (i = 0; i < n && rc == MD_OK; i++) {
        if (!wide) {
            memcpy(&u, &s[i], sizeof(u));
            rc = put_le32(bin, u);
            continue;
        }
        d = (double)s[i];
        memcpy(&w, &d, sizeof(w));
        rc = put_le32(bin, (uint32_t)w);
        if (rc == MD_OK)
            rc = put_le32(bin, (uint32_t)(w >> 32));
    }
    return rc;
}

/*
 * One BYTES element: into bin as a 4-byte length and the bytes when bin is
 * not NULL, else into the JSON data array (first: no comma before it).
 */
static void put_bytes_elem(struct md_buf *b, struct md_buf *bin, const char *s, size_t n,
                           bool first)
{
    if (bin != NULL) {
        put_le32(bin, (uint32_t)n);
        md_buf_append(bin, s, n);
        return;
    }
    if (!first)
        PUT(",");
    md_buf_json_str(b, s, n);
}

/* Ends an output's JSON: the data array is closed, or binary says how many bytes. */
static void end_output(struct md_buf *b, const struct md_buf *bin, size_t start)
{
    if (bin == NULL) {
        PUT("]}");
        return;
    }
    PUT(",\"parameters\":{\"binary_data_size\":");
    PUTI((int64_t)(bin->len - start));
    PUT("}}");
}

/* Classification extension: top-k "<value>:<index>[:<label>]" per row, best first. */
static void put_classes(struct md_buf *b, struct md_buf *bin, const struct md_version *v,
                        const struct md_prediction *p, size_t width, int64_t topk)
{
    const struct md_contract *c = v->contract;
    struct cls_item items[256];
    bool two = v->desc.kind == MD_BACKEND_OUT_PROBABILITY;
    size_t classes = two ? 2 : width;
    size_t k = (size_t)topk < classes ? (size_t)topk : classes;
    size_t start = bin != NULL ? bin->len : 0;
    size_t i;
    size_t j;

    if (classes > MD_ARRAY_LEN(items))
        k = 0;
    PUT(",\"datatype\":\"BYTES\",\"shape\":[");
    PUTI((int64_t)p->rows);
    PUT(",");
    PUTI((int64_t)k);
    PUT(bin != NULL ? "]" : "],\"data\":[");
    for (i = 0; i < p->rows && k > 0; i++) {
        const float *s = p->scores + i * p->per_row;

        if (two) {
            /* One probability stands for two classes: P(0) = 1 - P(1). */
            items[0].value = 1.0f - s[0];
            items[0].index = 0;
            items[1].value = s[0];
            items[1].index = 1;
        } else {
            for (j = 0; j < classes; j++) {
                items[j].value = s[j];
                items[j].index = j;
            }
        }
        qsort(items, classes, sizeof(items[0]), cmp_cls);
        for (j = 0; j < k; j++) {
            char txt[MD_CONTRACT_MAX_TEXT + 64]; /* value, index and any label fit */
            size_t idx = items[j].index;
            const char *label =
                c->task == MD_TASK_CLASSIFICATION && idx < c->n_labels ? c->labels[idx] : NULL;

            (void)snprintf(txt, sizeof(txt), "%.9g:%zu%s%s", (double)items[j].value, idx,
                           label ? ":" : "", label ? label : "");
            put_bytes_elem(b, bin, txt, strlen(txt), i + j == 0);
        }
    }
    end_output(b, bin, start);
}

/*
 * One output tensor for the rows of p: its data in the JSON, or, when bin is
 * not NULL, its bytes appended to bin and their count in the JSON.
 */
static void put_output(struct md_buf *b, struct md_buf *bin, const struct md_version *v,
                       const struct md_prediction *p, const struct md_output *o, int64_t topk)
{
    const struct md_contract *c = v->contract;
    size_t width = md_infer_output_width(v, o->kind);
    size_t start = bin != NULL ? bin->len : 0;
    size_t i;

    PUT("{\"name\":");
    PUTSTR(o->name);
    if (topk > 0 && o->kind != MD_OUT_LABEL) {
        put_classes(b, bin, v, p, width, topk);
        return;
    }
    PUT(",\"datatype\":");
    PUTSTR(md_dtype_name(o->dtype));
    PUT(",\"shape\":[");
    PUTI((int64_t)p->rows);
    PUT(",");
    PUTI((int64_t)width);
    PUT(bin != NULL ? "]" : "],\"data\":[");
    if (o->kind == MD_OUT_LABEL) {
        for (i = 0; i < p->rows; i++) {
            const char *label = c->labels[md_infer_label(v, p, i)];

            put_bytes_elem(b, bin, label, strlen(label), i == 0);
        }
    } else if (bin != NULL && width == p->per_row) {
        put_floats(bin, p->scores, p->rows * width, o->dtype == MD_DT_FP64);
    } else if (bin != NULL) {
        for (i = 0; i < p->rows; i++)
            put_floats(bin, p->scores + i * p->per_row, width, o->dtype == MD_DT_FP64);
    } else {
        md_buf_floats(b, p->scores, p->rows, width, p->per_row, o->dtype == MD_DT_FP64, "null");
    }
    end_output(b, bin, start);
}

/* Checks the requested outputs against the contract; MD_EINVAL naming one it lacks. */
static int check_outputs(const struct md_version *v, const struct md_infer_request *ir,
                         struct md_err *err)
{
    size_t i;

    for (i = 0; i < ir->n_outputs; i++) {
        const struct md_output *o = md_infer_find_output(v, ir->outputs[i].name);

        if (o == NULL)
            return md_err_set(err, MD_EINVAL, "unexpected inference output '%s' for model '%s'",
                              ir->outputs[i].name, v->model);
        if (ir->outputs[i].classification > 0 && o->kind == MD_OUT_LABEL)
            return md_err_set(err, MD_EINVAL,
                              "output '%s': classification applies to a probability output",
                              o->name);
    }
    return MD_OK;
}

/* The V2 adapter's state for one request (see api/pipeline.h). */
struct v2_call {
    struct md_infer_request ir;
    const char *body; /* a raw binary body, decoded by bind: the request's */
    size_t body_len;
    bool raw; /* Inference-Header-Content-Length: 0 */
};

_Static_assert(sizeof(struct v2_call) <= MD_API_PREDICT_STATE, "v2_call fits the state");

/*
 * A raw binary body (Inference-Header-Content-Length: 0) is the bytes of the
 * model's one input: its only feature, or the FP32 rows of the 2-D form.
 */
static int decode_raw(const struct md_version *v, const struct v2_call *s, struct md_arena *a,
                      struct md_infer_request *ir, struct md_err *err)
{
    const struct md_contract *c = v->contract;

    if (c->n_features == 1)
        return md_v2_decode_raw(s->body, s->body_len, c->features[0].name, c->features[0].dtype, 1,
                                a, ir, err);
    if (c->bytes_feature != NULL)
        return md_err_set(err, MD_EINVAL,
                          "raw binary request: model '%s' takes %zu inputs, feature '%s' BYTES "
                          "among them, and a raw body carries one; send a JSON header and its "
                          "length in " HDR_JSON_LEN,
                          v->model, c->n_features, c->bytes_feature->name);
    return md_v2_decode_raw(s->body, s->body_len, c->input_tensor, MD_DT_FP32, c->n_features, a, ir,
                            err);
}

/* md_predict's bind: a raw body's one input, then the outputs asked for, by the version. */
static int v2_bind(void *ctx, struct md_predict *p, struct md_arena *a, struct md_err *err)
{
    struct v2_call *s = ctx;
    int rc;

    if (s->raw) {
        rc = decode_raw(p->v, s, a, &s->ir, err);
        if (rc != MD_OK)
            return rc;
        p->inputs = s->ir.inputs;
        p->n_inputs = s->ir.n_inputs;
    }
    return check_outputs(p->v, &s->ir, err);
}

/* Decodes the body as JSON, JSON and binary tensor data, or raw binary, as the headers say. */
static int v2_decode(void *state, struct md_predict *p, const struct md_api_req *req,
                     struct md_err *err)
{
    struct v2_call *s = state;
    const char *h = req->header != NULL ? req->header(req->conn, HDR_JSON_LEN) : NULL;
    size_t json_len;
    int rc;

    s->raw = false;
    p->bind = v2_bind;
    p->bind_ctx = s;
    if (h == NULL) {
        rc = md_v2_decode_infer(req->body, req->body_len, req->arena, &s->ir, err);
    } else {
        memset(&s->ir, 0, sizeof(s->ir));
        rc = md_v2_header_length(h, req->body_len, &json_len, err);
        if (rc == MD_OK && json_len == 0) {
            /* Its input is the model's: decoded by bind, once the version is known. */
            s->raw = true;
            s->body = req->body;
            s->body_len = req->body_len;
        } else if (rc == MD_OK) {
            rc = md_v2_decode_infer_binary(req->body, req->body_len, json_len, p->model, req->arena,
                                           &s->ir, err);
        }
    }
    if (rc != MD_OK)
        return rc;
    p->inputs = s->ir.inputs;
    p->n_inputs = s->ir.n_inputs;
    p->timeout_us = s->ir.timeout_us;
    p->fields.shared = s->ir.params;
    return MD_OK;
}

/*
 * Room for about n more bytes at once, when it can be had (a number takes at
 * most 16 bytes in JSON, 8 in binary); the writes that follow decide.
 */
static void reserve(struct md_buf *b, size_t n)
{
    md_buf_reserve(b, n);
}

/* Whether requested output i (SIZE_MAX: every output, none named) goes out in binary. */
static bool binary_output(const struct md_infer_request *ir, size_t i)
{
    if (i != SIZE_MAX && ir->outputs[i].binary_given)
        return ir->outputs[i].binary;
    return ir->binary_output;
}

/* The answer: the outputs asked for (all when none is named), binary ones after the JSON. */
static int v2_encode(void *state, const struct md_predict *p, const struct md_api_req *req,
                     struct md_api_resp *resp)
{
    const struct v2_call *s = state;
    const struct md_infer_request *ir = &s->ir;
    const struct md_version *v = p->v;
    const struct md_prediction *pred = &p->pred;
    struct md_buf *b = resp->body;
    struct md_buf bin;
    bool any_binary = false;
    size_t n_out;
    size_t i;
    int r;

    md_buf_init(&bin, BIN_MAX);
    /* Room for the whole answer at once rather than a dozen doublings for a large batch. */
    reserve(b, 512 + pred->rows * pred->per_row * 2 * 16);
    if (ir->binary_output)
        reserve(&bin, pred->rows * pred->per_row * 2 * 8);
    PUT("{\"model_name\":");
    PUTSTR(v->model);
    PUT(",\"model_version\":");
    PUTSTR(v->version_str);
    if (ir->id != NULL) {
        PUT(",\"id\":");
        PUTSTR(ir->id);
    }
    PUT(",\"parameters\":{\"request_id\":");
    PUTSTR(req->request_id);
    PUT("},\"outputs\":[");
    n_out = ir->n_outputs > 0 ? ir->n_outputs : v->contract->n_outputs;
    for (i = 0; i < n_out; i++) {
        bool binary = binary_output(ir, ir->n_outputs > 0 ? i : SIZE_MAX);

        if (i > 0)
            PUT(",");
        any_binary |= binary;
        if (ir->n_outputs == 0)
            put_output(b, binary ? &bin : NULL, v, pred, &v->contract->outputs[i], 0);
        else
            put_output(b, binary ? &bin : NULL, v, pred,
                       md_infer_find_output(v, ir->outputs[i].name), ir->outputs[i].classification);
    }
    PUT("]}");
    r = md_buf_error(b) != MD_OK ? md_buf_error(b) : md_buf_error(&bin);
    if (any_binary && r == 0) {
        resp->json_len = b->len;
        resp->content_type = "application/octet-stream";
        PUTN(bin.data, bin.len);
        r = md_buf_error(b);
    }
    md_buf_release(&bin);
    return r;
}

static const struct md_api_predictor v2_predictor = {"v2 infer", v2_decode, v2_encode};

void md_v2_infer(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                 struct md_api_resp *resp)
{
    md_api_predict(api, rt, req, resp, &v2_predictor);
}
