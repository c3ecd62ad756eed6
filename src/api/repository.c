/* SPDX-License-Identifier: MIT */
/*
 * repository.c: Triton's model repository extension: index, load, unload.
 * Loads read only from the configured repository directory, never from a
 * URL or an uploaded file. Load and unload are commands that control
 * applies (serve/command.h): the request parks meanwhile, holding no HTTP
 * thread for the length of an engine load.
 */
#include "api/handlers.h"

#include <jansson.h>

struct index_ctx {
    const struct md_principal *who; /* a model it may not use is left out */
    struct md_buf *b;               /* the answer; its first failure stays in it (util/buf.h) */
    bool ready_only;
    int n;
};

static void index_row(void *vctx, const struct md_repo_row *row)
{
    struct index_ctx *ctx = vctx;
    char num[24];
    const char *state = md_version_state_name(row->state);

    if ((ctx->ready_only && row->state != MD_VS_READY) || !md_auth_may_use(ctx->who, row->model))
        return;
    if (row->version > 0)
        (void)snprintf(num, sizeof(num), "%lld", (long long)row->version); /* fits */
    else
        num[0] = '\0';
    md_buf_puts(ctx->b, ctx->n++ ? ",{\"name\":" : "{\"name\":");
    md_buf_json_str(ctx->b, row->model, strlen(row->model));
    if (num[0] != '\0') {
        md_buf_puts(ctx->b, ",\"version\":");
        md_buf_json_str(ctx->b, num, strlen(num));
    }
    md_buf_puts(ctx->b, ",\"state\":");
    md_buf_json_str(ctx->b, state, strlen(state));
    md_buf_puts(ctx->b, ",\"reason\":");
    md_buf_json_str(ctx->b, row->reason, strlen(row->reason));
    md_buf_putc(ctx->b, '}');
}

/* Parses an optional JSON object body; NULL root for an empty body. */
static int parse_body(struct md_api_req *req, json_t **root, struct md_err *err)
{
    json_error_t je;
    size_t i;

    *root = NULL;
    for (i = 0; i < req->body_len; i++)
        if (req->body[i] != ' ' && req->body[i] != '\n' && req->body[i] != '\r' &&
            req->body[i] != '\t')
            break;
    if (i == req->body_len)
        return MD_OK;
    *root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (*root == NULL)
        return md_err_set(err, MD_EINVAL, "invalid JSON at byte %d: %s", je.position, je.text);
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return md_err_set(err, MD_EINVAL, "request body: expected a JSON object");
    }
    return MD_OK;
}

void md_repo_api_index(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp)
{
    struct index_ctx ctx;
    struct md_err err;
    json_t *root;
    json_t *ready;

    if (parse_body(req, &root, &err) != MD_OK) {
        md_api_error(resp, &err);
        return;
    }
    ctx.ready_only = false;
    ready = root ? json_object_get(root, "ready") : NULL;
    if (ready != NULL && !json_is_boolean(ready)) {
        json_decref(root);
        md_api_errorf(resp, MD_EINVAL, "ready: expected true or false");
        return;
    }
    ctx.ready_only = ready != NULL && json_is_true(ready);
    json_decref(root);
    ctx.who = req->principal;
    ctx.b = resp->body;
    ctx.n = 0;
    md_buf_putc(resp->body, '[');
    md_repo_foreach(api->repo, index_row, &ctx);
    md_buf_putc(resp->body, ']');
    md_api_finish(resp, md_buf_error(resp->body));
}

/* md_api_park's drop: the client left before the command's outcome, which
 * control still applies; the command's last reference goes with whoever is
 * last. */
static void drop_command(void *state)
{
    md_command_unref(state);
}

/*
 * Has control apply a command on rt->model: submits it and parks the request
 * until control completes it, or waits when the request cannot park (the
 * server is stopping). MD_EPENDING when parked; else the outcome, its message
 * in err. On the call after the wake, collects the outcome.
 */
static int run_command(struct md_api *api, enum md_command_kind kind, const struct md_route *rt,
                       struct md_api_req *req, struct md_api_resp *resp, struct md_err *err)
{
    struct md_command *cmd = resp->resume;
    int rc;

    if (cmd != NULL) {
        rc = md_command_outcome(cmd, err);
        md_command_unref(cmd);
        return rc;
    }
    if (api->commands == NULL)
        return md_err_set(err, MD_EUNAVAIL, "no control loop to apply repository commands");
    if (req->wake == NULL && req->want_wake != NULL)
        req->want_wake(req);
    rc = md_commands_submit(api->commands, kind, rt->model, req->wake, req->wake_ctx, &cmd, err);
    if (rc != MD_OK)
        return rc;
    if (req->wake != NULL) {
        md_api_park(resp, cmd, drop_command);
        return MD_EPENDING;
    }
    rc = md_command_wait(cmd, err);
    md_command_unref(cmd);
    return rc;
}

void md_repo_api_load(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                      struct md_api_resp *resp)
{
    struct md_err err;
    json_t *root;
    json_t *params;
    int rc;

    if (resp->resume == NULL) {
        if (parse_body(req, &root, &err) != MD_OK) {
            md_api_error(resp, &err);
            return;
        }
        params = root ? json_object_get(root, "parameters") : NULL;
        if (params != NULL && json_object_size(params) > 0) {
            json_decref(root);
            md_api_errorf(resp, MD_EUNSUPPORTED,
                          "parameters: loading a model from a request body is not supported; "
                          "place it in the repository");
            return;
        }
        json_decref(root);
    }
    rc = run_command(api, MD_COMMAND_LOAD, rt, req, resp, &err);
    if (rc == MD_EPENDING)
        return; /* parked: called again when control has applied it */
    if (rc != MD_OK) {
        /* As Triton: a load that fails is the request's 400 whatever the
         * cause, but an unknown model (404) and a server that cannot take
         * the command now (503) keep theirs. */
        if (rc != MD_ENOTFOUND && rc != MD_EUNAVAIL)
            err.code = MD_EINVAL;
        md_api_error(resp, &err);
        return;
    }
    resp->content_type = "application/json";
}

void md_repo_api_unload(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp)
{
    struct md_err err;
    json_t *root;
    int rc;

    if (resp->resume == NULL) {
        if (parse_body(req, &root, &err) != MD_OK) {
            md_api_error(resp, &err);
            return;
        }
        json_decref(root);
    }
    rc = run_command(api, MD_COMMAND_UNLOAD, rt, req, resp, &err);
    if (rc == MD_EPENDING)
        return; /* parked: called again when control has applied it */
    if (rc != MD_OK)
        md_api_error(resp, &err);
}
