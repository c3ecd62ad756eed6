/* SPDX-License-Identifier: MIT */
/*
 * signals.c: the named metrics (watch/signals.h) over HTTP: GET
 * /api/v1/signals lists those registered; GET /api/v1/signals/{name}
 * ?model=M[&version=N][&route=R][&window=W] answers one's value, as an
 * alert rule, the history or a rollout gate would read it. The values are
 * the providers'; this file checks the query and writes the answer.
 */
#include "api/handlers.h"

#include <math.h>

#define DEFAULT_WINDOW_MS 300000 /* 5 minutes, when the query names none */

static void put_str(struct md_buf *b, const char *s)
{
    md_buf_json_str(b, s, strlen(s));
}

static void put_opt_str(struct md_buf *b, const char *s)
{
    if (s == NULL)
        md_buf_puts(b, "null");
    else
        put_str(b, s);
}

void md_signals_api_list(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                         struct md_api_resp *resp)
{
    const struct md_signal_info *infos = NULL;
    struct md_buf *b = resp->body;
    size_t n = 0;
    size_t i;

    MD_UNUSED(rt);
    MD_UNUSED(req);
    if (api->signals != NULL)
        infos = md_signals_list(api->signals, &n);
    md_buf_puts(b, "{\"signals\":[");
    for (i = 0; i < n; i++) {
        md_buf_puts(b, i > 0 ? ",{\"name\":" : "{\"name\":");
        put_str(b, infos[i].name);
        md_buf_puts(b, ",\"unit\":");
        put_str(b, infos[i].unit);
        md_buf_puts(b, ",\"arg\":");
        put_opt_str(b, infos[i].arg);
        md_buf_puts(b, ",\"help\":");
        put_str(b, infos[i].help);
        md_buf_putc(b, '}');
    }
    md_buf_puts(b, "]}");
    md_api_finish(resp, md_buf_error(b));
}

static const char *arg(const struct md_api_req *req, const char *name)
{
    return req->query != NULL ? req->query(req->conn, name) : NULL;
}

void md_signals_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp)
{
    struct md_signal_query q;
    struct md_signal_value v;
    struct md_buf *b = resp->body;
    struct md_err err;
    const char *s;

    memset(&q, 0, sizeof(q));
    q.metric = rt->name;
    q.model = arg(req, "model");
    q.route = arg(req, "route");
    q.window_ms = DEFAULT_WINDOW_MS;
    if (q.model == NULL || q.model[0] == '\0') {
        md_api_errorf(resp, MD_EINVAL, "model: missing (?model=NAME)");
        return;
    }
    if (!md_auth_may_use(req->principal, q.model)) {
        md_api_errorf(resp, MD_EPERM, "model '%s': not a model this principal may use", q.model);
        return;
    }
    s = arg(req, "version");
    if (s != NULL && md_api_query_version(s, &q.version, &err) != MD_OK) {
        md_api_error(resp, &err);
        return;
    }
    s = arg(req, "window");
    if (s != NULL && md_api_query_window(s, &q.window_ms, &err) != MD_OK) {
        md_api_error(resp, &err);
        return;
    }
    if (api->signals == NULL) {
        md_api_errorf(resp, MD_ENOTFOUND, "unknown metric '%s'", rt->name);
        return;
    }
    q.now_ms = md_wall_ms();
    if (md_signals_value(api->signals, &q, &v, &err) != MD_OK) {
        md_api_error(resp, &err);
        return;
    }
    md_buf_puts(b, "{\"metric\":");
    put_str(b, q.metric);
    md_buf_puts(b, ",\"model\":");
    put_str(b, q.model);
    if (q.version > 0)
        md_buf_printf(b, ",\"version\":%lld", (long long)q.version);
    else
        md_buf_puts(b, ",\"version\":null");
    md_buf_puts(b, ",\"route\":");
    put_opt_str(b, q.route != NULL && q.route[0] != '\0' ? q.route : NULL);
    md_buf_printf(b, ",\"window_s\":%lld,\"value\":", (long long)(q.window_ms / 1000));
    if (isfinite(v.value))
        md_buf_printf(b, "%.17g", v.value);
    else
        md_buf_puts(b, "null");
    md_buf_printf(b, ",\"samples\":%llu}", (unsigned long long)v.samples);
    md_api_finish(resp, md_buf_error(b));
}
