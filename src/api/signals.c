/* SPDX-License-Identifier: MIT */
/*
 * signals.c: the named metrics (watch/signals.h) over HTTP: GET
 * /api/v1/signals lists those registered, with their units and arguments.
 * Their values are read per model, with the model's path scope: GET
 * /api/v1/models/{m}/signals (api/history.c).
 */
#include "api/handlers.h"

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
