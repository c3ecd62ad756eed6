/* SPDX-License-Identifier: MIT */
/*
 * prom.c: /metrics in the Prometheus text exposition format (0.0.4).
 * Families follow Prometheus naming (counters end in _total, durations in
 * seconds) so that promtool's linter accepts them; docs/operations.md maps
 * them to Triton's nv_* names. Per-version counters come from the metrics
 * registry, which keeps those of retired versions; states and reasons from
 * the repository; process_* from /proc, as Prometheus' client libraries name
 * them.
 */
#include "api/handlers.h"
#include "serve/drift_feed.h"
#include "api/feedback.h"
#include "util/fmt.h"
#include "util/proc.h"
#include "watch/online_stats.h"
#include "watch/accesslog.h"
#include "watch/dataq.h"
#include "watch/metrics.h"
#include "watch/review.h"

/* Appends to the answer; the first failure stays in the buffer (util/buf.h). */
#define PUT(s) md_buf_puts(ctx->b, (s))

struct prom_ctx {
    struct md_buf *b;
    int pass;                         /* which family a walk writes */
    const struct md_metrics_row *row; /* the version a per-route walk is in */
    const char *route;                /* NULL, or the route label of the lines written now */
};

/* The states of modeld_model_version_state, every one written for each row. */
static const char *const state_names[] = {"READY", "UNAVAILABLE", "FAILED"};

static void put_u64(struct prom_ctx *ctx, uint64_t v)
{
    md_buf_printf(ctx->b, "%llu", (unsigned long long)v);
}

/* A label value, its backslashes, double quotes and line feeds escaped. */
static void put_label_value(struct prom_ctx *ctx, const char *v)
{
    const char *p;

    for (p = v; *p != '\0'; p++) {
        if (*p == '\\' || *p == '"')
            md_buf_putc(ctx->b, '\\');
        if (*p == '\n')
            PUT("\\n");
        else
            md_buf_putc(ctx->b, *p);
    }
}

/*
 * Model names are [A-Za-z0-9_.-] and versions digits (serve/repo.c): nothing
 * to escape. A route name comes from a traffic policy: escaped.
 */
static void put_labels(struct prom_ctx *ctx, const char *model, const char *version)
{
    md_buf_printf(ctx->b, "{model=\"%s\",version=\"%s\"", model, version);
    if (ctx->route != NULL) {
        PUT(",route=\"");
        put_label_value(ctx, ctx->route);
        PUT("\"");
    }
}

/* One sample line: <name><suffix>{model=..,version=..<extra>} <v> */
static void put_series(struct prom_ctx *ctx, const char *name, const char *suffix,
                       const struct md_metrics_row *row, const char *extra, uint64_t v)
{
    PUT(name);
    PUT(suffix);
    put_labels(ctx, row->model, row->version);
    if (extra != NULL)
        PUT(extra);
    PUT("} ");
    put_u64(ctx, v);
    PUT("\n");
}

static void put_histogram(struct prom_ctx *ctx, const char *name, const struct md_metrics_row *row,
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
    md_buf_printf(ctx->b, "%s_sum", name);
    put_labels(ctx, row->model, row->version);
    md_buf_printf(ctx->b, "} %.9f\n",
                  (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9);
    put_series(ctx, name, "_count", row, NULL, cum);
}

/* The batch-size histogram: buckets in rows (powers of two). */
static void put_rows_histogram(struct prom_ctx *ctx, const char *name,
                               const struct md_metrics_row *row, const struct md_rows_histogram *h)
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

/*
 * The per-version families, live and retired versions alike (the registry's
 * rows). Those of requests carry the route they took; those of engine calls
 * do not (a batched engine call may run rows of several routes).
 */
static const struct {
    const char *name;
    const char *type;
    const char *help;
} version_fams[] = {
    {"modeld_inference_requests_total", "counter",
     "Inference requests that reached a model version, by the route they took."},
    {"modeld_inference_failures_total", "counter",
     "Inference requests that failed, by route and reason (rejected input, backend error, "
     "refused for a full batch queue, or deadline passed)."},
    {"modeld_inference_rows_total", "counter", "Rows (examples) predicted, by route."},
    {"modeld_inference_executions_total", "counter", "Engine calls."},
    {"modeld_request_duration_seconds", "histogram",
     "Whole-request latency of successful inference requests, by route."},
    {"modeld_engine_duration_seconds", "histogram", "Time inside the engine per call."},
    {"modeld_last_inference_timestamp_seconds", "gauge",
     "Wall-clock time of the last successful inference, by route."},
    {"modeld_queue_duration_seconds", "histogram",
     "Time successful requests waited in a batch queue (batching versions), by route."},
    {"modeld_batch_size", "histogram", "Rows per engine call (batching versions)."},
    {"modeld_queue_depth", "gauge", "Requests waiting in a batch queue now (loaded versions)."},
};

/* One route's line(s) of the family of ctx->pass. */
static void route_family(void *vctx, const char *route, const struct md_route_stats *s)
{
    struct prom_ctx *ctx = vctx;
    const struct md_metrics_row *row = ctx->row;

    ctx->route = route;
    switch (ctx->pass) {
    case 0:
        put_series(ctx, "modeld_inference_requests_total", "", row, NULL,
                   atomic_load(&s->success) + atomic_load(&s->fail_rejected) +
                       atomic_load(&s->fail_backend) + atomic_load(&s->fail_overload) +
                       atomic_load(&s->fail_timeout));
        break;
    case 1:
        put_series(ctx, "modeld_inference_failures_total", "", row, ",reason=\"rejected\"",
                   atomic_load(&s->fail_rejected));
        put_series(ctx, "modeld_inference_failures_total", "", row, ",reason=\"backend\"",
                   atomic_load(&s->fail_backend));
        put_series(ctx, "modeld_inference_failures_total", "", row, ",reason=\"overload\"",
                   atomic_load(&s->fail_overload));
        put_series(ctx, "modeld_inference_failures_total", "", row, ",reason=\"timeout\"",
                   atomic_load(&s->fail_timeout));
        break;
    case 2:
        put_series(ctx, "modeld_inference_rows_total", "", row, NULL,
                   atomic_load(&s->inference_count));
        break;
    case 4:
        put_histogram(ctx, "modeld_request_duration_seconds", row, &s->request);
        break;
    case 6:
        PUT("modeld_last_inference_timestamp_seconds");
        put_labels(ctx, row->model, row->version);
        md_buf_printf(ctx->b, "} %.3f\n",
                      (double)md_mono_to_wall_ms(atomic_load(&s->last_inference)) / 1000.0);
        break;
    case 7:
        if (row->batching)
            put_histogram(ctx, "modeld_queue_duration_seconds", row, &s->queue);
        break;
    default:
        break;
    }
    ctx->route = NULL;
}

static void version_family(void *vctx, const struct md_metrics_row *row)
{
    struct prom_ctx *ctx = vctx;
    const struct md_version_stats *s = row->stats;

    switch (ctx->pass) {
    case 0:
    case 1:
    case 2:
    case 4:
    case 6:
    case 7:
        ctx->row = row;
        md_version_stats_routes(s, route_family, ctx);
        break;
    case 3:
        put_series(ctx, "modeld_inference_executions_total", "", row, NULL,
                   atomic_load(&s->exec_count));
        break;
    case 5:
        put_histogram(ctx, "modeld_engine_duration_seconds", row, &s->engine);
        break;
    case 8:
        if (row->batching)
            put_rows_histogram(ctx, "modeld_batch_size", row, &s->batch);
        break;
    case 9:
        if (row->batching && row->live) {
            PUT("modeld_queue_depth");
            put_labels(ctx, row->model, row->version);
            md_buf_printf(ctx->b, "} %lld\n", (long long)atomic_load(&s->queue_depth));
        }
        break;
    default:
        break;
    }
}

/* The families of the repository's rows: readiness, state, reason. */
static const struct {
    const char *name;
    const char *type;
    const char *help;
} state_fams[] = {
    {"modeld_model_version_ready", "gauge", "1 for every model version that serves."},
    {"modeld_model_version_state", "gauge",
     "1 for the state a model version is in, 0 for the others (READY, UNAVAILABLE, FAILED = "
     "a load was tried and failed); version \"\" for a model with no version to show."},
    {"modeld_model_version_reason", "gauge",
     "1 for why a model version is not ready, or the warning it serves with (reason: warning, "
     "reload_failed, policy, load_failed, missing, unloaded, model_config, no_versions); the "
     "text is in the repository index."},
};

static void state_family(void *vctx, const struct md_repo_row *row)
{
    struct prom_ctx *ctx = vctx;
    char num[24];
    const char *state;
    size_t i;

    if (row->version > 0)
        (void)snprintf(num, sizeof(num), "%lld", (long long)row->version); /* fits */
    else
        num[0] = '\0';
    switch (ctx->pass) {
    case 0:
        if (row->live != NULL) {
            PUT("modeld_model_version_ready");
            put_labels(ctx, row->model, num);
            PUT("} 1\n");
        }
        break;
    case 1:
        state = md_version_state_name(row->state);
        if (row->state == MD_VS_UNAVAILABLE &&
            (row->cause == MD_CAUSE_LOAD_FAILED || row->cause == MD_CAUSE_MODEL_CONFIG))
            state = "FAILED";
        for (i = 0; i < MD_ARRAY_LEN(state_names); i++) {
            PUT("modeld_model_version_state");
            put_labels(ctx, row->model, num);
            md_buf_printf(ctx->b, ",state=\"%s\"} %d\n", state_names[i],
                          strcmp(state, state_names[i]) == 0);
        }
        break;
    case 2:
        if (row->cause != MD_CAUSE_NONE) {
            PUT("modeld_model_version_reason");
            put_labels(ctx, row->model, num);
            md_buf_printf(ctx->b, ",reason=\"%s\"} 1\n", md_version_cause_name(row->cause));
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

static void put_family(struct prom_ctx *ctx, const char *name, const char *type, const char *help)
{
    md_buf_printf(ctx->b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The process_* families of Prometheus' client libraries; none when /proc is unreadable. */
static void process_families(struct prom_ctx *ctx)
{
    struct md_proc_stats ps;

    if (md_proc_stats(&ps, NULL) != MD_OK)
        return;
    put_family(ctx, "process_cpu_seconds_total", "counter",
               "Total user and system CPU time spent in seconds.");
    md_buf_printf(ctx->b, "process_cpu_seconds_total %.2f\n", ps.cpu_s);
    put_family(ctx, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    md_buf_printf(ctx->b, "process_resident_memory_bytes %llu\n", (unsigned long long)ps.rss_bytes);
    put_family(ctx, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    md_buf_printf(ctx->b, "process_virtual_memory_bytes %llu\n",
                  (unsigned long long)ps.vsize_bytes);
    put_family(ctx, "process_open_fds", "gauge", "Number of open file descriptors.");
    md_buf_printf(ctx->b, "process_open_fds %llu\n", (unsigned long long)ps.open_fds);
    put_family(ctx, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    md_buf_printf(ctx->b, "process_max_fds %llu\n", (unsigned long long)ps.max_fds);
    put_family(ctx, "process_start_time_seconds", "gauge",
               "Start time of the process since unix epoch in seconds.");
    md_buf_printf(ctx->b, "process_start_time_seconds %.2f\n", ps.start_time_s);
}

static const char *const family_names[MD_API_FAMILIES] = {
    "v2", "v1", "repository", "metrics", "management", "ui", "other"};

static void http_families(struct md_api *api, struct prom_ctx *ctx)
{
    long conns = 0;
    long in_flight = 0;
    size_t i;
    size_t j;

    put_family(ctx, "modeld_http_requests_total", "counter",
               "HTTP requests by API family and status code.");
    for (i = 0; i < MD_API_FAMILIES; i++) {
        for (j = 0; j <= MD_API_CODES; j++) {
            uint64_t n = atomic_load_explicit(&api->http[i][j], memory_order_relaxed);

            if (n == 0)
                continue;
            if (j < MD_API_CODES)
                md_buf_printf(ctx->b, "modeld_http_requests_total{api=\"%s\",code=\"%d\"} ",
                              family_names[i], md_api_codes[j]);
            else
                md_buf_printf(ctx->b, "modeld_http_requests_total{api=\"%s\",code=\"other\"} ",
                              family_names[i]);
            put_u64(ctx, n);
            PUT("\n");
        }
    }
    if (api->http_gauges == NULL)
        return;
    api->http_gauges(api->http_ctx, &conns, &in_flight);
    put_family(ctx, "modeld_http_connections_open", "gauge", "HTTP connections open now.");
    md_buf_printf(ctx->b, "modeld_http_connections_open %ld\n", conns);
    put_family(ctx, "modeld_http_requests_in_flight", "gauge",
               "HTTP requests received and not yet answered (this scrape among them).");
    md_buf_printf(ctx->b, "modeld_http_requests_in_flight %ld\n", in_flight);
}

/* ---- shadows and comparisons ---------------------------------------------- */

/* The shadow families, per version that copies were sent to. */
static const struct {
    const char *name;
    const char *help;
} shadow_fams[] = {
    {"modeld_shadow_submitted_total", "Copies of answered requests queued for a shadow version."},
    {"modeld_shadow_dropped_total",
     "Copies for a shadow version dropped: the shadow queue was full or over its bytes."},
    {"modeld_shadow_run_total", "Copies a shadow version ran."},
    {"modeld_shadow_failed_total", "Copies a shadow version failed."},
};

static void shadow_family(void *vctx, const struct md_metrics_row *row)
{
    struct prom_ctx *ctx = vctx;
    const struct md_shadow_stats *s = &row->stats->shadow;
    const _Atomic uint64_t *fields[] = {&s->submitted, &s->dropped, &s->run, &s->failed};

    if (atomic_load(&s->submitted) + atomic_load(&s->dropped) == 0)
        return;
    put_series(ctx, shadow_fams[ctx->pass].name, "", row, NULL, atomic_load(fields[ctx->pass]));
}

static void put_pair_labels(struct prom_ctx *ctx, const struct md_compare_pair *p, const char *side)
{
    md_buf_printf(ctx->b, "{model=\"%s\",a=\"%lld\",b=\"%lld\"", p->model, (long long)p->a,
                  (long long)p->b);
    if (side != NULL)
        md_buf_printf(ctx->b, ",side=\"%s\"", side);
}

static void put_pair_series(struct prom_ctx *ctx, const char *name, const struct md_compare_pair *p,
                            const char *side, const char *extra, uint64_t v)
{
    PUT(name);
    put_pair_labels(ctx, p, side);
    if (extra != NULL)
        PUT(extra);
    PUT("} ");
    put_u64(ctx, v);
    PUT("\n");
}

/* |difference| by decade: le="0", 1e-09 .. 1e+09, +Inf (sums of the compare module's bins). */
static void put_diff_histogram(struct prom_ctx *ctx, const struct md_compare_pair *p)
{
    const char *name = "modeld_comparison_abs_diff_bucket";
    char le[48];
    uint64_t cum = p->diff.bins[0];
    int e;
    size_t i = 1;

    put_pair_series(ctx, name, p, NULL, ",le=\"0\"", cum);
    for (e = MD_DIFF_MIN_EXP; e <= MD_DIFF_MIN_EXP + MD_DIFF_DECADES; e++) {
        /* through the bin whose upper bound is 10^e */
        size_t last = 1 + (size_t)(e - MD_DIFF_MIN_EXP) * MD_DIFF_PER_DEC;

        for (; i <= last; i++)
            cum += p->diff.bins[i];
        (void)snprintf(le, sizeof(le), ",le=\"1e%+03d\"", e);
        put_pair_series(ctx, name, p, NULL, le, cum);
    }
    put_pair_series(ctx, name, p, NULL, ",le=\"+Inf\"", p->diff.count);
    PUT("modeld_comparison_abs_diff_sum");
    put_pair_labels(ctx, p, NULL);
    md_buf_printf(ctx->b, "} %.9g\n", p->diff.sum);
    put_pair_series(ctx, "modeld_comparison_abs_diff_count", p, NULL, NULL, p->diff.count);
}

static void put_side_histogram(struct prom_ctx *ctx, const struct md_compare_pair *p,
                               const char *side, const struct md_compare_side *s)
{
    const char *name = "modeld_comparison_duration_seconds_bucket";
    char le[48]; /* room for any %g */
    uint64_t cum = 0;
    size_t i;

    for (i = 0; i <= MD_HIST_BUCKETS; i++) {
        cum += s->latency[i];
        if (i < MD_HIST_BUCKETS)
            (void)snprintf(le, sizeof(le), ",le=\"%g\"", md_hist_bounds_s[i]);
        else
            (void)snprintf(le, sizeof(le), ",le=\"+Inf\"");
        put_pair_series(ctx, name, p, side, le, cum);
    }
    PUT("modeld_comparison_duration_seconds_sum");
    put_pair_labels(ctx, p, side);
    md_buf_printf(ctx->b, "} %.9f\n", (double)s->latency_sum_ns / 1e9);
    put_pair_series(ctx, "modeld_comparison_duration_seconds_count", p, side, NULL, cum);
}

static const struct {
    const char *name;
    const char *type;
    const char *help;
} compare_fams[] = {
    {"modeld_comparison_requests_total", "counter",
     "Requests run on both versions of a pair (a: the answering version, or the champion a "
     "canary's request was mirrored to; b: the other)."},
    {"modeld_comparison_total", "counter",
     "Rows whose outputs were compared (both versions answered)."},
    {"modeld_comparison_agree_total", "counter",
     "Rows compared on which both versions predicted the same label (classification)."},
    {"modeld_comparison_abs_diff", "histogram",
     "Per row compared, the largest |difference| between the two versions' outputs."},
    {"modeld_comparison_errors_total", "counter",
     "Requests of a pair that one side failed, by side."},
    {"modeld_comparison_duration_seconds", "histogram",
     "Latency of each side of a pair: the caller's for the answering version, the copy's run "
     "for the other."},
};

static void compare_family(void *vctx, const struct md_compare_pair *p)
{
    struct prom_ctx *ctx = vctx;

    switch (ctx->pass) {
    case 0:
        put_pair_series(ctx, "modeld_comparison_requests_total", p, NULL, NULL, p->requests);
        break;
    case 1:
        put_pair_series(ctx, "modeld_comparison_total", p, NULL, NULL, p->rows);
        break;
    case 2:
        if (p->labels)
            put_pair_series(ctx, "modeld_comparison_agree_total", p, NULL, NULL, p->agree);
        break;
    case 3:
        put_diff_histogram(ctx, p);
        break;
    case 4:
        put_pair_series(ctx, "modeld_comparison_errors_total", p, "a", NULL, p->side[0].errors);
        put_pair_series(ctx, "modeld_comparison_errors_total", p, "b", NULL, p->side[1].errors);
        break;
    case 5:
        put_side_histogram(ctx, p, "a", &p->side[0]);
        put_side_histogram(ctx, p, "b", &p->side[1]);
        break;
    default:
        break;
    }
}

static void shadow_families(struct md_api *api, struct md_metrics *m, struct prom_ctx *ctx)
{
    struct md_shadow_counts sc;
    size_t i;

    if (api->shadow != NULL) {
        md_shadow_counts(api->shadow, &sc);
        put_family(ctx, "modeld_shadow_queue_depth", "gauge",
                   "Shadow copies waiting or running now.");
        md_buf_printf(ctx->b, "modeld_shadow_queue_depth %zu\n", sc.depth);
        put_family(ctx, "modeld_shadow_queue_capacity", "gauge",
                   "Shadow copies the queue holds at most (--shadow-queue).");
        md_buf_printf(ctx->b, "modeld_shadow_queue_capacity %zu\n", sc.capacity);
    }
    for (i = 0; i < MD_ARRAY_LEN(shadow_fams); i++) {
        put_family(ctx, shadow_fams[i].name, "counter", shadow_fams[i].help);
        ctx->pass = (int)i;
        md_metrics_foreach(m, shadow_family, ctx);
    }
    if (api->compare == NULL)
        return;
    for (i = 0; i < MD_ARRAY_LEN(compare_fams); i++) {
        put_family(ctx, compare_fams[i].name, compare_fams[i].type, compare_fams[i].help);
        ctx->pass = (int)i;
        md_compare_foreach(api->compare, compare_family, ctx);
    }
}

void md_prom_metrics(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp)
{
    struct md_metrics *m = md_repo_metrics(api->repo);
    struct prom_ctx c;
    struct prom_ctx *ctx = &c;
    size_t versions = 0;
    size_t i;

    MD_UNUSED(req);
    memset(&c, 0, sizeof(c));
    c.b = resp->body;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    PUT("# HELP modeld_build_info Build information.\n# TYPE modeld_build_info gauge\n");
    md_buf_printf(c.b, "modeld_build_info{version=\"%s\"} 1\n", api->version);
    PUT("# HELP modeld_start_time_seconds Start time of the process since the epoch.\n"
        "# TYPE modeld_start_time_seconds gauge\n");
    md_buf_printf(c.b, "modeld_start_time_seconds %.3f\n", (double)api->started_ms / 1000.0);
    process_families(ctx);
    md_repo_foreach(api->repo, count_versions, &versions);
    PUT("# HELP modeld_models_loaded Models with at least one ready version.\n"
        "# TYPE modeld_models_loaded gauge\n");
    md_buf_printf(c.b, "modeld_models_loaded %zu\n", md_repo_ready_models(api->repo));
    PUT("# HELP modeld_versions_loaded Model versions that serve.\n"
        "# TYPE modeld_versions_loaded gauge\n");
    md_buf_printf(c.b, "modeld_versions_loaded %zu\n", versions);
    put_family(ctx, "modeld_repository_scan_errors_total", "counter",
               "Errors met reading the model repository, each logged once: a model.yaml missing "
               "or invalid, a version that failed to load, the directory unreadable.");
    md_buf_printf(c.b, "modeld_repository_scan_errors_total %llu\n",
                  (unsigned long long)md_metrics_scan_errors(m));
    http_families(api, ctx);
    if (api->access_log != NULL) {
        put_family(ctx, "modeld_access_log_dropped_total", "counter",
                   "Access-log lines dropped because the disk fell behind.");
        md_buf_printf(c.b, "modeld_access_log_dropped_total %llu\n",
                      (unsigned long long)md_access_log_dropped(api->access_log));
    }
    for (i = 0; i < MD_ARRAY_LEN(state_fams); i++) {
        put_family(ctx, state_fams[i].name, state_fams[i].type, state_fams[i].help);
        c.pass = (int)i;
        md_repo_foreach(api->repo, state_family, &c);
    }
    for (i = 0; i < MD_ARRAY_LEN(version_fams); i++) {
        put_family(ctx, version_fams[i].name, version_fams[i].type, version_fams[i].help);
        c.pass = (int)i;
        md_metrics_foreach(m, version_family, &c);
    }
    shadow_families(api, m, ctx);
    md_history_api_prom(api, c.b);
    (void)md_drift_prom(api->repo, c.b);
    md_dataq_prom(md_metrics_dataq(m), c.b);
    md_alerts_api_prom(api, c.b);
    md_predictions_prom(api, c.b);
    md_feedback_prom(api, c.b);
    if (api->review != NULL)
        md_review_stats_prom(api->review, c.b);
    md_online_stats_prom(c.b); /* online learning (part online) */
    md_api_finish(resp, md_buf_error(c.b));
}
