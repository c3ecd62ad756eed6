/* SPDX-License-Identifier: MIT */
/*
 * prom.c: /metrics in the Prometheus text exposition format (0.0.4).
 * Families follow Prometheus naming (counters end in _total, durations in
 * seconds) so that promtool's linter accepts them; docs/operations.md maps
 * them to Triton's nv_* names.
 */
#include "api/handlers.h"
#include "util/fmt.h"

#define PUT(s) (ctx->rc |= md_buf_puts(ctx->b, (s)))

struct prom_ctx {
    struct md_buf *b;
    int rc;
    int pass; /* which family a repository walk writes */
};

static void put_u64(struct prom_ctx *ctx, uint64_t v)
{
    ctx->rc |= md_buf_printf(ctx->b, "%llu", (unsigned long long)v);
}

static void put_labels(struct prom_ctx *ctx, const struct md_repo_row *row)
{
    ctx->rc |=
        md_buf_printf(ctx->b, "{model=\"%s\",version=\"%s\"", row->model, row->live->version_str);
}

/* One sample line: <name><suffix>{model=..,version=..<extra>} <v> */
static void put_series(struct prom_ctx *ctx, const char *name, const char *suffix,
                       const struct md_repo_row *row, const char *extra, uint64_t v)
{
    PUT(name);
    PUT(suffix);
    put_labels(ctx, row);
    if (extra != NULL)
        PUT(extra);
    PUT("} ");
    put_u64(ctx, v);
    PUT("\n");
}

static void counter_line(struct prom_ctx *ctx, const char *name, const struct md_repo_row *row,
                         const char *extra, uint64_t v)
{
    put_series(ctx, name, "", row, extra, v);
}

static void put_histogram(struct prom_ctx *ctx, const char *name, const struct md_repo_row *row,
                          const struct md_histogram *h)
{
    char le[48]; /* room for any %g */
    uint64_t cum = 0;
    size_t i;

    for (i = 0; i <= MD_HIST_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i < MD_HIST_BUCKETS)
            (void)snprintf(le, sizeof(le), ",le=\"%g\"", md_hist_bounds_s[i]);
        else
            (void)snprintf(le, sizeof(le), ",le=\"+Inf\"");
        put_series(ctx, name, "_bucket", row, le, cum);
    }
    ctx->rc |= md_buf_printf(ctx->b, "%s_sum", name);
    put_labels(ctx, row);
    ctx->rc |= md_buf_printf(ctx->b, "} %.9f\n",
                             (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9);
    put_series(ctx, name, "_count", row, NULL, cum);
}

/* The batch-size histogram: buckets in rows (powers of two). */
static void put_rows_histogram(struct prom_ctx *ctx, const char *name,
                               const struct md_repo_row *row, const struct md_rows_histogram *h)
{
    char le[48]; /* room for any 64-bit number */
    uint64_t cum = 0;
    size_t i;

    for (i = 0; i <= MD_ROWS_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i < MD_ROWS_BUCKETS)
            (void)snprintf(le, sizeof(le), ",le=\"%llu\"", 1ull << i);
        else
            (void)snprintf(le, sizeof(le), ",le=\"+Inf\"");
        put_series(ctx, name, "_bucket", row, le, cum);
    }
    put_series(ctx, name, "_sum", row, NULL, atomic_load_explicit(&h->sum, memory_order_relaxed));
    put_series(ctx, name, "_count", row, NULL, cum);
}

static void version_family(void *vctx, const struct md_repo_row *row)
{
    struct prom_ctx *ctx = vctx;
    const struct md_version_stats *s;

    if (row->live == NULL)
        return;
    s = &row->live->stats;
    switch (ctx->pass) {
    case 0:
        counter_line(ctx, "modeld_inference_requests_total", row, NULL,
                     atomic_load(&s->success) + atomic_load(&s->fail_rejected) +
                         atomic_load(&s->fail_backend) + atomic_load(&s->fail_overload) +
                         atomic_load(&s->fail_timeout));
        break;
    case 1:
        counter_line(ctx, "modeld_inference_failures_total", row, ",reason=\"rejected\"",
                     atomic_load(&s->fail_rejected));
        counter_line(ctx, "modeld_inference_failures_total", row, ",reason=\"backend\"",
                     atomic_load(&s->fail_backend));
        counter_line(ctx, "modeld_inference_failures_total", row, ",reason=\"overload\"",
                     atomic_load(&s->fail_overload));
        counter_line(ctx, "modeld_inference_failures_total", row, ",reason=\"timeout\"",
                     atomic_load(&s->fail_timeout));
        break;
    case 2:
        counter_line(ctx, "modeld_inference_rows_total", row, NULL,
                     atomic_load(&s->inference_count));
        break;
    case 3:
        counter_line(ctx, "modeld_inference_executions_total", row, NULL,
                     atomic_load(&s->exec_count));
        break;
    case 4:
        put_histogram(ctx, "modeld_request_duration_seconds", row, &s->request);
        break;
    case 5:
        put_histogram(ctx, "modeld_engine_duration_seconds", row, &s->engine);
        break;
    case 6:
        PUT("modeld_last_inference_timestamp_seconds");
        put_labels(ctx, row);
        ctx->rc |=
            md_buf_printf(ctx->b, "} %.3f\n",
                          (double)md_mono_to_wall_ms(atomic_load(&s->last_inference)) / 1000.0);
        break;
    case 7:
        PUT("modeld_model_version_ready");
        put_labels(ctx, row);
        PUT("} 1\n");
        break;
    case 8:
        if (row->live->batcher != NULL)
            put_histogram(ctx, "modeld_queue_duration_seconds", row, &s->queue);
        break;
    case 9:
        if (row->live->batcher != NULL)
            put_rows_histogram(ctx, "modeld_batch_size", row, &s->batch);
        break;
    case 10:
        if (row->live->batcher != NULL) {
            PUT("modeld_queue_depth");
            put_labels(ctx, row);
            ctx->rc |= md_buf_printf(ctx->b, "} %lld\n", (long long)atomic_load(&s->queue_depth));
        }
        break;
    default:
        break;
    }
}

static void count_versions(void *vctx, const struct md_repo_row *row)
{
    size_t *n = vctx;

    if (row->live != NULL)
        (*n)++;
}

static const char *const family_names[MD_API_FAMILIES] = {"v2",      "v1",         "repository",
                                                          "metrics", "management", "other"};

void md_prom_metrics(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp)
{
    static const struct {
        const char *name;
        const char *type;
        const char *help;
    } fams[] = {
        {"modeld_inference_requests_total", "counter",
         "Inference requests that reached a model version."},
        {"modeld_inference_failures_total", "counter",
         "Inference requests that failed, by reason (rejected input, backend error, refused "
         "for a full batch queue, or deadline passed)."},
        {"modeld_inference_rows_total", "counter", "Rows (examples) predicted."},
        {"modeld_inference_executions_total", "counter", "Engine calls."},
        {"modeld_request_duration_seconds", "histogram",
         "Whole-request latency of successful inference requests."},
        {"modeld_engine_duration_seconds", "histogram", "Time inside the engine per call."},
        {"modeld_last_inference_timestamp_seconds", "gauge",
         "Wall-clock time of the last successful inference."},
        {"modeld_model_version_ready", "gauge", "1 for every model version that serves."},
        {"modeld_queue_duration_seconds", "histogram",
         "Time successful requests waited in a batch queue (batching versions)."},
        {"modeld_batch_size", "histogram", "Rows per engine call (batching versions)."},
        {"modeld_queue_depth", "gauge", "Requests waiting in a batch queue now."},
    };
    struct prom_ctx c;
    struct prom_ctx *ctx = &c;
    size_t versions = 0;
    size_t i;
    size_t j;

    MD_UNUSED(req);
    c.b = resp->body;
    c.rc = 0;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    PUT("# HELP modeld_build_info Build information.\n# TYPE modeld_build_info gauge\n");
    ctx->rc |= md_buf_printf(c.b, "modeld_build_info{version=\"%s\"} 1\n", api->version);
    PUT("# HELP modeld_start_time_seconds Start time of the process since the epoch.\n"
        "# TYPE modeld_start_time_seconds gauge\n");
    ctx->rc |=
        md_buf_printf(c.b, "modeld_start_time_seconds %.3f\n", (double)api->started_ms / 1000.0);
    md_repo_foreach(api->repo, count_versions, &versions);
    PUT("# HELP modeld_models_loaded Models with at least one ready version.\n"
        "# TYPE modeld_models_loaded gauge\n");
    ctx->rc |= md_buf_printf(c.b, "modeld_models_loaded %zu\n", md_repo_ready_models(api->repo));
    PUT("# HELP modeld_versions_loaded Model versions that serve.\n"
        "# TYPE modeld_versions_loaded gauge\n");
    ctx->rc |= md_buf_printf(c.b, "modeld_versions_loaded %zu\n", versions);
    PUT("# HELP modeld_http_requests_total HTTP requests by API family and status code.\n"
        "# TYPE modeld_http_requests_total counter\n");
    for (i = 0; i < MD_API_FAMILIES; i++) {
        for (j = 0; j <= MD_API_CODES; j++) {
            uint64_t n = atomic_load_explicit(&api->http[i][j], memory_order_relaxed);

            if (n == 0)
                continue;
            if (j < MD_API_CODES)
                ctx->rc |= md_buf_printf(c.b, "modeld_http_requests_total{api=\"%s\",code=\"%d\"} ",
                                         family_names[i], md_api_codes[j]);
            else
                ctx->rc |= md_buf_printf(
                    c.b, "modeld_http_requests_total{api=\"%s\",code=\"other\"} ", family_names[i]);
            put_u64(ctx, n);
            PUT("\n");
        }
    }
    for (i = 0; i < MD_ARRAY_LEN(fams); i++) {
        ctx->rc |= md_buf_printf(c.b, "# HELP %s %s\n# TYPE %s %s\n", fams[i].name, fams[i].help,
                                 fams[i].name, fams[i].type);
        c.pass = (int)i;
        md_repo_foreach(api->repo, version_family, &c);
    }
    if (c.rc != 0)
        md_api_error_status(resp, 500, "response too large");
}
