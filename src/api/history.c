/* SPDX-License-Identifier: MIT */
/*
 * history.c: a model's named metrics now and in the past.
 *
 *   GET /api/v1/models/{m}/signals   values over a window ending now, from
 *                                    the registry (watch/signals.h)
 *
 * The values are the providers'; this file reads the query, asks the
 * registry and writes JSON.
 */
#include "api/handlers.h"
#include "serve/registry.h"
#include "util/fmt.h"

#include <math.h>

#define WINDOW_DEFAULT_MS 60000
#define WINDOW_MAX_MS     (30LL * 86400 * 1000)
#define METRICS_MAX       MD_SIGNALS_MAX /* names one request may ask for */

/*
 * A duration: digits and a unit (ms, s, m, h, d), or digits alone for
 * milliseconds. -1 when malformed or past 30 days.
 */
MD_STATIC int64_t md_history_duration_ms(const char *s)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1}};
    int64_t v = 0;
    const char *p = s;

    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (v > WINDOW_MAX_MS)
            return -1;
    }
    for (size_t i = 0; i < MD_ARRAY_LEN(units); i++)
        if (strcmp(p, units[i].unit) == 0)
            return v * units[i].ms <= WINDOW_MAX_MS ? v * units[i].ms : -1;
    return -1;
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

/* Appends one signal's value to b: {"metric", "value", "samples"} or its error. */
static void put_value(struct md_buf *b, const struct md_signals *sig, struct md_signal_query *q)
{
    struct md_signal_value v;
    struct md_err err;

    md_buf_puts(b, "{\"metric\":");
    md_buf_json_str(b, q->metric, strlen(q->metric));
    if (md_signals_value(sig, q, &v, &err) != MD_OK) {
        md_buf_puts(b, ",\"error\":");
        md_buf_json_str(b, err.msg, strlen(err.msg));
        md_buf_putc(b, '}');
        return;
    }
    md_buf_puts(b, ",\"value\":");
    md_buf_f64(b, v.value, "null");
    md_buf_printf(b, ",\"samples\":%llu}", (unsigned long long)v.samples);
}

void md_history_api_signals(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                            struct md_api_resp *resp)
{
    struct md_signal_query q = {.model = rt->model};
    const char *names[METRICS_MAX];
    size_t n = 0;
    const char *metric = req->query != NULL ? req->query(req->conn, "metric") : NULL;
    const char *window = req->query != NULL ? req->query(req->conn, "window") : NULL;
    struct md_buf *b = resp->body;
    struct md_err err;

    if (api->signals == NULL) {
        md_api_errorf(resp, MD_EUNAVAIL, "no named metrics in this server");
        return;
    }
    if (read_scope(req, &q.version, &q.route, &err) != MD_OK) {
        md_api_error(resp, &err);
        return;
    }
    q.window_ms = WINDOW_DEFAULT_MS;
    if (window != NULL && (q.window_ms = md_history_duration_ms(window)) <= 0) {
        md_api_errorf(resp, MD_EINVAL,
                      "window: '%.40s' is not a duration above 0 and up to 30d (90s, 15m, 6h)",
                      window);
        return;
    }
    if (metric != NULL && metric[0] != '\0') {
        /* A comma-separated list, each name checked against the registry. */
        char *list = md_arena_strndup(req->arena, metric, strlen(metric));
        char *save = NULL;

        if (list == NULL) {
            md_api_errorf(resp, MD_ENOMEM, "out of memory");
            return;
        }
        for (char *name = strtok_r(list, ",", &save); name != NULL;
             name = strtok_r(NULL, ",", &save)) {
            if (n == METRICS_MAX) {
                md_api_errorf(resp, MD_EINVAL, "metric: more than %d names", METRICS_MAX);
                return;
            }
            if (md_signals_check(api->signals, name, &err) != MD_OK) {
                /* A name of the query, not a resource of the path: 400. */
                err.code = MD_EINVAL;
                md_err_prefix(&err, "metric: ");
                md_api_error(resp, &err);
                return;
            }
            names[n++] = name;
        }
    } else {
        size_t count;
        const struct md_signal_info *info = md_signals_list(api->signals, &count);

        for (size_t i = 0; i < count && n < METRICS_MAX; i++)
            if (info[i].arg == NULL)
                names[n++] = info[i].name;
    }
    if (!known_model(api, rt->model)) {
        md_api_errorf(resp, MD_ENOTFOUND, "unknown model '%s'", rt->model);
        return;
    }
    q.now_ms = md_wall_ms();
    md_buf_puts(b, "{\"model\":");
    md_buf_json_str(b, rt->model, strlen(rt->model));
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
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            md_buf_putc(b, ',');
        q.metric = names[i];
        put_value(b, api->signals, &q);
    }
    md_buf_puts(b, "]}");
    md_api_finish(resp, md_buf_error(b));
}
