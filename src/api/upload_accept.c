/* SPDX-License-Identifier: MIT */
/*
 * upload_accept.c: md_upload_accept (upload.h), the registration of an
 * uploaded version. The staged upload becomes a command control applies
 * (md_repo_register_upload: the contract checked against the champion's,
 * the artifact loaded with its engine, moved into the artifact store, the
 * version numbered and stored with its event); the request parks until
 * then and answers 201 with the version, or the refusal's 4xx. The command
 * takes the temporary file: whatever the outcome, nothing is left behind.
 */
#include "api/upload.h"
#include "util/mem.h"

static void drop_command(void *state)
{
    md_command_unref(state);
}

static char *copy_text(const char *p, size_t n)
{
    char *s;

    if (p == NULL)
        return NULL;
    s = md_xmalloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

void md_upload_accept(struct md_api *api, const char *model, struct md_upload *u,
                      struct md_api_req *req, struct md_api_resp *resp)
{
    struct md_command *cmd = resp->resume;
    struct md_upload_change *ch;
    struct md_err err;
    const char *result;
    int rc;

    if (cmd == NULL) {
        if (api->commands == NULL) {
            md_upload_discard(u);
            md_api_errorf(resp, MD_EUNAVAIL, "no control loop to register versions");
            return;
        }
        ch = md_xcalloc(1, sizeof(*ch));
        ch->path = md_upload_detach_path(u);
        (void)snprintf(ch->sha256, sizeof(ch->sha256), "%s", u->sha256);
        ch->size = u->size;
        ch->metadata = copy_text(u->metadata, u->metadata_len);
        ch->model_yaml = copy_text(u->model_yaml, u->model_yaml_len);
        ch->model_yaml_len = u->model_yaml_len;
        ch->profile = copy_text(u->profile, u->profile_len);
        ch->profile_len = u->profile_len;
        if (req->wake == NULL && req->want_wake != NULL)
            req->want_wake(req);
        rc = md_commands_submit_arg(api->commands, MD_COMMAND_UPLOAD, model, ch,
                                    md_upload_change_free, req->wake, req->wake_ctx, &cmd, &err);
        if (rc != MD_OK) {
            md_api_error(resp, &err);
            return;
        }
        if (req->wake != NULL) {
            md_api_park(resp, cmd, drop_command);
            return;
        }
        rc = md_command_wait(cmd, &err);
    } else {
        rc = md_command_outcome(cmd, &err);
    }
    if (rc != MD_OK) {
        md_api_error(resp, &err);
    } else {
        result = md_command_result(cmd);
        resp->status = 201;
        if (result != NULL)
            (void)md_buf_puts(resp->body, result);
        md_api_finish(resp, md_buf_error(resp->body));
    }
    md_command_unref(cmd);
}
