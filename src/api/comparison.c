/* SPDX-License-Identifier: MIT */
/*
 * comparison.c: GET /api/v1/models/{m}/comparison, every pair of the
 * model's versions compared on the same requests (shadows and mirrored
 * canary requests) with its figures. The figures and their JSON are
 * watch/compare.c's; this file finds the model and answers.
 */
#include "api/handlers.h"

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

void md_comparison_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                           struct md_api_resp *resp)
{
    struct find_ctx f = {.model = rt->model, .found = false};

    MD_UNUSED(req);
    /* A model the repository lists, ready or not: its comparisons outlive a version's
     * unload, as its counters do. */
    md_repo_foreach(api->repo, find_model, &f);
    if (!f.found) {
        md_api_errorf(resp, MD_ENOTFOUND, "unknown model '%s'", rt->model);
        return;
    }
    if (api->compare == NULL) {
        md_buf_puts(resp->body, "{\"model\":");
        md_buf_json_str(resp->body, rt->model, strlen(rt->model));
        md_buf_puts(resp->body, ",\"pairs\":[]}");
        md_api_finish(resp, md_buf_error(resp->body));
        return;
    }
    md_api_finish(resp, md_compare_json(api->compare, rt->model, resp->body));
}
