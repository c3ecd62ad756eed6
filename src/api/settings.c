/* SPDX-License-Identifier: MIT */
/*
 * settings.c: GET /api/v1/settings[/{name}]: the daemon's settings, each
 * with its value and where the value came from (default, file, flag). No
 * setting changes while the daemon runs yet: a PUT or PATCH of one answers
 * 409 naming the file when the file sets it (the file wins until it is
 * edited), else 405. The values and sources are util/config.c's, set before
 * the server starts and read-only since.
 */
#include "api/handlers.h"
#include "util/config.h"

/* The setting rt names, or -1 with a 404 written. */
static int find(struct md_api *api, const struct md_route *rt, struct md_api_resp *resp)
{
    int i = api->config != NULL ? md_config_find(api->config, rt->setting) : -1;

    if (i < 0)
        md_api_errorf(resp, MD_ENOTFOUND, "setting '%s' not found", rt->setting);
    return i;
}

void md_settings_api_list(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp)
{
    const struct md_config *c = api->config;
    const char *file = c != NULL ? md_config_file(c) : NULL;
    size_t n = c != NULL ? c->n : 0;
    size_t i;

    MD_UNUSED(req);
    md_buf_puts(resp->body, "{\"file\":");
    if (file != NULL)
        md_buf_json_str(resp->body, file, strlen(file));
    else
        md_buf_puts(resp->body, "null");
    md_buf_puts(resp->body, ",\"settings\":[");
    for (i = 0; i < n; i++) {
        if (i > 0)
            md_buf_putc(resp->body, ',');
        md_config_json(c, i, resp->body);
    }
    md_buf_puts(resp->body, "]}");
    md_api_finish(resp, md_buf_error(resp->body));
}

void md_settings_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                         struct md_api_resp *resp)
{
    int i = find(api, rt, resp);

    MD_UNUSED(req);
    if (i >= 0)
        md_api_finish(resp, md_config_json(api->config, (size_t)i, resp->body));
}

void md_settings_api_put(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                         struct md_api_resp *resp)
{
    const struct md_config_setting *s;
    char msg[512];
    int i = find(api, rt, resp);

    MD_UNUSED(req);
    if (i < 0)
        return;
    s = &api->config->table[i];
    /* Messages are cut short by a long path: they only show it. */
    if (md_config_source_of(api->config, (size_t)i) == MD_CONFIG_FILE) {
        (void)snprintf(msg, sizeof(msg),
                       "setting '%s' is set by the configuration file %s (line %zu): change it "
                       "there and restart modeld",
                       s->key, md_config_file(api->config), md_config_line(api->config, (size_t)i));
        md_api_error_msg(resp, MD_ECONFLICT, msg);
        return;
    }
    (void)snprintf(msg, sizeof(msg),
                   "setting '%s' cannot be changed while modeld runs: set it with --%s or in the "
                   "configuration file and restart modeld",
                   s->key, s->flag);
    md_api_error_msg(resp, MD_EMETHOD, msg);
    resp->allow = "GET";
}
