/* SPDX-License-Identifier: MIT */
/*
 * api.c: the error-code-to-status table, error bodies and request counters.
 */
#include "api/api.h"

#include <stdarg.h>

const int md_api_codes[MD_API_CODES] = {200, 400, 401, 403, 404, 405, 409,
                                        413, 431, 500, 501, 503, 504};

int md_api_status(int code)
{
    switch (code) {
    case MD_OK:
        return 200;
    case MD_EINVAL:
    case MD_ECORRUPT:
        return 400;
    case MD_EAUTH:
        return 401;
    case MD_EPERM:
        return 403;
    case MD_ENOTFOUND:
        return 404;
    case MD_ETOOBIG:
        return 413;
    case MD_EUNSUPPORTED:
        return 501;
    case MD_EUNAVAIL:
        return 503;
    case MD_ETIMEDOUT:
        return 504;
    case MD_ENOMEM:
    case MD_EIO:
    case MD_EINTERNAL:
    default:
        return 500;
    }
}

void md_api_error_status(struct md_api_resp *resp, int status, const char *msg)
{
    md_buf_reset(resp->body);
    resp->status = status;
    resp->content_type = "application/json";
    resp->json_len = 0;
    if (md_buf_puts(resp->body, "{\"error\":") != MD_OK ||
        md_buf_json_str(resp->body, msg, strlen(msg)) != MD_OK ||
        md_buf_putc(resp->body, '}') != MD_OK) {
        md_buf_reset(resp->body);
        resp->status = 500;
    }
}

void md_api_error(struct md_api_resp *resp, const struct md_err *err)
{
    md_api_error_status(resp, md_api_status(err->code), err->msg);
    /* Unavailable now (a full queue, a version still loading): worth a retry. */
    if (err->code == MD_EUNAVAIL)
        (void)snprintf(resp->retry_after, sizeof(resp->retry_after), "1");
}

void md_api_errorf(struct md_api_resp *resp, int code, const char *fmt, ...)
{
    struct md_err err;
    va_list ap;

    err.code = code;
    va_start(ap, fmt);
    (void)vsnprintf(err.msg, sizeof(err.msg), fmt, ap); /* a long message is cut short */
    va_end(ap);
    md_api_error(resp, &err);
}

int md_api_acquire(struct md_api *api, const struct md_route *rt, struct md_api_resp *resp,
                   struct md_version **v)
{
    struct md_err err;

    if (md_repo_acquire(api->repo, rt->model, rt->version, v, &err) != MD_OK) {
        md_api_error(resp, &err);
        return err.code;
    }
    memcpy(resp->version, (*v)->version_str, sizeof(resp->version)); /* same size */
    return MD_OK;
}

void md_api_park(struct md_api_resp *resp, void *state, void (*drop)(void *state))
{
    resp->resume = state;
    resp->drop = drop;
    resp->parked = true;
}

void md_api_count(struct md_api *api, enum md_api_family family, int status)
{
    size_t i;

    for (i = 0; i < MD_API_CODES; i++)
        if (md_api_codes[i] == status)
            break;
    atomic_fetch_add_explicit(&api->http[family][i], 1, memory_order_relaxed);
}
