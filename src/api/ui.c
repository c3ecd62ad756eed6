/* SPDX-License-Identifier: MIT */
/*
 * ui.c: serves the dashboard's files (api/ui.h) at /ui/, from the binary.
 *
 * The files hold no data: every figure the dashboard shows comes from the
 * API, under the same permission checks as any client's call, so they are
 * served without a token (a browser must load the sign-in page before it
 * has one). Each answer carries a Content-Security-Policy that lets the
 * page run only its own scripts and styles and talk only to this server,
 * with no inline script, no frame around it and no form sent elsewhere.
 */
#include "api/ui.h"
#include "api/handlers.h"

#include <string.h>

const char md_ui_csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                         "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
                         "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const struct md_ui_asset *md_ui_asset_find(const char *name)
{
    size_t i;

    for (i = 0; i < md_ui_n_assets; i++)
        if (strcmp(md_ui_assets[i].name, name) == 0)
            return &md_ui_assets[i];
    return NULL;
}

/* The headers every dashboard answer has. */
static void ui_headers(struct md_api_resp *resp)
{
    md_api_header(resp, "Content-Security-Policy", md_ui_csp);
    md_api_header(resp, "X-Content-Type-Options", "nosniff");
    md_api_header(resp, "X-Frame-Options", "DENY");
    md_api_header(resp, "Referrer-Policy", "no-referrer");
    md_api_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
}

/* GET /: a browser pointed at the server finds the dashboard. */
void md_ui_api_root(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                    struct md_api_resp *resp)
{
    MD_UNUSED(api);
    MD_UNUSED(rt);
    MD_UNUSED(req);
    ui_headers(resp);
    resp->status = 302;
    resp->content_type = NULL;
    md_api_header(resp, "Location", "/ui/");
}

/* GET /ui/ (the page), /ui/{name} (a file); /ui itself moves to /ui/, where
 * the page's relative addresses resolve. */
void md_ui_api_asset(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                     struct md_api_resp *resp)
{
    const struct md_ui_asset *f;
    const char *match;

    MD_UNUSED(api);
    ui_headers(resp);
    if (rt->name == NULL && strcmp(req->path, "/ui") == 0) {
        resp->status = 301;
        resp->content_type = NULL;
        md_api_header(resp, "Location", "/ui/");
        return;
    }
    f = md_ui_asset_find(rt->name != NULL ? rt->name : "index.html");
    if (f == NULL) {
        md_api_errorf(resp, MD_ENOTFOUND, "the dashboard has no file '%.200s'", rt->name);
        return;
    }
    md_api_header(resp, "ETag", f->etag);
    /* The files change only with the binary: a browser asks again each
     * time (no-cache) and gets 304 while its copy is the same. */
    md_api_header(resp, "Cache-Control", "no-cache");
    match = req->header != NULL ? req->header(req->conn, "If-None-Match") : NULL;
    if (match != NULL && strstr(match, f->etag) != NULL) {
        resp->status = 304;
        resp->content_type = NULL;
        return;
    }
    resp->content_type = f->type;
    (void)md_api_finish(resp, md_buf_append(resp->body, f->data, f->len));
}
