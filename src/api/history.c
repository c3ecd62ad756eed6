/* SPDX-License-Identifier: MIT */
/*
 * history.c: a model's named metrics now and in the past.
 *
 *   GET /api/v1/models/{m}/signals   values over a window ending now, from
 *                                    the registry (watch/signals.h)
 *   GET /api/v1/models/{m}/history   one metric per step over a time range,
 *                                    from the per-minute rollups the store
 *                                    keeps (watch/history.h)
 *
 * The values are the providers' and the rows the store's; this file reads
 * the query, asks, aggregates through watch/history.c and writes JSON. A
 * signal whose provider waits on the store (MD_SIGNAL_WAITS) is evaluated
 * on a thread of its own while the request is parked, never on the HTTP
 * thread.
 */
#include "api/handlers.h"
#include "serve/registry.h"
#include "util/fmt.h"
#include "util/mem.h"
#include "watch/history.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define WINDOW_DEFAULT_MS 60000
#define WINDOW_MAX_MS     (30LL * 86400 * 1000)
#define METRICS_MAX       MD_SIGNALS_MAX /* names one request may ask for */
#define EVALS_MAX         4              /* parked evaluations that wait on the store, at once */

/* A window: a duration above 0 and up to 30 days, or -1. */
static int64_t window_ms(const char *s)
{
    int64_t ms;

    return md_history_duration(s, WINDOW_MAX_MS, &ms) ? ms : -1;
}

/* Which (version, route) of the model a query narrows to; MD_EINVAL naming the argument. */
static int read_scope(struct md_api_req *req, int64_t *version, const char **route,
                      struct md_err *err)
{
    const char *q = req->query != NULL ? req->query(req->conn, "version") : NULL;

    *version = 0;
    *route = NULL;
    if (q != NULL && q[0] != '\0') {
        *version = md_version_number(q);
        if (*version < 1)
            return md_err_set(err, MD_EINVAL, "version: '%.40s' is not a version number", q);
    }
    q = req->query != NULL ? req->query(req->conn, "route") : NULL;
    if (q != NULL && q[0] != '\0') {
        if (strlen(q) >= MD_ROUTE_NAME_MAX)
            return md_err_set(err, MD_EINVAL, "route: longer than %d bytes", MD_ROUTE_NAME_MAX - 1);
        *route = q;
    }
    return MD_OK;
}

/* md_repo_foreach: whether the repository lists the model (whatever its state). */
struct find_ctx {
    const char *model;
    bool found;
};

static void find_model(void *vctx, const struct md_repo_row *row)
{
    struct find_ctx *ctx = vctx;

    if (strcmp(row->model, ctx->model) == 0)
        ctx->found = true;
}

static bool known_model(struct md_api *api, const char *model)
{
    struct find_ctx f = {.model = model, .found = false};

    md_repo_foreach(api->repo, find_model, &f);
    return f.found;
}

/*
 * Appends one signal's value to b: {"metric", "value", "samples"}, or its
 * error as "error" when soft; a provider's error otherwise is the
 * request's: returned with err set, naming the metric.
 */
static int put_value(struct md_buf *b, const struct md_signals *sig, struct md_signal_query *q,
                     bool soft, struct md_err *err)
{
    struct md_signal_value v;

    if (md_signals_value(sig, q, &v, err) != MD_OK) {
        if (!soft) {
            md_err_prefix(err, "metric '%s': ", q->metric);
            return err->code;
        }
        md_buf_puts(b, "{\"metric\":");
        md_buf_json_str(b, q->metric, strlen(q->metric));
        md_buf_puts(b, ",\"error\":");
        md_buf_json_str(b, err->msg, strlen(err->msg));
        md_buf_putc(b, '}');
        return MD_OK;
    }
    md_buf_puts(b, "{\"metric\":");
    md_buf_json_str(b, q->metric, strlen(q->metric));
    md_buf_puts(b, ",\"value\":");
    md_buf_f64(b, v.value, "null");
    md_buf_printf(b, ",\"samples\":%llu}", (unsigned long long)v.samples);
    return MD_OK;
}

/*
 * What one signals request asks for and its answer. Its strings are the
 * request's (alive until the answer, or the wake of a parked request).
 */
struct eval {
    struct md_api *api;
    struct md_signal_query q;
    const char *names[METRICS_MAX];
    size_t n;
    bool chosen;       /* the names are the query's (metric=), not the default list */
    struct md_buf out; /* the answer's body */
    int code;          /* MD_OK, or the request's error in err */
    struct md_err err;
    void (*wake)(void *ctx); /* a parked request's */
    void *wake_ctx;
};

static void eval_free(void *p)
{
    struct eval *e = p;

    md_buf_release(&e->out);
    free(e);
}

/* Evaluates every name into e->out, or sets e->code and e->err. */
static void evaluate(struct eval *e)
{
    struct md_signal_query q = e->q;
    struct md_buf *b = &e->out;

    q.now_ms = md_wall_ms();
    md_buf_puts(b, "{\"model\":");
    md_buf_json_str(b, q.model, strlen(q.model));
    md_buf_puts(b, ",\"version\":");
    if (q.version > 0)
        md_buf_i64(b, q.version);
    else
        md_buf_puts(b, "null");
    md_buf_puts(b, ",\"route\":");
    if (q.route != NULL)
        md_buf_json_str(b, q.route, strlen(q.route));
    else
        md_buf_puts(b, "null");
    md_buf_printf(b, ",\"window_ms\":%lld,\"at_ms\":%lld,\"signals\":[", (long long)q.window_ms,
                  (long long)q.now_ms);
    e->code = MD_OK;
    for (size_t i = 0; i < e->n; i++) {
        if (i > 0)
            md_buf_putc(b, ',');
        q.metric = e->names[i];
        /* Names the query chose answer or fail the request; the default
         * list shows a provider's refusal beside the others' values. */
        e->code = put_value(b, e->api->signals, &q, !e->chosen, &e->err);
        if (e->code != MD_OK)
            return;
    }
    md_buf_puts(b, "]}");
}

/* A thread of its own for a parked request's evaluation. */
static void *evaluate_main(void *arg)
{
    struct eval *e = arg;
    struct md_api *api = e->api;
    void (*wake)(void *ctx) = e->wake;
    void *wake_ctx = e->wake_ctx;

    evaluate(e);
    atomic_fetch_sub(&api->signal_evals, 1);
    wake(wake_ctx); /* e and the request may be gone from here on */
    return NULL;
}

/*
 * Parks the request while a thread of its own evaluates e (taken): MD_OK, or
 * MD_EUNAVAIL with e freed when EVALS_MAX are running already or no thread
 * starts.
 */
static int park_eval(struct md_api_req *req, struct md_api_resp *resp, struct eval *e,
                     struct md_err *err)
{
    struct md_api *api = e->api;
    pthread_attr_t attr;
    pthread_t tid;
    int rc;

    if (atomic_fetch_add(&api->signal_evals, 1) >= EVALS_MAX) {
        atomic_fetch_sub(&api->signal_evals, 1);
        eval_free(e);
        return md_err_set(err, MD_EUNAVAIL,
                          "metric: %d evaluations that wait on the store are running already",
                          EVALS_MAX);
    }
    e->wake = req->wake;
    e->wake_ctx = req->wake_ctx;
    md_api_park(resp, e, eval_free);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&tid, &attr, evaluate_main, e);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_fetch_sub(&api->signal_evals, 1);
        resp->resume = NULL;
        resp->drop = NULL;
        resp->parked = false;
        eval_free(e);
        return md_err_set(err, MD_EUNAVAIL, "metric: no thread to evaluate on");
    }
    return MD_OK;
}

/* Reads the query into a new eval; NULL with the error answered. */
static struct eval *read_signals(struct md_api *api, const struct md_route *rt,
                                 struct md_api_req *req, struct md_api_resp *resp)
{
    const char *metric = req->query != NULL ? req->query(req->conn, "metric") : NULL;
    const char *window = req->query != NULL ? req->query(req->conn, "window") : NULL;
    struct md_signal_query q = {.model = rt->model};
    struct md_err err;
    struct eval *e;

    if (api->signals == NULL) {
        md_api_errorf(resp, MD_EUNAVAIL, "no named metrics in this server");
        return NULL;
    }
    if (read_scope(req, &q.version, &q.route, &err) != MD_OK) {
        md_api_error(resp, &err);
        return NULL;
    }
    q.window_ms = WINDOW_DEFAULT_MS;
    if (window != NULL && (q.window_ms = window_ms(window)) <= 0) {
        md_api_errorf(resp, MD_EINVAL,
                      "window: '%.40s' is not a duration above 0 and up to 30d (90s, 15m, 6h)",
                      window);
        return NULL;
    }
    e = md_xcalloc(1, sizeof(*e));
    e->api = api;
    e->q = q;
    e->chosen = metric != NULL && metric[0] != '\0';
    md_buf_init(&e->out, (size_t)1 << 20);
    if (metric != NULL && e->chosen) {
        /* A comma-separated list, each name checked against the registry. */
        char *list = md_arena_strndup(req->arena, metric, strlen(metric));
        char *save = NULL;

        if (list == NULL) {
            md_err_set(&err, MD_ENOMEM, "out of memory");
            goto fail;
        }
        for (char *name = strtok_r(list, ",", &save); name != NULL;
             name = strtok_r(NULL, ",", &save)) {
            if (e->n == METRICS_MAX) {
                md_err_set(&err, MD_EINVAL, "metric: more than %d names", METRICS_MAX);
                goto fail;
            }
            if (md_signals_check(api->signals, name, &err) != MD_OK) {
                /* A name of the query, not a resource of the path: 400. */
                err.code = MD_EINVAL;
                md_err_prefix(&err, "metric: ");
                goto fail;
            }
            e->names[e->n++] = name;
        }
    } else {
        size_t count;
        const struct md_signal_info *info = md_signals_list(api->signals, &count);

        for (size_t i = 0; i < count && e->n < METRICS_MAX; i++)
            if (info[i].arg == NULL)
                e->names[e->n++] = info[i].name;
    }
    if (!known_model(api, rt->model)) {
        md_err_set(&err, MD_ENOTFOUND, "unknown model '%s'", rt->model);
        goto fail;
    }
    return e;
fail:
    eval_free(e);
    md_api_error(resp, &err);
    return NULL;
}

/* Whether a name of e has a provider that may wait on the store. */
static bool waits(const struct eval *e)
{
    for (size_t i = 0; i < e->n; i++)
        if (md_signals_waits(e->api->signals, e->names[i]))
            return true;
    return false;
}

/*
 * A provider that may wait on the store (MD_SIGNAL_WAITS) is never called
 * on an HTTP thread: the request parks while a thread of its own evaluates,
 * and the call after the wake answers. Where the request cannot park (no
 * HTTP layer, or a server stopping) it is evaluated here, as a store job
 * would be (md_api_store_job).
 */
void md_history_api_signals(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                            struct md_api_resp *resp)
{
    struct eval *e = resp->resume;
    struct md_err err;

    if (e == NULL) {
        e = read_signals(api, rt, req, resp);
        if (e == NULL)
            return;
        if (waits(e)) {
            if (req->wake == NULL && req->want_wake != NULL)
                req->want_wake(req);
            if (req->wake != NULL) {
                if (park_eval(req, resp, e, &err) != MD_OK)
                    md_api_error(resp, &err);
                return;
            }
        }
        evaluate(e);
    }
    if (e->code != MD_OK) {
        md_api_error(resp, &e->err);
    } else {
        (void)md_buf_append(resp->body, e->out.data, e->out.len);
        md_api_finish(resp, md_buf_error(&e->out) != MD_OK ? md_buf_error(&e->out)
                                                           : md_buf_error(resp->body));
    }
    eval_free(e);
}

/* ---- GET /api/v1/models/{m}/history --------------------------------------- */

#define RANGE_DEFAULT_MS 3600000
#define DEFAULT_POINTS   1440 /* a step chosen for the range gives at most this many points */

/* What the history job reads and the points it sums into (extra of the store job). */
struct history_query {
    struct md_store_history_filter f;
    struct md_history_points points;
    char model[MD_STORE_NAME_MAX];
    char metric[MD_SIGNAL_NAME_MAX];
    char route[MD_ROUTE_NAME_MAX];
    const char *unit;
};

static void history_query_free(void *p)
{
    struct history_query *q = p;

    md_history_points_release(&q->points);
    free(q);
}

/*
 * A time of the query: digits alone for ms since the epoch, a duration with
 * its unit for that long before now_ms ("6h"), or an RFC 3339 UTC time
 * ("2026-12-07T10:00:00Z"). -1 when malformed.
 */
static int64_t parse_time(const char *s, int64_t now_ms)
{
    struct tm tm;
    const char *end;
    int64_t ms;
    char *e;

    if (s[0] >= '0' && s[0] <= '9' && strspn(s, "0123456789") == strlen(s)) {
        long long v;

        if (strlen(s) > 15) /* past the year 33000: not a time */
            return -1;
        v = strtoll(s, &e, 10);
        return *e == '\0' && v >= 0 ? (int64_t)v : -1;
    }
    if (md_history_duration(s, 3650LL * 86400 * 1000, &ms))
        return now_ms - ms;
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL || (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0))
        return -1;
    return (int64_t)timegm(&tm) * 1000;
}

static const char *query_arg(struct md_api_req *req, const char *name)
{
    const char *q = req->query != NULL ? req->query(req->conn, name) : NULL;

    return q != NULL && q[0] != '\0' ? q : NULL;
}

/* The unit the registry gives metric (its name before any ':'), or "". */
static const char *unit_of(const struct md_signals *sig, const char *metric)
{
    size_t n;
    const struct md_signal_info *info = md_signals_list(sig, &n);
    size_t len = strcspn(metric, ":");

    for (size_t i = 0; i < n; i++)
        if (strlen(info[i].name) == len && memcmp(info[i].name, metric, len) == 0)
            return info[i].unit;
    return "";
}

/* since, until and step of the query into q; MD_EINVAL naming the argument. */
static int read_range(struct md_api_req *req, int64_t rollup_ms, struct history_query *q,
                      int64_t *step_ms, struct md_err *err)
{
    static const char *const names[] = {"since", "until"};
    int64_t now = md_wall_ms();
    /* By default up to the start of the step running now, whose rollup is
     * not written yet: the last point is a finished step, not a 0. */
    int64_t t[2] = {now - RANGE_DEFAULT_MS, now - now % rollup_ms};
    const char *step = query_arg(req, "step");

    for (int i = 0; i < 2; i++) {
        const char *a = query_arg(req, names[i]);

        if (a == NULL)
            continue;
        t[i] = parse_time(a, now);
        if (t[i] < 0)
            return md_err_set(err, MD_EINVAL,
                              "%s: '%.40s' is neither a duration before now (6h, 30m, 7d), "
                              "milliseconds since 1970 nor a UTC time such as "
                              "2026-12-07T10:00:00Z",
                              names[i], a);
    }
    if (t[1] <= t[0])
        return md_err_set(err, MD_EINVAL, "since: must be before until");
    if (step != NULL) {
        if (!md_history_duration(step, WINDOW_MAX_MS, step_ms))
            return md_err_set(err, MD_EINVAL,
                              "step: '%.40s' is not a duration (1m, 5m, 1h) up to 30d", step);
        if (*step_ms < rollup_ms || *step_ms % rollup_ms != 0)
            return md_err_set(err, MD_EINVAL,
                              "step: '%.40s' is not a whole number of the history's step (%lld "
                              "ms)",
                              step, (long long)rollup_ms);
    } else {
        /* The smallest multiple of the rollups' step that gives at most
         * DEFAULT_POINTS points. */
        int64_t k = (t[1] - t[0] + rollup_ms * DEFAULT_POINTS - 1) / (rollup_ms * DEFAULT_POINTS);

        *step_ms = rollup_ms * (k > 0 ? k : 1);
    }
    q->f.since_ms = t[0];
    q->f.until_ms = t[1];
    return MD_OK;
}

static void sum_requests(void *ctx, const struct md_store_history_requests *r)
{
    struct history_query *q = ctx;

    /* Every route but the shadows', unless a route was named. */
    if (q->f.route == NULL && strcmp(r->route, "shadow") == 0)
        return;
    md_history_points_add_requests(&q->points, r);
}

static void sum_value(void *ctx, const struct md_store_history_value *v)
{
    struct history_query *q = ctx;

    md_history_points_add_value(&q->points, v);
}

/* The store job: reads the rows, sums them into points, writes the answer. */
static int run_history(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct history_query *q = r->extra;
    struct md_buf *b = &r->out;
    int rc;

    if (q->points.metric >= 0)
        rc = md_store_tx_history_requests(tx, &q->f, sum_requests, q, err);
    else
        rc = md_store_tx_history_values(tx, &q->f, sum_value, q, err);
    if (rc != MD_OK)
        return rc;
    md_buf_puts(b, "{\"model\":");
    md_buf_json_str(b, q->model, strlen(q->model));
    md_buf_puts(b, ",\"metric\":");
    md_buf_json_str(b, q->metric, strlen(q->metric));
    md_buf_puts(b, ",\"unit\":");
    md_buf_json_str(b, q->unit, strlen(q->unit));
    md_buf_puts(b, ",\"version\":");
    if (q->f.version > 0)
        md_buf_i64(b, q->f.version);
    else
        md_buf_puts(b, "null");
    md_buf_puts(b, ",\"route\":");
    if (q->f.route != NULL)
        md_buf_json_str(b, q->f.route, strlen(q->f.route));
    else
        md_buf_puts(b, "null");
    md_buf_printf(b, ",\"since_ms\":%lld,\"until_ms\":%lld,\"step_ms\":%lld,\"points\":[",
                  (long long)q->points.since_ms, (long long)q->f.until_ms,
                  (long long)q->points.step_ms);
    for (size_t i = 0; i < q->points.n; i++) {
        struct md_signal_value v;

        md_history_points_value(&q->points, i, &v);
        md_buf_printf(b, "%s{\"at_ms\":%lld,\"value\":", i > 0 ? "," : "",
                      (long long)q->points.since_ms + (long long)i * (long long)q->points.step_ms);
        md_buf_f64(b, v.value, "null");
        md_buf_printf(b, ",\"samples\":%llu}", (unsigned long long)v.samples);
    }
    md_buf_puts(b, "]}");
    return md_buf_error(b);
}

/* Reads the query into a new history_query; NULL with err set. */
static struct history_query *read_history(struct md_api *api, const struct md_route *rt,
                                          struct md_api_req *req, struct md_err *err)
{
    struct history_query *q = md_xcalloc(1, sizeof(*q));
    const char *metric = query_arg(req, "metric");
    const char *route;
    int64_t step_ms = 0;
    int kind;

    if (metric == NULL) {
        md_err_set(err, MD_EINVAL, "metric: missing (error_rate, latency_p99_ms, ...)");
        goto fail;
    }
    kind = md_series_metric_find(metric);
    if (kind < 0 && md_signals_check(api->signals, metric, err) != MD_OK) {
        err->code = MD_EINVAL;
        md_err_prefix(err, "metric: ");
        goto fail;
    }
    if (read_scope(req, &q->f.version, &route, err) != MD_OK)
        goto fail;
    if (route != NULL && kind < 0) {
        md_err_set(err, MD_EINVAL,
                   "route: only the request metrics are kept per route, not '%.64s'", metric);
        goto fail;
    }
    if (read_range(req, md_history_step_ms(api->history), q, &step_ms, err) != MD_OK)
        goto fail;
    if (md_history_points_init(&q->points, kind, q->f.since_ms, q->f.until_ms, step_ms, err) !=
        MD_OK)
        goto fail;
    (void)snprintf(q->model, sizeof(q->model), "%s", rt->model);
    (void)snprintf(q->metric, sizeof(q->metric), "%s", metric); /* checked: it fits */
    q->f.model = q->model;
    q->f.metric = q->metric;
    if (route != NULL) {
        (void)snprintf(q->route, sizeof(q->route), "%s", route); /* checked: it fits */
        q->f.route = q->route;
    }
    q->unit = kind >= 0 ? md_series_infos[kind].unit : unit_of(api->signals, metric);
    return q;
fail:
    history_query_free(q);
    return NULL;
}

void md_history_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp)
{
    struct md_api_store_args args = {NULL, NULL, 0, NULL, false, NULL, history_query_free};
    struct md_err err;

    if (resp->resume == NULL) {
        struct history_query *q;

        if (api->signals == NULL || api->history == NULL || api->store == NULL) {
            md_api_errorf(resp, MD_EUNAVAIL, "no history in this server");
            return;
        }
        if (strlen(rt->model) >= MD_STORE_NAME_MAX) {
            md_api_errorf(resp, MD_EINVAL, "model: longer than %d bytes", MD_STORE_NAME_MAX - 1);
            return;
        }
        q = read_history(api, rt, req, &err);
        if (q == NULL) {
            md_api_error(resp, &err);
            return;
        }
        if (!known_model(api, rt->model)) {
            history_query_free(q);
            md_api_errorf(resp, MD_ENOTFOUND, "unknown model '%s'", rt->model);
            return;
        }
        args.extra = q;
    }
    md_api_store_job(api, req, resp, run_history, &args, 200);
}

/* ---- /metrics -------------------------------------------------------------- */

void md_history_api_prom(struct md_api *api, struct md_buf *b)
{
    static const struct {
        const char *name;
        const char *help;
    } fams[] = {
        {"modeld_history_rows_total",
         "Rows the per-minute history stored: request rollups and values of named metrics."},
        {"modeld_history_dropped_total",
         "History rows dropped: the store was behind, a batch failed or passed its bounds."},
        {"modeld_history_expired_total",
         "History rows removed because they were older than --history-retention."},
        {"modeld_series_untracked_total",
         "Request series (model, version, route) not sampled for the signals and the history: "
         "past the 256 kept."},
    };
    struct md_history_stats st;
    uint64_t v[4];

    if (api->history == NULL)
        return;
    md_history_get_stats(api->history, &st);
    v[0] = st.rows;
    v[1] = st.dropped;
    v[2] = st.expired;
    v[3] = st.untracked;
    for (size_t i = 0; i < MD_ARRAY_LEN(fams); i++)
        md_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", fams[i].name, fams[i].help,
                      fams[i].name, fams[i].name, (unsigned long long)v[i]);
}
