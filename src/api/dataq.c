/* SPDX-License-Identifier: MIT */
/*
 * dataq.c: GET /api/v1/models/{m}/data-quality[?version=N][&window=W],
 * a model's data quality per version (watch/dataq.h writes the document),
 * and the parsing of the query arguments it shares with api/signals.c.
 */
#include "api/handlers.h"
#include "watch/dataq.h"

#include <limits.h>

int md_api_query_window(const char *text, int64_t *ms, struct md_err *err)
{
    const char *p = text;
    int64_t n = 0;
    int64_t unit = 1000;

    if (*p < '0' || *p > '9')
        return md_err_set(err, MD_EINVAL, "window: '%.40s' is not a duration (300, 30s, 5m, 1h)",
                          text);
    while (*p >= '0' && *p <= '9') {
        if (n > INT64_MAX / 10000)
            return md_err_set(err, MD_EINVAL, "window: '%.40s' is too long", text);
        n = n * 10 + (*p++ - '0');
    }
    if (*p == 's')
        p++;
    else if (*p == 'm' && (p++, true))
        unit = 60000;
    else if (*p == 'h' && (p++, true))
        unit = 3600000;
    if (*p != '\0')
        return md_err_set(err, MD_EINVAL, "window: '%.40s' is not a duration (300, 30s, 5m, 1h)",
                          text);
    if (n == 0)
        return md_err_set(err, MD_EINVAL, "window: must be above 0");
    if (n > INT64_MAX / unit / 1000)
        return md_err_set(err, MD_EINVAL, "window: '%.40s' is too long", text);
    *ms = n * unit;
    return MD_OK;
}

int md_api_query_version(const char *text, int64_t *version, struct md_err *err)
{
    const char *p = text;
    int64_t n = 0;

    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (INT64_MAX - 9) / 10)
            return md_err_set(err, MD_EINVAL, "version: '%.40s' is out of range", text);
        n = n * 10 + (*p - '0');
    }
    if (p == text || *p != '\0' || n == 0)
        return md_err_set(err, MD_EINVAL, "version: '%.40s' is not a version number (1 or more)",
                          text);
    *version = n;
    return MD_OK;
}

/* The query argument name, or NULL. */
static const char *arg(const struct md_api_req *req, const char *name)
{
    return req->query != NULL ? req->query(req->conn, name) : NULL;
}

void md_dataq_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                      struct md_api_resp *resp)
{
    struct md_dataq *dq = md_metrics_dataq(md_repo_metrics(api->repo));
    const char *q;
    int64_t version = 0;
    int64_t window_ms = 0;
    struct md_err err;

    q = arg(req, "version");
    if (q != NULL && md_api_query_version(q, &version, &err) != MD_OK) {
        md_api_error(resp, &err);
        return;
    }
    q = arg(req, "window");
    if (q != NULL && md_api_query_window(q, &window_ms, &err) != MD_OK) {
        md_api_error(resp, &err);
        return;
    }
    if (!md_repo_has_model(api->repo, rt->model) && !md_dataq_has_model(dq, rt->model)) {
        md_api_errorf(resp, MD_ENOTFOUND, "unknown model '%s'", rt->model);
        return;
    }
    /* A refusal is answered as such; a write that failed, as md_api_finish says. */
    if (md_dataq_json(dq, rt->model, version, window_ms, md_wall_ms(), resp->body, &err) != MD_OK &&
        md_buf_error(resp->body) == MD_OK) {
        md_api_error(resp, &err);
        return;
    }
    md_api_finish(resp, md_buf_error(resp->body));
}
